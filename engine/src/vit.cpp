// Native ViT classifier (see engine/torch/vit.h).
#include "engine/torch/vit.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace cs::detail {
namespace F = torch::nn::functional;

std::map<std::string, std::string> VitConfig::toMetadata() const {
  return {{"family", "vit"},           {"img_size", std::to_string(imgSize)}, {"patch", std::to_string(patch)},
          {"in_chans", std::to_string(inChans)}, {"dim", std::to_string(dim)},      {"depth", std::to_string(depth)},
          {"heads", std::to_string(heads)},     {"mlp_dim", std::to_string(mlpDim)}, {"classes", std::to_string(classes)},
          {"ln_eps", std::to_string(lnEps)}, {"distilled", distilled ? "1" : "0"},
          {"qkv_bias", qkvBias ? "1" : "0"}};
}

VitConfig VitConfig::fromMetadata(const std::map<std::string, std::string>& m) {
  VitConfig c;
  auto geti = [&](const char* k, int& v) {
    auto it = m.find(k);
    if (it != m.end()) v = std::stoi(it->second);
  };
  geti("img_size", c.imgSize);
  geti("patch", c.patch);
  geti("in_chans", c.inChans);
  geti("dim", c.dim);
  geti("depth", c.depth);
  geti("heads", c.heads);
  geti("mlp_dim", c.mlpDim);
  geti("classes", c.classes);
  if (auto it = m.find("ln_eps"); it != m.end()) c.lnEps = std::stod(it->second);
  if (auto it = m.find("distilled"); it != m.end()) c.distilled = it->second == "1";
  if (auto it = m.find("qkv_bias"); it != m.end()) c.qkvBias = it->second != "0";
  return c;
}

VitModel::VitModel(VitConfig cfg) : cfg_(cfg) {
  const int D = cfg.dim;
  auto add = [&](const std::string& n, std::vector<int64_t> shape) {
    order_.push_back(n);
    p_[n] = torch::zeros(shape);
  };
  add("cls_token", {1, 1, D});
  if (cfg.distilled) add("dist_token", {1, 1, D});
  add("pos_embed", {1, cfg.tokens(), D});
  add("patch_embed.proj.weight", {D, cfg.inChans, cfg.patch, cfg.patch});
  add("patch_embed.proj.bias", {D});
  for (int i = 0; i < cfg.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i) + ".";
    add(b + "norm1.weight", {D});
    add(b + "norm1.bias", {D});
    add(b + "attn.qkv.weight", {3 * D, D});
    add(b + "attn.qkv.bias", {3 * D});
    add(b + "attn.proj.weight", {D, D});
    add(b + "attn.proj.bias", {D});
    add(b + "norm2.weight", {D});
    add(b + "norm2.bias", {D});
    add(b + "mlp.fc1.weight", {cfg.mlpDim, D});
    add(b + "mlp.fc1.bias", {cfg.mlpDim});
    add(b + "mlp.fc2.weight", {D, cfg.mlpDim});
    add(b + "mlp.fc2.bias", {D});
  }
  add("norm.weight", {D});
  add("norm.bias", {D});
  add("head.weight", {cfg.classes, D});
  add("head.bias", {cfg.classes});
  if (cfg.distilled) {
    add("head_dist.weight", {cfg.classes, D});
    add("head_dist.bias", {cfg.classes});
  }
}

void VitModel::initRandom(uint64_t seed) {
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& n : order_) {
    auto& t = p_[n];
    const bool isNormW = n.find("norm") != std::string::npos && n.size() > 7 && n.substr(n.size() - 7) == ".weight";
    if (isNormW) {
      t.fill_(1.0);
    } else if (n.size() > 5 && n.substr(n.size() - 5) == ".bias") {
      t.zero_();
    } else {
      t.normal_(0.0, 0.02, gen).clamp_(-0.04, 0.04);
    }
  }
}

void VitModel::load(const SafeTensors& st, const std::string& file) {
  torch::NoGradGuard ng;
  for (auto& n : order_) {
    if (!cfg_.qkvBias && n.find(".attn.qkv.bias") != std::string::npos && !st.has(n)) continue;  // stays zero
    if (!st.has(n)) throw EngineError(Error::badFile(file, "missing tensor '" + n + "'"));
    auto t = st.get(n);
    if (t.sizes() != p_[n].sizes())
      throw EngineError(Error::badFile(file, "tensor '" + n + "' has shape " + shapeString(t.sizes().vec()) +
                                                 ", the config needs " + shapeString(p_[n].sizes().vec())));
    p_[n] = t.to(torch::kFloat).contiguous().clone();
  }
}

torch::Tensor& VitModel::param(const std::string& name) {
  auto it = p_.find(name);
  if (it == p_.end()) throw EngineError(Error::notFound("no parameter '" + name + "'"));
  return it->second;
}

void VitModel::to(torch::Device device) {
  for (auto& [n, t] : p_) t = t.to(device);
}

std::vector<LayerInfo> VitModel::layers() const {
  std::vector<LayerInfo> out;
  auto shape = [&](const std::string& n) { return p_.at(n).sizes().vec(); };
  auto leaf = [&](const std::string& name, const std::string& type, bool q) {
    LayerInfo l;
    l.name = name;
    l.type = type;
    l.weightShape = shape(name + ".weight");
    l.params = p_.at(name + ".weight").numel() + p_.at(name + ".bias").numel();
    l.quantizable = q;
    out.push_back(l);
  };
  out.push_back({"cls_token", "Parameter", shape("cls_token"), p_.at("cls_token").numel(), "float32", false});
  if (cfg_.distilled)
    out.push_back({"dist_token", "Parameter", shape("dist_token"), p_.at("dist_token").numel(), "float32", false});
  out.push_back({"pos_embed", "Parameter", shape("pos_embed"), p_.at("pos_embed").numel(), "float32", false});
  out.push_back({"patch_embed", "PatchEmbed", {}, 0, "float32", false});
  leaf("patch_embed.proj", "Conv2d", true);
  out.push_back({"blocks", "Sequential", {}, 0, "float32", false});
  for (int i = 0; i < cfg_.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i);
    out.push_back({b, "Block", {}, 0, "float32", false});
    leaf(b + ".norm1", "LayerNorm", false);
    out.push_back({b + ".attn", "Attention", {}, 0, "float32", false});
    leaf(b + ".attn.qkv", "Linear", true);
    leaf(b + ".attn.proj", "Linear", true);
    leaf(b + ".norm2", "LayerNorm", false);
    out.push_back({b + ".mlp", "Mlp", {}, 0, "float32", false});
    leaf(b + ".mlp.fc1", "Linear", true);
    leaf(b + ".mlp.fc2", "Linear", true);
  }
  leaf("norm", "LayerNorm", false);
  leaf("head", "Linear", true);
  if (cfg_.distilled) leaf("head_dist", "Linear", true);
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> VitModel::namedTensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> v;
  for (auto& n : order_) v.emplace_back(n, p_.at(n));
  return v;
}

std::shared_ptr<ModelImpl> VitModel::clone() const {
  auto c = std::make_shared<VitModel>(*this);
  for (auto& [n, t] : c->p_) t = t.detach().clone();
  return c;
}

torch::Tensor VitModel::tokens(const torch::Tensor& images, const ForwardCtx& ctx) const {
  const int D = cfg_.dim, H = cfg_.heads, hd = D / H;
  auto P = [&](const std::string& n) -> const torch::Tensor& { return p_.at(n); };
  auto linear = [&](const std::string& name, torch::Tensor x) {
    x = ctx.tap(name, TapKind::LayerInput, x);
    return torch::linear(x, P(name + ".weight"), P(name + ".bias"));
  };
  auto ln = [&](const std::string& name, const torch::Tensor& x) {
    auto y = torch::layer_norm(x, {D}, P(name + ".weight"), P(name + ".bias"), cfg_.lnEps);
    return ctx.tap(name, TapKind::NormOutput, y);
  };
  auto x = ctx.tap("patch_embed.proj", TapKind::LayerInput, images);
  x = torch::conv2d(x, P("patch_embed.proj.weight"), P("patch_embed.proj.bias"), cfg_.patch);  // [B,D,h,w]
  const int64_t B = x.size(0);
  x = x.flatten(2).transpose(1, 2);                                                              // [B,N,D]
  x = ctx.tap("patch_embed", TapKind::LayerOutput, x);
  if (cfg_.distilled)
    x = torch::cat({P("cls_token").expand({B, 1, D}), P("dist_token").expand({B, 1, D}), x}, 1) + P("pos_embed");
  else
    x = torch::cat({P("cls_token").expand({B, 1, D}), x}, 1) + P("pos_embed");
  x = ctx.tap("pos_embed", TapKind::LayerOutput, x);
  const int64_t N = x.size(1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  for (int i = 0; i < cfg_.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i);
    auto h = ln(b + ".norm1", x);
    auto qkv = linear(b + ".attn.qkv", h).reshape({B, N, 3, H, hd}).permute({2, 0, 3, 1, 4});
    // The attention matmul operands (Q and K of Q*K^T, V of A*V) as taps of kind
    // LayerOutput, "blocks.N.attn.{q,k,v}" ([B, heads, tokens, head dim]); a variant
    // may carry a transform (e.g. activation fake-quant) for each, keyed by the point.
    auto operand = [&](const std::string& point, torch::Tensor t) {
      if (ctx.inputTransforms) {
        auto it = ctx.inputTransforms->find(point);
        if (it != ctx.inputTransforms->end()) t = it->second(t);
      }
      return ctx.tap(point, TapKind::LayerOutput, t);
    };
    auto q = operand(b + ".attn.q", qkv[0]), k = operand(b + ".attn.k", qkv[1]), v = operand(b + ".attn.v", qkv[2]);
    auto attn = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) * scale, -1);
    // A variant may carry a transform for the softmax output (e.g. log-sqrt2 fake-quant),
    // keyed by the point name in inputTransforms (point names never clash with layers).
    if (ctx.inputTransforms) {
      auto it = ctx.inputTransforms->find(b + ".attn.softmax");
      if (it != ctx.inputTransforms->end()) attn = it->second(attn);
    }
    attn = ctx.tap(b + ".attn.softmax", TapKind::Softmax, attn);
    auto o = torch::matmul(attn, v).transpose(1, 2).reshape({B, N, D});
    x = x + linear(b + ".attn.proj", o);
    h = ln(b + ".norm2", x);
    h = torch::gelu(linear(b + ".mlp.fc1", h));
    x = x + linear(b + ".mlp.fc2", h);
    x = ctx.tap(b, TapKind::BlockOutput, x);
  }
  return ln("norm", x);
}

torch::Tensor VitModel::features(const torch::Tensor& images, const ForwardCtx& ctx) const {
  return tokens(images, ctx).select(1, 0);
}

torch::Tensor VitModel::forward(const torch::Tensor& images, const ForwardCtx& ctx) const {
  auto t = tokens(images, ctx);
  auto f = ctx.tap("head", TapKind::LayerInput, t.select(1, 0));
  auto logits = torch::linear(f, p_.at("head.weight"), p_.at("head.bias"));
  if (!cfg_.distilled) return logits;
  // DeiT distilled, eval mode: the mean of the class head and the distillation head.
  auto fd = ctx.tap("head_dist", TapKind::LayerInput, t.select(1, 1));
  return (logits + torch::linear(fd, p_.at("head_dist.weight"), p_.at("head_dist.bias"))) / 2;
}

}  // namespace cs::detail

// ---- timm checkpoints ----
namespace cs::detail {
namespace {
namespace fs = std::filesystem;

// Head count from a config.json beside the checkpoint, or -1 when none says.
int headsFromConfig(const std::string& file, std::string& how) {
  const auto cfgPath = fs::path(file).parent_path() / "config.json";
  if (!fs::exists(cfgPath)) return -1;
  std::ifstream f(cfgPath);
  auto j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw EngineError(Error::badFile(cfgPath.string(), "is not valid JSON"));
  for (const char* k : {"num_heads", "n_heads"}) {
    if (j.contains("kwargs") && j["kwargs"].is_object() && j["kwargs"].contains(k) && j["kwargs"][k].is_number_integer()) {
      how = cfgPath.string() + " kwargs." + k;
      return j["kwargs"][k].get<int>();
    }
    if (j.contains(k) && j[k].is_number_integer()) {
      how = cfgPath.string() + " " + k;
      return j[k].get<int>();
    }
  }
  // timm hub configs name the architecture; its size word fixes the head count.
  if (j.contains("architecture") && j["architecture"].is_string()) {
    const std::string a = j["architecture"];
    const std::pair<const char*, int> sizes[] = {{"_tiny_", 3}, {"_small_", 6}, {"_base_", 12}, {"_large_", 16},
                                                  {"_huge_", 16}, {"_giant_", 16}};
    for (auto& [word, h] : sizes)
      if (a.find(word) != std::string::npos) {
        how = cfgPath.string() + " architecture " + a;
        return h;
      }
  }
  return -1;
}

}  // namespace

bool looksLikeTimmVit(const SafeTensors& st) {
  return st.has("cls_token") && st.has("pos_embed") && st.has("patch_embed.proj.weight") &&
         st.has("blocks.0.attn.qkv.weight") && st.has("head.weight");
}

std::shared_ptr<VitModel> openTimmVit(const SafeTensors& st, const std::string& file) {
  auto shape = [&](const std::string& n) { return st.get(n).sizes().vec(); };
  auto need = [&](bool ok, const std::string& what) {
    if (!ok) throw EngineError(Error::badFile(file, "timm ViT checkpoint: " + what));
  };
  VitConfig c;
  const auto pe = shape("patch_embed.proj.weight");  // [D, C, p, p]
  need(pe.size() == 4 && pe[2] == pe[3], "patch_embed.proj.weight must be [dim, channels, p, p]");
  c.dim = int(pe[0]);
  c.inChans = int(pe[1]);
  c.patch = int(pe[2]);
  c.distilled = st.has("dist_token");
  need(!c.distilled || st.has("head_dist.weight"), "has dist_token but no head_dist");
  c.depth = 0;
  while (st.has("blocks." + std::to_string(c.depth) + ".attn.qkv.weight")) ++c.depth;
  const auto fc1 = shape("blocks.0.mlp.fc1.weight");
  need(fc1.size() == 2, "blocks.0.mlp.fc1.weight must be 2-D");
  c.mlpDim = int(fc1[0]);
  c.classes = int(shape("head.weight")[0]);
  c.qkvBias = st.has("blocks.0.attn.qkv.bias");
  const auto pos = shape("pos_embed");
  need(pos.size() == 3 && pos[2] == c.dim, "pos_embed must be [1, tokens, dim]");
  const int64_t patches = pos[1] - c.prefixTokens();
  const auto side = int64_t(std::llround(std::sqrt(double(std::max<int64_t>(patches, 0)))));
  need(side * side == patches, "pos_embed has " + std::to_string(pos[1]) +
                                   " tokens, not a square grid plus the class token(s) (dynamic image size "
                                   "or no_embed_class checkpoints are not supported)");
  c.imgSize = int(side) * c.patch;
  std::string how;
  c.heads = headsFromConfig(file, how);
  if (c.heads < 0) {
    c.heads = std::max(1, c.dim / 64);
    how = "dim/64 (no config.json with num_heads beside the file)";
  }
  need(c.heads > 0 && c.dim % c.heads == 0,
       "dim " + std::to_string(c.dim) + " is not divisible by num_heads " + std::to_string(c.heads));
  auto m = std::make_shared<VitModel>(c);
  m->load(st, file);
  for (auto& [k, v] : c.toMetadata()) m->properties[k] = v;
  m->properties["checkpoint"] = c.distilled ? "timm VisionTransformerDistilled" : "timm VisionTransformer";
  m->properties["heads_from"] = how;
  return m;
}

}  // namespace cs::detail
