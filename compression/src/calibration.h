// Calibration inputs and streaming per-layer observers (internal to compression/).
#pragma once
#include <torch/torch.h>

#include <random>
#include <string>

#include "compression/quantize.h"
#include "engine/torch/model_impl.h"

namespace cs::detail {

struct CalibrationSet {
  torch::Tensor inputs;  // [N, ...]
  std::string hash;      // FNV-1a of the chosen indices and the split, hex
  int seed = 0;
};
// N images drawn without replacement from the Fashion-MNIST train split with `seed`.
Result<CalibrationSet> calibrationImages(int n, int seed);

// Runs `model` over `inputs` in batches with `observer`, under InferenceMode.
// Checks cancel per batch; reports progress through `job`.
Status runBatches(const ModelImpl& model, const torch::Tensor& inputs, int batch, const TapObserver& observer,
                  JobContext& job, const std::string& stage);

// Evaluates the source and the variant on the task metric (classifiers only; other
// tasks leave `metrics` untouched) and records fp_accuracy, q_accuracy, eval_samples
// and metric. Progress goes to the [0.4, 1.0] part of `job`.
Status addAccuracyComparison(const Model& source, const Model& variant, const QuantizeOptions& opts, JobContext& job,
                             nlohmann::json& metrics);

}  // namespace cs::detail
