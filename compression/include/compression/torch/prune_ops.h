// Torch-facing pruning primitives (compression/ sources and tests only): mask kernels,
// importance scores, calibration statistics of a Linear's input, one-layer SparseGPT,
// and the Sparsity Induction (SI) transform of a decoder LM. The facade is
// compression/prune.h.
//
// Conventions: a weight is [d_out, d_in]; a keep-mask is a bool tensor of the same shape
// (true = kept). N:M means N weights KEPT in every group of M consecutive input columns
// (2:4 and 4:8 are both 50%); when d_in is not a multiple of M the last d_in % M columns
// stay dense. A "shift" delta of a layer means the pruner sees (x - delta) and the pruned
// layer gets the bias b + (W - W_pruned)·delta, which keeps the dense function unchanged.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "engine/job.h"
#include "engine/torch/llm_impl.h"

namespace cs::detail::prune {

enum class Scope { Layer, Row, Block };  // Block: SparseGPT's adaptive per-column-block selection

struct Pattern {
  int n = 0, m = 0;          // N:M (kept per group); m == 0: unstructured
  double sparsity = 0.5;     // unstructured target (fraction of zeros)
  Scope scope = Scope::Row;  // unstructured comparison group
  bool nm() const { return m > 0; }
};

// Keep-mask from scores (higher = more important).
torch::Tensor maskFromScores(const torch::Tensor& scores, const Pattern& p);

// Streaming statistics of a Linear's input x [..., d_in] in double: sum x, sum x x^T.
struct InputStats {
  torch::Tensor sum, gram;
  int64_t n = 0;
  void add(const torch::Tensor& x);
  // sum over tokens of (x - shift)^2 per channel (shift may be undefined)
  torch::Tensor sqNorm(const torch::Tensor& shift = {}) const;
  // sum over tokens of (x - shift)(x - shift)^T
  torch::Tensor hessian(const torch::Tensor& shift = {}) const;
  torch::Tensor mean() const { return sum / static_cast<double>(std::max<int64_t>(n, 1)); }
};

torch::Tensor magnitudeScores(const torch::Tensor& w);
// |W_ij| * ||x_j||_2 (colSqNorm = sum of x_j^2 over calibration tokens)
torch::Tensor wandaScores(const torch::Tensor& w, const torch::Tensor& colSqNorm);

struct SparseGptOut {
  torch::Tensor weight, keep;  // float32 pruned weight (with OBS updates), bool mask
};
// One-shot OBS pruning column by column with inverse-Hessian error compensation
// (H = sum x x^T, dampening damp * mean(diag H), blocks of `blocksize` columns).
SparseGptOut sparseGpt(const torch::Tensor& w, const torch::Tensor& H, const Pattern& p, int blocksize, double damp);

// Relative output error of a pruned layer: tr(dW H dW^T) / tr(W G W^T).
double relOutputError(const torch::Tensor& w, const torch::Tensor& wPruned, const torch::Tensor& Hshifted,
                      const torch::Tensor& Gram);

// ---- Sparsity Induction ----
struct SiOptions {
  std::string metric = "magnitude";  // base metric for the training masks: magnitude | wanda | sparsegpt
  Pattern pattern;
  int epochs = 2, batch = 8;
  double lr = 5e-3, lambda = 0.01;
  bool scale = true, shift = true, qk = true;
  std::string init = "auto";         // auto | rms | paper | ones (auto: per site, 1 or rms by block loss)
  int powerIters = 1;
  bool prunedInputs = false;         // student inputs through the already trained, masked blocks (else dense)
};
struct SiSiteView {                  // one input site (shared by the linears that read it)
  std::string name;                  // e.g. "model.layers.0.mlp_in"
  std::vector<std::string> layers;
  std::vector<float> scale;          // s (folded into the producer as 1/s)
};
struct SiResult {
  std::map<std::string, torch::Tensor> shifts;  // per layer, in the folded coordinates (delta / s)
  std::vector<SiSiteView> sites;
  std::vector<double> lossStart, lossEnd;       // per block, normalised MSE + regulariser
  std::vector<std::string> rmsSites;            // si_init auto: the sites that start from the rms scale
  int steps = 0;
  double seconds = 0;
};
// Trains s, delta and s_a block by block against the dense block outputs (inputs: dense
// block inputs of `calib` [N, L] tokens), then folds the scales into `model` in place
// (exact for the dense function). Shifts are returned, not folded: the pruner applies
// them as a bias correction (see above). Layers outside `selected` keep s = 1, delta = 0.
SiResult sparsityInduction(DecoderLM& model, const torch::Tensor& calib, const std::vector<std::string>& selected,
                           const SiOptions& opt, JobContext& job);

// Folds SI factors of block `i` into `model` (exact for the dense function): siteScale[k]
// (k = 0 attention input, 1 o_proj input [kvHeads*headDim, GQA-tied], 2 MLP input, 3
// down_proj/fc2 input; undefined = none) and saKv [kvHeads, headDim] (q rows * s_a,
// k rows / s_a; pair-tied by construction; undefined = none).
void foldSi(DecoderLM& model, int64_t i, const std::vector<torch::Tensor>& siteScale, const torch::Tensor& saKv);
// Expands a per-kv-head vector [kvHeads*headDim] to the query layout [heads*headDim].
torch::Tensor expandKvToHeads(const LmConfig& c, const torch::Tensor& kv);

// The linears of block i in pruning order, grouped by shared input (q/k/v, o, gate/up, down;
// OPT: q/k/v, out, fc1, fc2).
std::vector<std::vector<std::string>> blockLinearGroups(const DecoderLM& m, int64_t i);

}  // namespace cs::detail::prune
