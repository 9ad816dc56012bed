// PTQ of LLaMA-style decoders: the RMSNorm fold with an added beta and consumer biases,
// SmoothQuant into the RMSNorm, learned dual clipping, and the variant pipeline
// (see compression/torch/ptq_lm.h and methods/repquant.md §2.1-2.4).
#include "compression/torch/ptq_lm.h"

#include <set>
#include <stdexcept>

namespace cs::detail {

namespace {

torch::Tensor biasOr0(const DecoderLM& lm, const std::string& layer, int64_t n) {
  return lm.hasWeight(layer + ".bias") ? lm.weight(layer + ".bias").detach().clone() : torch::zeros({n});
}

// Every layer input ([rows, C]) and attention probability ([rows, S]) over the
// calibration windows, captured from `m` with its own input transforms.
struct LmCaptured {
  std::map<std::string, torch::Tensor> layerInputs, softmax;
};

LmCaptured captureLm(const DecoderLM& m, const torch::Tensor& tokens, bool wantSoftmax) {
  std::map<std::string, std::vector<torch::Tensor>> li, sm;
  TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) {
    if (k == TapKind::LayerInput) li[p].push_back(x.reshape({-1, x.size(-1)}).to(torch::kFloat).clone());
    if (k == TapKind::Softmax && wantSoftmax) sm[p].push_back(x.reshape({-1, x.size(-1)}).to(torch::kFloat).clone());
    return x;
  };
  {
    torch::InferenceMode guard;
    const int64_t B = 8;
    for (int64_t i = 0; i < tokens.size(0); i += B)
      (void)m.run(tokens.slice(0, i, std::min<int64_t>(i + B, tokens.size(0))), &obs);
  }
  LmCaptured c;
  // clone outside InferenceMode: the tensors may take part in autograd (dual clipping)
  for (auto& [k, v] : li) c.layerInputs[k] = torch::cat(v, 0).clone();
  for (auto& [k, v] : sm) c.softmax[k] = torch::cat(v, 0).clone();
  return c;
}

TensorTransform actTransform(UniformQuantizer q) {
  q.axis = -1;
  return [q](const torch::Tensor& x) { return fakeQuant(x, q); };
}

UniformQuantizer perTensor(int bits, double delta, double zero) {
  UniformQuantizer q;
  q.bits = bits;
  q.symmetric = false;
  q.scale = torch::tensor(float(delta));
  q.zero = torch::tensor(float(zero));
  return q;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (auto& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

}  // namespace

std::vector<std::pair<std::string, std::vector<std::string>>> lmNormConsumers(const DecoderLM& lm) {
  std::vector<std::pair<std::string, std::vector<std::string>>> v;
  if (lm.config().arch != "llama") return v;
  for (int64_t i = 0; i < lm.config().layers; ++i) {
    const auto p = lm.layerPrefix(i);
    v.push_back({p + "input_layernorm", {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"}});
    v.push_back({p + "post_attention_layernorm", {p + "mlp.gate_proj", p + "mlp.up_proj"}});
  }
  return v;
}

NormFold foldRmsNorm(DecoderLM& lm, const std::string& norm, const std::vector<std::string>& consumers,
                     const UniformQuantizer& pc, bool roundZero) {
  torch::NoGradGuard ng;
  NormFold f;
  f.norm = norm;
  f.consumer = join(consumers);
  f.deltaC = pc.scale.detach().to(torch::kFloat).reshape({-1}).clone();
  f.zeroC = pc.zero.detach().to(torch::kFloat).reshape({-1}).clone();
  auto dt = f.deltaC.mean();
  auto zt = f.zeroC.mean();
  if (roundZero) zt = torch::round(zt);
  f.r = f.deltaC / dt;
  f.b = dt * (zt - f.zeroC);
  f.delta = dt.item<double>();
  f.zero = zt.item<double>();
  const int64_t C = f.r.size(0);
  lm.setWeight(norm + ".weight", lm.weight(norm + ".weight").detach() / f.r);
  // RMSNorm has no beta: the offset -b becomes a new bias of the norm (repquant.md §2.4)
  auto beta = biasOr0(lm, norm, C);
  lm.setWeight(norm + ".bias", beta / f.r - f.b);
  for (auto& c : consumers) {
    auto W = lm.weight(c + ".weight").detach() * f.r.unsqueeze(0);
    auto bias = biasOr0(lm, c, W.size(0)) + torch::mv(W, f.b);  // the already scaled weight
    lm.setWeight(c + ".weight", W);
    lm.setWeight(c + ".bias", bias);
  }
  return f;
}

torch::Tensor smoothRmsNorm(DecoderLM& lm, const std::string& norm, const std::vector<std::string>& consumers,
                            const torch::Tensor& X, double alpha) {
  torch::NoGradGuard ng;
  auto amax = std::get<0>(X.abs().max(0)).clamp_min(1e-5);
  torch::Tensor wmax;
  for (auto& c : consumers) {
    auto m = std::get<0>(lm.weight(c + ".weight").abs().max(0));
    wmax = wmax.defined() ? torch::maximum(wmax, m) : m;
  }
  wmax = wmax.clamp_min(1e-5);
  auto s = (amax.pow(alpha) / wmax.pow(1.0 - alpha)).clamp_min(1e-5);
  lm.setWeight(norm + ".weight", lm.weight(norm + ".weight").detach() / s);
  if (lm.hasWeight(norm + ".bias")) lm.setWeight(norm + ".bias", lm.weight(norm + ".bias").detach() / s);
  for (auto& c : consumers) lm.setWeight(c + ".weight", lm.weight(c + ".weight").detach() * s.unsqueeze(0));
  return s;
}

DualClipResult learnDualClip(const torch::Tensor& X0, const std::vector<torch::Tensor>& weights,
                             const UniformQuantizer& init, int steps, double lr) {
  DualClipResult res;
  const int bits = init.bits;
  const double qmax = double((int64_t(1) << bits) - 1);
  auto X = X0.detach().to(torch::kFloat).clone();
  if (X.size(0) > 2048) X = X.slice(0, 0, X.size(0), X.size(0) / 2048 + 1).clone();  // deterministic subsample
  auto W = torch::cat(weights, 0).detach().clone();  // [sum out, C]
  auto target = torch::matmul(X, W.t());
  auto s0 = init.scale.detach().reshape({-1}).to(torch::kFloat);
  auto z0 = init.zero.detach().reshape({-1}).to(torch::kFloat);
  auto lo = (-z0 * s0).clone().requires_grad_(true);
  auto hi = ((qmax - z0) * s0).clone().requires_grad_(true);
  auto lossOf = [&](const torch::Tensor& l, const torch::Tensor& h) {
    return (torch::matmul(dualClipFakeQuant(X, l, h, bits), W.t()) - target).pow(2).mean();
  };
  {
    torch::NoGradGuard ng;
    res.lossBefore = lossOf(lo, hi).item<double>();
  }
  // Learning rate relative to the typical channel range, so that one setting fits all norms.
  const double range = (hi - lo).abs().mean().item<double>();
  torch::optim::Adam opt({lo, hi}, torch::optim::AdamOptions(lr * std::max(range, 1e-6)));
  torch::Tensor bestLo = lo.detach().clone(), bestHi = hi.detach().clone();
  double best = res.lossBefore;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    auto loss = lossOf(lo, hi);
    loss.backward();
    opt.step();
    {
      torch::NoGradGuard ng;
      // keep 0 inside [lo, hi] so that the zero point stays in range
      lo.clamp_max_(-1e-6);
      hi.clamp_min_(1e-6);
      const double l = lossOf(lo, hi).item<double>();
      if (l < best) best = l, bestLo = lo.detach().clone(), bestHi = hi.detach().clone();
    }
  }
  res.lossAfter = best;
  res.q = quantizerFromRange(bestLo, bestHi, bits, false, -1);
  return res;
}

LmPtqOutcome runPtqLm(const DecoderLM& model, const torch::Tensor& tokens, const LmPtqConfig& cfg, JobContext* job) {
  using Fold = LmPtqConfig::Fold;
  LmPtqOutcome out;
  out.variant = std::static_pointer_cast<DecoderLM>(model.clone());
  auto& v = *out.variant;
  v.inputTransforms.clear();  // calibrate on the FP model

  // Targets: the Linears inside the decoder blocks (+ the LM head if asked and untied).
  for (auto& l : v.layers()) {
    if (!l.quantizable) continue;
    const bool inBlock = l.name.rfind(v.layerPrefix(0).substr(0, v.layerPrefix(0).size() - 2), 0) == 0;
    if (inBlock || (cfg.quantHead && l.name == "lm_head")) out.targets.push_back(l.name);
  }
  if (cfg.quantHead && v.config().tiedHead) out.targets.push_back("lm_head");  // input only; weight = embedding

  std::set<std::string> assigned;
  if (cfg.fold != Fold::None && (cfg.abits > 0 || cfg.fold == Fold::Smooth)) {
    auto pairs = lmNormConsumers(v);
    if (pairs.empty()) throw std::invalid_argument("RMSNorm folds need a LLaMA-style decoder");
    auto fp = captureLm(v, tokens, false);
    for (auto& [norm, consumers] : pairs) {
      const auto& X = fp.layerInputs.at(consumers.front());
      if (cfg.fold == Fold::Smooth) {
        smoothRmsNorm(v, norm, consumers, X, cfg.alpha);
        continue;
      }
      auto pc = searchUniform(X, cfg.abits, false, 1, cfg.aSearch, cfg.percentile);
      pc.axis = -1;
      if (cfg.fold == Fold::DualClipRepQ) {
        std::vector<torch::Tensor> ws;
        for (auto& c : consumers) ws.push_back(v.weight(c + ".weight"));
        auto dc = learnDualClip(X, ws, pc, cfg.clipSteps, cfg.clipLr);
        out.clipLoss[norm] = {dc.lossBefore, dc.lossAfter};
        pc = dc.q;
      }
      if (cfg.fold == Fold::PerChannelNoFold) {
        for (auto& c : consumers) out.inputQuantizers[c] = pc, assigned.insert(c);
        continue;
      }
      auto f = foldRmsNorm(v, norm, consumers, pc, cfg.roundZero);
      for (auto& c : consumers) out.inputQuantizers[c] = perTensor(cfg.abits, f.delta, f.zero), assigned.insert(c);
      out.folds.push_back(f);
    }
  }

  if (cfg.abits > 0) {
    using SM = PtqConfig::Softmax;
    auto cap = captureLm(v, tokens, cfg.softmax != SM::None);
    for (auto& name : out.targets) {
      if (!assigned.count(name)) {
        auto it = cap.layerInputs.find(name);
        if (it == cap.layerInputs.end()) continue;
        out.inputQuantizers[name] = searchUniform(it->second, cfg.abits, cfg.aSymmetric, -1, cfg.aSearch, cfg.percentile);
      }
      v.inputTransforms[name] = actTransform(out.inputQuantizers[name]);
    }
    for (auto& [point, A] : cap.softmax) {
      if (cfg.softmax == SM::Uniform) {
        auto q = searchUniform(A, cfg.abits, false, -1, cfg.aSearch, cfg.percentile);
        v.inputTransforms[point] = actTransform(q);
      } else if (cfg.softmax == SM::TwinUniform) {
        auto tq = searchTwinUniform(A, cfg.abits);
        v.inputTransforms[point] = [tq](const torch::Tensor& x) { return fakeQuantTwinUniform(x, tq); };
      } else {
        auto lq = searchLog(A, cfg.abits, cfg.softmax == SM::LogSqrt2);
        v.inputTransforms[point] = [lq](const torch::Tensor& x) { return fakeQuantLog(x, lq); };
      }
    }
  }

  if (cfg.quantWeights) {
    torch::NoGradGuard ng;
    auto quantW = [&](const std::string& layer, const std::string& tensor) {
      auto ref = v.weight(tensor).detach().to(torch::kFloat).clone();
      UniformQuantizer q;
      if (cfg.wPerChannel)
        q = searchUniform(ref, cfg.wbits, cfg.wSymmetric, 0, cfg.wSearch, cfg.percentile);
      else
        q = searchUniform(ref, cfg.wbits, cfg.wSymmetric, -1, cfg.wSearch, cfg.percentile);
      v.setWeight(tensor, fakeQuant(ref, q));
      out.weightQuantizers[layer] = q;
      out.fpWeights[layer] = ref;
    };
    for (auto& name : out.targets)
      if (v.hasWeight(name + ".weight")) quantW(name, name + ".weight");
    if (cfg.quantEmbedding) {
      const std::string e = v.config().arch == "opt" ? "model.decoder.embed_tokens" : "model.embed_tokens";
      quantW(e, e + ".weight");  // one range per token row
    }
  }
  if (cfg.quantWeights && cfg.reconstruct) reconstructLmLayers(out, tokens, cfg.recon, job);  // ptq_lm_recon.cpp
  return out;
}

}  // namespace cs::detail
