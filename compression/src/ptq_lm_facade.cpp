// The language-model PTQ facade (compression/ptq_lm.h): recipe -> LmPtqConfig,
// calibration windows and perplexity through the pruning facade's helpers
// (prune/calib.h), reports per layer and per fold.
#include "compression/ptq_lm.h"

#include <chrono>

#include "compression/prune.h"
#include "compression/torch/ptq_lm.h"
#include "engine/llm.h"
#include "prune/calib.h"

namespace cs {

using detail::DecoderLM;
using detail::LmPtqConfig;
using detail::PtqConfig;

namespace {

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

template <class T>
T param(const nlohmann::json& P, const char* key, T dflt) {
  return P.contains(key) ? P[key].get<T>() : dflt;
}

// The recipe as an LmPtqConfig; `notes` collects what does not apply to LMs.
Result<LmPtqConfig> configFor(const Recipe& recipe, const LmQuantOptions& opts, std::vector<std::string>& notes) {
  const auto& P = recipe.params;
  const std::string& id = recipe.method;
  LmPtqConfig cfg;
  cfg.wbits = param<int>(P, "wbits", 8);
  cfg.abits = param<int>(P, "abits", 8);
  cfg.quantEmbedding = opts.quantEmbedding;
  cfg.quantHead = opts.quantHead;
  if (id == "rtn") {
    cfg.wPerChannel = param<std::string>(P, "w_granularity", "per-channel") == "per-channel";
    cfg.wSymmetric = param<bool>(P, "w_symmetric", true);
    cfg.aSymmetric = param<bool>(P, "a_symmetric", false);
    if (param<bool>(P, "skip_first_last", false))
      notes.push_back("skip_first_last: the embeddings and the LM head are excluded on LMs by default");
    return cfg;
  }
  cfg.wSearch = detail::rangeSearchFromString(param<std::string>(P, "w_search", "minmax"));
  const bool sm = param<bool>(P, "quant_softmax", true);
  cfg.softmax = sm ? PtqConfig::softmaxFromString(param<std::string>(P, "softmax", "uniform")) : PtqConfig::Softmax::None;
  if (P.contains("first_layer_a8")) notes.push_back("first_layer_a8 does not apply to LMs (no patch embedding)");
  using Fold = LmPtqConfig::Fold;
  if (id == "percentile") {
    cfg.aSearch = detail::RangeSearch::Percentile;
    cfg.percentile = param<double>(P, "percentile", 0.9999);
  } else if (id == "omse") {
    cfg.aSearch = detail::RangeSearch::Mse;
  } else if (id == "smoothquant") {
    cfg.fold = Fold::Smooth;
    cfg.alpha = param<double>(P, "alpha", 0.5);
  } else if (id == "repq-vit" || id == "repquant") {
    cfg.aSearch = detail::RangeSearch::PercentileMse;
    const std::string rp = param<std::string>(P, "reparam", "fold");
    cfg.fold = rp == "fold" ? (id == "repquant" ? Fold::DualClipRepQ : Fold::RepQ)
                            : rp == "per-channel" ? Fold::PerChannelNoFold : Fold::None;
    cfg.roundZero = param<bool>(P, "round_zero", false);
    if (sm) cfg.softmax = PtqConfig::softmaxFromString(param<std::string>(P, "softmax", "log-sqrt2"));
    if (id == "repquant") {  // weight reconstruction after the fold, with the ViT path's parameters
      cfg.recon.iters = param<int>(P, "recon_iters", 0);
      cfg.reconstruct = cfg.recon.iters > 0;
      cfg.recon.lrRound = param<double>(P, "recon_lr", cfg.recon.lrRound);
      cfg.recon.lambda = param<double>(P, "recon_lambda", cfg.recon.lambda);
      cfg.recon.learnActStep = param<bool>(P, "recon_act_step", true) && cfg.abits > 0;
      cfg.recon.seed = uint64_t(recipe.calibSeed);
      cfg.recon.device = param<std::string>(P, "recon_device", "cpu");
      cfg.clipSteps = param<int>(P, "clip_iters", cfg.clipSteps);  // dual clipping, as on the ViT path
      cfg.clipLr = param<double>(P, "clip_lr", cfg.clipLr);
    }
  } else {
    return Error{Error::Code::Unsupported, "method '" + id + "' is not available for language models"};
  }
  return cfg;
}

}  // namespace

bool isLanguageModelForPtq(const Model& model) {
  return model.valid() && dynamic_cast<const DecoderLM*>(model.impl().get()) != nullptr;
}

Result<QuantizeResult> quantizeLm(const Model& model, const Recipe& recipe0, const LmQuantOptions& opts,
                                  JobContext& job) {
  if (!isLanguageModelForPtq(model)) return Error::badArgument(model.name() + ": not a decoder language model");
  Recipe recipe = recipe0;
  const MethodInfo* info = findMethod(recipe.method);
  if (!info && recipe.method == "repquant") info = findMethod("repq-vit");  // same parameters
  if (!info || info->kind != "quantization") return Error::badArgument("unknown quantization method '" + recipe.method + "'");
  if (auto err = info->validate(recipe.params); !err.empty()) return Error::badArgument(err);
  std::vector<std::string> notes;
  auto cfgR = configFor(recipe, opts, notes);
  if (!cfgR) return cfgR.error();
  const LmPtqConfig cfg = *cfgR;
  const auto t0 = std::chrono::steady_clock::now();
  const auto& dec = static_cast<const DecoderLM&>(*model.impl());
  CS_TRY_RESULT(model.source(), {
    auto lm = LanguageModel::fromModel(model);
    if (!lm) return lm.error();
    auto calib = prunedetail::makeCalibration(*lm, opts.calibSource, recipe.calibSamples, opts.calibLength,
                                              recipe.calibSeed, job);
    if (!calib) return calib.error();
    if (job.cancelled()) return Error::cancelled();
    job.progress(0.1, "calibrating " + recipe.method);
    resetPeakRss();
    const auto tc = std::chrono::steady_clock::now();
    detail::LmPtqOutcome outc;
    try {
      JobContext sub = job.sub(0.1, 0.4);
      outc = detail::runPtqLm(dec, calib->tokens, cfg, &sub);
    } catch (const detail::ReconCancelled&) {
      return Error::cancelled();
    }
    const double calibSeconds = since(tc);
    const double peak = peakRssMiB();
    job.progress(0.4, "quantized");

    QuantizeResult res;
    res.recipe = recipe;
    nlohmann::json metrics = nlohmann::json::object();
    metrics["calib_samples"] = recipe.calibSamples;
    metrics["calib_seed"] = recipe.calibSeed;
    metrics["calib_length"] = opts.calibLength;
    metrics["calib_source"] = calib->source;
    metrics["calib_hash"] = calib->hash;
    metrics["calib_seconds"] = calibSeconds;
    metrics["calib_peak_rss_mib"] = peak;
    for (auto& name : outc.targets) {
      LayerQuantReport rep;
      rep.layer = name;
      if (auto wq = outc.weightQuantizers.find(name); wq != outc.weightQuantizers.end()) {
        rep.wbits = cfg.wbits;
        rep.granularity = cfg.wPerChannel ? "per-channel" : "per-tensor";
        auto ref = outc.fpWeights.at(name).contiguous();
        auto q = outc.variant->weight(name + ".weight").detach().to(torch::kFloat).contiguous();
        rep.weightError = compareTensors(ref.data_ptr<float>(), q.data_ptr<float>(), ref.numel());
      }
      if (auto aq = outc.inputQuantizers.find(name); aq != outc.inputQuantizers.end()) {
        rep.abits = aq->second.bits;
        rep.activation = detail::toQuantParams(aq->second);
      }
      res.layers.push_back(rep);
    }
    nlohmann::json folds = nlohmann::json::array();
    for (auto& f : outc.folds) {
      nlohmann::json j = {{"norm", f.norm},          {"consumers", f.consumer},
                          {"delta", f.delta},        {"zero_point", f.zero},
                          {"r_min", f.r.min().item<double>()}, {"r_max", f.r.max().item<double>()}};
      if (auto it = outc.clipLoss.find(f.norm); it != outc.clipLoss.end())
        j["clip_loss"] = {{"before", it->second.first}, {"after", it->second.second}};
      folds.push_back(j);
    }
    if (!folds.empty()) metrics["folds"] = folds;
    if (cfg.fold == LmPtqConfig::Fold::DualClipRepQ)
      metrics["dual_clipping_settings"] = {{"steps", cfg.clipSteps}, {"lr", cfg.clipLr}};
    const auto rec = detail::reconstructionJson(outc.recon);
    if (!rec.empty()) {
      metrics["reconstruction"] = rec;
      metrics["reconstruction_settings"] = {{"iters", cfg.recon.iters},       {"lr_round", cfg.recon.lrRound},
                                            {"lambda", cfg.recon.lambda},     {"act_step", cfg.recon.learnActStep},
                                            {"batch_rows", cfg.recon.batchRows}, {"device", cfg.recon.device}};
    }
    if (cfg.fold == LmPtqConfig::Fold::DualClipRepQ)
      notes.push_back(cfg.reconstruct ? "repquant on LMs: learned dual clipping + fold + layer-wise AdaRound/LSQ "
                                        "weight reconstruction"
                                      : "repquant on LMs: learned dual clipping + fold (recon_iters 0: no weight "
                                        "reconstruction)");

    auto& v = outc.variant;
    v->name = model.name() + " [" + recipe.method + " W" + std::to_string(cfg.wbits) +
              (cfg.abits > 0 ? "A" + std::to_string(cfg.abits) : "") + "]";
    v->properties["variant_of"] = model.name();
    v->properties["recipe"] = recipe.toJson().dump();
    res.variant = Model(std::shared_ptr<const detail::ModelImpl>(v));

    if (opts.evaluate) {
      PruneOptions po;
      po.evalText = opts.evalText;
      po.evalContext = opts.evalContext;
      po.evalMaxBytes = opts.evalMaxBytes;
      po.extraEvalTexts = opts.extraEvalTexts;
      auto specs = prunedetail::evalSpecs(dec, po);
      auto qlm = LanguageModel::fromModel(res.variant);
      if (!qlm) return qlm.error();
      nlohmann::json ppl = nlohmann::json::object();
      for (size_t i = 0; i < specs.size(); ++i) {
        JobContext sub = job.sub(0.4 + 0.6 * double(i) / specs.size(), 0.4 + 0.6 * double(i + 1) / specs.size());
        nlohmann::json e = nlohmann::json::object();
        if (opts.evaluateFp) {
          auto fp = prunedetail::evaluate(*lm, specs[i], sub);
          if (!fp) return fp.error();
          e["fp"] = fp->ppl;
        }
        auto q = prunedetail::evaluate(*qlm, specs[i], sub);
        if (!q) return q.error();
        e["q"] = q->ppl;
        e["tokens"] = q->tokens;
        e["context"] = q->context;
        if (specs[i].maxBytes > 0) e["max_bytes"] = specs[i].maxBytes;
        ppl[specs[i].label] = e;
        if (i == 0) {
          if (e.contains("fp")) metrics["fp_ppl"] = e["fp"];
          metrics["q_ppl"] = e["q"];
          metrics["eval_text"] = specs[i].label;
          metrics["metric"] = "perplexity (" + specs[i].label + ")";
        }
      }
      metrics["perplexity"] = ppl;
    }
    if (!notes.empty()) metrics["notes"] = notes;
    metrics["quantized_layers"] = res.layers.size();
    metrics["simulated"] = true;
    res.metrics = metrics;
    res.seconds = since(t0);
    job.progress(1.0, "done");
    return res;
  })
}

Result<QuantizeResult> quantizePtqLm(const Model& model, const Recipe& recipe, const QuantizeOptions& opts,
                                     JobContext& job) {
  LmQuantOptions o;
  // Perplexity is always reported; without --eval on the first 16 KB of the evaluation text.
  if (!opts.evaluate) o.evalMaxBytes = 16384;
  return quantizeLm(model, recipe, o, job);
}

}  // namespace cs
