// AdaRound learned rounding + LSQ activation steps, trained with Adam against cached
// full-precision outputs (see compression/torch/reconstruct.h).
#include "compression/torch/reconstruct.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "compression/torch/quantizers.h"

namespace cs::detail {

namespace {

// Per-channel parameters reshaped to broadcast along `axis` of `like` (scalars as is).
torch::Tensor along(const torch::Tensor& t, const torch::Tensor& like, int axis) {
  if (t.dim() == 0 || t.numel() == 1 || axis < 0) return t.reshape(std::vector<int64_t>{});
  std::vector<int64_t> shape(like.dim(), 1);
  shape[axis] = t.numel();
  return t.reshape(shape);
}

}  // namespace

torch::Tensor adaRoundH(const torch::Tensor& alpha) {
  return torch::clamp(torch::sigmoid(alpha) * 1.2 - 0.1, 0.0, 1.0);
}

torch::Tensor adaRoundInit(const torch::Tensor& w, const UniformQuantizer& q) {
  torch::NoGradGuard ng;
  auto s = along(q.scale.to(torch::kFloat), w, q.axis);
  auto r = w.to(torch::kFloat) / s;
  auto frac = torch::clamp(r - torch::floor(r), 0.0, 1.0);
  // h(alpha) = frac  <=>  sigmoid(alpha) = (frac + 0.1) / 1.2
  return -torch::log(1.2 / (frac + 0.1) - 1.0);
}

torch::Tensor ReconState::weight(size_t i) const {
  auto h = hard ? alpha[i].ge(0).to(torch::kFloat) : adaRoundH(alpha[i]);
  auto v = torch::clamp(wFloor[i] + h + wZero[i], double(wMin[i]), double(wMax[i]));
  return (v - wZero[i]) * wScale[i];
}

torch::Tensor ReconState::act(size_t i, const torch::Tensor& x) const {
  return lsqFakeQuant(x, aScale[i], aZero[i], aMin[i], aMax[i]);
}

struct ReconEngine {
  static ReconOutcome run(const std::vector<ReconWeight>& weights, const std::vector<UniformQuantizer>& acts,
                          const ReconForward& f, const torch::Tensor& x0, const torch::Tensor& y0,
                          const ReconConfig& cfg, JobContext* job) {
    if (x0.size(0) != y0.size(0)) throw std::invalid_argument("reconstruct: inputs and targets differ in rows");
    // Training needs autograd even when the caller runs under InferenceMode/NoGradGuard.
    c10::InferenceMode notInference(false);
    torch::AutoGradMode grad(true);
    const torch::Device dev(cfg.device);
    if (dev.is_cuda() && !torch::cuda::is_available())
      throw std::invalid_argument("reconstruct: device '" + cfg.device + "' requested but CUDA is not available");
    if (dev.is_cuda()) at::globalContext().setAllowTF32CuDNN(false);  // fp32 convolutions, as on the CPU
    ReconOutcome res;
    ReconState st;
    std::vector<torch::Tensor> alpha0;
    int64_t nWeights = 0;
    for (auto& rw : weights) {
      auto w = rw.w.detach().to(dev, torch::kFloat);
      auto s = along(rw.q.scale.detach().to(dev, torch::kFloat), w, rw.q.axis);
      auto z = along(rw.q.zero.detach().to(dev, torch::kFloat), w, rw.q.axis);
      st.wFloor.push_back(torch::floor(w / s).clone());
      st.wScale.push_back(s.clone());
      st.wZero.push_back(z.clone());
      st.wMin.push_back(rw.q.qmin());
      st.wMax.push_back(rw.q.qmax());
      UniformQuantizer qd = rw.q;
      qd.scale = rw.q.scale.to(dev);
      qd.zero = rw.q.zero.to(dev);
      auto a = adaRoundInit(w, qd);
      alpha0.push_back(a.clone());
      st.alpha.push_back(a.clone().requires_grad_(true));
      nWeights += w.numel();
    }
    // Activation steps are learned as a factor u of the initial step (s = s0 * u), so
    // one relative learning rate fits every quantizer.
    std::vector<torch::Tensor> s0, u;
    for (auto& q : acts) {
      s0.push_back(q.scale.detach().to(dev, torch::kFloat).clone());
      u.push_back(torch::ones_like(s0.back()).requires_grad_(cfg.learnActStep));
      st.aZero.push_back(q.zero.detach().to(dev, torch::kFloat).clone());
      st.aMin.push_back(q.qmin());
      st.aMax.push_back(q.qmax());
    }
    auto setSteps = [&] {
      st.aScale.clear();
      for (size_t i = 0; i < s0.size(); ++i) st.aScale.push_back(s0[i] * u[i]);
    };

    // Copies made here are ordinary tensors even when the caches were captured under
    // InferenceMode (inference tensors cannot be saved for backward).
    auto x = x0.detach().to(dev, torch::kFloat).clone();
    auto y = y0.detach().to(dev, torch::kFloat).clone();
    const double yPow = std::max(1e-12, y.pow(2).mean().item<double>());
    auto fullMse = [&](bool hard) {
      torch::NoGradGuard ng;
      st.hard = hard;
      setSteps();
      double se = 0;
      const int64_t n = x.size(0), chunk = 8192;
      for (int64_t i = 0; i < n; i += chunk) {
        const int64_t e = std::min(n, i + chunk);
        se += (f(st, x.slice(0, i, e)) - y.slice(0, i, e)).pow(2).sum().item<double>();
      }
      return se / double(y.numel());
    };
    res.mseNearest = fullMse(true);

    torch::optim::Adam optRound(st.alpha, torch::optim::AdamOptions(cfg.lrRound));
    std::vector<torch::Tensor> actParams;
    if (cfg.learnActStep)
      for (auto& t : u) actParams.push_back(t);
    std::unique_ptr<torch::optim::Adam> optAct;
    if (!actParams.empty()) optAct = std::make_unique<torch::optim::Adam>(actParams, torch::optim::AdamOptions(cfg.lrAct));

    const int64_t n = x.size(0);
    const int64_t bs = std::min<int64_t>(n, std::max(1, cfg.batchRows));
    std::vector<int64_t> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    std::mt19937_64 rng(cfg.seed);
    const int warm = int(std::lround(cfg.warmup * cfg.iters));
    for (int it = 0; it < cfg.iters; ++it) {
      if (job && it % 25 == 0) {
        if (job->cancelled()) throw ReconCancelled();
        job->progress(double(it) / cfg.iters, "reconstruction step " + std::to_string(it) + "/" + std::to_string(cfg.iters));
      }
      torch::Tensor xb = x, yb = y;
      if (bs < n) {
        for (int64_t i = 0; i < bs; ++i) std::swap(perm[i], perm[i + int64_t(rng() % uint64_t(n - i))]);
        auto idx = torch::from_blob(perm.data(), {bs}, torch::kLong).to(dev);
        xb = x.index_select(0, idx);
        yb = y.index_select(0, idx);
      }
      st.hard = false;
      setSteps();
      auto loss = (f(st, xb) - yb).pow(2).mean() / yPow;
      if (it >= warm && cfg.lambda > 0) {
        const double t = double(it - warm) / std::max(1, cfg.iters - warm);
        const double beta = cfg.betaEnd + (cfg.betaStart - cfg.betaEnd) * (1.0 - t);
        torch::Tensor reg;
        for (auto& a : st.alpha) {
          auto r = (1.0 - (2.0 * adaRoundH(a) - 1.0).abs().pow(beta)).sum();
          reg = reg.defined() ? reg + r : r;
        }
        loss = loss + cfg.lambda * reg / double(std::max<int64_t>(1, nWeights));
      }
      optRound.zero_grad();
      if (optAct) optAct->zero_grad();
      loss.backward();
      optRound.step();
      if (optAct) {
        // cosine decay of the activation-step learning rate to 0
        const double lr = 0.5 * cfg.lrAct * (1.0 + std::cos(M_PI * double(it) / std::max(1, cfg.iters)));
        static_cast<torch::optim::AdamOptions&>(optAct->param_groups()[0].options()).lr(lr);
        optAct->step();
        torch::NoGradGuard ng;
        for (auto& t : u) t.clamp_min_(1e-3);
      }
    }
    res.iters = cfg.iters;
    {
      torch::NoGradGuard ng;
      double near = 0, flips = 0;
      for (size_t i = 0; i < st.alpha.size(); ++i) {
        auto h = adaRoundH(st.alpha[i]);
        near += h.lt(0.01).logical_or(h.gt(0.99)).sum().item<double>();
        flips += st.alpha[i].ge(0).ne(alpha0[i].ge(0)).sum().item<double>();
      }
      res.binaryFraction = nWeights ? near / double(nWeights) : 1.0;
      res.flipFraction = nWeights ? flips / double(nWeights) : 0.0;
    }
    res.mseFinal = fullMse(true);
    if (res.mseFinal > res.mseNearest) {  // keep nearest rounding and the initial steps
      torch::NoGradGuard ng;
      for (size_t i = 0; i < st.alpha.size(); ++i) st.alpha[i].copy_(alpha0[i]);
      for (auto& t : u) t.fill_(1.0);
      res.kept = false;
      res.mseFinal = fullMse(true);
      res.flipFraction = 0;
    }
    torch::NoGradGuard ng;
    st.hard = true;
    setSteps();
    for (size_t i = 0; i < weights.size(); ++i)
      res.weights.push_back(st.weight(i).detach().reshape(weights[i].w.sizes()).to(weights[i].w.device()));
    for (size_t i = 0; i < acts.size(); ++i) {
      UniformQuantizer q = acts[i];
      q.scale = st.aScale[i].detach().to(acts[i].scale.device()).clone();
      res.acts.push_back(q);
    }
    if (job) job->progress(1.0, "reconstructed");
    return res;
  }
};

ReconOutcome reconstruct(const std::vector<ReconWeight>& weights, const std::vector<UniformQuantizer>& acts,
                         const ReconForward& f, const torch::Tensor& x, const torch::Tensor& target,
                         const ReconConfig& cfg, JobContext* job) {
  return ReconEngine::run(weights, acts, f, x, target, cfg, job);
}

}  // namespace cs::detail
