// Diffusion family, torch-facing (engine/ and compression/ only).
//
// UNet2DModel: a DDPM-style noise predictor in diffusers' UNet2DModel layout and
// parameter names (conv_in, time_embedding.linear_{1,2}, class_embedding,
// down_blocks.N.{resnets.M.{norm1,conv1,time_emb_proj,norm2,conv2,conv_shortcut},
// attentions.M.{group_norm,to_q,to_k,to_v,to_out.0}, downsamplers.0.conv}, mid_block,
// up_blocks.N.{..., upsamplers.0.conv}, conv_norm_out, conv_out), configured from a
// diffusers config.json, so diffusers checkpoints (safetensors or torch.save .bin, the
// old query/key/value/proj_attn names included) load as they are. Supported block
// types: DownBlock2D, AttnDownBlock2D, UpBlock2D, AttnUpBlock2D, UNetMidBlock2D;
// positional time embedding; optional class conditioning (num_class_embeds).
//
// Taps: the input of every Conv2d/Linear goes through ctx.tap(<layer>, LayerInput);
// attention probabilities through "<attn>.softmax" (Softmax); each down/mid/up block
// output through its name (BlockOutput), the time embedding through "time_embedding"
// (BlockOutput). Per-timestep statistics: the samplers call SamplerOptions::onStep
// before every model call, and forward() takes the timestep explicitly.
//
// MnistConvDdpm: the small convolutional MNIST noise predictor of
// ../shared/data/weights/ddpm_mnist (gt.blocks.*, gt.time_embed.*), with its schedule.
//
// Ownership: weights are plain tensors held by name; clone() deep-copies. forward() is
// const and thread-safe when observers are per call.
#pragma once
#include <functional>
#include <optional>

#include "engine/torch/checkpoint.h"
#include "engine/torch/model_impl.h"
#include "engine/torch/tensors.h"

namespace cs::detail {

struct UNetConfig {
  int sampleSize = 32, inChannels = 3, outChannels = 3;
  std::vector<int> blockOutChannels = {128, 256, 256, 256};
  std::vector<std::string> downBlockTypes = {"DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"};
  std::vector<std::string> upBlockTypes = {"UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"};
  int layersPerBlock = 2;
  int normNumGroups = 32;
  int attnNormNumGroups = 0;  // 0: normNumGroups (mid block attention)
  double normEps = 1e-5;
  int attentionHeadDim = 0;   // 0 (null): one head over all channels
  bool flipSinToCos = true;
  double freqShift = 0;
  int downsamplePadding = 1;
  double midBlockScaleFactor = 1;
  bool addAttention = true;
  int numClassEmbeds = 0;     // 0: unconditional
  int numTrainTimesteps = 1000;
  int timeEmbedDim() const { return blockOutChannels.at(0) * 4; }
  // diffusers config.json (unknown keys ignored; unsupported values refused).
  static UNetConfig fromJson(const std::string& jsonText, const std::string& file = {});
  std::string toJson() const;
};

class UNet2DModel : public ModelImpl {
 public:
  explicit UNet2DModel(UNetConfig cfg);
  // PyTorch-default-like init (kaiming-uniform convs/linears, unit norms), seeded.
  void initRandom(uint64_t seed);
  // Loads every expected tensor by name (old attention names mapped); shapes checked.
  void load(const NamedTensorList& tensors, const std::string& file);

  std::string family() const override { return "unet2d"; }
  Task task() const override { return Task::Diffusion; }
  std::vector<LayerInfo> layers() const override;
  std::vector<std::pair<std::string, torch::Tensor>> namedTensors() const override;
  std::shared_ptr<ModelImpl> clone() const override;
  // Generic entry: noise prediction at timestep numTrainTimesteps/2, unconditional.
  torch::Tensor forward(const torch::Tensor& sample, const ForwardCtx& ctx) const override;
  // Noise prediction. timesteps: [] or [B] (int or float); classLabels: [B] int64 or
  // undefined (required iff the model is class-conditional).
  torch::Tensor forward(const torch::Tensor& sample, const torch::Tensor& timesteps, const torch::Tensor& classLabels,
                        const ForwardCtx& ctx) const;
  // Sinusoidal projection and TimestepEmbedding MLP (exposed for per-timestep work).
  torch::Tensor timeProjection(const torch::Tensor& timesteps) const;
  // Names of the blocks in execution order (down_blocks.N, mid_block, up_blocks.N).
  std::vector<std::string> blockNames() const;

  const UNetConfig& config() const { return cfg_; }
  torch::Tensor& param(const std::string& name);
  const std::vector<std::string>& paramNames() const { return order_; }
  void to(torch::Device device);

 private:
  struct Leaf {
    std::string name, type;  // Conv2d, Linear, GroupNorm, Embedding
  };
  void addConv(const std::string& n, int64_t in, int64_t out, int64_t k);
  void addLinear(const std::string& n, int64_t in, int64_t out);
  void addNorm(const std::string& n, int64_t c);
  void addResnet(const std::string& n, int64_t in, int64_t out);
  void addAttention(const std::string& n, int64_t c);
  void container(const std::string& n, const std::string& type);
  torch::Tensor resnet(const std::string& n, torch::Tensor x, const torch::Tensor& temb, double scale,
                       const ForwardCtx& ctx) const;
  torch::Tensor attention(const std::string& n, torch::Tensor x, int groups, double rescale, const ForwardCtx& ctx) const;
  torch::Tensor conv(const std::string& n, torch::Tensor x, int64_t stride, int64_t pad, const ForwardCtx& ctx) const;
  torch::Tensor linear(const std::string& n, torch::Tensor x, const ForwardCtx& ctx) const;

  UNetConfig cfg_;
  std::vector<std::string> order_;
  std::map<std::string, torch::Tensor> p_;
  std::vector<std::pair<std::string, std::string>> tree_;  // (name, type) in pre-order, containers and leaves
};

// Loads a diffusers UNet2DModel folder (config.json + diffusion_pytorch_model.safetensors
// or .bin), or a studio .safetensors with the config JSON in metadata "unet_config".
Result<std::shared_ptr<UNet2DModel>> loadUNet2D(const std::string& path);
Status saveUNet2D(const UNet2DModel& m, const std::string& path, std::map<std::string, std::string> metadata = {});

// ------------------------------------------------------------------ noise schedules/samplers
struct NoiseSchedule {
  torch::Tensor betas, alphasCumprod;  // float64 [T]
  static NoiseSchedule linear(int T = 1000, double betaStart = 1e-4, double betaEnd = 0.02);
  int steps() const { return int(betas.size(0)); }
};

// eps-prediction model: (x_t, t [B] int64, labels [B] int64 or undefined) -> eps.
using EpsModel = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&)>;

struct SamplerOptions {
  enum class Kind { DDPM, DDIM } kind = Kind::DDIM;
  int steps = 50;             // <= T; evenly spaced ("leading": t = k * T/steps)
  double eta = 0.0;           // DDIM stochasticity (1: DDPM-like variance)
  double guidance = 1.0;      // classifier-free guidance scale (1: conditional only)
  int64_t nullClass = -1;     // label of the unconditional class for guidance (-1: no CFG)
  bool clipSample = true;     // clip predicted x0 to [-clipRange, clipRange]
  double clipRange = 1.0;
  uint64_t seed = 0;
  // If not empty (one per sample): sample i draws all its noise from its own generator
  // seeded with sampleSeeds[i], so an image depends on its seed, not on its batch.
  std::vector<uint64_t> sampleSeeds;
  std::function<void(int step, int64_t t)> onStep;  // before each model call
  std::function<bool()> cancelled;                   // checked each step
};

// Runs the reverse process from N(0, I) noise of `shape`. labels: [B] int64 or undefined.
// Returns x_0 (undefined if cancelled).
torch::Tensor sampleDiffusion(const EpsModel& model, const NoiseSchedule& sched, std::vector<int64_t> shape,
                              const torch::Tensor& labels, const SamplerOptions& opt);
// Same with a UNet2DModel (CFG batched as [cond; uncond]).
torch::Tensor sampleUNet(const UNet2DModel& unet, const NoiseSchedule& sched, int64_t batch, const torch::Tensor& labels,
                         const SamplerOptions& opt, const ForwardCtx& ctx = {});

// ------------------------------------------------------------------ the MNIST conv DDPM
class MnistConvDdpm : public ModelImpl {
 public:
  MnistConvDdpm();
  void load(const NamedTensorList& tensors, const std::string& file);
  std::string family() const override { return "ddpm-mnist-conv"; }
  Task task() const override { return Task::Diffusion; }
  std::vector<LayerInfo> layers() const override;
  std::vector<std::pair<std::string, torch::Tensor>> namedTensors() const override;
  std::shared_ptr<ModelImpl> clone() const override;
  torch::Tensor forward(const torch::Tensor& x, const ForwardCtx& ctx) const override;  // t = 0.5
  // x: [B,1,28,28] in [-0.5,0.5]-scaled noisy space; t: [B] float, = i / n_T.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const ForwardCtx& ctx) const;
  // Noise-prediction MSE at step i (1..n_T) on clean images x0 in [-0.5,0.5].
  double noiseMse(const torch::Tensor& x0, int i, uint64_t seed) const;
  // 1000-step ancestral sampling as in the original DDPM (sigma_t = sqrt(beta_t)).
  torch::Tensor sample(int64_t n, uint64_t seed) const;
  int nT() const { return int(p_.at("beta_t").size(0)) - 1; }

 private:
  std::vector<std::string> order_;
  std::map<std::string, torch::Tensor> p_;
};
Result<std::shared_ptr<MnistConvDdpm>> loadMnistConvDdpm(const std::string& pthPath);

}  // namespace cs::detail
