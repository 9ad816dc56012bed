// DDPM / DDIM samplers with classifier-free guidance, and the MNIST conv DDPM
// (see engine/torch/unet.h). Update rules follow Ho et al. 2020 (DDPM, "fixed small"
// variance, as diffusers' DDPMScheduler) and Song et al. 2021 (DDIM, eq. 12), with
// "leading" timestep spacing t_k = k * (T / steps) and alpha_bar(-1) = 1.
#include "engine/torch/unet.h"

namespace cs::detail {

NoiseSchedule NoiseSchedule::linear(int T, double betaStart, double betaEnd) {
  NoiseSchedule s;
  s.betas = torch::linspace(betaStart, betaEnd, T, torch::kDouble);
  s.alphasCumprod = torch::cumprod(1.0 - s.betas, 0);
  return s;
}

torch::Tensor sampleDiffusion(const EpsModel& model, const NoiseSchedule& sched, std::vector<int64_t> shape,
                              const torch::Tensor& labels, const SamplerOptions& opt) {
  torch::InferenceMode im;
  const int T = sched.steps();
  const int steps = std::max(1, std::min(opt.steps, T));
  const int64_t ratio = T / steps;
  std::vector<int64_t> ts;
  for (int k = steps - 1; k >= 0; --k) ts.push_back(int64_t(k) * ratio);
  auto gen = at::detail::createCPUGenerator(opt.seed);
  auto ac = sched.alphasCumprod.to(torch::kCPU);
  const auto* a = ac.data_ptr<double>();
  const int64_t B = shape.at(0);
  if (!opt.sampleSeeds.empty() && int64_t(opt.sampleSeeds.size()) != B)
    throw EngineError(Error::badArgument("sampler: " + std::to_string(opt.sampleSeeds.size()) + " seeds for a batch of " +
                                         std::to_string(B)));
  std::vector<at::Generator> gens;
  for (auto s : opt.sampleSeeds) gens.push_back(at::detail::createCPUGenerator(s));
  auto noise = [&]() {
    const auto f = torch::TensorOptions().dtype(torch::kFloat);
    if (gens.empty()) return torch::randn(shape, gen, f);
    auto one = shape;
    one[0] = 1;
    std::vector<torch::Tensor> parts;
    for (auto& g : gens) parts.push_back(torch::randn(one, g, f));
    return torch::cat(parts);
  };
  auto x = noise();
  const bool cfg = opt.nullClass >= 0 && labels.defined() && opt.guidance != 1.0;
  for (size_t k = 0; k < ts.size(); ++k) {
    if (opt.cancelled && opt.cancelled()) return {};
    const int64_t t = ts[k], prev = t - ratio;
    if (opt.onStep) opt.onStep(int(k), t);
    auto tt = torch::full({B}, t, torch::kLong);
    torch::Tensor eps;
    if (cfg) {
      auto both = model(torch::cat({x, x}), torch::cat({tt, tt}),
                        torch::cat({labels.to(torch::kLong), torch::full({B}, opt.nullClass, torch::kLong)}));
      auto c = both.slice(0, 0, B), u = both.slice(0, B);
      eps = u + opt.guidance * (c - u);
    } else {
      eps = model(x, tt, labels);
    }
    eps = eps.to(torch::kFloat).cpu();
    const double at_ = a[t], ap = prev >= 0 ? a[prev] : 1.0;
    auto x0 = (x - std::sqrt(1 - at_) * eps) / std::sqrt(at_);
    if (opt.clipSample) x0 = x0.clamp(-opt.clipRange, opt.clipRange);
    if (opt.kind == SamplerOptions::Kind::DDIM) {
      const double var = (1 - ap) / (1 - at_) * (1 - at_ / ap);
      const double sigma = opt.eta * std::sqrt(std::max(var, 0.0));
      // Re-derive eps from the (possibly clipped) x0, as diffusers does.
      auto epsUsed = (x - std::sqrt(at_) * x0) / std::sqrt(1 - at_);
      x = std::sqrt(ap) * x0 + std::sqrt(std::max(1 - ap - sigma * sigma, 0.0)) * epsUsed;
      if (sigma > 0 && prev >= 0) x = x + sigma * noise();
    } else {
      const double alphaT = at_ / ap, betaT = 1 - alphaT;
      const double c0 = std::sqrt(ap) * betaT / (1 - at_), ct = std::sqrt(alphaT) * (1 - ap) / (1 - at_);
      x = c0 * x0 + ct * x;
      if (prev >= 0) {
        const double var = std::max((1 - ap) / (1 - at_) * betaT, 1e-20);
        x = x + std::sqrt(var) * noise();
      }
    }
  }
  return x;
}

torch::Tensor sampleUNet(const UNet2DModel& unet, const NoiseSchedule& sched, int64_t batch, const torch::Tensor& labels,
                         const SamplerOptions& opt, const ForwardCtx& ctx) {
  const auto& c = unet.config();
  const auto dev = unet.namedTensors().front().second.device();
  EpsModel f = [&](const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& y) {
    return unet.forward(x.to(dev), t.to(dev), y.defined() ? y.to(dev) : y, ctx);
  };
  return sampleDiffusion(f, sched, {batch, c.inChannels, c.sampleSize, c.sampleSize}, labels, opt);
}

// ---------------------------------------------------------------------------- MNIST conv DDPM
MnistConvDdpm::MnistConvDdpm() {
  auto add = [&](const std::string& n, std::vector<int64_t> s) {
    order_.push_back(n);
    p_[n] = torch::zeros(s);
  };
  add("beta_t", {1001});
  add("alpha_t", {1001});
  add("gt.frequencies", {16});
  const int64_t ch[] = {1, 16, 32, 32, 16};
  for (int i = 0; i < 4; ++i) {
    const std::string b = "gt.blocks." + std::to_string(i) + ".net.";
    add(b + "0.weight", {ch[i + 1], ch[i], 7, 7});
    add(b + "0.bias", {ch[i + 1]});
    add(b + "1.weight", {ch[i + 1], 28, 28});
    add(b + "1.bias", {ch[i + 1], 28, 28});
  }
  add("gt.blocks.4.weight", {1, 16, 3, 3});
  add("gt.blocks.4.bias", {1});
  const int64_t w[] = {32, 128, 128, 128, 16};
  for (int i = 0; i < 4; ++i) {
    add("gt.time_embed." + std::to_string(2 * i) + ".weight", {w[i + 1], w[i]});
    add("gt.time_embed." + std::to_string(2 * i) + ".bias", {w[i + 1]});
  }
}

void MnistConvDdpm::load(const NamedTensorList& tensors, const std::string& file) {
  std::map<std::string, torch::Tensor> m(tensors.begin(), tensors.end());
  for (auto& n : order_) {
    auto it = m.find(n);
    if (it == m.end()) throw EngineError(Error::badFile(file, "missing tensor '" + n + "'"));
    if (it->second.sizes() != p_[n].sizes())
      throw EngineError(Error::badFile(file, "tensor '" + n + "' has an unexpected shape"));
    p_[n] = it->second.to(torch::kFloat).contiguous().clone();
  }
}

std::vector<LayerInfo> MnistConvDdpm::layers() const {
  std::vector<LayerInfo> out;
  auto leaf = [&](const std::string& n, const std::string& type, bool q) {
    out.push_back({n, type, p_.at(n + ".weight").sizes().vec(), p_.at(n + ".weight").numel() + p_.at(n + ".bias").numel(),
                   "float32", q});
  };
  out.push_back({"gt", "EpsModel", {}, 0, "float32", false});
  out.push_back({"gt.blocks", "ModuleList", {}, 0, "float32", false});
  for (int i = 0; i < 4; ++i) {
    const std::string b = "gt.blocks." + std::to_string(i);
    out.push_back({b, "Block", {}, 0, "float32", false});
    leaf(b + ".net.0", "Conv2d", true);
    leaf(b + ".net.1", "LayerNorm", false);
  }
  leaf("gt.blocks.4", "Conv2d", true);
  out.push_back({"gt.time_embed", "Sequential", {}, 0, "float32", false});
  for (int i = 0; i < 4; ++i) leaf("gt.time_embed." + std::to_string(2 * i), "Linear", true);
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> MnistConvDdpm::namedTensors() const {
  std::vector<std::pair<std::string, torch::Tensor>> v;
  for (auto& n : order_) v.emplace_back(n, p_.at(n));
  return v;
}

std::shared_ptr<ModelImpl> MnistConvDdpm::clone() const {
  auto c = std::make_shared<MnistConvDdpm>(*this);
  for (auto& [n, t] : c->p_) t = t.detach().clone();
  return c;
}

torch::Tensor MnistConvDdpm::forward(const torch::Tensor& x, const ForwardCtx& ctx) const {
  return forward(x, torch::full({x.size(0)}, 0.5), ctx);
}

torch::Tensor MnistConvDdpm::forward(const torch::Tensor& x, const torch::Tensor& t, const ForwardCtx& ctx) const {
  auto P = [&](const std::string& n) -> const torch::Tensor& { return p_.at(n); };
  auto tf = t.to(torch::kFloat).reshape({-1, 1}) * P("gt.frequencies").unsqueeze(0);  // [B,16]
  auto e = torch::cat({torch::sin(tf), torch::cos(tf) - 1}, 1);                      // [B,32]
  for (int i = 0; i < 4; ++i) {
    const std::string n = "gt.time_embed." + std::to_string(2 * i);
    e = torch::linear(ctx.tap(n, TapKind::LayerInput, e), P(n + ".weight"), P(n + ".bias"));
    if (i < 3) e = torch::gelu(e);
  }
  auto h = x;
  for (int i = 0; i < 4; ++i) {
    const std::string b = "gt.blocks." + std::to_string(i) + ".net.";
    h = torch::conv2d(ctx.tap(b + "0", TapKind::LayerInput, h), P(b + "0.weight"), P(b + "0.bias"), 1, 3);
    h = torch::layer_norm(h, {h.size(1), 28, 28}, P(b + "1.weight"), P(b + "1.bias"), 1e-5);
    h = torch::gelu(h);
    if (i == 0) h = h + e.unsqueeze(-1).unsqueeze(-1);
    h = ctx.tap("gt.blocks." + std::to_string(i), TapKind::BlockOutput, h);
  }
  return torch::conv2d(ctx.tap("gt.blocks.4", TapKind::LayerInput, h), P("gt.blocks.4.weight"), P("gt.blocks.4.bias"),
                       1, 1);
}

double MnistConvDdpm::noiseMse(const torch::Tensor& x0, int i, uint64_t seed) const {
  torch::InferenceMode im;
  auto gen = at::detail::createCPUGenerator(seed);
  auto eps = torch::randn(x0.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat));
  const double ab = p_.at("alpha_t")[i].item<double>();
  auto xt = std::sqrt(ab) * x0 + std::sqrt(1 - ab) * eps;
  auto t = torch::full({x0.size(0)}, double(i) / nT());
  auto pred = forward(xt, t, ForwardCtx{});
  return (pred - eps).pow(2).mean().item<double>();
}

torch::Tensor MnistConvDdpm::sample(int64_t n, uint64_t seed) const {
  torch::InferenceMode im;
  auto gen = at::detail::createCPUGenerator(seed);
  const auto& beta = p_.at("beta_t");
  const auto& ab = p_.at("alpha_t");
  auto x = torch::randn({n, 1, 28, 28}, gen, torch::TensorOptions().dtype(torch::kFloat));
  for (int i = nT(); i >= 1; --i) {
    auto z = i > 1 ? torch::randn({n, 1, 28, 28}, gen, torch::TensorOptions().dtype(torch::kFloat)) : torch::zeros_like(x);
    auto eps = forward(x, torch::full({n}, double(i) / nT()), ForwardCtx{});
    const double b = beta[i].item<double>(), a = 1 - b, abar = ab[i].item<double>();
    x = (x - eps * (b / std::sqrt(1 - abar))) / std::sqrt(a) + std::sqrt(b) * z;
  }
  return x;
}

Result<std::shared_ptr<MnistConvDdpm>> loadMnistConvDdpm(const std::string& pthPath) {
  CS_TRY_RESULT(pthPath, {
    auto r = readTorchCheckpoint(pthPath);
    if (!r) return r.error();
    auto m = std::make_shared<MnistConvDdpm>();
    m->load(*r, pthPath);
    m->name = "ddpm_mnist";
    m->source = pthPath;
    return m;
  })
}

}  // namespace cs::detail
