// Per-layer diagnosis facade: activation capture with streamed statistics on any model
// with taps (native families and instrumented TorchScript), per-timestep ranges for the
// diffusion UNet, and per-layer sensitivity (isolated and cumulative) for a per-layer
// compressor (RTN now; pruning plugs in through LayerCompressor).
// Plain C++ (no torch, no Qt). Long calls take a JobContext (progress, cancel) and run
// on the caller's thread; the GUI runs them in JobRunner jobs. Results are values.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/explore.h"
#include "engine/job.h"
#include "engine/model.h"
#include "engine/result.h"
#include "engine/stats.h"

namespace cs {

// Opens a model for exploration: anything openModel() opens, plus a diffusers
// UNet2DModel folder (config.json + weights) or a studio UNet .safetensors.
Result<Model> openExploreModel(const std::string& nameOrPath, JobContext& job = nullJob());

// One tap point as seen during a probe forward pass.
struct TapPointInfo {
  std::string point;
  std::string kind;             // "input", "output", "softmax", "norm", "block"
  std::vector<int64_t> shape;   // shape at the first call
  int calls = 0;                // calls during one forward pass
};
// Runs one forward pass on one input sample and lists every tap that fired, in order.
Result<std::vector<TapPointInfo>> listTapPoints(const Model& model, JobContext& job = nullJob());

struct CaptureOptions {
  std::vector<std::string> points;  // "point" or "point@kind"; empty: the inputs of all quantizable layers
  int samples = 64;                 // calibration samples (images, text windows, noise draws)
  int seed = 0;
  int batch = 32;
  int bins = 128;
  bool magnitude = true;            // channel x token map (costs one pass over each tensor)
  int maxChannels = 512, maxTokens = 256;
  // Models without a built-in data set (TorchScript of unknown task): per-sample input
  // shape for seeded N(0,1) inputs; empty: guessed from the first layer.
  std::vector<int64_t> inputShape;
  // Diffusion: sampling steps of the DDIM run during which per-step ranges are taken.
  int diffusionSteps = 20;
  // Bounded sample of each point's values for the what-if quantizer: a seeded reservoir
  // of rows ([tokens or positions, channels]) holding at most this many values.
  int64_t sampleValues = 1 << 18;
};

struct PointStats {
  std::string point, kind;
  std::vector<int64_t> shape;       // last shape seen
  int64_t calls = 0, values = 0;
  Histogram histogram;
  MinMax range;
  GroupSummary perChannel;          // channel = dim 1 of [B,C,H,W], else the last dim
  GroupSummary perToken;            // token = dim 1 of [B,T,C] / spatial position of [B,C,H,W]
  std::shared_ptr<MagnitudeMap> magnitude;  // channel x token, null if off or not applicable
  std::vector<TimestepRange> perStep;       // diffusion only
  // Reservoir sample of rows, row-major [sample.size() / sampleCols, sampleCols]; rows are
  // tokens (or spatial positions) and columns channels. Empty when sampleValues is 0.
  std::vector<float> sample;
  int64_t sampleCols = 0;
};

struct CaptureResult {
  std::vector<PointStats> points;
  std::string data;                 // what the inputs were ("256 Fashion-MNIST train images, seed 0")
  int64_t valuesSeen = 0;           // activation values streamed through the statistics
  double seconds = 0;
  double inputSeconds = 0;          // of which: preparing the inputs (data set loading)
  double statsSeconds = 0;          //           the statistics inside the taps (the rest: the model)
};
Result<CaptureResult> captureActivations(const Model& model, const CaptureOptions& opt, JobContext& job);

// JSON of a capture (histograms, per-channel/per-token summaries, per-step ranges;
// the magnitude map as a [rows][cols] array).
nlohmann::json toJson(const PointStats& p, bool withMagnitude = true);

// ---------------------------------------------------------------- sensitivity
// Builds a variant of `model` in which exactly `layers` are compressed (others stay FP).
// May cache work across calls (e.g. calibrated activation ranges); called from the
// sensitivity job's thread only.
struct LayerCompressor {
  std::string label;  // "RTN W4A8"
  std::function<Result<Model>(const Model& model, const std::vector<std::string>& layers, JobContext& job)> apply;
};
struct RtnLayerOptions {
  int wbits = 8, abits = 8;         // 0 = leave that side in FP
  bool perChannel = true;           // weight granularity
  bool wSymmetric = true, aSymmetric = false;
  int calibSamples = 256, calibSeed = 0;
};
LayerCompressor rtnLayerCompressor(const RtnLayerOptions& opt);

struct SensitivityOptions {
  bool isolated = true, cumulative = true;
  int samples = 256;                 // evaluation inputs (test images / text windows)
  std::vector<std::string> layers;   // empty: every quantizable layer in execution order
  double jumpFactor = 4.0;           // jump: noise increment >= factor x median increment
  double jumpMinShare = 0.05;        //       and >= this share of the final noise
};

struct LayerSensitivity {
  int index = 0;
  std::string layer;
  double isolatedSqnrDb = 0, cumulativeSqnrDb = 0;  // model output vs FP output (NaN when not run)
  double isolatedMetric = 0, cumulativeMetric = 0;  // accuracy / top-1 agreement (NaN when none)
  double seconds = 0;
};

struct SensitivityResult {
  std::string compressor, metricName, data;
  double fpMetric = 0;               // the FP model's metric (NaN when none)
  std::vector<LayerSensitivity> layers;
  int jumpIndex = -1;                // first layer where the cumulative error jumps (-1: none)
  std::vector<int> ranking;          // layer indices, most sensitive (lowest isolated SQNR) first
  double seconds = 0;
};
// Streams each finished layer through onLayer (may be empty). Memory: the FP outputs on
// the evaluation inputs, one variant at a time.
Result<SensitivityResult> layerSensitivity(const Model& model, const LayerCompressor& comp, const SensitivityOptions& opt,
                                           JobContext& job,
                                           const std::function<void(const LayerSensitivity&)>& onLayer = {});
// The jump rule on a cumulative SQNR curve (dB), exposed for tests and views.
int cumulativeJump(const std::vector<double>& cumulativeSqnrDb, double factor = 4.0, double minShare = 0.05);
nlohmann::json toJson(const SensitivityResult& r);

}  // namespace cs
