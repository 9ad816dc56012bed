// Quantization facade: method registry, RTN quantization producing a new variant,
// calibration statistics, fake-quantization of plain arrays for what-if overlays.
// Never mutates the input model. Long calls take a JobContext (progress, cancel)
// and run on the caller's thread (the GUI calls them from its JobRunner).
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compression/recipe.h"
#include "compression/schema.h"
#include "engine/job.h"
#include "engine/model.h"
#include "engine/result.h"
#include "engine/stats.h"

namespace cs {
namespace detail {
struct QuantVariantInfo;  // quantizer parameters needed to save a variant (compression/src/variant_io.h)
}

// The registry of methods (quantization now; pruning and others later).
const std::vector<MethodInfo>& methods();
const MethodInfo* findMethod(const std::string& id);

// Uniform affine quantizer parameters for one tensor or one channel.
struct QuantParams {
  int bits = 8;
  bool symmetric = false;
  double scale = 1.0;
  double zeroPoint = 0.0;   // integer-valued
  double lo = 0, hi = 0;    // representable range [scale*(qmin-z), scale*(qmax-z)]
};

// Per-layer summary of what a recipe did.
struct LayerQuantReport {
  std::string layer;
  int wbits = 0, abits = 0;             // 0 = not quantized
  std::string granularity;              // "per-channel" / "per-tensor"
  ErrorStats weightError;               // FP vs quantized weight
  std::optional<QuantParams> activation;  // input quantizer (per-tensor), if any
};

struct QuantizeResult {
  Model variant;                         // new model; the source is untouched
  Recipe recipe;
  std::vector<LayerQuantReport> layers;
  nlohmann::json metrics;                // e.g. {"fp_accuracy":..,"q_accuracy":..,"eval_samples":..}
  double seconds = 0;
  // What saveQuantizedVariant() (compression/quant_variant.h) needs beyond the variant's
  // weights: weight and activation quantizers, folds, calibration hash. May be null
  // (then only what the variant itself describes is saved).
  std::shared_ptr<const detail::QuantVariantInfo> saveInfo;
};

struct QuantizeOptions {
  bool evaluate = true;       // compute task metric for FP and quantized
  int evalSamples = 10000;    // test images (classifier)
};

Result<QuantizeResult> quantize(const Model& model, const Recipe& recipe, const QuantizeOptions& opts,
                                JobContext& job);

// Streaming statistics of one layer's input over `samples` calibration inputs.
struct ActivationStats {
  std::string layer;
  Histogram histogram;          // auto range over all values seen
  MinMax range;
  std::vector<MinMax> perChannel;  // along the last (feature) dim
  std::vector<float> sample;    // uniform subsample (<= 200k values) for what-if overlays
  int64_t values = 0;
  int samples = 0;
};
Result<ActivationStats> activationStats(const Model& model, const std::string& layer, int samples, int seed,
                                        JobContext& job);

// RTN parameters for a plain array (min-max range).
QuantParams rtnParams(const float* data, size_t n, int bits, bool symmetric);
// Quantize-dequantize a plain array with given parameters.
std::vector<float> fakeQuantize(const std::vector<float>& values, const QuantParams& p);

// Evaluation of the model's task metric (top-1 accuracy on the Fashion-MNIST test set
// for classifiers). Returns {"accuracy":..., "samples":...}.
Result<nlohmann::json> evaluateModel(const Model& model, int samples, JobContext& job);

}  // namespace cs
