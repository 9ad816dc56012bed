// Per-layer sensitivity (diagnose.h): isolated and cumulative compression of one layer
// (or every layer up to it), SQNR of the model output against the FP output and the
// task metric, streamed layer by layer. RTN is the first LayerCompressor.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>

#include "../calibration.h"
#include "compression/diagnose.h"
#include "compression/torch/quantizer.h"
#include "diagnose_internal.h"
#include "engine/torch/tensors.h"

namespace cs {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct RtnState {
  RtnLayerOptions opt;
  const detail::ModelImpl* calibratedFor = nullptr;
  std::map<std::string, std::pair<float, float>> ranges;
  std::map<std::string, torch::Tensor> qweights;  // fake-quantized weights by layer
};

Status calibrate(RtnState& s, const Model& model, JobContext& job) {
  if (s.calibratedFor == model.impl().get()) return Unit{};
  s.ranges.clear();
  s.qweights.clear();
  if (s.opt.abits > 0 && model.impl()->supportsTaps()) {
    const bool diffusion = model.task() == Task::Diffusion;
    detail::EvalInputs in;
    detail::DiffusionPairs pairs;
    if (diffusion) {
      auto p = detail::diffusionPairs(model, s.opt.calibSamples, s.opt.calibSeed, "train", 32);
      if (!p) return p.error();
      pairs = std::move(*p);
    } else {
      auto i = detail::modelInputs(model, s.opt.calibSamples, s.opt.calibSeed, 64, {});
      if (!i) return i.error();
      in = std::move(*i);
    }
    const size_t nb = diffusion ? pairs.noisy.size() : in.batches.size();
    detail::TapObserver obs = [&](const std::string& p, detail::TapKind k, const torch::Tensor& x) {
      if (k != detail::TapKind::LayerInput || !x.is_floating_point()) return x;
      const float mn = x.min().item<float>(), mx = x.max().item<float>();
      auto [it, fresh] = s.ranges.try_emplace(p, mn, mx);
      if (!fresh) {
        it->second.first = std::min(it->second.first, mn);
        it->second.second = std::max(it->second.second, mx);
      }
      return x;
    };
    torch::InferenceMode g;
    for (size_t i = 0; i < nb; ++i) {
      if (job.cancelled()) return Error::cancelled();
      if (diffusion) (void)detail::runDiffusionPair(*model.impl(), pairs, i, &obs);
      else (void)model.impl()->run(in.batches[i], &obs);
      job.progress(double(i + 1) / nb, "calibrating activation ranges");
    }
  }
  s.calibratedFor = model.impl().get();
  return Unit{};
}

}  // namespace

LayerCompressor rtnLayerCompressor(const RtnLayerOptions& opt) {
  auto state = std::make_shared<RtnState>();
  state->opt = opt;
  LayerCompressor c;
  c.label = "RTN W" + std::to_string(opt.wbits) + (opt.abits > 0 ? "A" + std::to_string(opt.abits) : "") +
            (opt.perChannel ? "" : " per-tensor");
  c.apply = [state](const Model& model, const std::vector<std::string>& layers, JobContext& job) -> Result<Model> {
    CS_TRY_RESULT(model.source(), {
      if (auto s = calibrate(*state, model, job); !s) return s.error();
      auto variant = model.impl()->clone();
      torch::NoGradGuard ng;
      for (auto& name : layers) {
        if (state->opt.wbits > 0) {
          auto w = variant->layerWeight(name);
          if (w.defined()) {
            auto it = state->qweights.find(name);
            if (it == state->qweights.end()) {
              auto ref = w.detach().to(torch::kFloat).contiguous().clone();
              auto q = detail::weightQuantizer(ref, state->opt.wbits, state->opt.wSymmetric, state->opt.perChannel);
              it = state->qweights.emplace(name, detail::fakeQuant(ref, q).to(w.dtype()).contiguous()).first;
            }
            w.copy_(it->second);
          }
        }
        if (state->opt.abits > 0) {
          auto r = state->ranges.find(name);
          if (r != state->ranges.end()) {
            auto aq = detail::quantizerFromRange(torch::tensor(r->second.first), torch::tensor(r->second.second),
                                                 state->opt.abits, state->opt.aSymmetric);
            variant->inputTransforms[name] = [aq](const torch::Tensor& x) { return detail::fakeQuant(x, aq); };
          }
        }
      }
      variant->name = model.name() + " [sensitivity]";
      return Model(std::shared_ptr<const detail::ModelImpl>(variant));
    })
  };
  return c;
}

int cumulativeJump(const std::vector<double>& sqnr, double factor, double minShare) {
  std::vector<double> noise(sqnr.size(), 0.0), inc(sqnr.size(), 0.0);
  double prev = 0;
  for (size_t i = 0; i < sqnr.size(); ++i) {
    const double v = sqnr[i];
    noise[i] = std::isnan(v) ? prev : (std::isinf(v) && v > 0 ? 0.0 : std::pow(10.0, -v / 10.0));
    inc[i] = noise[i] - prev;
    prev = noise[i];
  }
  if (sqnr.empty() || prev <= 0) return -1;
  std::vector<double> pos;
  for (double d : inc)
    if (d > 0) pos.push_back(d);
  if (pos.empty()) return -1;
  std::nth_element(pos.begin(), pos.begin() + pos.size() / 2, pos.end());
  const double med = pos[pos.size() / 2];
  for (size_t i = 0; i < inc.size(); ++i)
    if (inc[i] > 0 && inc[i] >= factor * med && inc[i] >= minShare * prev) return int(i);
  return -1;
}

Result<SensitivityResult> layerSensitivity(const Model& model, const LayerCompressor& comp, const SensitivityOptions& opt,
                                           JobContext& job, const std::function<void(const LayerSensitivity&)>& onLayer) {
  if (!model.valid()) return Error::badArgument("no model");
  if (!comp.apply) return Error::badArgument("no layer compressor");
  if (!opt.isolated && !opt.cumulative) return Error::badArgument("choose isolated, cumulative or both");
  const auto t0 = std::chrono::steady_clock::now();
  CS_TRY_RESULT(model.source(), {
    std::vector<std::string> layers = opt.layers;
    if (layers.empty())
      for (auto& l : model.layers())
        if (l.quantizable) layers.push_back(l.name);
    if (layers.empty()) return Error::notFound(model.name() + ": no quantizable layers");

    SensitivityResult res;
    res.compressor = comp.label;
    // Evaluation inputs, FP outputs and labels.
    std::vector<torch::Tensor> batches, labels;
    detail::DiffusionPairs pairs;  // diffusion: timesteps, labels, true noise per batch
    const bool diffusion = model.task() == Task::Diffusion;
    auto runBatch = [&](const detail::ModelImpl& impl, size_t i) {
      return diffusion ? detail::runDiffusionPair(impl, pairs, i) : impl.run(batches[i]);
    };
    if (model.task() == Task::ImageClassification) {
      auto test = detail::fashionMnistTensors("test");
      if (!test) return test.error();
      const int64_t N = std::min<int64_t>(opt.samples, test->images.size(0));
      for (int64_t i = 0; i < N; i += 128) {
        batches.push_back(test->images.slice(0, i, std::min<int64_t>(i + 128, N)));
        labels.push_back(test->labels.slice(0, i, std::min<int64_t>(i + 128, N)));
      }
      res.metricName = "top-1 accuracy";
      res.data = "first " + std::to_string(N) + " Fashion-MNIST test images";
    } else if (model.task() == Task::Diffusion) {
      auto p = detail::diffusionPairs(model, opt.samples, 1234, "test", 32);
      if (!p) return p.error();
      pairs = std::move(*p);
      batches = pairs.noisy;
      res.metricName = "noise-prediction MSE";
      res.data = pairs.description;
    } else {
      auto in = detail::modelInputs(model, opt.samples, 1234, 16, {});
      if (!in) return in.error();
      batches = in->batches;
      res.data = in->description;
      res.metricName = model.task() == Task::LanguageModel ? "top-1 next-token agreement with FP" : "";
    }
    torch::InferenceMode g;
    std::vector<torch::Tensor> fp;
    for (size_t i = 0; i < batches.size(); ++i) fp.push_back(runBatch(*model.impl(), i).to(torch::kFloat));
    auto metricOf = [&](const std::vector<torch::Tensor>& out) -> double {
      if (res.metricName.empty()) return kNaN;
      if (diffusion) {  // mean squared error of the predicted noise against the true noise
        double se = 0;
        int64_t n = 0;
        for (size_t i = 0; i < out.size(); ++i) {
          se += (out[i] - pairs.noise[i]).pow(2).sum().item<double>();
          n += out[i].numel();
        }
        return n ? se / double(n) : kNaN;
      }
      int64_t hit = 0, n = 0;
      for (size_t i = 0; i < out.size(); ++i) {
        auto pred = out[i].argmax(-1);
        auto ref = labels.empty() ? fp[i].argmax(-1) : labels[i];
        hit += pred.eq(ref).sum().item<int64_t>();
        n += pred.numel();
      }
      return n ? double(hit) / double(n) : kNaN;
    };
    res.fpMetric = diffusion || !labels.empty() ? metricOf(fp) : (res.metricName.empty() ? kNaN : 1.0);

    // Runs a variant over the evaluation inputs; SQNR against the FP outputs + metric.
    auto evaluate = [&](const Model& v, double& sqnr, double& metric) -> Status {
      std::vector<torch::Tensor> out;
      double sig = 0, err = 0;
      for (size_t i = 0; i < batches.size(); ++i) {
        if (job.cancelled()) return Error::cancelled();
        auto y = runBatch(*v.impl(), i).to(torch::kFloat);
        sig += fp[i].pow(2).sum().item<double>();
        err += (fp[i] - y).pow(2).sum().item<double>();
        out.push_back(y);
      }
      sqnr = err > 0 ? 10.0 * std::log10(sig / err) : std::numeric_limits<double>::infinity();
      metric = metricOf(out);
      return Unit{};
    };

    JobContext calibJob = job.sub(0.0, 0.05);
    {
      auto warm = comp.apply(model, {}, calibJob);  // lets the compressor calibrate once
      if (!warm) return warm.error();
    }
    const int L = int(layers.size());
    std::vector<double> cum;
    for (int i = 0; i < L; ++i) {
      if (job.cancelled()) return Error::cancelled();
      const auto ti = std::chrono::steady_clock::now();
      LayerSensitivity ls;
      ls.index = i;
      ls.layer = layers[i];
      ls.isolatedSqnrDb = ls.cumulativeSqnrDb = ls.isolatedMetric = ls.cumulativeMetric = kNaN;
      JobContext sub = job.sub(0.05 + 0.95 * i / L, 0.05 + 0.95 * (i + 1) / L);
      if (opt.isolated) {
        auto v = comp.apply(model, {layers[i]}, sub);
        if (!v) return v.error();
        if (auto s = evaluate(*v, ls.isolatedSqnrDb, ls.isolatedMetric); !s) return s.error();
      }
      if (opt.cumulative) {
        std::vector<std::string> upTo(layers.begin(), layers.begin() + i + 1);
        auto v = comp.apply(model, upTo, sub);
        if (!v) return v.error();
        if (auto s = evaluate(*v, ls.cumulativeSqnrDb, ls.cumulativeMetric); !s) return s.error();
        cum.push_back(ls.cumulativeSqnrDb);
      }
      ls.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - ti).count();
      res.layers.push_back(ls);
      job.progress(0.05 + 0.95 * (i + 1) / L, "layer " + std::to_string(i + 1) + "/" + std::to_string(L) + " " + ls.layer);
      if (onLayer) onLayer(ls);
    }
    if (opt.cumulative) res.jumpIndex = cumulativeJump(cum, opt.jumpFactor, opt.jumpMinShare);
    std::vector<int> order(L);
    for (int i = 0; i < L; ++i) order[i] = i;
    auto key = [&](int i) {
      if (opt.isolated) return res.layers[i].isolatedSqnrDb;
      const double prev = i > 0 ? res.layers[i - 1].cumulativeSqnrDb : std::numeric_limits<double>::infinity();
      return res.layers[i].cumulativeSqnrDb - (std::isinf(prev) ? 0.0 : prev);
    };
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key(a) < key(b); });
    res.ranking = order;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    job.progress(1.0, "done");
    return res;
  })
}

nlohmann::json toJson(const SensitivityResult& r) {
  auto num = [](double v) -> nlohmann::json {
    if (std::isnan(v)) return nullptr;
    if (std::isinf(v)) return v > 0 ? 999.0 : -999.0;
    return v;
  };
  nlohmann::json layers = nlohmann::json::array();
  for (auto& l : r.layers)
    layers.push_back({{"index", l.index}, {"layer", l.layer}, {"isolated_sqnr_db", num(l.isolatedSqnrDb)},
                      {"cumulative_sqnr_db", num(l.cumulativeSqnrDb)}, {"isolated_metric", num(l.isolatedMetric)},
                      {"cumulative_metric", num(l.cumulativeMetric)}, {"seconds", l.seconds}});
  nlohmann::json j = {{"compressor", r.compressor}, {"metric", r.metricName}, {"data", r.data},
                      {"fp_metric", num(r.fpMetric)}, {"layers", layers}, {"ranking", r.ranking},
                      {"jump_index", r.jumpIndex}, {"seconds", r.seconds}, {"simulated", true}};
  if (r.jumpIndex >= 0) j["jump_layer"] = r.layers[r.jumpIndex].layer;
  return j;
}

}  // namespace cs
