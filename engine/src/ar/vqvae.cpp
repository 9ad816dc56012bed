// ParamTable (named tensors + layer tree) and the VQ-VAE tokenizer (engine/torch/ar.h).
#include <nlohmann/json.hpp>

#include "engine/torch/ar.h"

namespace cs::detail {

// ---------------------------------------------------------------------------- ParamTable
void ParamTable::add(const std::string& name, torch::Tensor t, bool buffer) {
  order.push_back(name);
  p[name] = std::move(t);
  if (buffer) buffers.insert(name);
}

const torch::Tensor& ParamTable::at(const std::string& name) const {
  auto it = p.find(name);
  if (it == p.end()) throw std::runtime_error("missing tensor '" + name + "'");
  return it->second;
}

std::vector<LayerInfo> ParamTable::layers(const std::string& prefix) const {
  std::vector<LayerInfo> out;
  for (auto& [name, type] : tree) {
    LayerInfo li;
    li.name = prefix + name;
    li.type = type;
    auto w = p.find(name + ".weight");
    const bool leaf = type == "Linear" || type == "Conv2d" || type == "ConvTranspose2d" || type == "Embedding" ||
                      type == "Parameter" || type == "Codebook";
    if (leaf) {
      if (w != p.end()) li.weightShape.assign(w->second.sizes().begin(), w->second.sizes().end());
      for (auto& [n, t] : p)
        if (n.rfind(name + ".", 0) == 0 && n.find('.', name.size() + 1) == std::string::npos && !buffers.count(n))
          li.params += t.numel();
      if (type == "Parameter" && p.count(name)) {
        li.weightShape.assign(p.at(name).sizes().begin(), p.at(name).sizes().end());
        li.params = p.at(name).numel();
      }
    }
    li.quantizable = type == "Linear" || type == "Conv2d" || type == "ConvTranspose2d";
    out.push_back(li);
  }
  return out;
}

void ParamTable::copyFrom(const ParamTable& o) {
  order = o.order;
  tree = o.tree;
  buffers = o.buffers;
  p.clear();
  for (auto& [n, t] : o.p) p[n] = t.detach().clone();
}

void ParamTable::load(const SafeTensors& st, const std::string& file, const std::string& prefix) {
  torch::NoGradGuard ng;
  for (auto& n : order) {
    const std::string key = prefix + n;
    if (!st.has(key)) throw EngineError(Error::badFile(file, "missing tensor '" + key + "'"));
    auto t = st.get(key);
    auto& dst = p.at(n);
    if (t.sizes() != dst.sizes()) {
      std::ostringstream s;
      s << "tensor '" << key << "' has shape " << t.sizes() << ", expected " << dst.sizes();
      throw EngineError(Error::badFile(file, s.str()));
    }
    dst = t.to(torch::kFloat).contiguous().clone();
    if (!torch::isfinite(dst).all().item<bool>())
      throw EngineError(Error::badFile(file, "tensor '" + key + "' holds NaN or Inf values"));
  }
}

void ParamTable::to(torch::Device d) {
  for (auto& [n, t] : p) t = t.to(d);
}

// ---------------------------------------------------------------------------- VqConfig
std::string VqConfig::toJson() const {
  return nlohmann::json{{"channels", channels}, {"latent_dim", latentDim}, {"codes", codes}, {"image_size", imageSize}}
      .dump();
}

VqConfig VqConfig::fromJson(const std::string& text, const std::string& file) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw EngineError(Error::badFile(file, "vq_config is not a JSON object"));
  VqConfig c;
  try {
    c.channels = j.value("channels", c.channels);
    c.latentDim = j.value("latent_dim", c.latentDim);
    c.codes = j.value("codes", c.codes);
    c.imageSize = j.value("image_size", c.imageSize);
  } catch (const std::exception& e) {
    throw EngineError(Error::badFile(file, std::string("vq_config: ") + e.what()));
  }
  if (c.channels < 1 || c.channels > 1024 || c.latentDim < 1 || c.latentDim > 1024 || c.codes < 2 ||
      c.codes > 65536 || c.imageSize != 28)
    throw EngineError(Error::badFile(file, "vq_config out of range (image_size must be 28)"));
  return c;
}

// ---------------------------------------------------------------------------- VqVae
VqVae::VqVae(VqConfig cfg) : cfg_(cfg) {
  const int64_t C = cfg.channels, D = cfg.latentDim;
  auto conv = [&](const std::string& n, int64_t in, int64_t out, int64_t k) {
    t_.tree.emplace_back(n, "Conv2d");
    t_.add(n + ".weight", torch::zeros({out, in, k, k}));
    t_.add(n + ".bias", torch::zeros({out}));
  };
  auto convT = [&](const std::string& n, int64_t in, int64_t out, int64_t k) {
    t_.tree.emplace_back(n, "ConvTranspose2d");
    t_.add(n + ".weight", torch::zeros({in, out, k, k}));
    t_.add(n + ".bias", torch::zeros({out}));
  };
  t_.tree.emplace_back("enc", "Encoder");
  conv("enc.conv_in", 1, C, 3);
  conv("enc.down1", C, C, 4);
  conv("enc.down2", C, C, 4);
  t_.tree.emplace_back("enc.res", "ResBlock");
  conv("enc.res.conv1", C, C, 3);
  conv("enc.res.conv2", C, C, 3);
  conv("enc.conv_out", C, D, 1);
  t_.tree.emplace_back("codebook", "Codebook");
  t_.add("codebook.embed", torch::zeros({cfg.codes, D}));
  t_.tree.emplace_back("dec", "Decoder");
  conv("dec.conv_in", D, C, 3);
  t_.tree.emplace_back("dec.res", "ResBlock");
  conv("dec.res.conv1", C, C, 3);
  conv("dec.res.conv2", C, C, 3);
  convT("dec.up1", C, C, 4);
  convT("dec.up2", C, C, 4);
  conv("dec.conv_out", C, 1, 3);
}

void VqVae::initRandom(uint64_t seed) {
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& n : t_.order) {
    auto& t = t_.p[n];
    if (n == "codebook.embed") {
      t.uniform_(-1.0 / cfg_.codes, 1.0 / cfg_.codes, gen);
    } else if (t.dim() >= 2) {
      const bool transposed = n.rfind("dec.up", 0) == 0;
      const double fanIn = double(t.numel() / (transposed ? t.size(1) : t.size(0)));
      const double bound = 1.0 / std::sqrt(fanIn);
      t.uniform_(-bound, bound, gen);
    } else {
      t.zero_();
    }
  }
}

std::vector<std::pair<std::string, torch::Tensor>> VqVae::namedTensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& n : t_.order) out.emplace_back(n, t_.p.at(n));
  return out;
}

std::shared_ptr<ModelImpl> VqVae::clone() const {
  auto c = std::make_shared<VqVae>(cfg_);
  c->t_.copyFrom(t_);
  c->name = name;
  c->source = source;
  c->properties = properties;
  c->inputTransforms = inputTransforms;
  return c;
}

torch::Tensor VqVae::conv(const std::string& n, const torch::Tensor& x, int64_t stride, int64_t pad,
                          const ForwardCtx& ctx) const {
  auto in = ctx.tap(n, TapKind::LayerInput, x);
  return torch::conv2d(in, t_.at(n + ".weight"), t_.at(n + ".bias"), {stride, stride}, {pad, pad});
}

torch::Tensor VqVae::convT(const std::string& n, const torch::Tensor& x, const ForwardCtx& ctx) const {
  auto in = ctx.tap(n, TapKind::LayerInput, x);
  return torch::conv_transpose2d(in, t_.at(n + ".weight"), t_.at(n + ".bias"), {2, 2}, {1, 1});
}

torch::Tensor VqVae::res(const std::string& n, const torch::Tensor& x, const ForwardCtx& ctx) const {
  auto h = conv(n + ".conv1", torch::silu(x), 1, 1, ctx);
  h = conv(n + ".conv2", torch::silu(h), 1, 1, ctx);
  return x + h;
}

torch::Tensor VqVae::encode(const torch::Tensor& x, const ForwardCtx& ctx) const {
  if (x.dim() != 4 || x.size(1) != 1 || x.size(2) != cfg_.imageSize || x.size(3) != cfg_.imageSize)
    throw std::runtime_error("VQ-VAE input must be [N,1,28,28]");
  auto h = conv("enc.conv_in", x, 1, 1, ctx);
  h = conv("enc.down1", torch::silu(h), 2, 1, ctx);
  h = conv("enc.down2", torch::silu(h), 2, 1, ctx);
  h = res("enc.res", h, ctx);
  return conv("enc.conv_out", torch::silu(h), 1, 0, ctx);
}

torch::Tensor VqVae::nearestCodes(const torch::Tensor& ze) const {
  const auto& E = t_.at("codebook.embed");  // [K, D]
  auto z = ze.permute({0, 2, 3, 1}).reshape({-1, cfg_.latentDim});
  auto d = z.pow(2).sum(1, true) - 2 * torch::matmul(z, E.t()) + E.pow(2).sum(1).unsqueeze(0);
  return d.argmin(1).view({ze.size(0), ze.size(2), ze.size(3)});
}

torch::Tensor VqVae::codeVectors(const torch::Tensor& codes) const {
  const auto& E = t_.at("codebook.embed");
  const int64_t g = cfg_.grid();
  auto c = codes.reshape({codes.size(0), g, g}).to(E.device(), torch::kLong);
  return E.index_select(0, c.reshape({-1})).view({codes.size(0), g, g, cfg_.latentDim}).permute({0, 3, 1, 2}).contiguous();
}

torch::Tensor VqVae::decode(const torch::Tensor& zq, const ForwardCtx& ctx) const {
  auto h = conv("dec.conv_in", zq, 1, 1, ctx);
  h = res("dec.res", h, ctx);
  h = convT("dec.up1", torch::silu(h), ctx);
  h = convT("dec.up2", torch::silu(h), ctx);
  return conv("dec.conv_out", torch::silu(h), 1, 1, ctx);
}

torch::Tensor VqVae::forward(const torch::Tensor& x, const ForwardCtx& ctx) const {
  return decode(codeVectors(nearestCodes(encode(x, ctx))), ctx);
}

Result<std::shared_ptr<VqVae>> loadVqVae(const std::string& path) {
  CS_TRY_RESULT(path, {
    auto st = readSafeTensors(path);
    if (!st) return st.error();
    auto it = st->metadata.find("vq_config");
    if (it == st->metadata.end()) return Error::badFile(path, "no 'vq_config' in the safetensors metadata");
    auto m = std::make_shared<VqVae>(VqConfig::fromJson(it->second, path));
    m->table().load(*st, path);
    for (auto& [k, v] : st->metadata) m->properties[k] = v;
    return m;
  })
}

Status saveVqVae(const VqVae& m, const std::string& path, std::map<std::string, std::string> metadata) {
  CS_TRY_RESULT(path, {
    std::vector<std::pair<std::string, torch::Tensor>> half;
    for (auto& n : m.table().order) half.emplace_back(n, m.table().at(n).detach().cpu().to(torch::kHalf).contiguous());
    metadata["family"] = "vqvae";
    metadata["vq_config"] = m.config().toJson();
    return writeSafeTensors(path, half, metadata);
  })
}

}  // namespace cs::detail
