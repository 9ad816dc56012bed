// RTN (round-to-nearest, min-max) quantization, the method registry, activation
// statistics and task evaluation.
#include <chrono>
#include <random>

#include "calibration.h"
#include "compression/prune.h"
#include "compression/quantize.h"
#include "compression/torch/quantizer.h"
#include "engine/torch/tensors.h"
#include "ptq.h"
#include "variant_io.h"
#include "compression/quant_plan.h"
#include "compression/quant_variant.h"
#include "compression/torch/quantizers.h"
#include <set>

namespace cs {
using detail::UniformQuantizer;

namespace {

MethodInfo rtnInfo() {
  MethodInfo m;
  m.id = "rtn";
  m.name = "RTN (round-to-nearest, min-max)";
  m.kind = "quantization";
  m.description =
      "Uniform quantization with ranges from the min and max: weights per output channel or per tensor, "
      "activations (inputs of every Linear/Conv) per tensor from calibration data. Simulated (fake-quant).";
  using T = ParamSpec::Type;
  m.params = {
      {"wbits", "Weight bits", T::Int, 2, 16, 1, {}, 8, "Bits of every quantized weight."},
      {"abits", "Activation bits", T::Int, 0, 16, 1, {}, 8,
       "Bits of the input of every quantized layer; 0 keeps activations in full precision (weight-only)."},
      {"w_granularity", "Weight granularity", T::Choice, 0, 0, 0, {"per-channel", "per-tensor"}, "per-channel",
       "One range per output channel, or one for the whole weight."},
      {"w_symmetric", "Symmetric weights", T::Bool, 0, 0, 0, {}, true, "Zero point 0, range +-max|w|."},
      {"a_symmetric", "Symmetric activations", T::Bool, 0, 0, 0, {}, false,
       "Zero point 0; asymmetric (default) uses min and max."},
      {"skip_first_last", "Keep first and last layer FP", T::Bool, 0, 0, 0, {}, false,
       "Leave the first (patch embedding) and last (head) layers in full precision."},
  };
  m.presets = {{"W8A8", {{"wbits", 8}, {"abits", 8}}},
               {"W6A6", {{"wbits", 6}, {"abits", 6}}},
               {"W4A8", {{"wbits", 4}, {"abits", 8}}},
               {"W4A4", {{"wbits", 4}, {"abits", 4}}},
               {"W8 (weight-only)", {{"wbits", 8}, {"abits", 0}}}};
  return m;
}

// Streaming min/max of every layer input seen.
struct RangeObserver {
  std::map<std::string, std::pair<float, float>> ranges;
  torch::Tensor operator()(const std::string& point, detail::TapKind kind, const torch::Tensor& x) {
    if (kind != detail::TapKind::LayerInput) return x;
    auto mn = x.min().item<float>(), mx = x.max().item<float>();
    auto [it, fresh] = ranges.try_emplace(point, mn, mx);
    if (!fresh) {
      it->second.first = std::min(it->second.first, mn);
      it->second.second = std::max(it->second.second, mx);
    }
    return x;
  }
};

}  // namespace

const std::vector<MethodInfo>& methods() {
  static const std::vector<MethodInfo> all = [] {
    registerQuantizedVariantLoader();  // saved variants reopen with their quantizers (quant_variant.h)
    std::vector<MethodInfo> v = {rtnInfo()};
    for (auto& m : detail::ptqMethodInfos()) v.push_back(m);
    for (auto& m : pruneMethods()) v.push_back(m);  // kind "pruning": run through cs::prune()
    return v;
  }();
  return all;
}

const MethodInfo* findMethod(const std::string& id) {
  for (auto& m : methods())
    if (m.id == id) return &m;
  return nullptr;
}

Result<nlohmann::json> evaluateModel(const Model& model, int samples, JobContext& job) {
  if (!model.valid()) return Error::badArgument("no model");
  if (model.task() != Task::ImageClassification)
    return Error::badArgument(model.name() + ": no built-in evaluation for this model's task");
  CS_TRY_RESULT(model.source(), {
    auto test = detail::fashionMnistTensors("test");
    if (!test) return test.error();
    torch::InferenceMode guard;
    const int64_t N = std::min<int64_t>(samples > 0 ? samples : test->images.size(0), test->images.size(0));
    int64_t correct = 0;
    for (int64_t i = 0; i < N; i += 250) {
      if (job.cancelled()) return Error::cancelled();
      const int64_t e = std::min<int64_t>(i + 250, N);
      auto logits = model.impl()->run(test->images.slice(0, i, e));
      correct += logits.argmax(1).eq(test->labels.slice(0, i, e)).sum().item<int64_t>();
      job.progress(double(e) / N, "evaluating");
    }
    return nlohmann::json{{"accuracy", double(correct) / N}, {"samples", N}, {"metric", "top-1 accuracy (Fashion-MNIST test)"}};
  })
}

Result<ActivationStats> activationStats(const Model& model, const std::string& layer, int samples, int seed,
                                        JobContext& job) {
  if (!model.valid()) return Error::badArgument("no model");
  if (!model.impl()->supportsTaps())
    return Error{Error::Code::Unsupported, model.name() + ": activation capture on " + model.family() +
                                               " models is not available yet (weights only)"};
  if (model.task() != Task::ImageClassification)
    return Error{Error::Code::Unsupported, model.name() + ": calibration data for this task is not wired yet"};
  bool known = false;
  for (auto& l : model.layers()) known |= l.name == layer && l.quantizable;
  if (!known) return Error::notFound(model.name() + ": no quantizable layer '" + layer + "'");
  CS_TRY_RESULT(model.source(), {
    auto calib = detail::calibrationImages(samples, seed);
    if (!calib) return calib.error();
    ActivationStats st;
    st.layer = layer;
    st.samples = samples;
    RunningHistogram hist;
    std::vector<MinMax> perChannel;
    const size_t kReservoir = 200000;
    std::mt19937_64 rng(static_cast<uint64_t>(seed) * 7919 + 17);
    int64_t seen = 0;
    detail::TapObserver obs = [&](const std::string& point, detail::TapKind kind, const torch::Tensor& x) {
      if (kind != detail::TapKind::LayerInput || point != layer) return x;
      auto c = x.detach().to(torch::kFloat).contiguous();
      const float* p = c.data_ptr<float>();
      const size_t n = c.numel();
      hist.add(p, n);
      // Channels: dim 1 for images [B,C,H,W], else the last (feature) dim.
      const int axis = c.dim() == 4 ? 1 : c.dim() - 1;
      auto pc = perChannelMinMax(p, c.sizes().vec(), axis);
      if (perChannel.empty()) perChannel = pc;
      else
        for (size_t i = 0; i < pc.size() && i < perChannel.size(); ++i) {
          perChannel[i].min = std::min(perChannel[i].min, pc[i].min);
          perChannel[i].max = std::max(perChannel[i].max, pc[i].max);
        }
      for (size_t i = 0; i < n; ++i, ++seen) {  // reservoir sampling (algorithm R)
        if (st.sample.size() < kReservoir) {
          st.sample.push_back(p[i]);
        } else {
          std::uniform_int_distribution<int64_t> d(0, seen);
          auto j = d(rng);
          if (j < static_cast<int64_t>(kReservoir)) st.sample[j] = p[i];
        }
      }
      return x;
    };
    auto s = detail::runBatches(*model.impl(), calib->inputs, 64, obs, job, "calibrating " + layer);
    if (!s) return s.error();
    st.histogram = hist.histogram(128);
    st.range = hist.range();
    st.perChannel = std::move(perChannel);
    st.values = hist.count();
    return st;
  })
}

Result<QuantizeResult> quantize(const Model& model, const Recipe& recipe0, const QuantizeOptions& opts, JobContext& job) {
  if (!model.valid()) return Error::badArgument("no model");
  const MethodInfo* info = findMethod(recipe0.method);
  if (!info) return Error::badArgument("unknown method '" + recipe0.method + "'");
  if (info->kind != "quantization")
    return Error::badArgument("method '" + recipe0.method + "' is a " + info->kind + " method (use prune())");
  Recipe recipe = recipe0;
  // A quantization plan (compression/quant_plan.h) travels in the recipe as params.plan.
  nlohmann::json planJson;
  if (recipe.params.is_object() && recipe.params.contains("plan")) {
    planJson = recipe.params["plan"];
    recipe.params.erase("plan");
    if (recipe.method != "rtn")
      return Error::badArgument("method '" + recipe.method + "' does not honour a quantization plan yet (only rtn does)");
  }
  if (auto err = info->validate(recipe.params); !err.empty()) return Error::badArgument(err);
  if (detail::isPtqMethod(recipe.method)) {
    auto r = detail::quantizePtq(model, recipe, opts, job);
    return r;
  }
  std::optional<ResolvedPlan> plan;
  if (!planJson.is_null()) {
    auto qp = QuantPlan::fromJson(planJson, "recipe plan");
    if (!qp) return qp.error();
    auto rp = resolvePlan(model, *qp);
    if (!rp) return rp.error();
    plan = *rp;
  }
  const auto t0 = std::chrono::steady_clock::now();
  CS_TRY_RESULT(model.source(), {
    const auto& P = recipe.params;
    const int wbits = P["wbits"], abits0 = P["abits"];
    const bool perChannel = P["w_granularity"] == "per-channel";
    const bool wsym = P["w_symmetric"], asym = P["a_symmetric"];
    const bool canCalibrate = model.impl()->supportsTaps() && model.task() == Task::ImageClassification;

    // What each layer gets: from the plan, or from the flat parameters.
    struct Choice {
      std::string layer;
      std::optional<QuantizerSpec> w, a;
    };
    std::vector<Choice> choices;
    std::map<std::string, QuantizerSpec> softmaxPlan;
    nlohmann::json notApplied = nlohmann::json::array();
    if (plan) {
      for (auto& l : model.layers()) {
        if (!l.quantizable) continue;
        Choice c{l.name, {}, {}};
        if (auto d = plan->find(l.name + ".weight"); d && d->quantize) c.w = d->q;
        if (auto d = plan->find(l.name + ":input"); d && d->quantize) c.a = d->q;
        choices.push_back(c);
      }
      for (auto& d : plan->decisions) {
        if (!d.quantize) continue;
        if (d.target == "softmax") softmaxPlan[d.tensor] = d.q;
        if (d.target == "matmul" || d.target == "norm") notApplied.push_back(d.tensor);
        if ((d.target == "weight" || d.target == "input") &&
            (d.q.range == "log2" || d.q.range == "log-sqrt2"))
          return Error::badArgument(d.tensor + ": log quantizers are for softmax outputs");
        if (d.target == "input" && d.q.range != "minmax")
          return Error::badArgument(d.tensor + ": RTN takes activation ranges from the min and max (range 'minmax')");
        if (d.target == "input" && d.q.granularity == "per-group")
          return Error::badArgument(d.tensor + ": RTN has no per-group activation quantizer (per-tensor, per-channel, per-token)");
      }
    } else {
      std::vector<std::string> targets;
      for (auto& l : model.layers())
        if (l.quantizable) targets.push_back(l.name);
      if (P["skip_first_last"].get<bool>() && targets.size() > 2) {
        targets.erase(targets.begin());
        targets.pop_back();
      }
      for (auto& t : targets) {
        Choice c{t, {}, {}};
        QuantizerSpec w;
        w.bits = wbits;
        w.symmetric = wsym;
        w.granularity = perChannel ? "per-channel" : "per-tensor";
        c.w = w;
        if (abits0 > 0) {
          QuantizerSpec a;
          a.bits = abits0;
          a.symmetric = asym;
          c.a = a;
        }
        choices.push_back(c);
      }
    }
    bool anyAct = !softmaxPlan.empty();
    for (auto& c : choices) anyAct |= c.a.has_value();
    const bool actOn = canCalibrate && anyAct;

    QuantizeResult res;
    res.recipe = recipe;
    if (!planJson.is_null()) res.recipe.params["plan"] = planJson;
    nlohmann::json metrics = nlohmann::json::object();
    if (anyAct && !canCalibrate)
      metrics["note"] = "activation quantization skipped: no activation capture for this model yet (weights only)";
    if (!notApplied.empty()) metrics["plan_not_applied"] = notApplied;  // RTN does not quantize these targets

    // 1. Calibrate activation ranges of every target layer's input in one pass.
    RangeObserver ranges;
    std::map<std::string, std::pair<torch::Tensor, torch::Tensor>> channelRanges;  // per last-dim channel
    std::map<std::string, float> softmaxMax;
    if (actOn) {
      auto calib = detail::calibrationImages(recipe.calibSamples, recipe.calibSeed);
      if (!calib) return calib.error();
      metrics["calib_samples"] = recipe.calibSamples;
      metrics["calib_seed"] = recipe.calibSeed;
      metrics["calib_hash"] = calib->hash;
      std::set<std::string> perChannelInputs;
      for (auto& c : choices)
        if (c.a && c.a->granularity == "per-channel") perChannelInputs.insert(c.layer);
      detail::TapObserver obs = [&](const std::string& p, detail::TapKind k, const torch::Tensor& x) {
        if (k == detail::TapKind::Softmax && softmaxPlan.count(p)) {
          const float m = x.max().item<float>();
          auto [it, fresh] = softmaxMax.try_emplace(p, m);
          if (!fresh) it->second = std::max(it->second, m);
        }
        if (k == detail::TapKind::LayerInput && perChannelInputs.count(p)) {
          auto x2 = x.reshape({-1, x.size(-1)});
          auto mn = std::get<0>(x2.min(0)).clone(), mx = std::get<0>(x2.max(0)).clone();
          auto [it, fresh] = channelRanges.try_emplace(p, mn, mx);
          if (!fresh) it->second = {torch::minimum(it->second.first, mn), torch::maximum(it->second.second, mx)};
        }
        return ranges(p, k, x);
      };
      JobContext sub = job.sub(0.0, 0.3);
      auto s = detail::runBatches(*model.impl(), calib->inputs, 64, obs, sub, "calibrating activation ranges");
      if (!s) return s.error();
    }

    // 2. Build the variant: fake-quantized weights and input quantizers.
    auto variant = model.impl()->clone();
    auto saveInfo = std::make_shared<detail::QuantVariantInfo>();
    {
      torch::NoGradGuard ng;
      for (size_t i = 0; i < choices.size(); ++i) {
        if (job.cancelled()) return Error::cancelled();
        const auto& c = choices[i];
        const auto& name = c.layer;
        LayerQuantReport rep;
        rep.layer = name;
        auto w = variant->layerWeight(name);
        if (w.defined() && c.w) {
          const auto& ws = *c.w;
          rep.wbits = ws.bits;
          rep.granularity = ws.granularity;
          auto ref = w.detach().to(torch::kFloat).contiguous().clone();
          torch::Tensor wq;
          if (ws.granularity == "per-group") {
            auto r2 = ref.reshape({ref.size(0), -1});
            if (r2.size(1) % ws.groupSize != 0)
              return Error::badArgument(name + ".weight: " + std::to_string(r2.size(1)) + " inputs are not divisible by group_size " +
                                        std::to_string(ws.groupSize));
            wq = detail::fakeQuantPerGroup(r2, ws.bits, ws.groupSize, ws.symmetric).reshape(ref.sizes()).contiguous();
          } else {
            const bool pc = ws.granularity != "per-tensor";
            detail::UniformQuantizer q;
            if (ws.range == "minmax") {
              q = detail::weightQuantizer(ref, ws.bits, ws.symmetric, pc);
            } else {
              q = detail::searchUniform(ref.reshape({ref.size(0), -1}), ws.bits, ws.symmetric, pc ? 0 : -1,
                                        detail::rangeSearchFromString(ws.range));
              if (pc) q.axis = 0;
            }
            wq = detail::fakeQuant(ref, q).contiguous();
            saveInfo->weightQuantizers[name] = q;
          }
          w.copy_(wq);
          rep.weightError = compareTensors(ref.data_ptr<float>(), wq.data_ptr<float>(), ref.numel());
        }
        if (actOn && c.a) {
          const auto& as = *c.a;
          if (as.granularity == "per-token") {
            rep.abits = as.bits;
            variant->inputTransforms[name] = [b = as.bits, sy = as.symmetric](const torch::Tensor& x) {
              return detail::fakeQuantPerToken(x, b, sy);
            };
          } else if (as.granularity == "per-channel" && channelRanges.count(name)) {
            auto& [mn, mx] = channelRanges.at(name);
            auto aq = detail::quantizerFromRange(mn, mx, as.bits, as.symmetric, -1);
            rep.abits = as.bits;
            saveInfo->inputQuantizers[name] = aq;
            variant->inputTransforms[name] = [aq](const torch::Tensor& x) { return detail::fakeQuant(x, aq); };
          } else if (auto it = ranges.ranges.find(name); it != ranges.ranges.end()) {
            auto aq = detail::quantizerFromRange(torch::tensor(it->second.first), torch::tensor(it->second.second),
                                                 as.bits, as.symmetric);
            rep.abits = as.bits;
            rep.activation = detail::toQuantParams(aq);
            saveInfo->inputQuantizers[name] = aq;
            variant->inputTransforms[name] = [aq](const torch::Tensor& x) { return detail::fakeQuant(x, aq); };
          }
        }
        res.layers.push_back(rep);
        job.progress(0.3 + 0.1 * double(i + 1) / choices.size(), "quantizing " + name);
      }
      for (auto& [point, spec] : softmaxPlan) {
        auto it = softmaxMax.find(point);
        if (it == softmaxMax.end()) continue;
        if (spec.range == "log2" || spec.range == "log-sqrt2") {
          detail::LogQuantizer lq{spec.bits, spec.range == "log-sqrt2", std::max(1e-12, double(it->second))};
          variant->inputTransforms[point] = [lq](const torch::Tensor& x) { return detail::fakeQuantLog(x, lq); };
        } else {
          auto aq = detail::quantizerFromRange(torch::tensor(0.0f), torch::tensor(it->second), spec.bits, spec.symmetric);
          variant->inputTransforms[point] = [aq](const torch::Tensor& x) { return detail::fakeQuant(x, aq); };
        }
      }
    }
    int wmax = 0, amax = 0;
    for (auto& l : res.layers) wmax = std::max(wmax, l.wbits), amax = std::max(amax, l.abits);
    variant->name = model.name() + " [" + recipe.method + (plan ? " plan" : "") + " W" + std::to_string(plan ? wmax : wbits) +
                    (amax > 0 ? "A" + std::to_string(amax) : "") + "]";
    variant->properties["variant_of"] = model.name();
    variant->properties["recipe"] = res.recipe.toJson().dump();
    res.variant = Model(std::shared_ptr<const detail::ModelImpl>(variant));
    res.saveInfo = saveInfo;

    // 3. Task metric, full precision versus quantized.
    if (auto s = detail::addAccuracyComparison(model, res.variant, opts, job, metrics); !s) return s.error();
    metrics["quantized_layers"] = choices.size();
    metrics["simulated"] = true;
    res.metrics = metrics;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    job.progress(1.0, "done");
    return res;
  })
}

}  // namespace cs
