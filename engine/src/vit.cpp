// Native ViT classifier (see engine/torch/vit.h).
#include "engine/torch/vit.h"

namespace cs::detail {
namespace F = torch::nn::functional;

std::map<std::string, std::string> VitConfig::toMetadata() const {
  return {{"family", "vit"},           {"img_size", std::to_string(imgSize)}, {"patch", std::to_string(patch)},
          {"in_chans", std::to_string(inChans)}, {"dim", std::to_string(dim)},      {"depth", std::to_string(depth)},
          {"heads", std::to_string(heads)},     {"mlp_dim", std::to_string(mlpDim)}, {"classes", std::to_string(classes)},
          {"ln_eps", std::to_string(lnEps)}};
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
  return c;
}

VitModel::VitModel(VitConfig cfg) : cfg_(cfg) {
  const int D = cfg.dim;
  auto add = [&](const std::string& n, std::vector<int64_t> shape) {
    order_.push_back(n);
    p_[n] = torch::zeros(shape);
  };
  add("cls_token", {1, 1, D});
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

torch::Tensor VitModel::features(const torch::Tensor& images, const ForwardCtx& ctx) const {
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
  x = torch::cat({P("cls_token").expand({B, 1, D}), x}, 1) + P("pos_embed");
  const int64_t N = x.size(1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  for (int i = 0; i < cfg_.depth; ++i) {
    const std::string b = "blocks." + std::to_string(i);
    auto h = ln(b + ".norm1", x);
    auto qkv = linear(b + ".attn.qkv", h).reshape({B, N, 3, H, hd}).permute({2, 0, 3, 1, 4});
    auto q = qkv[0], k = qkv[1], v = qkv[2];
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
  x = ln("norm", x);
  return x.select(1, 0);
}

torch::Tensor VitModel::forward(const torch::Tensor& images, const ForwardCtx& ctx) const {
  auto f = features(images, ctx);
  f = ctx.tap("head", TapKind::LayerInput, f);
  return torch::linear(f, p_.at("head.weight"), p_.at("head.bias"));
}

}  // namespace cs::detail
