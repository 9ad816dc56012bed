// RepQuant building blocks on top of the PTQ pipeline (compression/torch/quantizers.h):
// learned per-channel dual clipping of the post-LayerNorm quantizers (before the fold)
// and layer-wise weight reconstruction of the folded variant (after it).
#include <algorithm>
#include <string>

#include "compression/torch/quantizers.h"
#include "compression/torch/reconstruct.h"

namespace cs::detail {

DualClipping learnDualClipping(const torch::Tensor& X0, const torch::Tensor& W0, const UniformQuantizer& init,
                               int iters, double lr) {
  // Training needs autograd even when the caller runs under InferenceMode/NoGradGuard.
  c10::InferenceMode notInference(false);
  torch::AutoGradMode grad(true);
  DualClipping res;
  const int bits = init.bits;
  const double qmax = double((int64_t(1) << bits) - 1);
  // Ordinary copies (the caller's caches may be inference tensors); rows subsampled
  // deterministically above 8192.
  auto X = X0.detach().to(torch::kFloat).reshape({-1, X0.size(-1)});
  if (X.size(0) > 8192) X = X.slice(0, 0, X.size(0), X.size(0) / 8192 + 1);
  X = X.clone();
  auto W = W0.detach().to(torch::kFloat).clone();
  auto target = torch::matmul(X, W.t());
  const double tPow = std::max(1e-12, target.pow(2).mean().item<double>());
  auto s0 = init.scale.detach().to(torch::kFloat).reshape({-1}).clone();
  auto z0 = init.zero.detach().to(torch::kFloat).reshape({-1}).clone();
  auto lo = (-z0 * s0).clone().requires_grad_(true);
  auto hi = ((qmax - z0) * s0).clone().requires_grad_(true);
  auto lossOf = [&](const torch::Tensor& l, const torch::Tensor& h) {
    return (torch::matmul(dualClipFakeQuant(X, l, h, bits), W.t()) - target).pow(2).mean() / tPow;
  };
  // The per-channel quantizer of bounds (l, h), exactly as dualClipFakeQuant uses them.
  auto quantizerOf = [&](const torch::Tensor& l, const torch::Tensor& h) {
    UniformQuantizer q;
    q.bits = bits;
    q.symmetric = false;
    q.axis = -1;
    q.scale = torch::clamp_min((h - l) / qmax, 1e-8).detach().clone();
    q.zero = torch::round(-l.detach() / q.scale);
    return q;
  };
  {
    torch::NoGradGuard ng;
    res.lossBefore = lossOf(lo, hi).item<double>() * tPow;
  }
  double best = res.lossBefore;
  res.q = init;
  res.q.axis = -1;
  const double range = (hi - lo).mean().item<double>();
  torch::optim::Adam opt({lo, hi}, torch::optim::AdamOptions(lr * std::max(range, 1e-6)));
  for (int it = 0; it < iters; ++it) {
    opt.zero_grad();
    lossOf(lo, hi).backward();
    opt.step();
    torch::NoGradGuard ng;
    lo.clamp_max_(0.0);  // keep 0 representable (zero point inside the grid)
    hi.clamp_min_(0.0);
    hi.copy_(torch::maximum(hi, lo + 1e-6));
    const double l = lossOf(lo, hi).item<double>() * tPow;
    if (l < best) {
      best = l;
      res.q = quantizerOf(lo, hi);
    }
  }
  res.lossAfter = best;
  return res;
}

nlohmann::json reconstructionJson(const std::vector<PtqOutcome::LayerRecon>& recon) {
  nlohmann::json rec = nlohmann::json::array();
  for (auto& r : recon)
    rec.push_back({{"layer", r.layer},
                   {"output_mse_nearest", r.mseNearest},
                   {"output_mse_reconstructed", r.mseFinal},
                   {"binary_fraction", r.binaryFraction},
                   {"flipped_fraction", r.flipFraction},
                   {"kept", r.kept}});
  return rec;
}

torch::Tensor captureLayerInput(ModelImpl& m, const torch::Tensor& inputs, const std::string& layer, int64_t batch) {
  torch::NoGradGuard ng;
  TensorTransform own;
  if (auto it = m.inputTransforms.find(layer); it != m.inputTransforms.end()) {
    own = it->second;
    m.inputTransforms.erase(it);
  }
  std::vector<torch::Tensor> parts;
  TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) {
    if (k == TapKind::LayerInput && p == layer) parts.push_back(x.to(torch::kFloat).clone());
    return x;
  };
  batch = std::max<int64_t>(batch, 1);
  for (int64_t i = 0; i < inputs.size(0); i += batch)
    (void)m.run(inputs.slice(0, i, std::min<int64_t>(i + batch, inputs.size(0))), &obs);
  if (own) m.inputTransforms[layer] = own;
  if (parts.empty()) return {};
  auto x = torch::cat(parts, 0);
  return x.dim() == 3 ? x.reshape({-1, x.size(-1)}) : x;  // token layers: [rows, C]
}

namespace {


// Linear, or the patch-embedding conv (stride = kernel size).
torch::Tensor layerForward(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  if (w.dim() == 4) return torch::conv2d(x, w, b, w.size(-1));
  return torch::linear(x, w, b);
}

}  // namespace

void reconstructLayers(PtqOutcome& out, const torch::Tensor& inputs, const ReconConfig& cfg, JobContext* job) {
  // The folded FP model: the variant without transforms, FP weights restored.
  auto fp = out.variant->clone();
  fp->inputTransforms.clear();
  {
    torch::NoGradGuard ng;
    for (auto& [name, w] : out.fpWeights) fp->layerWeight(name).copy_(w);
  }
  std::vector<std::string> order;
  for (auto& l : out.variant->layers())
    if (l.quantizable && out.weightQuantizers.count(l.name)) order.push_back(l.name);
  auto* vit = dynamic_cast<VitModel*>(out.variant.get());
  for (size_t li = 0; li < order.size(); ++li) {
    const std::string& name = order[li];
    if (job && job->cancelled()) throw ReconCancelled();
    auto xFp = captureLayerInput(*fp, inputs, name, 64);
    auto xQ = captureLayerInput(*out.variant, inputs, name, 64);
    if (!xFp.defined() || !xQ.defined()) continue;
    torch::Tensor bias, biasDev;
    if (vit) bias = vit->param(name + ".bias").detach().clone();
    if (bias.defined()) biasDev = bias.to(torch::Device(cfg.device));
    const auto& wFp = out.fpWeights.at(name);
    torch::Tensor target;
    {
      torch::NoGradGuard ng;
      target = layerForward(xFp, wFp, bias);
    }
    std::vector<UniformQuantizer> acts;
    auto aq = out.inputQuantizers.find(name);
    if (aq != out.inputQuantizers.end()) {
      UniformQuantizer q = aq->second;
      q.axis = -1;
      acts.push_back(q);
    }
    const bool hasAct = !acts.empty();
    ReconForward f = [&](const ReconState& s, const torch::Tensor& x) {
      return layerForward(hasAct ? s.act(0, x) : x, s.weight(0), biasDev);
    };
    ReconConfig c = cfg;
    c.seed = cfg.seed + li;
    JobContext sub = job ? job->sub(double(li) / order.size(), double(li + 1) / order.size()) : JobContext();
    auto r = reconstruct({{wFp, out.weightQuantizers.at(name)}}, acts, f, xQ, target, c, job ? &sub : nullptr);
    {
      torch::NoGradGuard ng;
      out.variant->layerWeight(name).copy_(r.weights[0]);
    }
    if (hasAct) {
      out.inputQuantizers[name] = r.acts[0];
      UniformQuantizer q = r.acts[0];
      out.variant->inputTransforms[name] = [q](const torch::Tensor& x) { return fakeQuant(x, q); };
    }
    out.recon.push_back({name, r.mseNearest, r.mseFinal, r.binaryFraction, r.flipFraction, r.kept});
  }
}

}  // namespace cs::detail
