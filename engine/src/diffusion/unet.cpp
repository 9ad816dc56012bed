// UNet2DModel in diffusers layout (see engine/torch/unet.h). Block structure follows
// diffusers' unets/unet_2d.py, unet_2d_blocks.py (DownBlock2D, AttnDownBlock2D,
// UNetMidBlock2D, UpBlock2D, AttnUpBlock2D), resnet.py (ResnetBlock2D), downsampling.py
// / upsampling.py and embeddings.py (get_timestep_embedding, TimestepEmbedding).
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/torch/unet.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace cs::detail {
namespace {

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw EngineError(Error::badFile(file, what));
}
bool endsWith(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}
std::string shapeStr(at::IntArrayRef s) {
  std::string o = "[";
  for (size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + "]";
}
bool isAttnType(const std::string& t) { return t.rfind("Attn", 0) == 0; }

}  // namespace

// ---------------------------------------------------------------------------- config
UNetConfig UNetConfig::fromJson(const std::string& text, const std::string& file) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    fail(file, std::string("config is not valid JSON: ") + e.what());
  }
  UNetConfig c;
  auto geti = [&](const char* k, int& v) {
    if (j.contains(k) && !j[k].is_null()) v = j[k].get<int>();
  };
  auto getd = [&](const char* k, double& v) {
    if (j.contains(k) && !j[k].is_null()) v = j[k].get<double>();
  };
  if (j.contains("_class_name") && j["_class_name"] != "UNet2DModel")
    fail(file, "unsupported model class '" + j["_class_name"].get<std::string>() + "' (UNet2DModel only)");
  if (j.contains("sample_size") && j["sample_size"].is_number()) c.sampleSize = j["sample_size"].get<int>();
  geti("in_channels", c.inChannels);
  geti("out_channels", c.outChannels);
  if (j.contains("block_out_channels")) c.blockOutChannels = j["block_out_channels"].get<std::vector<int>>();
  if (j.contains("down_block_types")) c.downBlockTypes = j["down_block_types"].get<std::vector<std::string>>();
  if (j.contains("up_block_types")) c.upBlockTypes = j["up_block_types"].get<std::vector<std::string>>();
  geti("layers_per_block", c.layersPerBlock);
  geti("norm_num_groups", c.normNumGroups);
  geti("attn_norm_num_groups", c.attnNormNumGroups);
  getd("norm_eps", c.normEps);
  geti("attention_head_dim", c.attentionHeadDim);
  if (j.contains("flip_sin_to_cos")) c.flipSinToCos = j["flip_sin_to_cos"].get<bool>();
  getd("freq_shift", c.freqShift);
  geti("downsample_padding", c.downsamplePadding);
  getd("mid_block_scale_factor", c.midBlockScaleFactor);
  if (j.contains("add_attention")) c.addAttention = j["add_attention"].get<bool>();
  geti("num_class_embeds", c.numClassEmbeds);
  geti("num_train_timesteps", c.numTrainTimesteps);
  auto must = [&](const char* k, const char* v) {
    if (j.contains(k) && !j[k].is_null() && j[k].get<std::string>() != v)
      fail(file, std::string("unsupported ") + k + " '" + j[k].get<std::string>() + "' (only '" + v + "')");
  };
  must("act_fn", "silu");
  must("time_embedding_type", "positional");
  must("resnet_time_scale_shift", "default");
  must("downsample_type", "conv");
  must("upsample_type", "conv");
  must("mid_block_type", "UNetMidBlock2D");
  if (j.contains("class_embed_type") && !j["class_embed_type"].is_null())
    fail(file, "unsupported class_embed_type (only null with num_class_embeds)");
  if (j.contains("time_embedding_dim") && !j["time_embedding_dim"].is_null())
    fail(file, "time_embedding_dim is not supported");
  if (c.blockOutChannels.empty() || c.downBlockTypes.size() != c.blockOutChannels.size() ||
      c.upBlockTypes.size() != c.blockOutChannels.size())
    fail(file, "block_out_channels, down_block_types and up_block_types must have the same length");
  for (auto& t : c.downBlockTypes)
    if (t != "DownBlock2D" && t != "AttnDownBlock2D") fail(file, "unsupported down block type '" + t + "'");
  for (auto& t : c.upBlockTypes)
    if (t != "UpBlock2D" && t != "AttnUpBlock2D") fail(file, "unsupported up block type '" + t + "'");
  return c;
}

std::string UNetConfig::toJson() const {
  json j = {{"_class_name", "UNet2DModel"},
            {"sample_size", sampleSize},
            {"in_channels", inChannels},
            {"out_channels", outChannels},
            {"block_out_channels", blockOutChannels},
            {"down_block_types", downBlockTypes},
            {"up_block_types", upBlockTypes},
            {"layers_per_block", layersPerBlock},
            {"norm_num_groups", normNumGroups},
            {"attn_norm_num_groups", attnNormNumGroups ? json(attnNormNumGroups) : json(nullptr)},
            {"norm_eps", normEps},
            {"attention_head_dim", attentionHeadDim ? json(attentionHeadDim) : json(nullptr)},
            {"flip_sin_to_cos", flipSinToCos},
            {"freq_shift", freqShift},
            {"downsample_padding", downsamplePadding},
            {"mid_block_scale_factor", midBlockScaleFactor},
            {"add_attention", addAttention},
            {"num_class_embeds", numClassEmbeds ? json(numClassEmbeds) : json(nullptr)},
            {"num_train_timesteps", numTrainTimesteps},
            {"act_fn", "silu"},
            {"time_embedding_type", "positional"}};
  return j.dump(2);
}

// ---------------------------------------------------------------------------- structure
void UNet2DModel::container(const std::string& n, const std::string& type) { tree_.push_back({n, type}); }
void UNet2DModel::addConv(const std::string& n, int64_t in, int64_t out, int64_t k) {
  tree_.push_back({n, "Conv2d"});
  order_.push_back(n + ".weight");
  p_[n + ".weight"] = torch::zeros({out, in, k, k});
  order_.push_back(n + ".bias");
  p_[n + ".bias"] = torch::zeros({out});
}
void UNet2DModel::addLinear(const std::string& n, int64_t in, int64_t out) {
  tree_.push_back({n, "Linear"});
  order_.push_back(n + ".weight");
  p_[n + ".weight"] = torch::zeros({out, in});
  order_.push_back(n + ".bias");
  p_[n + ".bias"] = torch::zeros({out});
}
void UNet2DModel::addNorm(const std::string& n, int64_t c) {
  tree_.push_back({n, "GroupNorm"});
  order_.push_back(n + ".weight");
  p_[n + ".weight"] = torch::ones({c});
  order_.push_back(n + ".bias");
  p_[n + ".bias"] = torch::zeros({c});
}
void UNet2DModel::addResnet(const std::string& n, int64_t in, int64_t out) {
  container(n, "ResnetBlock2D");
  addNorm(n + ".norm1", in);
  addConv(n + ".conv1", in, out, 3);
  addLinear(n + ".time_emb_proj", cfg_.timeEmbedDim(), out);
  addNorm(n + ".norm2", out);
  addConv(n + ".conv2", out, out, 3);
  if (in != out) addConv(n + ".conv_shortcut", in, out, 1);
}
void UNet2DModel::addAttention(const std::string& n, int64_t c) {
  container(n, "Attention");
  addNorm(n + ".group_norm", c);
  addLinear(n + ".to_q", c, c);
  addLinear(n + ".to_k", c, c);
  addLinear(n + ".to_v", c, c);
  container(n + ".to_out", "ModuleList");
  addLinear(n + ".to_out.0", c, c);
}

UNet2DModel::UNet2DModel(UNetConfig cfg) : cfg_(std::move(cfg)) {
  const auto& ch = cfg_.blockOutChannels;
  const int64_t ted = cfg_.timeEmbedDim(), nb = int64_t(ch.size());
  addConv("conv_in", cfg_.inChannels, ch[0], 3);
  container("time_embedding", "TimestepEmbedding");
  addLinear("time_embedding.linear_1", ch[0], ted);
  addLinear("time_embedding.linear_2", ted, ted);
  if (cfg_.numClassEmbeds > 0) {
    tree_.push_back({"class_embedding", "Embedding"});
    order_.push_back("class_embedding.weight");
    p_["class_embedding.weight"] = torch::zeros({cfg_.numClassEmbeds, ted});
  }
  container("down_blocks", "ModuleList");
  int64_t out = ch[0];
  for (int64_t i = 0; i < nb; ++i) {
    const int64_t in = out;
    out = ch[size_t(i)];
    const std::string b = "down_blocks." + std::to_string(i);
    const bool attn = isAttnType(cfg_.downBlockTypes[size_t(i)]);
    container(b, cfg_.downBlockTypes[size_t(i)]);
    for (int m = 0; m < cfg_.layersPerBlock; ++m) {
      addResnet(b + ".resnets." + std::to_string(m), m == 0 ? in : out, out);
      if (attn) addAttention(b + ".attentions." + std::to_string(m), out);
    }
    if (i < nb - 1) addConv(b + ".downsamplers.0.conv", out, out, 3);
  }
  container("mid_block", "UNetMidBlock2D");
  addResnet("mid_block.resnets.0", ch.back(), ch.back());
  if (cfg_.addAttention) addAttention("mid_block.attentions.0", ch.back());
  addResnet("mid_block.resnets.1", ch.back(), ch.back());
  container("up_blocks", "ModuleList");
  std::vector<int> rev(ch.rbegin(), ch.rend());
  int64_t outc = rev[0];
  for (int64_t i = 0; i < nb; ++i) {
    const int64_t prev = outc;
    outc = rev[size_t(i)];
    const int64_t in = rev[size_t(std::min(i + 1, nb - 1))];
    const std::string b = "up_blocks." + std::to_string(i);
    const bool attn = isAttnType(cfg_.upBlockTypes[size_t(i)]);
    container(b, cfg_.upBlockTypes[size_t(i)]);
    const int L = cfg_.layersPerBlock + 1;
    for (int m = 0; m < L; ++m) {
      const int64_t skip = m == L - 1 ? in : outc;
      const int64_t rin = m == 0 ? prev : outc;
      addResnet(b + ".resnets." + std::to_string(m), rin + skip, outc);
      if (attn) addAttention(b + ".attentions." + std::to_string(m), outc);
    }
    if (i < nb - 1) addConv(b + ".upsamplers.0.conv", outc, outc, 3);
  }
  addNorm("conv_norm_out", ch[0]);
  addConv("conv_out", ch[0], cfg_.outChannels, 3);
}

void UNet2DModel::initRandom(uint64_t seed) {
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& n : order_) {
    auto& t = p_[n];
    if (endsWith(n, ".weight") && t.dim() >= 2) {
      const double fanIn = double(t.numel() / t.size(0));
      const double bound = n == "class_embedding.weight" ? 1.0 : 1.0 / std::sqrt(fanIn);
      if (n == "class_embedding.weight")
        t.normal_(0.0, 1.0, gen);
      else
        t.uniform_(-bound, bound, gen);
    } else if (endsWith(n, ".bias")) {
      t.zero_();
    } else {
      t.fill_(1.0);
    }
  }
  // Zero-init the last conv of each residual branch and the output: stable early training.
  for (auto& n : order_)
    if ((endsWith(n, ".conv2.weight") || n == "conv_out.weight")) p_[n].mul_(0.1);
}

void UNet2DModel::load(const NamedTensorList& tensors, const std::string& file) {
  torch::NoGradGuard ng;
  std::map<std::string, torch::Tensor> byName;
  for (const auto& [n0, t] : tensors) {
    std::string n = n0;
    // Early diffusers names for attention blocks (diffusers renames them on load, too).
    static const std::pair<const char*, const char*> ren[] = {
        {".query.", ".to_q."}, {".key.", ".to_k."}, {".value.", ".to_v."}, {".proj_attn.", ".to_out.0."}};
    for (auto [a, b] : ren) {
      auto pos = n.find(a);
      if (pos != std::string::npos && n.find(".attentions.") != std::string::npos) n.replace(pos, strlen(a), b);
    }
    byName[n] = t;
  }
  for (auto& n : order_) {
    auto it = byName.find(n);
    if (it == byName.end()) fail(file, "missing tensor '" + n + "'");
    auto t = it->second;
    auto& dst = p_[n];
    // Old checkpoints stored attention projections as 1x1 convs: accept [o,i,1,1] for Linear.
    if (t.dim() == 4 && dst.dim() == 2 && t.size(2) == 1 && t.size(3) == 1) t = t.flatten(1);
    if (t.sizes() != dst.sizes())
      fail(file, "tensor '" + n + "' has shape " + shapeStr(t.sizes()) + ", the config needs " + shapeStr(dst.sizes()));
    dst = t.to(torch::kFloat).contiguous().clone();
  }
}

torch::Tensor& UNet2DModel::param(const std::string& name) {
  auto it = p_.find(name);
  if (it == p_.end()) throw EngineError(Error::notFound("no parameter '" + name + "'"));
  return it->second;
}
void UNet2DModel::to(torch::Device device) {
  for (auto& [n, t] : p_) t = t.to(device);
}

std::vector<LayerInfo> UNet2DModel::layers() const {
  std::vector<LayerInfo> out;
  for (const auto& [n, type] : tree_) {
    LayerInfo l;
    l.name = n;
    l.type = type;
    auto w = p_.find(n + ".weight");
    if (w != p_.end() && type != "ModuleList") {
      l.weightShape = w->second.sizes().vec();
      l.params = w->second.numel();
      auto b = p_.find(n + ".bias");
      if (b != p_.end()) l.params += b->second.numel();
    }
    l.quantizable = type == "Conv2d" || type == "Linear";
    out.push_back(l);
  }
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> UNet2DModel::namedTensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> v;
  for (auto& n : order_) v.emplace_back(n, p_.at(n));
  return v;
}

std::shared_ptr<ModelImpl> UNet2DModel::clone() const {
  auto c = std::make_shared<UNet2DModel>(*this);
  for (auto& [n, t] : c->p_) t = t.detach().clone();
  return c;
}

std::vector<std::string> UNet2DModel::blockNames() const {
  std::vector<std::string> v;
  for (size_t i = 0; i < cfg_.blockOutChannels.size(); ++i) v.push_back("down_blocks." + std::to_string(i));
  v.push_back("mid_block");
  for (size_t i = 0; i < cfg_.blockOutChannels.size(); ++i) v.push_back("up_blocks." + std::to_string(i));
  return v;
}

// ---------------------------------------------------------------------------- forward
torch::Tensor UNet2DModel::conv(const std::string& n, torch::Tensor x, int64_t stride, int64_t pad,
                                const ForwardCtx& ctx) const {
  x = ctx.tap(n, TapKind::LayerInput, x);
  return torch::conv2d(x, p_.at(n + ".weight"), p_.at(n + ".bias"), stride, pad);
}
torch::Tensor UNet2DModel::linear(const std::string& n, torch::Tensor x, const ForwardCtx& ctx) const {
  x = ctx.tap(n, TapKind::LayerInput, x);
  return torch::linear(x, p_.at(n + ".weight"), p_.at(n + ".bias"));
}

torch::Tensor UNet2DModel::resnet(const std::string& n, torch::Tensor x, const torch::Tensor& temb, double scale,
                                  const ForwardCtx& ctx) const {
  const int g = cfg_.normNumGroups;
  auto h = torch::group_norm(x, g, p_.at(n + ".norm1.weight"), p_.at(n + ".norm1.bias"), cfg_.normEps);
  h = conv(n + ".conv1", torch::silu(h), 1, 1, ctx);
  auto t = linear(n + ".time_emb_proj", torch::silu(temb), ctx);
  h = h + t.unsqueeze(-1).unsqueeze(-1);
  h = torch::group_norm(h, g, p_.at(n + ".norm2.weight"), p_.at(n + ".norm2.bias"), cfg_.normEps);
  h = conv(n + ".conv2", torch::silu(h), 1, 1, ctx);
  if (p_.count(n + ".conv_shortcut.weight")) x = conv(n + ".conv_shortcut", x.contiguous(), 1, 0, ctx);
  auto o = x + h;
  return scale == 1.0 ? o : o / scale;
}

torch::Tensor UNet2DModel::attention(const std::string& n, torch::Tensor x, int groups, double rescale,
                                     const ForwardCtx& ctx) const {
  const int64_t B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t headDim = cfg_.attentionHeadDim > 0 ? cfg_.attentionHeadDim : C;
  const int64_t heads = C / headDim;
  auto residual = x;
  auto h = torch::group_norm(x, groups, p_.at(n + ".group_norm.weight"), p_.at(n + ".group_norm.bias"), cfg_.normEps);
  h = h.view({B, C, H * W}).transpose(1, 2);  // [B, HW, C]
  auto split = [&](const torch::Tensor& t) { return t.view({B, -1, heads, headDim}).transpose(1, 2); };
  auto q = split(linear(n + ".to_q", h, ctx));
  auto k = split(linear(n + ".to_k", h, ctx));
  auto v = split(linear(n + ".to_v", h, ctx));
  const double scale = 1.0 / std::sqrt(double(headDim));
  auto probs = torch::softmax(torch::matmul(q, k.transpose(-1, -2)) * scale, -1);
  probs = ctx.tap(n + ".softmax", TapKind::Softmax, probs);
  auto o = torch::matmul(probs, v).transpose(1, 2).reshape({B, -1, heads * headDim});
  o = linear(n + ".to_out.0", o, ctx);
  o = o.transpose(-1, -2).reshape({B, C, H, W});
  o = o + residual;
  return rescale == 1.0 ? o : o / rescale;
}

torch::Tensor UNet2DModel::timeProjection(const torch::Tensor& timesteps) const {
  const int64_t dim = cfg_.blockOutChannels[0], half = dim / 2;
  auto exponent = torch::arange(0, half, torch::TensorOptions().dtype(torch::kFloat).device(timesteps.device())) *
                  float(-std::log(10000.0));
  exponent = exponent / float(double(half) - cfg_.freqShift);
  auto emb = timesteps.to(torch::kFloat).unsqueeze(1) * torch::exp(exponent).unsqueeze(0);
  emb = torch::cat({torch::sin(emb), torch::cos(emb)}, -1);
  if (cfg_.flipSinToCos) emb = torch::cat({emb.slice(1, half), emb.slice(1, 0, half)}, -1);
  if (dim % 2 == 1) emb = torch::constant_pad_nd(emb, {0, 1, 0, 0});
  return emb;
}

torch::Tensor UNet2DModel::forward(const torch::Tensor& sample, const ForwardCtx& ctx) const {
  auto t = torch::full({sample.size(0)}, cfg_.numTrainTimesteps / 2, torch::TensorOptions().dtype(torch::kLong));
  torch::Tensor labels;
  if (cfg_.numClassEmbeds > 0) labels = torch::full({sample.size(0)}, cfg_.numClassEmbeds - 1, torch::kLong);
  return forward(sample, t.to(sample.device()), labels.defined() ? labels.to(sample.device()) : labels, ctx);
}

torch::Tensor UNet2DModel::forward(const torch::Tensor& sample, const torch::Tensor& timesteps,
                                   const torch::Tensor& classLabels, const ForwardCtx& ctx) const {
  const int64_t B = sample.size(0);
  auto ts = timesteps.dim() == 0 ? timesteps.reshape({1}).expand({B}) : timesteps;
  if (ts.size(0) != B) throw EngineError(Error::badArgument("timesteps must be a scalar or have one entry per sample"));
  auto emb = timeProjection(ts.to(sample.device()));
  emb = linear("time_embedding.linear_1", emb, ctx);
  emb = linear("time_embedding.linear_2", torch::silu(emb), ctx);
  if (cfg_.numClassEmbeds > 0) {
    if (!classLabels.defined())
      throw EngineError(Error::badArgument("this UNet is class-conditional: class labels are required"));
    emb = emb + torch::embedding(p_.at("class_embedding.weight"), classLabels.to(torch::kLong));
  }
  emb = ctx.tap("time_embedding", TapKind::BlockOutput, emb);

  auto x = conv("conv_in", sample, 1, 1, ctx);
  std::vector<torch::Tensor> skips = {x};
  const int64_t nb = int64_t(cfg_.blockOutChannels.size());
  for (int64_t i = 0; i < nb; ++i) {
    const std::string b = "down_blocks." + std::to_string(i);
    const bool attn = isAttnType(cfg_.downBlockTypes[size_t(i)]);
    for (int m = 0; m < cfg_.layersPerBlock; ++m) {
      x = resnet(b + ".resnets." + std::to_string(m), x, emb, 1.0, ctx);
      if (attn) x = attention(b + ".attentions." + std::to_string(m), x, cfg_.normNumGroups, 1.0, ctx);
      skips.push_back(x);
    }
    if (i < nb - 1) {
      const std::string d = b + ".downsamplers.0.conv";
      if (cfg_.downsamplePadding == 0) x = torch::constant_pad_nd(x, {0, 1, 0, 1}, 0);
      x = conv(d, x, 2, cfg_.downsamplePadding, ctx);
      skips.push_back(x);
    }
    x = ctx.tap(b, TapKind::BlockOutput, x);
  }
  const double ms = cfg_.midBlockScaleFactor;
  x = resnet("mid_block.resnets.0", x, emb, ms, ctx);
  if (cfg_.addAttention)
    x = attention("mid_block.attentions.0", x, cfg_.attnNormNumGroups > 0 ? cfg_.attnNormNumGroups : cfg_.normNumGroups,
                  ms, ctx);
  x = resnet("mid_block.resnets.1", x, emb, ms, ctx);
  x = ctx.tap("mid_block", TapKind::BlockOutput, x);
  for (int64_t i = 0; i < nb; ++i) {
    const std::string b = "up_blocks." + std::to_string(i);
    const bool attn = isAttnType(cfg_.upBlockTypes[size_t(i)]);
    for (int m = 0; m < cfg_.layersPerBlock + 1; ++m) {
      x = torch::cat({x, skips.back()}, 1);
      skips.pop_back();
      x = resnet(b + ".resnets." + std::to_string(m), x, emb, 1.0, ctx);
      if (attn) x = attention(b + ".attentions." + std::to_string(m), x, cfg_.normNumGroups, 1.0, ctx);
    }
    if (i < nb - 1) {
      namespace F = torch::nn::functional;
      x = F::interpolate(x, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{x.size(2) * 2, x.size(3) * 2})
                                .mode(torch::kNearest));
      x = conv(b + ".upsamplers.0.conv", x, 1, 1, ctx);
    }
    x = ctx.tap(b, TapKind::BlockOutput, x);
  }
  x = torch::group_norm(x, cfg_.normNumGroups, p_.at("conv_norm_out.weight"), p_.at("conv_norm_out.bias"), cfg_.normEps);
  return conv("conv_out", torch::silu(x), 1, 1, ctx);
}

// ---------------------------------------------------------------------------- I/O
Result<std::shared_ptr<UNet2DModel>> loadUNet2D(const std::string& path) {
  CS_TRY_RESULT(path, {
    auto readText = [](const std::string& p) {
      std::ifstream in(p, std::ios::binary);
      if (!in) throw EngineError(Error::notFound(p + ": cannot open"));
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    if (fs::is_directory(path)) {
      const std::string cfgPath = (fs::path(path) / "config.json").string();
      auto cfg = UNetConfig::fromJson(readText(cfgPath), cfgPath);
      auto m = std::make_shared<UNet2DModel>(cfg);
      const auto st = (fs::path(path) / "diffusion_pytorch_model.safetensors").string();
      const auto bin = (fs::path(path) / "diffusion_pytorch_model.bin").string();
      if (fs::exists(st)) {
        auto r = readSafeTensors(st);
        if (!r) return r.error();
        m->load(r->tensors, st);
      } else if (fs::exists(bin)) {
        auto r = readTorchCheckpoint(bin);
        if (!r) return r.error();
        m->load(*r, bin);
      } else {
        return Error::notFound(path + ": no diffusion_pytorch_model.safetensors or .bin");
      }
      m->name = fs::path(path).filename().string();
      m->source = path;
      return m;
    }
    auto r = readSafeTensors(path);
    if (!r) return r.error();
    auto it = r->metadata.find("unet_config");
    if (it == r->metadata.end()) return Error::badFile(path, "no 'unet_config' in the safetensors metadata");
    auto m = std::make_shared<UNet2DModel>(UNetConfig::fromJson(it->second, path));
    m->load(r->tensors, path);
    m->name = fs::path(path).stem().string();
    m->source = path;
    m->properties = r->metadata;
    m->properties.erase("unet_config");
    return m;
  })
}

Status saveUNet2D(const UNet2DModel& m, const std::string& path, std::map<std::string, std::string> metadata) {
  metadata["family"] = "unet2d";
  metadata["unet_config"] = m.config().toJson();
  return writeSafeTensors(path, m.namedTensors(), metadata);
}

}  // namespace cs::detail
