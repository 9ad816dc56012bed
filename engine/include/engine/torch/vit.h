// Native Vision Transformer classifier in timm naming (patch_embed.proj, cls_token,
// pos_embed, blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}, norm, head),
// so timm ViT checkpoints map onto it. Weights are plain tensors held by name, which
// makes clone() and weight edits trivial. Torch-facing (engine/ and compression/ only).
#pragma once
#include "engine/torch/model_impl.h"
#include "engine/torch/tensors.h"

namespace cs::detail {

struct VitConfig {
  int imgSize = 28, patch = 4, inChans = 1, dim = 64, depth = 4, heads = 4, mlpDim = 128, classes = 10;
  double lnEps = 1e-6;
  bool distilled = false;  // DeiT distilled: a dist_token after cls_token and a head_dist
  bool qkvBias = true;
  std::map<std::string, std::string> toMetadata() const;
  static VitConfig fromMetadata(const std::map<std::string, std::string>& m);
  int prefixTokens() const { return distilled ? 2 : 1; }
  int tokens() const { return (imgSize / patch) * (imgSize / patch) + prefixTokens(); }
};

// Whether a safetensors file holds a timm ViT/DeiT state dict (timm names, no studio
// metadata), and opening one. The architecture is inferred from the shapes; the head
// count, which shapes cannot tell, comes from a config.json beside the file (this
// project's {"class", "kwargs"} form, or timm's hub form with "architecture" or
// "num_heads"), else dim/64 as in timm's standard sizes. Throws EngineError naming the file.
bool looksLikeTimmVit(const SafeTensors& st);
std::shared_ptr<class VitModel> openTimmVit(const SafeTensors& st, const std::string& file);

class VitModel : public ModelImpl {
 public:
  explicit VitModel(VitConfig cfg);
  // Random init (truncated-normal-like std 0.02 weights, zero biases, unit LN), seeded.
  void initRandom(uint64_t seed);
  // Loads tensors by name; every expected tensor must exist with the right shape.
  void load(const SafeTensors& st, const std::string& file);

  std::string family() const override { return "vit"; }
  Task task() const override { return Task::ImageClassification; }
  std::vector<LayerInfo> layers() const override;
  std::vector<std::pair<std::string, torch::Tensor>> namedTensors() const override;
  std::shared_ptr<ModelImpl> clone() const override;
  torch::Tensor forward(const torch::Tensor& images, const ForwardCtx& ctx) const override;
  // Pre-logit features (after the final norm, CLS token), for feature metrics.
  torch::Tensor features(const torch::Tensor& images, const ForwardCtx& ctx) const;
  // Every token after the final norm, [B, tokens, dim]. Taps on the way: "patch_embed"
  // (LayerOutput, [B, patches, dim] before the prefix tokens), "pos_embed" (LayerOutput,
  // the first block's input), each block's BlockOutput and "norm" (NormOutput).
  torch::Tensor tokens(const torch::Tensor& images, const ForwardCtx& ctx) const;

  const VitConfig& config() const { return cfg_; }
  torch::Tensor& param(const std::string& name);
  // Moves every weight to `device` (training on CUDA; the model is not yet published).
  void to(torch::Device device);
  const std::vector<std::string>& paramNames() const { return order_; }

 private:
  VitConfig cfg_;
  std::vector<std::string> order_;
  std::map<std::string, torch::Tensor> p_;
};

}  // namespace cs::detail
