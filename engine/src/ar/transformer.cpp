// The class-conditional adaLN transformer over VQ tokens, its KV-cached sampler with
// classifier-free guidance and top-k/temperature, and the ar-fmnist model (engine/torch/ar.h).
#include <nlohmann/json.hpp>

#include "engine/torch/ar.h"

namespace cs::detail {

// ---------------------------------------------------------------------------- ArConfig
std::string ArConfig::toJson() const {
  return nlohmann::json{{"vocab", vocab}, {"seq_len", seqLen},     {"dim", dim},         {"depth", depth},
                        {"heads", heads}, {"mlp_ratio", mlpRatio}, {"classes", classes}, {"cond_dim", condDim}}
      .dump();
}

ArConfig ArConfig::fromJson(const std::string& text, const std::string& file) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw EngineError(Error::badFile(file, "ar_config is not a JSON object"));
  ArConfig c;
  try {
    c.vocab = j.value("vocab", c.vocab);
    c.seqLen = j.value("seq_len", c.seqLen);
    c.dim = j.value("dim", c.dim);
    c.depth = j.value("depth", c.depth);
    c.heads = j.value("heads", c.heads);
    c.mlpRatio = j.value("mlp_ratio", c.mlpRatio);
    c.classes = j.value("classes", c.classes);
    c.condDim = j.value("cond_dim", c.condDim);
  } catch (const std::exception& e) {
    throw EngineError(Error::badFile(file, std::string("ar_config: ") + e.what()));
  }
  if (c.vocab < 2 || c.seqLen < 1 || c.seqLen > 4096 || c.dim < 1 || c.depth < 1 || c.depth > 256 || c.heads < 1 ||
      c.dim % c.heads != 0 || c.mlpRatio < 1 || c.classes < 1 || c.condDim < 1)
    throw EngineError(Error::badFile(file, "ar_config out of range (dim must be a multiple of heads)"));
  return c;
}

// ---------------------------------------------------------------------------- ArTransformer
ArTransformer::ArTransformer(ArConfig cfg) : cfg_(cfg) {
  const int64_t D = cfg.dim, K = cfg.vocab, C = cfg.condDim, H = int64_t(cfg.mlpRatio) * D;
  auto linear = [&](const std::string& n, int64_t in, int64_t out) {
    t_.tree.emplace_back(n, "Linear");
    t_.add(n + ".weight", torch::zeros({out, in}));
    t_.add(n + ".bias", torch::zeros({out}));
  };
  auto embedding = [&](const std::string& n, int64_t rows, int64_t dim) {
    t_.tree.emplace_back(n, "Embedding");
    t_.add(n + ".weight", torch::zeros({rows, dim}));
  };
  embedding("class_embed", cfg.classes + 1, C);
  embedding("class_token", cfg.classes + 1, D);
  embedding("tok_embed", K, D);
  t_.tree.emplace_back("pos_embed", "Parameter");
  t_.add("pos_embed", torch::zeros({cfg.seqLen, D}));
  for (int b = 0; b < cfg.depth; ++b) {
    const std::string n = "blocks." + std::to_string(b);
    t_.tree.emplace_back(n, "Block");
    t_.tree.emplace_back(n + ".adaLN", "AdaLN");
    linear(n + ".adaLN.linear", C, 6 * D);
    t_.add(n + ".adaLN.constant", torch::ones({2, D}), true);
    t_.tree.emplace_back(n + ".attn", "Attention");
    linear(n + ".attn.qkv", D, 3 * D);
    linear(n + ".attn.proj", D, D);
    t_.tree.emplace_back(n + ".mlp", "MLP");
    linear(n + ".mlp.fc1", D, H);
    linear(n + ".mlp.fc2", H, D);
  }
  t_.tree.emplace_back("final", "FinalLayer");
  t_.tree.emplace_back("final.adaLN", "AdaLN");
  linear("final.adaLN.linear", C, 2 * D);
  t_.add("final.adaLN.constant", torch::ones({D}), true);
  linear("head", D, K);
}

void ArTransformer::initRandom(uint64_t seed) {
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(seed);
  for (auto& n : t_.order) {
    auto& t = t_.p[n];
    if (t_.buffers.count(n)) continue;
    const bool emb = n == "pos_embed" || n.find("_embed.") != std::string::npos || n.rfind("class_token", 0) == 0;
    if (emb) {
      t.normal_(0.0, 0.02, gen);
    } else if (t.dim() == 2) {
      const double bound = std::sqrt(6.0 / double(t.size(0) + t.size(1)));  // Xavier uniform
      t.uniform_(-bound, bound, gen);
    } else {
      t.zero_();
    }
  }
  // adaLN-Zero: modulation starts at zero (gates closed, unit scale), so every block starts as
  // the identity; the head starts at zero (uniform logits).
  for (auto& n : t_.order)
    if (n.find("adaLN.linear.") != std::string::npos || n.rfind("head.", 0) == 0) t_.p[n].zero_();
}

torch::Tensor ArTransformer::linear(const std::string& n, const torch::Tensor& x, const ForwardCtx& ctx) const {
  auto in = ctx.tap(n, TapKind::LayerInput, x);
  return torch::linear(in, t_.at(n + ".weight"), t_.at(n + ".bias"));
}

torch::Tensor ArTransformer::run(torch::Tensor x, const torch::Tensor& labels, int64_t pos0, ArKvCache* cache,
                                 const ForwardCtx& ctx) const {
  const int64_t B = x.size(0), T = x.size(1), D = cfg_.dim, Hn = cfg_.heads, hd = D / Hn;
  if (pos0 + T > cfg_.seqLen) throw std::runtime_error("sequence longer than the model's " + std::to_string(cfg_.seqLen));
  x = x + t_.at("pos_embed").slice(0, pos0, pos0 + T).unsqueeze(0);
  auto c = torch::silu(t_.at("class_embed.weight").index_select(0, labels));  // [B, C]
  const int64_t S = pos0 + T;  // keys visible after this call
  torch::Tensor mask;          // additive causal mask [T, S]
  if (T > 1) {
    auto qi = torch::arange(pos0, pos0 + T, torch::TensorOptions().dtype(torch::kLong).device(x.device())).unsqueeze(1);
    auto kj = torch::arange(0, S, torch::TensorOptions().dtype(torch::kLong).device(x.device())).unsqueeze(0);
    mask = torch::zeros({T, S}, x.options()).masked_fill(kj > qi, -std::numeric_limits<float>::infinity());
  }
  if (cache && cache->k.empty()) {
    cache->k.resize(size_t(cfg_.depth));
    cache->v.resize(size_t(cfg_.depth));
  }
  const double scale = 1.0 / std::sqrt(double(hd));
  for (int b = 0; b < cfg_.depth; ++b) {
    const std::string n = "blocks." + std::to_string(b);
    auto m = linear(n + ".adaLN.linear", c, ctx).unsqueeze(1).chunk(6, -1);  // RAR row order
    const auto& k1 = t_.at(n + ".adaLN.constant");
    auto h = torch::layer_norm(x, {D}, {}, {}, 1e-6) * (k1[0] + m[1]) + m[0];
    auto qkv = linear(n + ".attn.qkv", h, ctx).view({B, T, 3, Hn, hd}).permute({2, 0, 3, 1, 4});
    auto q = qkv[0], k = qkv[1], v = qkv[2];  // [B, H, T, hd]
    if (cache) {
      auto& ck = cache->k[size_t(b)];
      auto& cv = cache->v[size_t(b)];
      if (ck.defined()) {
        k = torch::cat({ck, k}, 2);
        v = torch::cat({cv, v}, 2);
      }
      ck = k;
      cv = v;
    }
    auto att = torch::matmul(q, k.transpose(-2, -1)) * scale;
    if (mask.defined()) att = att + mask;
    att = ctx.tap(n + ".attn.softmax", TapKind::Softmax, torch::softmax(att, -1));
    auto o = torch::matmul(att, v).permute({0, 2, 1, 3}).reshape({B, T, D});
    x = x + m[2] * linear(n + ".attn.proj", o, ctx);
    h = torch::layer_norm(x, {D}, {}, {}, 1e-6) * (k1[1] + m[4]) + m[3];
    h = linear(n + ".mlp.fc2", torch::gelu(linear(n + ".mlp.fc1", h, ctx)), ctx);
    x = ctx.tap(n, TapKind::BlockOutput, x + m[5] * h);
  }
  if (cache) cache->len = S;
  auto f = linear("final.adaLN.linear", c, ctx).unsqueeze(1).chunk(2, -1);  // [shift, scale]
  auto h = torch::layer_norm(x, {D}, {}, {}, 1e-6) * (t_.at("final.adaLN.constant") + f[1]) + f[0];
  return linear("head", h, ctx);
}

torch::Tensor ArTransformer::logits(const torch::Tensor& labels, const torch::Tensor& codes, const ForwardCtx& ctx) const {
  auto x = t_.at("class_token.weight").index_select(0, labels).unsqueeze(1);  // [B, 1, D]
  if (codes.defined() && codes.size(1) > 0)
    x = torch::cat({x, t_.at("tok_embed.weight").index_select(0, codes.reshape({-1})).view({codes.size(0), codes.size(1), -1})},
                   1);
  return run(x, labels, 0, nullptr, ctx);
}

torch::Tensor ArTransformer::step(const torch::Tensor& labels, const torch::Tensor& prevCode, ArKvCache& cache,
                                  const ForwardCtx& ctx) const {
  torch::Tensor x;
  if (cache.len == 0)
    x = t_.at("class_token.weight").index_select(0, labels).unsqueeze(1);
  else
    x = t_.at("tok_embed.weight").index_select(0, prevCode.reshape({-1})).unsqueeze(1);
  return run(x, labels, cache.len, &cache, ctx).select(1, 0);
}

// ---------------------------------------------------------------------------- sampling
torch::Tensor sampleArCodes(const ArTransformer& m, const torch::Tensor& labels, const ArSampleOptions& opt,
                            const ForwardCtx& ctx) {
  const auto& cfg = m.config();
  const int64_t B = labels.size(0), L = cfg.seqLen, K = cfg.vocab;
  if (!opt.sampleSeeds.empty() && int64_t(opt.sampleSeeds.size()) != B)
    throw std::runtime_error("sampleArCodes: one seed per sample needed");
  std::vector<std::mt19937_64> rng;
  for (int64_t i = 0; i < B; ++i) rng.emplace_back(opt.sampleSeeds.empty() ? uint64_t(i) : opt.sampleSeeds[size_t(i)]);
  const bool both = opt.guidance != 1.0 || opt.alwaysBatchUncond;
  auto lab = labels.to(torch::kLong);
  auto dev = m.table().at("head.weight").device();
  lab = lab.to(dev);
  auto runLabels = both ? torch::cat({lab, torch::full_like(lab, cfg.nullClass())}) : lab;
  auto codes = torch::zeros({B, L}, torch::TensorOptions().dtype(torch::kLong).device(dev));
  ArKvCache cache;
  torch::Tensor prev;
  for (int64_t t = 0; t < L; ++t) {
    if (opt.cancelled && opt.cancelled()) return {};
    if (opt.onStep) opt.onStep(int(t));
    torch::Tensor lg;
    if (opt.useCache) {
      lg = m.step(runLabels, both && prev.defined() ? torch::cat({prev, prev}) : prev, cache, ctx);
    } else {
      auto prefix = codes.slice(1, 0, t);
      lg = m.logits(runLabels, both ? torch::cat({prefix, prefix}) : prefix, ctx).select(1, t);
    }
    lg = lg.to(torch::kFloat);
    if (both) {
      auto cnd = lg.slice(0, 0, B), unc = lg.slice(0, B, 2 * B);
      lg = unc + opt.guidance * (cnd - unc);
    }
    if (opt.logitsTrace) opt.logitsTrace->push_back(lg.detach().cpu().clone());
    torch::Tensor next;
    if (opt.temperature <= 0) {
      next = lg.argmax(-1);
    } else {
      auto z = lg / opt.temperature;
      if (opt.topK > 0 && opt.topK < K) {
        auto kth = std::get<0>(z.topk(opt.topK, -1)).select(-1, opt.topK - 1).unsqueeze(-1);
        z = z.masked_fill(z < kth, -std::numeric_limits<float>::infinity());
      }
      auto cdf = torch::softmax(z.to(torch::kDouble), -1).cumsum(-1).cpu().contiguous();
      std::vector<double> u(size_t(B), 0.0);
      std::uniform_real_distribution<double> U(0.0, 1.0);
      for (int64_t i = 0; i < B; ++i) u[size_t(i)] = U(rng[size_t(i)]);
      auto ut = torch::tensor(u, torch::kDouble).unsqueeze(1) * cdf.select(1, K - 1).unsqueeze(1);
      next = (cdf < ut).sum(-1).clamp_max(K - 1).to(dev);
    }
    codes.select(1, t).copy_(next);
    prev = next;
  }
  return codes;
}

// ---------------------------------------------------------------------------- ArImageModel
ArImageModel::ArImageModel(ArConfig a, VqConfig v) : ar(a), vq(std::make_shared<VqVae>(v)) {
  if (a.vocab != v.codes) throw std::runtime_error("ar vocab differs from the VQ codebook size");
  if (a.seqLen != v.grid() * v.grid()) throw std::runtime_error("ar seq_len differs from the VQ grid");
}

std::vector<LayerInfo> ArImageModel::layers() const {
  auto out = ar.table().layers();
  LayerInfo vqRoot;
  vqRoot.name = "vq";
  vqRoot.type = "VQVAE";
  out.push_back(vqRoot);
  for (auto& l : vq->table().layers("vq.")) out.push_back(l);
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> ArImageModel::namedTensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (auto& n : ar.table().order) out.emplace_back(n, ar.table().at(n));
  for (auto& n : vq->table().order) out.emplace_back("vq." + n, vq->table().at(n));
  return out;
}

std::shared_ptr<ModelImpl> ArImageModel::clone() const {
  auto c = std::make_shared<ArImageModel>(ar.config(), vq->config());
  c->ar.table().copyFrom(ar.table());
  c->vq->table().copyFrom(vq->table());
  c->name = name;
  c->source = source;
  c->properties = properties;
  c->inputTransforms = inputTransforms;
  return c;
}

torch::Tensor ArImageModel::forward(const torch::Tensor& input, const ForwardCtx& ctx) const {
  torch::Tensor codes;
  if (input.is_floating_point()) {
    // VQ layers are tapped under their "vq." names.
    std::map<std::string, TensorTransform> vqTransforms;
    if (ctx.inputTransforms)
      for (auto& [k, f] : *ctx.inputTransforms)
        if (k.rfind("vq.", 0) == 0) vqTransforms[k.substr(3)] = f;
    TapObserver obs;
    if (ctx.observer && *ctx.observer)
      obs = [&ctx](const std::string& p, TapKind kind, const torch::Tensor& x) { return (*ctx.observer)("vq." + p, kind, x); };
    codes = vq->nearestCodes(vq->encode(input, ForwardCtx{&vqTransforms, &obs})).reshape({input.size(0), -1});
  } else {
    codes = input.to(torch::kLong);
  }
  if (codes.dim() == 1) codes = codes.unsqueeze(0);
  codes = codes.slice(1, 0, ar.config().seqLen - 1);
  auto labels = torch::full({codes.size(0)}, int64_t(ar.config().nullClass()), codes.options());
  return ar.logits(labels, codes, ctx);
}

void ArImageModel::to(torch::Device d) {
  ar.table().to(d);
  vq->table().to(d);
}

Result<std::shared_ptr<ArImageModel>> loadArImageModel(const std::string& path) {
  CS_TRY_RESULT(path, {
    auto st = readSafeTensors(path);
    if (!st) return st.error();
    auto a = st->metadata.find("ar_config"), v = st->metadata.find("vq_config");
    if (a == st->metadata.end() || v == st->metadata.end())
      return Error::badFile(path, "no 'ar_config'/'vq_config' in the safetensors metadata");
    const auto ac = ArConfig::fromJson(a->second, path);
    const auto vc = VqConfig::fromJson(v->second, path);
    if (ac.vocab != vc.codes || ac.seqLen != vc.grid() * vc.grid())
      return Error::badFile(path, "ar_config (vocab, seq_len) does not match vq_config (codes, grid)");
    auto m = std::make_shared<ArImageModel>(ac, vc);
    m->ar.table().load(*st, path);
    m->vq->table().load(*st, path, "vq.");
    for (auto& [k, val] : st->metadata) m->properties[k] = val;
    return m;
  })
}

Status saveArImageModel(const ArImageModel& m, const std::string& path, std::map<std::string, std::string> metadata) {
  CS_TRY_RESULT(path, {
    std::vector<std::pair<std::string, torch::Tensor>> half;
    for (auto& [n, t] : m.namedTensors()) half.emplace_back(n, t.detach().cpu().to(torch::kHalf).contiguous());
    metadata["family"] = "ar-image";
    metadata["ar_config"] = m.ar.config().toJson();
    metadata["vq_config"] = m.vq->config().toJson();
    metadata["null_class"] = std::to_string(m.ar.config().nullClass());
    return writeSafeTensors(path, half, metadata);
  })
}

}  // namespace cs::detail
