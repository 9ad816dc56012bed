// Percentile, OMSE, SmoothQuant and RepQ-ViT as registered methods (schemas, presets)
// on top of the PTQ pipeline in quantizers.cpp.
#include <chrono>

#include "calibration.h"
#include "compression/ptq_lm.h"
#include "compression/torch/quantizers.h"
#include "ptq.h"

namespace cs::detail {

namespace {

using T = ParamSpec::Type;

std::vector<ParamSpec> commonParams(const std::string& wSearch) {
  return {
      {"wbits", "Weight bits", T::Int, 2, 16, 1, {}, 8, "Bits of every quantized weight (per output channel)."},
      {"abits", "Activation bits", T::Int, 0, 16, 1, {}, 8,
       "Bits of the input of every quantized layer (and of the softmax output); 0 keeps activations in full "
       "precision."},
      {"w_search", "Weight range search", T::Choice, 0, 0, 0, {"minmax", "percentile", "mse", "percentile-mse"}, wSearch,
       "How each output channel's weight range is chosen."},
      {"quant_softmax", "Quantize softmax", T::Bool, 0, 0, 0, {}, true,
       "Also quantize the attention probabilities (the A of A*V) at the activation bit-width."},
      {"first_layer_a8", "8-bit patch-embedding input", T::Bool, 0, 0, 0, {}, true,
       "Keep the first layer's input at 8 bits or more, as RepQ-ViT does."},
  };
}

// The softmax quantizer choice of the per-tensor baselines: one uniform range, or
// PTQ4ViT's twin-uniform ranges.
ParamSpec baselineSoftmaxParam() {
  return {"softmax", "Softmax quantizer", T::Choice, 0, 0, 0, {"uniform", "twin-uniform"}, "uniform",
          "uniform: one per-tensor range; twin-uniform: PTQ4ViT's two power-of-two-related ranges (a fine one for "
          "the many small probabilities, [0, 1) for the large ones)."};
}

std::vector<Preset> presets() {
  return {{"W8A8", {{"wbits", 8}, {"abits", 8}}},
          {"W6A6", {{"wbits", 6}, {"abits", 6}}},
          {"W4A8", {{"wbits", 4}, {"abits", 8}}},
          {"W4A4", {{"wbits", 4}, {"abits", 4}}}};
}

MethodInfo percentileInfo() {
  MethodInfo m;
  m.id = "percentile";
  m.name = "Percentile clipping";
  m.kind = "quantization";
  m.description =
      "Per-tensor activation ranges clipped at a percentile of the calibration values (and 1 - percentile "
      "below); per-channel min-max weights. Simulated (fake-quant).";
  m.params = commonParams("minmax");
  m.params.push_back(baselineSoftmaxParam());
  m.params.push_back({"percentile", "Percentile", T::Float, 0.9, 1.0, 0.0001, {}, 0.9999,
                      "Upper clipping percentile of every activation tensor."});
  m.presets = presets();
  return m;
}

MethodInfo omseInfo() {
  MethodInfo m;
  m.id = "omse";
  m.name = "OMSE (MSE-optimal clipping)";
  m.kind = "quantization";
  m.description =
      "Ranges that minimize the quantization MSE: 100 shrink factors of the min-max range, per output channel "
      "for weights and per tensor for activations. Simulated (fake-quant).";
  m.params = commonParams("mse");
  m.params.push_back(baselineSoftmaxParam());
  m.presets = presets();
  return m;
}

MethodInfo smoothInfo() {
  MethodInfo m;
  m.id = "smoothquant";
  m.name = "SmoothQuant";
  m.kind = "quantization";
  m.description =
      "Migrates activation outliers into the weights with per-channel factors s = max|X|^alpha / max|W|^(1-alpha), "
      "folded into the LayerNorm before qkv and fc1; then per-tensor min-max activations and per-channel weights. "
      "Native ViT only. Simulated (fake-quant).";
  m.params = commonParams("minmax");
  m.params.push_back(baselineSoftmaxParam());
  m.params.push_back({"alpha", "Migration strength", T::Float, 0.0, 1.0, 0.05, {}, 0.5,
                      "alpha: 0 keeps the activations, 1 moves all of their range into the weights."});
  m.presets = presets();
  return m;
}

MethodInfo repqInfo() {
  MethodInfo m;
  m.id = "repq-vit";
  m.name = "RepQ-ViT";
  m.kind = "quantization";
  m.description =
      "Per-channel quantizers for the post-LayerNorm activations (inputs of qkv and fc1), reparameterized into "
      "per-tensor ones by folding the factors into the LayerNorm affine and the consumer's weight and bias; "
      "log-sqrt2 softmax quantization (deployable as log2 with a parity bit); percentile-MSE ranges. "
      "Native ViT only. Simulated (fake-quant).";
  m.params = commonParams("percentile-mse");
  m.params.push_back({"reparam", "Post-LayerNorm quantizer", T::Choice, 0, 0, 0, {"fold", "per-channel", "per-tensor"},
                      "fold",
                      "fold: per-channel calibration folded into per-tensor (RepQ-ViT); per-channel: not folded "
                      "(simulated upper bound, not deployable); per-tensor: plain per-tensor baseline."});
  m.params.push_back({"round_zero", "Integer zero point", T::Bool, 0, 0, 0, {}, false,
                      "Round the folded zero point (exact, integer-deployable fold); off reproduces the paper's code."});
  m.params.push_back({"softmax", "Softmax quantizer", T::Choice, 0, 0, 0, {"log-sqrt2", "log2", "uniform", "twin-uniform"},
                      "log-sqrt2", "Quantizer of the attention probabilities (twin-uniform: PTQ4ViT's)."});
  m.presets = presets();
  return m;
}

MethodInfo repquantInfo() {
  MethodInfo m;
  m.id = "repquant";
  m.name = "RepQuant";
  m.kind = "quantization";
  m.description =
      "RepQ-ViT plus learned per-channel dual clipping (separate lower and upper bounds, Adam through the STE) of the "
      "post-LayerNorm quantizers before the fold, softmax calibrated as log-sqrt2 and executed as log2 with the "
      "parity split, and layer-wise AdaRound weight reconstruction (with activation step learning) after the fold. "
      "Native ViT and LLaMA-style decoders (RMSNorm outputs: dual clipping, fold with an added beta, then the same "
      "reconstruction). Simulated (fake-quant).";
  m.params = commonParams("percentile-mse");
  for (auto& p : m.params) {  // the paper's default setting is W4/A4
    if (p.name == "wbits" || p.name == "abits") p.defaultValue = 4;
  }
  m.params.push_back({"round_zero", "Integer zero point", T::Bool, 0, 0, 0, {}, true,
                      "Round the folded zero point (exact, integer-deployable fold)."});
  m.params.push_back({"clip_iters", "Dual-clipping steps", T::Int, 0, 5000, 10, {}, 200,
                      "Adam steps of the per-channel (lower, upper) bounds of each post-LayerNorm quantizer; 0 keeps "
                      "the percentile-MSE ranges (RepQ-ViT)."});
  m.params.push_back({"clip_lr", "Dual-clipping learning rate", T::Float, 1e-5, 1.0, 0.001, {}, 0.01,
                      "Adam learning rate of the bounds, relative to the mean channel range."});
  m.params.push_back({"recon_iters", "Reconstruction steps", T::Int, 0, 20000, 50, {}, 500,
                      "AdaRound steps per layer after the fold; 0 keeps round-to-nearest weights."});
  m.params.push_back({"recon_lr", "Rounding learning rate", T::Float, 1e-5, 1.0, 0.001, {}, 0.01,
                      "Adam learning rate of the rounding variables."});
  m.params.push_back({"recon_lambda", "Rounding regularizer", T::Float, 0.0, 10.0, 0.001, {}, 0.01,
                      "Weight of the AdaRound regularizer (beta annealed 20 -> 2 after a 20 % warm-up)."});
  m.params.push_back({"recon_act_step", "Learn activation steps", T::Bool, 0, 0, 0, {}, true,
                      "Also learn each layer's input step (LSQ) during reconstruction."});
  m.params.push_back({"recon_device", "Reconstruction device", T::Choice, 0, 0, 0, {"cpu", "cuda"}, "cpu",
                      "Where the reconstruction's Adam loop runs (same algorithm; cuda needs a CUDA LibTorch)."});
  m.presets = presets();
  return m;
}

}  // namespace

std::vector<MethodInfo> ptqMethodInfos() {
  return {percentileInfo(), omseInfo(), smoothInfo(), repqInfo(), repquantInfo()};
}

bool isPtqMethod(const std::string& id) {
  return id == "percentile" || id == "omse" || id == "smoothquant" || id == "repq-vit" || id == "repquant";
}

Result<QuantizeResult> quantizePtq(const Model& model, const Recipe& recipe, const QuantizeOptions& opts,
                                   JobContext& job) {
  if (isLanguageModelForPtq(model)) return quantizePtqLm(model, recipe, opts, job);  // compression/src/ptq_lm*.cpp
  const auto t0 = std::chrono::steady_clock::now();
  CS_TRY_RESULT(model.source(), {
    if (!model.impl()->supportsTaps() || model.task() != Task::ImageClassification)
      return Error{Error::Code::Unsupported,
                   model.name() + ": " + recipe.method + " needs activation taps and calibration images (native ViT)"};
    const auto& P = recipe.params;
    PtqConfig cfg;
    cfg.wbits = P["wbits"].get<int>();
    cfg.abits = P["abits"].get<int>();
    cfg.wSearch = rangeSearchFromString(P["w_search"].get<std::string>());
    cfg.firstLayerA8 = P["first_layer_a8"].get<bool>();
    const bool sm = P["quant_softmax"].get<bool>();
    cfg.softmax = sm ? PtqConfig::softmaxFromString(P.value("softmax", std::string("uniform"))) : PtqConfig::Softmax::None;
    const std::string& id = recipe.method;
    if (id == "percentile") {
      cfg.aSearch = RangeSearch::Percentile;
      cfg.percentile = P["percentile"].get<double>();
    } else if (id == "omse") {
      cfg.aSearch = RangeSearch::Mse;
    } else if (id == "smoothquant") {
      cfg.aSearch = RangeSearch::MinMax;
      cfg.fold = PtqConfig::Fold::Smooth;
      cfg.alpha = P["alpha"].get<double>();
    } else if (id == "repquant") {
      cfg.aSearch = RangeSearch::PercentileMse;
      cfg.fold = PtqConfig::Fold::RepQ;
      cfg.roundZero = P["round_zero"].get<bool>();
      if (sm) cfg.softmax = PtqConfig::Softmax::LogSqrt2;
      cfg.log2Split = true;
      cfg.clipIters = P["clip_iters"].get<int>();
      cfg.clipLr = P["clip_lr"].get<double>();
      cfg.recon.iters = P["recon_iters"].get<int>();
      cfg.reconstruct = cfg.recon.iters > 0;
      cfg.recon.lrRound = P["recon_lr"].get<double>();
      cfg.recon.lambda = P["recon_lambda"].get<double>();
      cfg.recon.learnActStep = P["recon_act_step"].get<bool>() && cfg.abits > 0;
      cfg.recon.seed = uint64_t(recipe.calibSeed);
      cfg.recon.device = P["recon_device"].get<std::string>();
    } else {  // repq-vit
      cfg.aSearch = RangeSearch::PercentileMse;
      const std::string rp = P["reparam"].get<std::string>();
      cfg.fold = rp == "fold" ? PtqConfig::Fold::RepQ
                              : rp == "per-channel" ? PtqConfig::Fold::PerChannelNoFold : PtqConfig::Fold::None;
      cfg.roundZero = P["round_zero"].get<bool>();
    }

    auto calib = calibrationImages(recipe.calibSamples, recipe.calibSeed);
    if (!calib) return calib.error();
    if (job.cancelled()) return Error::cancelled();
    job.progress(0.05, "calibrating " + id);
    const auto tc = std::chrono::steady_clock::now();
    PtqOutcome outc;
    try {
      JobContext sub = job.sub(0.05, 0.4);
      outc = runPtq(*model.impl(), calib->inputs, cfg, &sub);
    } catch (const ReconCancelled&) {
      return Error::cancelled();
    }
    const double calibSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tc).count();
    job.progress(0.4, "quantized");

    QuantizeResult res;
    res.recipe = recipe;
    nlohmann::json metrics = nlohmann::json::object();
    metrics["calib_samples"] = recipe.calibSamples;
    metrics["calib_seed"] = recipe.calibSeed;
    metrics["calib_hash"] = calib->hash;
    metrics["calib_seconds"] = calibSeconds;
    for (auto& l : model.layers()) {
      if (!l.quantizable) continue;
      LayerQuantReport rep;
      rep.layer = l.name;
      auto wq = outc.weightQuantizers.find(l.name);
      if (wq != outc.weightQuantizers.end()) {
        rep.wbits = cfg.wbits;
        rep.granularity = "per-channel";
        auto ref = outc.fpWeights.at(l.name).contiguous();
        auto q = outc.variant->layerWeight(l.name).detach().to(torch::kFloat).contiguous();
        rep.weightError = compareTensors(ref.data_ptr<float>(), q.data_ptr<float>(), ref.numel());
      }
      auto aq = outc.inputQuantizers.find(l.name);
      if (aq != outc.inputQuantizers.end()) {
        rep.abits = aq->second.bits;
        rep.activation = toQuantParams(aq->second);
      }
      res.layers.push_back(rep);
    }
    nlohmann::json folds = nlohmann::json::array();
    for (auto& f : outc.folds)
      folds.push_back({{"norm", f.norm},
                       {"consumer", f.consumer},
                       {"delta", f.delta},
                       {"zero_point", f.zero},
                       {"r_min", f.r.min().item<double>()},
                       {"r_max", f.r.max().item<double>()}});
    if (!folds.empty()) metrics["folds"] = folds;
    nlohmann::json clips = nlohmann::json::array();
    for (auto& c : outc.clips)
      clips.push_back({{"consumer", c.consumer},
                       {"output_mse_before", c.lossBefore},
                       {"output_mse_after", c.lossAfter},
                       {"act_mse_before", c.actMseBefore},
                       {"act_mse_after", c.actMseAfter}});
    if (!clips.empty()) metrics["dual_clipping"] = clips;
    const auto rec = detail::reconstructionJson(outc.recon);
    if (!rec.empty()) metrics["reconstruction"] = rec;
    if (!outc.operandQuantizers.empty()) metrics["matmul_operands_quantized"] = outc.operandQuantizers.size();

    auto& v = outc.variant;
    v->name = model.name() + " [" + id + " W" + std::to_string(cfg.wbits) +
              (cfg.abits > 0 ? "A" + std::to_string(cfg.abits) : "") + "]";
    v->properties["variant_of"] = model.name();
    v->properties["recipe"] = recipe.toJson().dump();
    res.variant = Model(std::shared_ptr<const ModelImpl>(v));
    res.saveInfo = ptqVariantInfo(outc);  // quantizers for saveQuantizedVariant (compression/src/variant_io.cpp)

    if (auto s = detail::addAccuracyComparison(model, res.variant, opts, job, metrics); !s) return s.error();
    metrics["quantized_layers"] = res.layers.size();
    metrics["simulated"] = true;
    res.metrics = metrics;
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    job.progress(1.0, "done");
    return res;
  })
}

}  // namespace cs::detail
