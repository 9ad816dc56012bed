// Calibration data and batched observation passes.
#include "calibration.h"

#include <cstdio>

#include "engine/torch/tensors.h"

namespace cs::detail {

Result<CalibrationSet> calibrationImages(int n, int seed) {
  auto train = fashionMnistTensors("train");
  if (!train) return train.error();
  const int64_t N = train->images.size(0);
  if (n < 1 || n > N) return Error::badArgument("calibration size must be in [1, " + std::to_string(N) + "]");
  std::vector<int64_t> idx(N);
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  // Partial Fisher-Yates: the first n entries are a uniform sample.
  for (int i = 0; i < n; ++i) {
    std::uniform_int_distribution<int64_t> d(i, N - 1);
    std::swap(idx[i], idx[d(rng)]);
  }
  idx.resize(n);
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&](uint64_t v) {
    for (int b = 0; b < 8; ++b) {
      h ^= (v >> (8 * b)) & 0xff;
      h *= 1099511628211ULL;
    }
  };
  mix(0x66 /* fmnist-train */);
  for (auto i : idx) mix(static_cast<uint64_t>(i));
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  CalibrationSet c;
  c.inputs = train->images.index_select(0, torch::tensor(idx, torch::kLong));
  c.hash = buf;
  c.seed = seed;
  return c;
}

Status runBatches(const ModelImpl& model, const torch::Tensor& inputs, int batch, const TapObserver& observer,
                  JobContext& job, const std::string& stage) {
  torch::InferenceMode guard;
  const int64_t N = inputs.size(0);
  for (int64_t i = 0; i < N; i += batch) {
    if (job.cancelled()) return Error::cancelled();
    auto x = inputs.slice(0, i, std::min<int64_t>(i + batch, N));
    (void)model.run(x, &observer);
    job.progress(double(std::min<int64_t>(i + batch, N)) / N, stage);
  }
  return Unit{};
}

Status addAccuracyComparison(const Model& source, const Model& variant, const QuantizeOptions& opts, JobContext& job,
                             nlohmann::json& metrics) {
  if (!opts.evaluate || source.task() != Task::ImageClassification) return Unit{};
  JobContext fpJob = job.sub(0.4, 0.7), qJob = job.sub(0.7, 1.0);
  auto fp = evaluateModel(source, opts.evalSamples, fpJob);
  if (!fp) return fp.error();
  auto q = evaluateModel(variant, opts.evalSamples, qJob);
  if (!q) return q.error();
  metrics["fp_accuracy"] = (*fp)["accuracy"];
  metrics["q_accuracy"] = (*q)["accuracy"];
  metrics["eval_samples"] = (*fp)["samples"];
  metrics["metric"] = (*fp)["metric"];
  return Unit{};
}

}  // namespace cs::detail
