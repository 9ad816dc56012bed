// arena/outputset.h: output sets produced outside the studio: a folder per model holding files
// named by prompt id (images, or .txt for language models) plus a prompts file at the root
// (prompts.jsonl / prompts.json: {"id", "text", "class", "seed"}; or prompts.txt: "id<TAB>text").
// Plain values; loading reads the file system and is safe from any thread.
#pragma once

#include "arena/store.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace arena {

struct OutputSet {
    std::string root;
    std::vector<std::string> models;     // sub-folder names, sorted
    std::vector<PromptInfo> prompts;     // in file order
    std::map<std::pair<std::string, std::string>, std::string> files;  // (model, prompt id) -> path

    std::optional<std::string> output(const std::string& model, const std::string& prompt) const;
    // Prompt ids for which every one of `models` has an output.
    std::vector<std::string> commonPrompts(const std::vector<std::string>& models) const;
};

// Throws std::runtime_error naming the folder or file when the set cannot be read.
OutputSet loadOutputSet(const std::string& root);

}  // namespace arena
