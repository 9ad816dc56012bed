// Quantizer building blocks, range searches, the RepQ-ViT fold and the PTQ pipeline
// (see compression/torch/quantizers.h).
#include "compression/torch/quantizers.h"

#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

namespace cs::detail {

// ---- uniform, finer granularities -------------------------------------------------

torch::Tensor fakeQuantPerGroup(const torch::Tensor& x, int bits, int group, bool symmetric) {
  const int64_t C = x.size(-1);
  if (group <= 0 || C % group != 0) throw std::invalid_argument("per-group quantization: last dim not divisible by group");
  auto g = x.reshape({-1, C / group, group});
  auto lo = std::get<0>(g.min(-1, true)), hi = std::get<0>(g.max(-1, true));
  auto q = quantizerFromRange(lo, hi, bits, symmetric, -1);  // [R, G, 1] broadcasts
  return fakeQuant(g, q).reshape(x.sizes());
}

torch::Tensor fakeQuantPerToken(const torch::Tensor& x, int bits, bool symmetric) {
  auto lo = std::get<0>(x.min(-1, true)), hi = std::get<0>(x.max(-1, true));
  return fakeQuant(x, quantizerFromRange(lo, hi, bits, symmetric, -1));
}

// ---- logarithmic quantizers -------------------------------------------------------

torch::Tensor logIndex(const torch::Tensor& x, const LogQuantizer& q) {
  auto xf = x.to(torch::kFloat);
  auto pos = xf > 0;
  auto safe = torch::where(pos, xf, torch::ones_like(xf));
  auto idx = -torch::log2(safe / q.delta) * (q.sqrt2 ? 2.0 : 1.0);
  return torch::where(pos, idx, torch::full_like(xf, std::numeric_limits<float>::infinity()));
}

torch::Tensor fakeQuantLog(const torch::Tensor& x, const LogQuantizer& q) {
  const double levels = double(int64_t(1) << q.bits);
  auto r = torch::round(logIndex(x, q));
  auto under = r >= levels;
  auto qc = torch::clamp(torch::where(under, torch::zeros_like(r), r), 0.0, levels - 1);
  auto v = torch::pow(2.0, -qc / (q.sqrt2 ? 2.0 : 1.0)) * q.delta;
  return torch::where(under, torch::zeros_like(v), v).to(x.scalar_type());
}

Log2Split splitLogSqrt2(const torch::Tensor& index) {
  Log2Split s;
  s.shift = torch::ceil(index / 2.0);
  s.parity = index - 2.0 * torch::floor(index / 2.0);
  return s;
}

torch::Tensor log2SplitValue(const Log2Split& s, double delta) {
  auto odd = s.parity * (std::sqrt(2.0) - 1.0) + 1.0;
  return torch::pow(2.0, -s.shift) * odd * delta;
}

// ---- range search -----------------------------------------------------------------

torch::Tensor quantileRows(const torch::Tensor& x0, double p) {
  auto x = x0.dim() == 2 ? x0 : x0.reshape({1, -1});
  const int64_t kMax = int64_t(1) << 24;
  if (x.size(0) == 1 && x.size(1) > kMax) {
    const int64_t step = (x.size(1) + kMax - 1) / kMax;
    x = x.slice(1, 0, x.size(1), step);
  }
  const int64_t n = x.size(1);
  p = std::min(1.0, std::max(0.0, p));
  const int64_t k = std::min<int64_t>(n - 1, std::max<int64_t>(0, std::llround(p * double(n - 1)))) + 1;
  return std::get<0>(x.to(torch::kFloat).kthvalue(k, 1));
}

RangeSearch rangeSearchFromString(const std::string& s) {
  if (s == "minmax") return RangeSearch::MinMax;
  if (s == "percentile") return RangeSearch::Percentile;
  if (s == "mse") return RangeSearch::Mse;
  if (s == "percentile-mse") return RangeSearch::PercentileMse;
  throw std::invalid_argument("unknown range search '" + s + "'");
}

namespace {

// Quantizer over rows of a 2-D [C, n] tensor (C = 1 for per-tensor), axis 0.
UniformQuantizer rowQuantizer(const torch::Tensor& lo, const torch::Tensor& hi, int bits, bool symmetric) {
  return quantizerFromRange(lo, hi, bits, symmetric, 0);
}

torch::Tensor rowError(const torch::Tensor& x2, const UniformQuantizer& q, double e) {
  auto d = (x2 - fakeQuant(x2, q)).abs();
  return (e == 2.0 ? d * d : d.pow(e)).mean(1);
}

// Per-row selection of the better of two quantizers.
void keepBetter(UniformQuantizer& best, torch::Tensor& bestErr, const UniformQuantizer& cand, const torch::Tensor& err) {
  auto better = err < bestErr;
  best.scale = torch::where(better, cand.scale, best.scale);
  best.zero = torch::where(better, cand.zero, best.zero);
  bestErr = torch::where(better, err, bestErr);
}

}  // namespace

UniformQuantizer searchUniform(const torch::Tensor& x, int bits, bool symmetric, int channelAxis, RangeSearch how,
                               double percentile, double mseExp) {
  torch::NoGradGuard ng;
  auto xf = x.detach().to(torch::kFloat);
  torch::Tensor x2;
  if (channelAxis >= 0) {
    const int64_t C = xf.size(channelAxis);
    x2 = xf.transpose(0, channelAxis).contiguous().reshape({C, -1});
  } else {
    x2 = xf.reshape({1, -1});
  }
  auto mn = std::get<0>(x2.min(1)), mx = std::get<0>(x2.max(1));
  UniformQuantizer best;
  switch (how) {
    case RangeSearch::MinMax: best = rowQuantizer(mn, mx, bits, symmetric); break;
    case RangeSearch::Percentile:
      best = rowQuantizer(quantileRows(x2, 1.0 - percentile), quantileRows(x2, percentile), bits, symmetric);
      break;
    case RangeSearch::Mse: {
      best = rowQuantizer(mn, mx, bits, symmetric);
      auto err = rowError(x2, best, mseExp);
      for (int i = 1; i < 100; ++i) {
        const double f = double(i) / 100.0;
        auto cand = rowQuantizer(mn * f, mx * f, bits, symmetric);
        keepBetter(best, err, cand, rowError(x2, cand, mseExp));
      }
      break;
    }
    case RangeSearch::PercentileMse: {
      best = rowQuantizer(mn, mx, bits, symmetric);
      auto err = rowError(x2, best, 2.0);
      for (double p : {0.999, 0.9999, 0.99999}) {
        auto cand = rowQuantizer(quantileRows(x2, 1.0 - p), quantileRows(x2, p), bits, symmetric);
        keepBetter(best, err, cand, rowError(x2, cand, 2.0));
      }
      break;
    }
  }
  if (channelAxis < 0) {
    best.scale = best.scale.reshape(std::vector<int64_t>{});
    best.zero = best.zero.reshape(std::vector<int64_t>{});
    best.axis = -1;
  } else {
    best.axis = channelAxis;
  }
  return best;
}

torch::Tensor fakeQuantTwinUniform(const torch::Tensor& x, const TwinUniformQuantizer& q) {
  const double levels = double(int64_t(1) << (q.bits - 1));
  const double d1 = q.d1(), d2 = q.d2();
  auto xf = x.to(torch::kFloat);
  auto fine = torch::clamp(torch::round(xf / d1), 0.0, levels - 1) * d1;
  auto coarse = torch::clamp(torch::round(xf / d2), 0.0, levels - 1) * d2;
  return torch::where(xf < levels * d1, fine, coarse).to(x.scalar_type());
}

TwinUniformQuantizer searchTwinUniform(const torch::Tensor& x, int bits) {
  torch::NoGradGuard ng;
  auto xf = x.detach().to(torch::kFloat).reshape({-1});
  if (xf.numel() > (1 << 22)) xf = xf.slice(0, 0, xf.numel(), xf.numel() / (1 << 22) + 1);  // deterministic subsample
  TwinUniformQuantizer best{bits, 0};
  double bestErr = (fakeQuantTwinUniform(xf, best) - xf).pow(2).mean().item<double>();
  for (int m = 1; m <= 24; ++m) {
    TwinUniformQuantizer c{bits, m};
    const double e = (fakeQuantTwinUniform(xf, c) - xf).pow(2).mean().item<double>();
    if (e < bestErr) bestErr = e, best = c;
  }
  return best;
}

LogQuantizer searchLog(const torch::Tensor& x, int bits, bool sqrt2) {
  torch::NoGradGuard ng;
  auto xf = x.detach().to(torch::kFloat).reshape({1, -1});
  LogQuantizer best{bits, sqrt2, std::max(1e-12, xf.max().item<double>())};
  double bestErr = (xf - fakeQuantLog(xf, best)).pow(2).mean().item<double>();
  for (double p : {0.999, 0.9999, 0.99999}) {
    LogQuantizer c{bits, sqrt2, std::max(1e-12, quantileRows(xf, p).item<double>())};
    const double e = (xf - fakeQuantLog(xf, c)).pow(2).mean().item<double>();
    if (e < bestErr) bestErr = e, best = c;
  }
  return best;
}

// ---- learnable quantizers ---------------------------------------------------------

torch::Tensor roundSte(const torch::Tensor& x) { return x + (torch::round(x) - x).detach(); }

torch::Tensor lsqFakeQuant(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& zero, int64_t qmin,
                           int64_t qmax) {
  auto v = torch::clamp(roundSte(x / scale) + zero, double(qmin), double(qmax));
  return (v - zero) * scale;
}

torch::Tensor dualClipFakeQuant(const torch::Tensor& x, const torch::Tensor& lo, const torch::Tensor& hi, int bits) {
  const int64_t qmax = (int64_t(1) << bits) - 1;
  auto delta = torch::clamp_min((hi - lo) / double(qmax), 1e-8);
  auto z = roundSte(-lo / delta);
  return lsqFakeQuant(x, delta, z, 0, qmax);
}

// ---- RepQ-ViT fold ----------------------------------------------------------------

NormFold foldNorm(VitModel& vit, const std::string& norm, const std::string& consumer, const UniformQuantizer& pc,
                  bool roundZero) {
  torch::NoGradGuard ng;
  NormFold f;
  f.norm = norm;
  f.consumer = consumer;
  f.deltaC = pc.scale.detach().to(torch::kFloat).reshape({-1}).clone();
  f.zeroC = pc.zero.detach().to(torch::kFloat).reshape({-1}).clone();
  auto dt = f.deltaC.mean();
  auto zt = f.zeroC.mean();
  if (roundZero) zt = torch::round(zt);
  f.r = f.deltaC / dt;
  f.b = dt * (zt - f.zeroC);
  f.delta = dt.item<double>();
  f.zero = zt.item<double>();
  auto& gamma = vit.param(norm + ".weight");
  auto& beta = vit.param(norm + ".bias");
  gamma.div_(f.r);
  beta.div_(f.r).sub_(f.b);
  auto& W = vit.param(consumer + ".weight");
  auto& bias = vit.param(consumer + ".bias");
  W.mul_(f.r.unsqueeze(0));
  bias.add_(torch::mv(W, f.b));  // uses the already scaled weight
  return f;
}

std::vector<std::pair<std::string, std::string>> vitNormConsumers(const VitModel& vit) {
  std::vector<std::pair<std::string, std::string>> v;
  for (int i = 0; i < vit.config().depth; ++i) {
    const std::string b = "blocks." + std::to_string(i);
    v.emplace_back(b + ".norm1", b + ".attn.qkv");
    v.emplace_back(b + ".norm2", b + ".mlp.fc1");
  }
  return v;
}

// ---- PTQ pipeline -----------------------------------------------------------------

namespace {

// Every layer input ([rows, C], flattened over batch and tokens) and softmax output
// ([rows, N]) over the calibration inputs.
struct Captured {
  std::map<std::string, torch::Tensor> layerInputs, softmax, operands;
};

bool isMatmulOperand(const std::string& p) {
  auto ends = [&](const char* s) {
    const std::string e(s);
    return p.size() > e.size() && p.compare(p.size() - e.size(), e.size(), e) == 0;
  };
  return ends(".attn.q") || ends(".attn.k") || ends(".attn.v");
}

Captured capture(const ModelImpl& model, const torch::Tensor& inputs) {
  std::map<std::string, std::vector<torch::Tensor>> li, sm, op;
  TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) {
    if (k == TapKind::LayerInput) li[p].push_back(x.reshape({-1, x.size(-1)}).to(torch::kFloat).clone());
    if (k == TapKind::Softmax) sm[p].push_back(x.reshape({-1, x.size(-1)}).to(torch::kFloat).clone());
    if (k == TapKind::LayerOutput && isMatmulOperand(p)) op[p].push_back(x.reshape({-1}).to(torch::kFloat).clone());
    return x;
  };
  {
    torch::InferenceMode guard;
    for (int64_t i = 0; i < inputs.size(0); i += 64)
      (void)model.run(inputs.slice(0, i, std::min<int64_t>(i + 64, inputs.size(0))), &obs);
  }
  Captured c;
  for (auto& [k, v] : li) c.layerInputs[k] = torch::cat(v, 0);
  for (auto& [k, v] : sm) c.softmax[k] = torch::cat(v, 0);
  for (auto& [k, v] : op) c.operands[k] = torch::cat(v, 0);
  return c;
}

// Activation quantizer applied on the last dim: per-channel [C] tensors broadcast there.
TensorTransform actTransform(UniformQuantizer q) {
  q.axis = -1;
  return [q](const torch::Tensor& x) { return fakeQuant(x, q); };
}

// Per-channel quantizer over the last dim of a [rows, C] activation, returned with
// axis -1 and [C] tensors (broadcast on the last dim).
UniformQuantizer channelQuantizer(const torch::Tensor& x2, int bits, RangeSearch how, double pct) {
  auto q = searchUniform(x2, bits, false, 1, how, pct);
  q.axis = -1;
  return q;
}

}  // namespace

PtqOutcome runPtq(const ModelImpl& model, const torch::Tensor& inputs, const PtqConfig& cfg, JobContext* job) {
  PtqOutcome out;
  out.variant = model.clone();
  auto* vit = dynamic_cast<VitModel*>(out.variant.get());
  using Fold = PtqConfig::Fold;
  std::set<std::string> assigned;  // consumers whose input quantizer the fold assigned
  if (cfg.fold != Fold::None) {
    if (!vit) throw std::invalid_argument("LayerNorm folds need the native ViT");
    if (cfg.abits > 0 || cfg.fold == Fold::Smooth) {
      auto fp = capture(*out.variant, inputs);
      torch::NoGradGuard ng;
      for (auto& [norm, consumer] : vitNormConsumers(*vit)) {
        const auto& X = fp.layerInputs.at(consumer);
        if (cfg.fold == Fold::Smooth) {
          auto amax = std::get<0>(X.abs().max(0)).clamp_min(1e-5);
          auto& W = vit->param(consumer + ".weight");
          auto wmax = std::get<0>(W.abs().max(0)).clamp_min(1e-5);
          auto s = (amax.pow(cfg.alpha) / wmax.pow(1.0 - cfg.alpha)).clamp_min(1e-5);
          vit->param(norm + ".weight").div_(s);
          vit->param(norm + ".bias").div_(s);
          W.mul_(s.unsqueeze(0));
          continue;
        }
        auto pc = channelQuantizer(X, cfg.abits, cfg.aSearch, cfg.percentile);
        if (cfg.clipIters > 0) {  // RepQuant: learned dual clipping before the fold
          auto dc = learnDualClipping(X, vit->param(consumer + ".weight"), pc, cfg.clipIters, cfg.clipLr);
          auto actMse = [&](const UniformQuantizer& q) { return (X - fakeQuant(X, q)).pow(2).mean().item<double>(); };
          out.clips.push_back({consumer, dc.lossBefore, dc.lossAfter, actMse(pc), actMse(dc.q)});
          pc = dc.q;
        }
        if (cfg.fold == Fold::PerChannelNoFold) {
          out.inputQuantizers[consumer] = pc;
        } else {
          auto f = foldNorm(*vit, norm, consumer, pc, cfg.roundZero);
          UniformQuantizer pt;
          pt.bits = cfg.abits;
          pt.symmetric = false;
          pt.scale = torch::tensor(float(f.delta));
          pt.zero = torch::tensor(float(f.zero));
          out.inputQuantizers[consumer] = pt;
          out.folds.push_back(f);
        }
        assigned.insert(consumer);
      }
    }
  }

  // Activations: per-tensor quantizers calibrated on the (folded) FP variant.
  std::vector<std::string> layers;
  for (auto& l : out.variant->layers())
    if (l.quantizable) layers.push_back(l.name);
  if (cfg.abits > 0) {
    auto cap = capture(*out.variant, inputs);
    for (size_t i = 0; i < layers.size(); ++i) {
      const auto& name = layers[i];
      if (!assigned.count(name)) {
        auto it = cap.layerInputs.find(name);
        if (it == cap.layerInputs.end()) continue;
        const int bits = (i == 0 && cfg.firstLayerA8) ? std::max(8, cfg.abits) : cfg.abits;
        out.inputQuantizers[name] = searchUniform(it->second, bits, false, -1, cfg.aSearch, cfg.percentile);
      }
      out.variant->inputTransforms[name] = actTransform(out.inputQuantizers[name]);
    }
    using SM = PtqConfig::Softmax;
    for (auto& [point, A] : cap.softmax) {
      if (cfg.softmax == SM::None) continue;
      if (cfg.softmax == SM::Uniform) {
        auto q = searchUniform(A, cfg.abits, false, -1, cfg.aSearch, cfg.percentile);
        out.variant->inputTransforms[point] = actTransform(q);
      } else if (cfg.softmax == SM::TwinUniform) {
        auto tq = searchTwinUniform(A, cfg.abits);
        out.variant->inputTransforms[point] = [tq](const torch::Tensor& x) { return fakeQuantTwinUniform(x, tq); };
      } else if (cfg.softmax == SM::LogSqrt2 && cfg.log2Split) {
        // Calibrated as log-sqrt2, executed in its log2 form: shift ceil(q/2), parity q mod 2.
        auto lq = searchLog(A, cfg.abits, true);
        out.variant->inputTransforms[point] = [lq](const torch::Tensor& x) {
          const double levels = double(int64_t(1) << lq.bits);
          auto r = torch::round(logIndex(x, lq));
          auto under = r >= levels;
          auto idx = torch::clamp(torch::where(under, torch::zeros_like(r), r), 0.0, levels - 1);
          auto v = log2SplitValue(splitLogSqrt2(idx), lq.delta);
          return torch::where(under, torch::zeros_like(v), v).to(x.scalar_type());
        };
      } else {
        auto lq = searchLog(A, cfg.abits, cfg.softmax == SM::LogSqrt2);
        out.variant->inputTransforms[point] = [lq](const torch::Tensor& x) { return fakeQuantLog(x, lq); };
      }
    }
    if (cfg.quantMatmulOperands)
      for (auto& [point, X] : cap.operands) {
        auto q = searchUniform(X, cfg.abits, false, -1, cfg.aSearch, cfg.percentile);
        out.operandQuantizers[point] = q;
        out.variant->inputTransforms[point] = actTransform(q);
      }
  }

  // Weights: per output channel, searched on the (folded) FP weights.
  if (cfg.quantWeights) {
    torch::NoGradGuard ng;
    for (auto& name : layers) {
      auto w = out.variant->layerWeight(name);
      if (!w.defined()) continue;
      auto ref = w.detach().to(torch::kFloat).clone();
      auto q = searchUniform(ref.reshape({ref.size(0), -1}), cfg.wbits, cfg.wSymmetric, 0, cfg.wSearch, cfg.percentile);
      w.copy_(fakeQuant(ref, q));
      out.weightQuantizers[name] = q;
      out.fpWeights[name] = ref;
    }
    if (cfg.reconstruct) reconstructLayers(out, inputs, cfg.recon, job);
  }
  return out;
}

}  // namespace cs::detail
