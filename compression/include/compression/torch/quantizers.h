// Torch-facing quantizer building blocks beyond the basic UniformQuantizer
// (compression/torch/quantizer.h): per-group and dynamic per-token uniform
// quantization, log2 and log-sqrt2 quantizers (methods/README.md §1.7), range search
// by percentile, MSE and percentile-MSE (§1.2), LSQ-style learnable step and
// per-channel dual clipping with straight-through gradients (§1.1, repquant.md §2.4),
// and the RepQ-ViT LayerNorm fold on the native ViT (repquant.md §2.1-2.5).
// Stateless functions on tensors; thread-safe. Channel axis for activations is the
// last one; for weights it is dim 0.
#pragma once
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compression/torch/quantizer.h"
#include "compression/torch/reconstruct.h"
#include "engine/torch/vit.h"

namespace cs::detail {

// ---- uniform, finer granularities -------------------------------------------------
// Min-max asymmetric/symmetric fake quantization in groups of `group` consecutive
// elements along the last dim (the last dim must be divisible by `group`).
torch::Tensor fakeQuantPerGroup(const torch::Tensor& x, int bits, int group, bool symmetric);
// Dynamic per-token quantization: one min-max range per row of the last dim, computed
// at run time.
torch::Tensor fakeQuantPerToken(const torch::Tensor& x, int bits, bool symmetric);

// ---- logarithmic quantizers -------------------------------------------------------
// log2:      q = clamp(round(-log2(x/delta)), 0, 2^b-1),   x_hat = delta * 2^-q
// log-sqrt2: q = clamp(round(-2 log2(x/delta)), 0, 2^b-1), x_hat = delta * 2^(-q/2)
// Elements whose unclamped index is >= 2^b (including x <= 0) become exactly 0.
struct LogQuantizer {
  int bits = 4;
  bool sqrt2 = true;
  double delta = 1.0;
};
torch::Tensor logIndex(const torch::Tensor& x, const LogQuantizer& q);  // unclamped float index (+inf for x<=0)
torch::Tensor fakeQuantLog(const torch::Tensor& x, const LogQuantizer& q);
// Parity split of a log-sqrt2 index q = 2m + p into its log2 form:
// delta*sqrt2^-q = delta * 2^-shift * sqrt2^parity with shift = ceil(q/2), parity = q mod 2.
struct Log2Split {
  torch::Tensor shift, parity;
};
Log2Split splitLogSqrt2(const torch::Tensor& index);
// The value from the split (the bit-shift form; equals fakeQuantLog for in-range codes).
torch::Tensor log2SplitValue(const Log2Split& s, double delta);

// ---- twin-uniform (PTQ4ViT, methods/README.md) -------------------------------------
// For post-softmax values in [0, 1]: two uniform ranges of 2^(b-1) codes each and one
// bit saying which. The coarse range R2 = [0, 1) has the fixed step d2 = 2^-(b-1), for
// the few large probabilities; the fine range R1 = [0, 2^(b-1) d1) has d1 = d2 * 2^-m,
// for the many small ones. x < 2^(b-1) d1 is coded in R1, anything else in R2
// (clamped to its last code; x <= 0 is 0). The power-of-two ratio lets integer
// kernels align the two ranges with a shift (the reason PTQ4ViT ties d1 to d2).
struct TwinUniformQuantizer {
  int bits = 8;
  int m = 0;  // d1 = d2 * 2^-m
  double d2() const { return std::ldexp(1.0, -(bits - 1)); }
  double d1() const { return std::ldexp(d2(), -m); }
};
torch::Tensor fakeQuantTwinUniform(const torch::Tensor& x, const TwinUniformQuantizer& q);
// The m in [0, 24] with the lowest squared error on softmax values `x` (PTQ4ViT scans
// d1 with a Hessian-guided output metric; here the plain MSE of the probabilities).
TwinUniformQuantizer searchTwinUniform(const torch::Tensor& x, int bits);

// ---- range search -----------------------------------------------------------------
// Quantile along the last dim of a 2-D [rows, n] tensor (kthvalue; no 2^24 limit), or of
// a flattened tensor (rows = 1; subsampled deterministically above 2^24 elements).
torch::Tensor quantileRows(const torch::Tensor& x2d, double p);
enum class RangeSearch { MinMax, Percentile, Mse, PercentileMse };
RangeSearch rangeSearchFromString(const std::string& s);  // "minmax", "percentile", "mse", "percentile-mse"
// Uniform quantizer for `x`, per tensor (channelAxis < 0) or per channel along
// `channelAxis`. `percentile` is used by Percentile; Mse scans 100 shrink factors of
// the min-max range (error exponent `mseExp`); PercentileMse tries {0.999, 0.9999,
// 0.99999, 1} and keeps the lowest MSE (per channel when channel-wise).
UniformQuantizer searchUniform(const torch::Tensor& x, int bits, bool symmetric, int channelAxis, RangeSearch how,
                               double percentile = 0.9999, double mseExp = 2.0);
// log quantizer with delta from the best of the quantile candidates {0.999, 0.9999, 0.99999, 1}.
LogQuantizer searchLog(const torch::Tensor& x, int bits, bool sqrt2);

// ---- learnable quantizers (straight-through) --------------------------------------
// round with straight-through gradient.
torch::Tensor roundSte(const torch::Tensor& x);
// LSQ-style: x_hat = s * (clamp(round_ste(x/s) + z, qmin, qmax) - z); gradients reach s.
torch::Tensor lsqFakeQuant(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& zero, int64_t qmin,
                           int64_t qmax);
// Per-channel dual clipping (channel = last dim): learnable lower and upper bounds,
// delta = (u - l)/(2^b - 1), z = round_ste(-l/delta); gradients reach lo and hi.
torch::Tensor dualClipFakeQuant(const torch::Tensor& x, const torch::Tensor& lo, const torch::Tensor& hi, int bits);

// ---- RepQ-ViT fold on the native ViT ---------------------------------------------
struct NormFold {
  std::string norm, consumer;   // "blocks.0.norm1", "blocks.0.attn.qkv"
  torch::Tensor deltaC, zeroC;  // pre-fold per-channel input quantizer [C]
  torch::Tensor r, b;           // fold factors [C]
  double delta = 1, zero = 0;   // folded per-tensor quantizer
};
// Folds per-channel input quantizers (delta_c, z_c) of each LayerNorm consumer into
// the LayerNorm affine and the consumer's weight and bias of `vit` (edited in place,
// under NoGradGuard). roundZero rounds the target zero point (integer-exact variant).
// Returns the folds, each with the per-tensor quantizer the consumer must use.
NormFold foldNorm(VitModel& vit, const std::string& norm, const std::string& consumer, const UniformQuantizer& perChannel,
                  bool roundZero);
// LayerNorm -> consumer pairs of the pre-LN ViT: (blocks.N.norm1, attn.qkv), (norm2, mlp.fc1).
std::vector<std::pair<std::string, std::string>> vitNormConsumers(const VitModel& vit);

// ---- the PTQ pipeline behind percentile / omse / smoothquant / repq-vit --------------
struct PtqConfig {
  int wbits = 8, abits = 8;
  RangeSearch wSearch = RangeSearch::MinMax, aSearch = RangeSearch::MinMax;
  bool wSymmetric = false;
  double percentile = 0.9999;
  bool quantWeights = true;
  bool firstLayerA8 = true;       // patch-embedding input at max(8, abits)
  enum class Softmax { None, Uniform, LogSqrt2, Log2, TwinUniform } softmax = Softmax::Uniform;
  static Softmax softmaxFromString(const std::string& s) {  // the schemas' "softmax" choices
    return s == "log-sqrt2" ? Softmax::LogSqrt2
           : s == "log2"    ? Softmax::Log2
           : s == "twin-uniform" ? Softmax::TwinUniform
                                 : Softmax::Uniform;
  }
  enum class Fold { None, Smooth, RepQ, PerChannelNoFold } fold = Fold::None;
  double alpha = 0.5;             // SmoothQuant migration strength
  bool roundZero = false;         // RepQ: integer target zero point
  // Q and K (of Q*K^T) and V (of A*V), the ViT taps blocks.N.attn.{q,k,v}: uniform per
  // tensor at abits, same range search as the other activations.
  bool quantMatmulOperands = true;
  // LogSqrt2 softmax deployed as log2 with the parity split (repquant.md §2.3): the
  // variant computes delta * 2^-ceil(q/2) * sqrt2^(q mod 2); the same values.
  bool log2Split = false;
  // RepQuant (repquant.md §2.4): learned per-channel dual clipping of the post-LN
  // quantizers before the fold (0 steps = off), lr relative to the mean channel range.
  int clipIters = 0;
  double clipLr = 0.01;
  // RepQuant: layer-wise AdaRound weight reconstruction (+ activation step) after the fold.
  bool reconstruct = false;
  ReconConfig recon;
};
struct PtqOutcome {
  std::shared_ptr<ModelImpl> variant;
  std::vector<NormFold> folds;
  std::map<std::string, UniformQuantizer> inputQuantizers;   // per layer (per tensor, or per channel if not folded)
  std::map<std::string, UniformQuantizer> weightQuantizers;  // per layer
  std::map<std::string, torch::Tensor> fpWeights;            // folded FP weights before fake-quant
  std::map<std::string, UniformQuantizer> operandQuantizers; // blocks.N.attn.{q,k,v}
  struct Clip {  // learned dual clipping of one fold (consumer-output MSE before/after)
    std::string consumer;
    double lossBefore = 0, lossAfter = 0, actMseBefore = 0, actMseAfter = 0;
  };
  std::vector<Clip> clips;
  struct LayerRecon {  // weight reconstruction of one layer
    std::string layer;
    double mseNearest = 0, mseFinal = 0, binaryFraction = 0, flipFraction = 0;
    bool kept = true;
  };
  std::vector<LayerRecon> recon;
};
// The per-layer reconstruction report of the JSON metrics (ViT and LM paths alike).
nlohmann::json reconstructionJson(const std::vector<PtqOutcome::LayerRecon>& recon);
// Builds a fake-quantized variant of `model` (must be a VitModel for folds; any tap
// model otherwise) from calibration `inputs`. Never edits `model`. `job` (optional)
// gets progress and is checked for cancel during reconstruction (throws ReconCancelled).
PtqOutcome runPtq(const ModelImpl& model, const torch::Tensor& inputs, const PtqConfig& cfg,
                  JobContext* job = nullptr);

// ---- RepQuant building blocks (compression/src/quantizers_repquant.cpp) ----------
// Learned per-channel dual clipping of a norm output X [rows, C] read by a linear layer
// with weight W [out, C]: bounds (lo_c, hi_c) start from the per-channel quantizer
// `init` and are trained with Adam through dualClipFakeQuant to minimize the MSE of the
// consumer's output (Q(X) W^T vs X W^T, FP weights); 0 stays inside [lo, hi]. Returns
// the best per-channel quantizer found (axis -1) and the losses before and after.
struct DualClipping {
  UniformQuantizer q;
  double lossBefore = 0, lossAfter = 0;
};
DualClipping learnDualClipping(const torch::Tensor& X, const torch::Tensor& W, const UniformQuantizer& init,
                               int iters, double lr);
// Layer-wise weight reconstruction of a runPtq outcome, in execution order: each
// quantizable layer's rounding (and input step) is learned on the inputs the partially
// quantized variant feeds it, against the folded FP model's outputs. Edits out.variant,
// out.inputQuantizers, and appends to out.recon.
void reconstructLayers(PtqOutcome& out, const torch::Tensor& inputs, const ReconConfig& cfg, JobContext* job);
// Input of `layer` as the layer sees it before its own input transform (which is
// lifted for the capture), over `inputs` run through `m` in slices of `batch` on dim 0;
// token layers come back as [rows, C], others as captured. Gradients off (not
// InferenceMode), so the tensors can feed autograd later. Undefined if `layer` never ran.
torch::Tensor captureLayerInput(ModelImpl& m, const torch::Tensor& inputs, const std::string& layer, int64_t batch);

}  // namespace cs::detail
