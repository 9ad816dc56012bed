// Calibration sequences and perplexity evaluation for the pruning facade (private).
#pragma once
#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>

#include "compression/prune.h"
#include "engine/llm.h"
#include "engine/torch/llm_impl.h"

namespace cs::prunedetail {

struct Calibration {
  torch::Tensor tokens;   // [N, L] int64
  std::string source;     // "fortunes-train", "generated", or the file
  uint64_t hash = 0;      // FNV-1a over the token ids
};

bool isFortunesModel(const detail::DecoderLM& m);
// Directory of ../shared/data/text guessed from the model's source (stories260K), or "".
std::string sharedTextDir(const detail::DecoderLM& m);
Result<Calibration> makeCalibration(const LanguageModel& lm, const std::string& source, int sequences, int length,
                                    int seed, JobContext& job);

struct EvalSpec {
  std::string label, file, separator;  // file "fortunes-heldout" for the held-out fortunes
  int context = 0;
  int64_t maxBytes = 0;
  bool truncate = false;
};
// The evaluation texts of a model under `opts` (the default first).
std::vector<EvalSpec> evalSpecs(const detail::DecoderLM& m, const PruneOptions& opts);
Result<PerplexityResult> evaluate(const LanguageModel& lm, const EvalSpec& e, JobContext& job);

}  // namespace cs::prunedetail
