// Internal to engine/src/llm: serialising a llama2.c BPE tokenizer into the studio
// safetensors metadata, so that a saved variant of a llama2.c model (stories260K) carries
// its tokenizer and reopens without the tok<N>.bin that sat beside the source .bin.
#pragma once
#include <memory>
#include <string>

#include "engine/llm.h"
#include "engine/result.h"

namespace cs::detail {

// The tokenizer in llama2.c's tok<N>.bin layout (max length, then score/len/bytes per
// token); empty when `tok` is not a llama2.c tokenizer.
std::string llama2cTokenizerBytes(const Tokenizer& tok);
// Reads the same layout from memory; `origin` names the file in errors.
Result<std::shared_ptr<const Tokenizer>> llama2cTokenizerFromBytes(const std::string& bytes, int vocabSize,
                                                                   const std::string& origin);

std::string base64Encode(const std::string& bytes);
// false on a character outside the alphabet or a bad length.
bool base64Decode(const std::string& text, std::string& out);

}  // namespace cs::detail
