// Reconstruction engine for quantized weights (methods/README.md §1.4-1.5): AdaRound
// learned rounding (rectified sigmoid, rounding regularizer with beta annealed after a
// warm-up, as in Nagel et al. 2020) and optional LSQ-style activation step learning,
// trained with Adam to match cached full-precision outputs. The unit being
// reconstructed is given as a forward callback over a ReconState, so one engine serves
// a single Linear/Conv (layer-wise) and any composition of them (block-wise).
// Torch-facing; runs on the caller's thread; no global state.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "compression/torch/quantizer.h"
#include "engine/job.h"

namespace cs::detail {

struct ReconCancelled : std::runtime_error {
  ReconCancelled() : std::runtime_error("cancelled") {}
};

struct ReconConfig {
  int iters = 500;          // Adam steps
  int batchRows = 1024;     // rows (dim 0 of the cached inputs) per step; all if fewer
  double lrRound = 1e-2;    // Adam lr of the rounding variables alpha
  double lrAct = 4e-3;      // Adam lr of an activation step, relative to its initial value (cosine decay to 0)
  double lambda = 0.01;     // weight of the rounding regularizer (per-element mean)
  double betaStart = 20, betaEnd = 2;  // annealing of the regularizer exponent
  double warmup = 0.2;      // fraction of iters without the regularizer
  bool learnActStep = true; // learn the step of each activation quantizer (zero point fixed)
  uint64_t seed = 0;        // row sampling
  std::string device = "cpu";  // where the Adam loop runs ("cpu", "cuda"); inputs and results stay on the CPU
};

// A weight to quantize with learned rounding: FP tensor (dim 0 = output channel) and
// its quantizer (per tensor, or per output channel with axis 0).
struct ReconWeight {
  torch::Tensor w;
  UniformQuantizer q;
};

// What the forward callback sees: the current (soft or hard) quantized weights and the
// activation quantizers with their current (learnable) steps.
class ReconState {
 public:
  // Quantized weight i: floor(W/s) + h(alpha) while training, hard rounding at the end.
  torch::Tensor weight(size_t i) const;
  // x through activation quantizer i (LSQ fake-quant; per tensor, or per channel on the last dim).
  torch::Tensor act(size_t i, const torch::Tensor& x) const;

 private:
  friend struct ReconEngine;
  std::vector<torch::Tensor> wFloor, wScale, wZero, alpha;  // broadcast-ready per weight
  std::vector<int64_t> wMin, wMax;
  std::vector<torch::Tensor> aScale, aZero;
  std::vector<int64_t> aMin, aMax;
  bool hard = false;
};
using ReconForward = std::function<torch::Tensor(const ReconState&, const torch::Tensor& x)>;

struct ReconOutcome {
  std::vector<torch::Tensor> weights;      // hard-rounded fake-quantized weights (same shapes as the inputs)
  std::vector<UniformQuantizer> acts;      // activation quantizers with the learned steps
  double mseNearest = 0;  // output MSE vs the target with round-to-nearest weights and the initial steps
  double mseFinal = 0;    // output MSE after reconstruction (hard rounding)
  double binaryFraction = 0;  // fraction of h(alpha) within 0.01 of 0 or 1 before the final hard rounding
  double flipFraction = 0;    // fraction of weights rounded differently from round-to-nearest
  int iters = 0;
  bool kept = true;       // false: reconstruction was worse than nearest rounding, which was kept
};

// Rectified sigmoid h(alpha) = clamp(sigmoid(alpha) * 1.2 - 0.1, 0, 1), and the alpha
// whose h equals the fractional part of W/s (AdaRound initialization).
torch::Tensor adaRoundH(const torch::Tensor& alpha);
torch::Tensor adaRoundInit(const torch::Tensor& w, const UniformQuantizer& q);

// Learns the rounding of `weights` (and the steps of `acts`) so that f(state, x) matches
// `target` over the cached inputs `x` (row i of x gives row i of target; dim 0 is
// sampled). Never worse than nearest rounding on the cached data: if the learned
// result is, the nearest-rounding weights and initial steps are returned (kept=false).
// Checks job->cancelled() every 25 steps and throws ReconCancelled.
ReconOutcome reconstruct(const std::vector<ReconWeight>& weights, const std::vector<UniformQuantizer>& acts,
                         const ReconForward& f, const torch::Tensor& x, const torch::Tensor& target,
                         const ReconConfig& cfg, JobContext* job = nullptr);

}  // namespace cs::detail
