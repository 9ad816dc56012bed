// Autoregressive image generation, torch-facing (engine/ and compression/ only).
//
// VqVae: a small VQ-VAE tokenizer for 28x28 greyscale images in [-1, 1]. Encoder
// enc.conv_in (3x3) -> enc.down1, enc.down2 (4x4 stride 2: 28 -> 14 -> 7) -> residual
// block enc.res.conv{1,2} -> enc.conv_out (1x1 to latentDim); a codebook of `codes`
// vectors (codebook.embed [K, D], nearest neighbour in L2); decoder dec.conv_in ->
// dec.res.conv{1,2} -> dec.up1, dec.up2 (transposed 4x4 stride 2: 7 -> 14 -> 28) ->
// dec.conv_out. A 7x7 grid of code indices per image (49 tokens, raster order).
//
// ArTransformer: a class-conditional decoder-only transformer over those tokens.
// Input position 0 is the class token (class_token[label]), position t >= 1 the
// embedding of code t-1 (tok_embed); pos_embed is learned; the output at position t
// predicts code t. Every block is adaLN-modulated by the class embedding c =
// class_embed[label] (RAR/DiT layout):
//   m = blocks.N.adaLN.linear(SiLU(c)) split in RAR row order
//       [shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp]
//   x += gate_msa * attn(LN(x) * (constant[0] + scale_msa) + shift_msa)
//   x += gate_mlp * mlp (LN(x) * (constant[1] + scale_mlp) + shift_mlp)
// with LayerNorm without affine, blocks.N.adaLN.constant a [2, D] buffer of ones (the
// per-channel "1 + scale" constant, so that PTQ4ARVG's fold of a per-channel scale into
// the adaLN rows is exact), causal multi-head self-attention (blocks.N.attn.qkv,
// blocks.N.attn.proj), GELU MLP (blocks.N.mlp.fc1, fc2); then final.adaLN.linear
// ([shift, scale], constant final.adaLN.constant [D]) and head (D -> K logits).
// Class index `classes` is the null class (classifier-free guidance; trained with label
// dropout).
//
// Taps: the input of every Linear/Conv goes through ctx.tap(<layer>, LayerInput);
// attention probabilities through "<block>.attn.softmax" (Softmax); block outputs
// through "blocks.N" (BlockOutput).
//
// ArImageModel: the zoo's ar-fmnist: transformer + VQ-VAE (its tensors prefixed "vq.")
// in one safetensors file (metadata family "ar-image").
//
// Ownership: weights are plain tensors held by name; clone() deep-copies. Forward calls
// are const and thread-safe when observers are per call (a KV cache belongs to the call).
#pragma once
#include <functional>
#include <random>
#include <set>

#include "engine/torch/model_impl.h"
#include "engine/torch/tensors.h"

namespace cs::detail {

// Parameters and buffers by name plus the layer tree (containers and leaves, pre-order).
struct ParamTable {
  std::vector<std::string> order;  // every tensor, in file order
  std::map<std::string, torch::Tensor> p;
  std::vector<std::pair<std::string, std::string>> tree;  // (layer name, type)
  std::set<std::string> buffers;                          // tensors that are not trained
  void add(const std::string& name, torch::Tensor t, bool buffer = false);
  const torch::Tensor& at(const std::string& name) const;
  std::vector<LayerInfo> layers(const std::string& prefix = {}) const;
  void copyFrom(const ParamTable& o);  // deep copy
  // Loads every tensor by name (prefix + name), checking shapes; errors name `file`.
  void load(const SafeTensors& st, const std::string& file, const std::string& prefix = {});
  void to(torch::Device d);
};

struct VqConfig {
  int channels = 64, latentDim = 32, codes = 256, imageSize = 28;
  int grid() const { return imageSize / 4; }
  std::string toJson() const;
  static VqConfig fromJson(const std::string& text, const std::string& file);
};

class VqVae : public ModelImpl {
 public:
  explicit VqVae(VqConfig cfg);
  void initRandom(uint64_t seed);
  std::string family() const override { return "vqvae"; }
  Task task() const override { return Task::Unknown; }
  std::vector<LayerInfo> layers() const override { return t_.layers(); }
  std::vector<std::pair<std::string, torch::Tensor>> namedTensors() const override;
  std::shared_ptr<ModelImpl> clone() const override;
  // Reconstruction of [N,1,28,28] images in [-1, 1].
  torch::Tensor forward(const torch::Tensor& x, const ForwardCtx& ctx) const override;

  torch::Tensor encode(const torch::Tensor& x, const ForwardCtx& ctx) const;  // [N,D,g,g]
  torch::Tensor nearestCodes(const torch::Tensor& ze) const;                   // [N,g,g] int64
  torch::Tensor codeVectors(const torch::Tensor& codes) const;                 // [N,D,g,g]
  torch::Tensor decode(const torch::Tensor& zq, const ForwardCtx& ctx) const;  // [N,1,28,28]
  torch::Tensor decodeCodes(const torch::Tensor& codes, const ForwardCtx& ctx) const {
    return decode(codeVectors(codes), ctx);
  }

  const VqConfig& config() const { return cfg_; }
  ParamTable& table() { return t_; }
  const ParamTable& table() const { return t_; }

 private:
  torch::Tensor conv(const std::string& n, const torch::Tensor& x, int64_t stride, int64_t pad, const ForwardCtx& ctx) const;
  torch::Tensor convT(const std::string& n, const torch::Tensor& x, const ForwardCtx& ctx) const;
  torch::Tensor res(const std::string& n, const torch::Tensor& x, const ForwardCtx& ctx) const;
  VqConfig cfg_;
  ParamTable t_;
};

struct ArConfig {
  int vocab = 256, seqLen = 49, dim = 192, depth = 6, heads = 6, mlpRatio = 4, classes = 10, condDim = 96;
  int nullClass() const { return classes; }
  std::string toJson() const;
  static ArConfig fromJson(const std::string& text, const std::string& file);
};

// Per-call key/value cache: one [B, H, T, hd] pair per block.
struct ArKvCache {
  std::vector<torch::Tensor> k, v;
  int64_t len = 0;
};

class ArTransformer {
 public:
  explicit ArTransformer(ArConfig cfg);
  void initRandom(uint64_t seed);
  // Full (teacher-forced) pass: labels [B] int64, codes [B, n] int64 with n < seqLen;
  // returns logits [B, n + 1, vocab] (position t predicts code t).
  torch::Tensor logits(const torch::Tensor& labels, const torch::Tensor& codes, const ForwardCtx& ctx) const;
  // One incremental step with a KV cache: the first call (cache.len == 0) feeds the class
  // token (prevCode undefined), later calls the code sampled last ([B] int64).
  // Returns logits [B, vocab] for the next code.
  torch::Tensor step(const torch::Tensor& labels, const torch::Tensor& prevCode, ArKvCache& cache,
                     const ForwardCtx& ctx) const;

  const ArConfig& config() const { return cfg_; }
  ParamTable& table() { return t_; }
  const ParamTable& table() const { return t_; }

 private:
  torch::Tensor run(torch::Tensor x, const torch::Tensor& labels, int64_t pos0, ArKvCache* cache,
                    const ForwardCtx& ctx) const;
  torch::Tensor linear(const std::string& n, const torch::Tensor& x, const ForwardCtx& ctx) const;
  ArConfig cfg_;
  ParamTable t_;
};

struct ArSampleOptions {
  double guidance = 1.0;     // logits = u + g (c - u); 1: conditional pass only
  double temperature = 1.0;  // 0: greedy
  int topK = 0;              // 0: all codes
  bool useCache = true;      // false: recompute the whole prefix each step (reference path)
  bool alwaysBatchUncond = false;  // run the unconditional pass even when guidance == 1 (tests)
  std::vector<uint64_t> sampleSeeds;  // one per sample: its own RNG (batch-independent)
  std::function<void(int step)> onStep;
  std::function<bool()> cancelled;
  std::vector<torch::Tensor>* logitsTrace = nullptr;  // if set: guided logits [B, vocab] per step
};

// Samples seqLen codes per label (labels [B] int64; the null class for unconditional).
// Returns [B, seqLen] int64 codes (undefined if cancelled).
torch::Tensor sampleArCodes(const ArTransformer& m, const torch::Tensor& labels, const ArSampleOptions& opt,
                            const ForwardCtx& ctx = {});

class ArImageModel : public ModelImpl {
 public:
  ArImageModel(ArConfig a, VqConfig v);
  std::string family() const override { return "ar-image"; }
  Task task() const override { return Task::ImageGeneration; }
  std::vector<LayerInfo> layers() const override;
  std::vector<std::pair<std::string, torch::Tensor>> namedTensors() const override;
  std::shared_ptr<ModelImpl> clone() const override;
  // Generic entry: int64 codes [B, n] -> logits of the null class; float images
  // [B,1,28,28] in [-1,1] are tokenized by the VQ first (teacher-forced logits).
  torch::Tensor forward(const torch::Tensor& input, const ForwardCtx& ctx) const override;
  void to(torch::Device d);

  ArTransformer ar;
  std::shared_ptr<VqVae> vq;
};

Result<std::shared_ptr<VqVae>> loadVqVae(const std::string& path);
Status saveVqVae(const VqVae& m, const std::string& path, std::map<std::string, std::string> metadata = {});
Result<std::shared_ptr<ArImageModel>> loadArImageModel(const std::string& path);
Status saveArImageModel(const ArImageModel& m, const std::string& path, std::map<std::string, std::string> metadata = {});

}  // namespace cs::detail
