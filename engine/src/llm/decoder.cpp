// DecoderLM: the LLaMA and OPT forward passes (float32), with taps, GQA, RoPE in both
// conventions, learned OPT positions and an optional KV cache.
#include <cmath>
#include <set>

#include "engine/torch/llm_impl.h"

namespace cs::detail {

namespace {
// RMSNorm; `b` (undefined for plain LLaMA) is the offset a RepQ-style fold adds.
torch::Tensor rmsNorm(const torch::Tensor& x, const torch::Tensor& w, double eps, const torch::Tensor& b = {}) {
  auto var = x.pow(2).mean(-1, /*keepdim=*/true);
  auto y = x * torch::rsqrt(var + eps) * w;
  return b.defined() ? y + b : y;
}
}  // namespace

DecoderLM::DecoderLM(LmConfig cfg, std::vector<std::pair<std::string, torch::Tensor>> weights,
                     std::shared_ptr<const Tokenizer> tokenizer)
    : cfg_(std::move(cfg)), weights_(std::move(weights)), tokenizer_(std::move(tokenizer)) {
  for (auto& [n, t] : weights_)
    if (t.is_floating_point() && t.scalar_type() != torch::kFloat32) t = t.to(torch::kFloat32);
  reindex();
}

void DecoderLM::reindex() {
  index_.clear();
  for (size_t i = 0; i < weights_.size(); ++i) index_[weights_[i].first] = i;
}

torch::Tensor DecoderLM::weight(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw EngineError(Error::badFile(source, "missing tensor " + name));
  return weights_[it->second].second;
}

std::string DecoderLM::layerPrefix(int64_t i) const {
  return (cfg_.arch == "opt" ? "model.decoder.layers." : "model.layers.") + std::to_string(i) + ".";
}

std::vector<std::pair<std::string, torch::Tensor>> DecoderLM::namedTensors() const { return weights_; }

std::shared_ptr<ModelImpl> DecoderLM::clone() const {
  auto c = std::make_shared<DecoderLM>(*this);
  torch::NoGradGuard ng;
  for (auto& w : c->weights_) w.second = w.second.detach().clone();
  c->reindex();
  return c;
}

void DecoderLM::setRequiresGrad(bool on) {
  for (auto& w : weights_)
    if (w.second.is_floating_point()) w.second = w.second.detach().requires_grad_(on);
  reindex();
}

std::vector<LayerInfo> DecoderLM::layers() const {
  // Modules in first-appearance order; every ancestor is listed before its children.
  // params counts the tensors a module owns directly (containers: 0), as the ViT does.
  std::vector<LayerInfo> out;
  std::unordered_map<std::string, size_t> pos;
  auto typeOf = [&](const std::string& name, bool leaf) -> std::string {
    auto last = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
    if (!leaf) {
      if (last == "self_attn") return "Attention";
      if (last == "mlp") return "MLP";
      if (!last.empty() && std::isdigit(static_cast<unsigned char>(last[0]))) return "DecoderLayer";
      return "Module";
    }
    if (last.find("proj") != std::string::npos || last == "fc1" || last == "fc2" || last == "lm_head")
      return "Linear";
    if (last.find("embed") != std::string::npos) return "Embedding";
    if (last.find("norm") != std::string::npos) return cfg_.arch == "opt" ? "LayerNorm" : "RMSNorm";
    return "Module";
  };
  auto ensure = [&](const std::string& name, bool leaf) -> LayerInfo& {
    auto it = pos.find(name);
    if (it != pos.end()) return out[it->second];
    LayerInfo li;
    li.name = name;
    li.type = typeOf(name, leaf);
    pos[name] = out.size();
    out.push_back(li);
    return out.back();
  };
  auto addModule = [&](const std::string& module, const torch::Tensor& t, bool isWeight) {
    // ancestors first
    for (size_t d = module.find('.'); d != std::string::npos; d = module.find('.', d + 1))
      ensure(module.substr(0, d), false);
    ensure(module, true);
    auto& li = out[pos[module]];
    li.params += t.numel();
    if (isWeight) {
      li.weightShape = t.sizes().vec();
      li.dtype = cfg_.fileDtype;
      li.quantizable = li.type == "Linear";
    }
  };
  for (const auto& [name, t] : weights_) {
    auto dot = name.rfind('.');
    if (dot == std::string::npos) continue;
    addModule(name.substr(0, dot), t, name.substr(dot + 1) == "weight");
  }
  if (cfg_.tiedHead) {
    LayerInfo li;
    li.name = "lm_head";
    li.type = "Linear";
    li.weightShape = weight(cfg_.arch == "opt" ? "model.decoder.embed_tokens.weight" : "model.embed_tokens.weight")
                         .sizes()
                         .vec();
    li.dtype = cfg_.fileDtype;
    li.quantizable = false;  // tied to the embeddings
    out.push_back(li);
  }
  return out;
}

torch::Tensor DecoderLM::linear(const std::string& layer, const torch::Tensor& xIn, const ForwardCtx& ctx,
                                const LinearFn* lin) const {
  auto x = ctx.tap(layer, TapKind::LayerInput, xIn);
  auto w = weight(layer + ".weight");
  auto bi = index_.find(layer + ".bias");
  if (lin && *lin) return (*lin)(layer, x, w, bi != index_.end() ? weights_[bi->second].second : torch::Tensor());
  if (bi != index_.end()) return torch::linear(x, w, weights_[bi->second].second);
  return torch::matmul(x, w.t());
}

void DecoderLM::setWeight(const std::string& name, torch::Tensor t) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    weights_[it->second].second = std::move(t);
    return;
  }
  // insert after the last tensor of the same module
  const auto module = name.substr(0, name.rfind('.') + 1);
  size_t at = weights_.size();
  for (size_t i = 0; i < weights_.size(); ++i)
    if (weights_[i].first.rfind(module, 0) == 0) at = i + 1;
  weights_.insert(weights_.begin() + static_cast<std::ptrdiff_t>(at), {name, std::move(t)});
  reindex();
}

torch::Tensor DecoderLM::rope(const torch::Tensor& x, int64_t pos0) const {
  // x: [B, H, T, hd]
  const int64_t T = x.size(2), hd = x.size(3), half = hd / 2;
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  auto idx = torch::arange(0, hd, 2, torch::TensorOptions().dtype(torch::kInt64)).to(torch::kFloat32);
  auto invFreq = 1.0 / torch::pow(torch::tensor(static_cast<float>(cfg_.ropeTheta), opts), idx / static_cast<float>(hd));
  auto posT = torch::arange(pos0, pos0 + T, torch::TensorOptions().dtype(torch::kInt64)).to(torch::kFloat32);
  auto freqs = torch::outer(posT, invFreq);  // [T, half]
  auto cos = freqs.cos(), sin = freqs.sin();
  if (cfg_.ropeInterleaved) {
    auto xv = x.reshape({x.size(0), x.size(1), T, half, 2});
    auto x0 = xv.select(-1, 0), x1 = xv.select(-1, 1);
    auto o0 = x0 * cos - x1 * sin;
    auto o1 = x0 * sin + x1 * cos;
    return torch::stack({o0, o1}, -1).reshape(x.sizes());
  }
  auto c = torch::cat({cos, cos}, -1), s = torch::cat({sin, sin}, -1);
  auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  auto rot = torch::cat({-x2, x1}, -1);
  return x * c + rot * s;
}

torch::Tensor DecoderLM::attention(const std::string& p, const torch::Tensor& x, const ForwardCtx& ctx,
                                   KvCache* cache, int64_t layer, int64_t pos0, const LinearFn* lin) const {
  const int64_t B = x.size(0), T = x.size(1), H = cfg_.heads, KV = cfg_.kvHeads, hd = cfg_.headDim;
  const bool opt = cfg_.arch == "opt";
  auto q = linear(p + "q_proj", x, ctx, lin).view({B, T, H, hd}).transpose(1, 2);
  auto k = linear(p + "k_proj", x, ctx, lin).view({B, T, KV, hd}).transpose(1, 2);
  auto v = linear(p + "v_proj", x, ctx, lin).view({B, T, KV, hd}).transpose(1, 2);
  if (!opt) {
    q = rope(q, pos0);
    k = rope(k, pos0);
  }
  if (cache) {
    if (cache->k.size() < static_cast<size_t>(cfg_.layers)) {
      cache->k.resize(cfg_.layers);
      cache->v.resize(cfg_.layers);
    }
    if (cache->k[layer].defined()) {
      k = torch::cat({cache->k[layer], k}, 2);
      v = torch::cat({cache->v[layer], v}, 2);
    }
    cache->k[layer] = k;
    cache->v[layer] = v;
  }
  if (KV != H) {
    k = k.repeat_interleave(H / KV, 1);
    v = v.repeat_interleave(H / KV, 1);
  }
  const int64_t S = k.size(2);
  auto scores = torch::matmul(q, k.transpose(2, 3)) * (1.0 / std::sqrt(static_cast<double>(hd)));
  if (T > 1) {
    auto mask = torch::ones({T, S}, torch::TensorOptions().dtype(torch::kBool)).triu(S - T + 1);
    scores = scores.masked_fill(mask, -std::numeric_limits<float>::infinity());
  }
  auto probs = torch::softmax(scores, -1);
  // A variant may carry a transform of the attention probabilities (e.g. log-sqrt2
  // fake-quant), keyed by the tap point name in inputTransforms (never a layer name).
  const std::string sp = p + "self_attn";
  if (ctx.inputTransforms) {
    auto it = ctx.inputTransforms->find(sp);
    if (it != ctx.inputTransforms->end()) probs = it->second(probs);
  }
  probs = ctx.tap(sp, TapKind::Softmax, probs);
  auto out = torch::matmul(probs, v).transpose(1, 2).reshape({B, T, H * hd});
  return linear(p + (opt ? "out_proj" : "o_proj"), out, ctx, lin);
}

torch::Tensor DecoderLM::forward(const torch::Tensor& input, const ForwardCtx& ctx) const {
  auto t = input.dim() == 1 ? input.unsqueeze(0) : input;
  return forwardTokens(t.to(torch::kLong), ctx);
}

torch::Tensor DecoderLM::forwardTokens(const torch::Tensor& tokens, const ForwardCtx& ctx, KvCache* cache,
                                       std::vector<torch::Tensor>* hidden) const {
  if (tokens.dim() != 2) throw EngineError(Error::badArgument("language model input must be [batch, tokens]"));
  const int64_t pos0 = cache ? cache->length : 0;
  if (pos0 + tokens.size(1) > cfg_.maxSeq)
    throw EngineError(Error::badArgument("sequence of " + std::to_string(pos0 + tokens.size(1)) +
                                         " tokens exceeds the model's context of " + std::to_string(cfg_.maxSeq)));
  auto mx = tokens.max().item<int64_t>(), mn = tokens.min().item<int64_t>();
  if (mn < 0 || mx >= cfg_.vocab) throw EngineError(Error::badArgument("token id out of range"));
  auto logits = cfg_.arch == "opt" ? optForward(tokens, ctx, cache, hidden) : llamaForward(tokens, ctx, cache, hidden);
  if (cache) cache->length = pos0 + tokens.size(1);
  return logits;
}

torch::Tensor DecoderLM::llamaBlock(int64_t i, torch::Tensor h, const ForwardCtx& ctx, KvCache* cache, int64_t pos0,
                                    const LinearFn* lin) const {
  const auto p = layerPrefix(i);
  auto bias = [&](const std::string& n) { return hasWeight(n) ? weight(n) : torch::Tensor(); };
  auto x = ctx.tap(p + "input_layernorm", TapKind::NormOutput,
                   rmsNorm(h, weight(p + "input_layernorm.weight"), cfg_.normEps, bias(p + "input_layernorm.bias")));
  h = h + attention(p + "self_attn.", x, ctx, cache, i, pos0, lin);
  x = ctx.tap(p + "post_attention_layernorm", TapKind::NormOutput,
              rmsNorm(h, weight(p + "post_attention_layernorm.weight"), cfg_.normEps,
                      bias(p + "post_attention_layernorm.bias")));
  auto g = torch::silu(linear(p + "mlp.gate_proj", x, ctx, lin)) * linear(p + "mlp.up_proj", x, ctx, lin);
  h = h + linear(p + "mlp.down_proj", g, ctx, lin);
  return ctx.tap(p.substr(0, p.size() - 1), TapKind::BlockOutput, h);
}

torch::Tensor DecoderLM::optBlock(int64_t i, torch::Tensor h, const ForwardCtx& ctx, KvCache* cache, int64_t pos0,
                                  const LinearFn* lin) const {
  const auto p = layerPrefix(i);
  auto ln = [&](const std::string& n, const torch::Tensor& x) {
    return ctx.tap(n, TapKind::NormOutput,
                   torch::layer_norm(x, {cfg_.dim}, weight(n + ".weight"), weight(n + ".bias"), cfg_.normEps));
  };
  auto x = cfg_.optPreNorm ? ln(p + "self_attn_layer_norm", h) : h;
  h = h + attention(p + "self_attn.", x, ctx, cache, i, pos0, lin);
  if (!cfg_.optPreNorm) h = ln(p + "self_attn_layer_norm", h);
  x = cfg_.optPreNorm ? ln(p + "final_layer_norm", h) : h;
  h = h + linear(p + "fc2", torch::relu(linear(p + "fc1", x, ctx, lin)), ctx, lin);
  if (!cfg_.optPreNorm) h = ln(p + "final_layer_norm", h);
  return ctx.tap(p.substr(0, p.size() - 1), TapKind::BlockOutput, h);
}

torch::Tensor DecoderLM::embed(const torch::Tensor& tokens, const ForwardCtx& ctx) const {
  if (cfg_.arch != "opt") return torch::embedding(weight("model.embed_tokens.weight"), tokens);
  auto h = torch::embedding(weight("model.decoder.embed_tokens.weight"), tokens);
  if (hasWeight("model.decoder.project_in.weight")) h = linear("model.decoder.project_in", h, ctx);
  auto posIds = torch::arange(0, tokens.size(1), torch::TensorOptions().dtype(torch::kLong)) + cfg_.optPosOffset;
  return h + torch::embedding(weight("model.decoder.embed_positions.weight"), posIds).unsqueeze(0);
}

torch::Tensor DecoderLM::block(int64_t i, const torch::Tensor& h, const ForwardCtx& ctx, const LinearFn* lin) const {
  return cfg_.arch == "opt" ? optBlock(i, h, ctx, nullptr, 0, lin) : llamaBlock(i, h, ctx, nullptr, 0, lin);
}

torch::Tensor DecoderLM::head(const torch::Tensor& hIn, const ForwardCtx& ctx) const {
  auto h = hIn;
  if (cfg_.arch == "opt") {
    if (hasWeight("model.decoder.final_layer_norm.weight"))
      h = ctx.tap("model.decoder.final_layer_norm", TapKind::NormOutput,
                  torch::layer_norm(h, {cfg_.dim}, weight("model.decoder.final_layer_norm.weight"),
                                    weight("model.decoder.final_layer_norm.bias"), cfg_.normEps));
    if (hasWeight("model.decoder.project_out.weight")) h = linear("model.decoder.project_out", h, ctx);
  } else {
    h = ctx.tap("model.norm", TapKind::NormOutput, rmsNorm(h, weight("model.norm.weight"), cfg_.normEps));
  }
  if (cfg_.tiedHead) {
    auto x = ctx.tap("lm_head", TapKind::LayerInput, h);
    return torch::matmul(x, weight(cfg_.arch == "opt" ? "model.decoder.embed_tokens.weight" : "model.embed_tokens.weight").t());
  }
  return linear("lm_head", h, ctx);
}

torch::Tensor DecoderLM::llamaForward(const torch::Tensor& tokens, const ForwardCtx& ctx, KvCache* cache,
                                      std::vector<torch::Tensor>* hidden) const {
  const int64_t pos0 = cache ? cache->length : 0;
  auto h = torch::embedding(weight("model.embed_tokens.weight"), tokens);
  if (hidden) hidden->push_back(h);
  for (int64_t i = 0; i < cfg_.layers; ++i) {
    h = llamaBlock(i, h, ctx, cache, pos0, nullptr);
    if (hidden) hidden->push_back(h);
  }
  h = ctx.tap("model.norm", TapKind::NormOutput, rmsNorm(h, weight("model.norm.weight"), cfg_.normEps));
  if (hidden) hidden->push_back(h);
  if (cfg_.tiedHead) {
    auto x = ctx.tap("lm_head", TapKind::LayerInput, h);
    return torch::matmul(x, weight("model.embed_tokens.weight").t());
  }
  return linear("lm_head", h, ctx);
}

torch::Tensor DecoderLM::optForward(const torch::Tensor& tokens, const ForwardCtx& ctx, KvCache* cache,
                                    std::vector<torch::Tensor>* hidden) const {
  const int64_t pos0 = cache ? cache->length : 0, T = tokens.size(1);
  const double eps = cfg_.normEps;
  auto ln = [&](const std::string& n, const torch::Tensor& x) {
    return ctx.tap(n, TapKind::NormOutput,
                   torch::layer_norm(x, {cfg_.dim}, weight(n + ".weight"), weight(n + ".bias"), eps));
  };
  auto h = torch::embedding(weight("model.decoder.embed_tokens.weight"), tokens);
  if (hasWeight("model.decoder.project_in.weight")) h = linear("model.decoder.project_in", h, ctx);
  auto posIds = torch::arange(pos0, pos0 + T, torch::TensorOptions().dtype(torch::kLong)) + cfg_.optPosOffset;
  h = h + torch::embedding(weight("model.decoder.embed_positions.weight"), posIds).unsqueeze(0);
  if (hidden) hidden->push_back(h);
  for (int64_t i = 0; i < cfg_.layers; ++i) {
    h = optBlock(i, h, ctx, cache, pos0, nullptr);
    if (hidden) hidden->push_back(h);
  }
  if (hasWeight("model.decoder.final_layer_norm.weight")) h = ln("model.decoder.final_layer_norm", h);
  if (hidden) hidden->push_back(h);
  if (hasWeight("model.decoder.project_out.weight")) h = linear("model.decoder.project_out", h, ctx);
  if (cfg_.tiedHead) {
    auto x = ctx.tap("lm_head", TapKind::LayerInput, h);
    return torch::matmul(x, weight("model.decoder.embed_tokens.weight").t());
  }
  return linear("lm_head", h, ctx);
}

std::shared_ptr<DecoderLM> DecoderLM::randomLlama(const LmConfig& cfg, std::shared_ptr<const Tokenizer> tok) {
  torch::NoGradGuard ng;
  std::vector<std::pair<std::string, torch::Tensor>> w;
  const double std0 = 0.02, stdOut = 0.02 / std::sqrt(2.0 * static_cast<double>(cfg.layers));
  auto normal = [](std::vector<int64_t> shape, double s) { return torch::randn(shape) * s; };
  w.emplace_back("model.embed_tokens.weight", normal({cfg.vocab, cfg.dim}, std0));
  const int64_t qd = cfg.heads * cfg.headDim, kvd = cfg.kvHeads * cfg.headDim;
  for (int64_t i = 0; i < cfg.layers; ++i) {
    const auto p = "model.layers." + std::to_string(i) + ".";
    w.emplace_back(p + "input_layernorm.weight", torch::ones({cfg.dim}));
    w.emplace_back(p + "self_attn.q_proj.weight", normal({qd, cfg.dim}, std0));
    w.emplace_back(p + "self_attn.k_proj.weight", normal({kvd, cfg.dim}, std0));
    w.emplace_back(p + "self_attn.v_proj.weight", normal({kvd, cfg.dim}, std0));
    w.emplace_back(p + "self_attn.o_proj.weight", normal({cfg.dim, qd}, stdOut));
    w.emplace_back(p + "post_attention_layernorm.weight", torch::ones({cfg.dim}));
    w.emplace_back(p + "mlp.gate_proj.weight", normal({cfg.hidden, cfg.dim}, std0));
    w.emplace_back(p + "mlp.up_proj.weight", normal({cfg.hidden, cfg.dim}, std0));
    w.emplace_back(p + "mlp.down_proj.weight", normal({cfg.dim, cfg.hidden}, stdOut));
  }
  w.emplace_back("model.norm.weight", torch::ones({cfg.dim}));
  if (!cfg.tiedHead) w.emplace_back("lm_head.weight", normal({cfg.vocab, cfg.dim}, std0));
  return std::make_shared<DecoderLM>(cfg, std::move(w), std::move(tok));
}

}  // namespace cs::detail
