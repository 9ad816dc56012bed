// Torch-facing PTQ of LLaMA-style decoders (compression/ptq_lm.h is the facade): the
// RMSNorm -> consumers fold (repquant.md §2.4: RMSNorm gets a beta, every consumer a
// bias), SmoothQuant migration into the RMSNorm, learned per-channel dual clipping, and
// the pipeline that builds a fake-quantized variant. Internal to compression/ and tests.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compression/torch/quantizers.h"
#include "engine/torch/llm_impl.h"

namespace cs::detail {

// RMSNorm -> readers of its output: (layers.N.input_layernorm, {q,k,v}),
// (layers.N.post_attention_layernorm, {gate, up}). LLaMA only (empty for OPT).
std::vector<std::pair<std::string, std::vector<std::string>>> lmNormConsumers(const DecoderLM& lm);

// Folds a per-channel quantizer (delta_c, z_c) of the norm output into the RMSNorm
// weight, a new/updated RMSNorm bias (beta = beta/r - b), and every consumer's weight
// (W * r by input column) and bias (created if missing: bias += W_new b). Edits `lm`
// (a clone). roundZero rounds the target zero point (integer-exact fold). The returned
// NormFold's consumer field lists the consumers joined by ','.
NormFold foldRmsNorm(DecoderLM& lm, const std::string& norm, const std::vector<std::string>& consumers,
                     const UniformQuantizer& perChannel, bool roundZero);

// SmoothQuant: s_c = max|X_c|^alpha / max_consumers max|W[:,c]|^(1-alpha); norm weight
// (and bias) / s, consumer columns * s. Returns s.
torch::Tensor smoothRmsNorm(DecoderLM& lm, const std::string& norm, const std::vector<std::string>& consumers,
                            const torch::Tensor& X, double alpha);

// Learns per-channel bounds (lo, hi) of the norm output X [rows, C] with Adam through
// the STE dual-clipping quantizer, minimizing the MSE of the consumers' outputs
// (X_hat W^T vs X W^T, FP weights); starts from `init`. Returns the per-channel
// quantizer (axis -1) and the loss before/after.
struct DualClipResult {
  UniformQuantizer q;
  double lossBefore = 0, lossAfter = 0;
};
DualClipResult learnDualClip(const torch::Tensor& X, const std::vector<torch::Tensor>& weights,
                             const UniformQuantizer& init, int steps, double lr);

struct LmPtqConfig {
  int wbits = 8, abits = 8;
  RangeSearch wSearch = RangeSearch::MinMax, aSearch = RangeSearch::MinMax;
  bool wSymmetric = false, aSymmetric = false;
  bool wPerChannel = true;
  double percentile = 0.9999;
  bool quantWeights = true;
  PtqConfig::Softmax softmax = PtqConfig::Softmax::None;
  enum class Fold { None, Smooth, RepQ, PerChannelNoFold, DualClipRepQ } fold = Fold::None;
  double alpha = 0.5;
  bool roundZero = false;
  bool quantEmbedding = false, quantHead = false;
  int clipSteps = 100;
  double clipLr = 0.01;
  // RepQuant: layer-wise AdaRound weight reconstruction (+ LSQ input steps) after the
  // fold and the weight quantization, as the ViT path (reconstructLmLayers below).
  bool reconstruct = false;
  ReconConfig recon;
};

struct LmPtqOutcome {
  std::shared_ptr<DecoderLM> variant;
  std::vector<NormFold> folds;
  std::map<std::string, UniformQuantizer> inputQuantizers;   // per layer
  std::map<std::string, UniformQuantizer> weightQuantizers;  // per layer
  std::map<std::string, torch::Tensor> fpWeights;            // (folded) FP weights before fake-quant
  std::vector<std::string> targets;                          // quantized layers
  std::map<std::string, std::pair<double, double>> clipLoss; // norm -> dual-clip loss before/after
  std::vector<PtqOutcome::LayerRecon> recon;                 // per reconstructed layer, in order
};

// Layer-wise weight reconstruction of a runPtqLm outcome (methods/repquant.md §2.5), in
// execution order, as reconstructLayers() does for the ViT: each quantized Linear's
// rounding (and its input step) is learned so that its output on the variant's input
// (the earlier layers already quantized and reconstructed) matches the folded FP layer's
// output on the FP input, over the calibration tokens. Rewrites the variant's weights,
// out.inputQuantizers and the input transforms; appends to out.recon. Checks `job` for
// cancel (throws ReconCancelled) and reports progress through it.
void reconstructLmLayers(LmPtqOutcome& out, const torch::Tensor& tokens, const ReconConfig& cfg, JobContext* job);

// Builds the fake-quantized variant from calibration token windows [N, L]. Never edits
// `model`. Throws std::invalid_argument for folds on non-LLaMA models, ReconCancelled
// when `job` is cancelled during reconstruction.
LmPtqOutcome runPtqLm(const DecoderLM& model, const torch::Tensor& tokens, const LmPtqConfig& cfg,
                      JobContext* job = nullptr);

}  // namespace cs::detail
