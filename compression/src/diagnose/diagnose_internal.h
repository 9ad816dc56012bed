// Internal to compression/src/diagnose: model inputs per task, tap kind names.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/result.h"
#include "engine/torch/model_impl.h"

namespace cs::detail {

struct EvalInputs {
  std::vector<torch::Tensor> batches;
  std::string description;
};
const char* kindName(TapKind k);
// Per-sample shape guessed from the first quantizable layer (unknown-task models).
std::vector<int64_t> guessInputShape(const Model& model);
// Inputs for `model`: Fashion-MNIST train images (classifiers), fortunes held-out token
// windows (language models), seeded N(0,1) of `shape` (or a guess) otherwise.
Result<EvalInputs> modelInputs(const Model& model, int samples, int seed, int batch, std::vector<int64_t> shape);

}  // namespace cs::detail
