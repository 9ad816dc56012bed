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
  if (auto err = info->validate(recipe.params); !err.empty()) return Error::badArgument(err);
  if (detail::isPtqMethod(recipe.method)) return detail::quantizePtq(model, recipe, opts, job);
  const auto t0 = std::chrono::steady_clock::now();
  CS_TRY_RESULT(model.source(), {
    const auto& P = recipe.params;
    const int wbits = P["wbits"], abits0 = P["abits"];
    const bool perChannel = P["w_granularity"] == "per-channel";
    const bool wsym = P["w_symmetric"], asym = P["a_symmetric"];
    const bool canCalibrate = model.impl()->supportsTaps() && model.task() == Task::ImageClassification;
    const int abits = canCalibrate ? abits0 : 0;

    std::vector<std::string> targets;
    for (auto& l : model.layers())
      if (l.quantizable) targets.push_back(l.name);
    if (P["skip_first_last"].get<bool>() && targets.size() > 2) {
      targets.erase(targets.begin());
      targets.pop_back();
    }

    QuantizeResult res;
    res.recipe = recipe;
    nlohmann::json metrics = nlohmann::json::object();
    if (abits0 > 0 && abits == 0)
      metrics["note"] = "activation quantization skipped: no activation capture for this model yet (weights only)";

    // 1. Calibrate activation ranges of every target layer's input in one pass.
    RangeObserver ranges;
    if (abits > 0) {
      auto calib = detail::calibrationImages(recipe.calibSamples, recipe.calibSeed);
      if (!calib) return calib.error();
      metrics["calib_samples"] = recipe.calibSamples;
      metrics["calib_seed"] = recipe.calibSeed;
      metrics["calib_hash"] = calib->hash;
      detail::TapObserver obs = [&](const std::string& p, detail::TapKind k, const torch::Tensor& x) { return ranges(p, k, x); };
      JobContext sub = job.sub(0.0, 0.3);
      auto s = detail::runBatches(*model.impl(), calib->inputs, 64, obs, sub, "calibrating activation ranges");
      if (!s) return s.error();
    }

    // 2. Build the variant: fake-quantized weights and input quantizers.
    auto variant = model.impl()->clone();
    {
      torch::NoGradGuard ng;
      for (size_t i = 0; i < targets.size(); ++i) {
        if (job.cancelled()) return Error::cancelled();
        const auto& name = targets[i];
        LayerQuantReport rep;
        rep.layer = name;
        rep.wbits = wbits;
        rep.granularity = perChannel ? "per-channel" : "per-tensor";
        auto w = variant->layerWeight(name);
        if (w.defined()) {
          auto ref = w.detach().to(torch::kFloat).contiguous().clone();
          auto q = detail::weightQuantizer(ref, wbits, wsym, perChannel);
          auto wq = detail::fakeQuant(ref, q).contiguous();
          w.copy_(wq);
          rep.weightError = compareTensors(ref.data_ptr<float>(), wq.data_ptr<float>(), ref.numel());
        }
        if (abits > 0) {
          auto it = ranges.ranges.find(name);
          if (it != ranges.ranges.end()) {
            auto aq = detail::quantizerFromRange(torch::tensor(it->second.first), torch::tensor(it->second.second),
                                                 abits, asym);
            rep.abits = abits;
            rep.activation = detail::toQuantParams(aq);
            variant->inputTransforms[name] = [aq](const torch::Tensor& x) { return detail::fakeQuant(x, aq); };
          }
        }
        res.layers.push_back(rep);
        job.progress(0.3 + 0.1 * double(i + 1) / targets.size(), "quantizing " + name);
      }
    }
    variant->name = model.name() + " [" + recipe.method + " W" + std::to_string(wbits) +
                    (abits > 0 ? "A" + std::to_string(abits) : "") + "]";
    variant->properties["variant_of"] = model.name();
    variant->properties["recipe"] = recipe.toJson().dump();
    res.variant = Model(std::shared_ptr<const detail::ModelImpl>(variant));

    // 3. Task metric, full precision versus quantized.
    if (auto s = detail::addAccuracyComparison(model, res.variant, opts, job, metrics); !s) return s.error();
    metrics["quantized_layers"] = targets.size();
    metrics["simulated"] = true;
    res.metrics = metrics;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    job.progress(1.0, "done");
    return res;
  })
}

}  // namespace cs
