// The pruning facade: method registry (magnitude, wanda, sparsegpt; SI as an option),
// layer selection, layer-sequential one-shot pruning over calibration data, reports,
// masks, timings, peak memory, perplexity, and saving variants with their masks.
#include "compression/prune.h"

#include <chrono>
#include <filesystem>
#include <fnmatch.h>
#include <fstream>
#include <set>
#include <sstream>

#include "compression/torch/prune_ops.h"
#include "engine/torch/tensors.h"
#include "prune/calib.h"

namespace fs = std::filesystem;

namespace cs {

using detail::DecoderLM;
namespace P = detail::prune;

namespace {

MethodInfo pruneInfo(const std::string& id, const std::string& name, const std::string& description) {
  MethodInfo m;
  m.id = id;
  m.name = name;
  m.kind = "pruning";
  m.description = description;
  using T = ParamSpec::Type;
  m.params = {
      {"sparsity", "Sparsity", T::Float, 0.0, 0.99, 0.05, {}, 0.5,
       "Fraction of zero weights per pruned layer (unstructured pattern; N:M sets its own)."},
      {"pattern", "Pattern", T::Choice, 0, 0, 0, {"unstructured", "2:4", "4:8"}, "unstructured",
       "Unstructured, or N:M: N weights kept in every M consecutive input columns."},
      {"scope", "Comparison group", T::Choice, 0, 0, 0, {"auto", "layer", "row"}, "auto",
       "Unstructured only: rank scores over the whole layer or within each output row (auto: magnitude per "
       "layer, Wanda per row, SparseGPT per column block)."},
      {"si", "Sparsity Induction", T::Bool, 0, 0, 0, {}, false,
       "Train foldable per-channel scales/shifts (and q/k scales) block by block before pruning."},
      {"si_epochs", "SI epochs", T::Int, 0, 50, 1, {}, 2, "Passes over the calibration sequences per block."},
      {"si_lr", "SI learning rate", T::Float, 1e-5, 1.0, 1e-3, {}, 5e-3, "AdamW learning rate of log s, delta, log s_a."},
      {"si_lambda", "SI regulariser weight", T::Float, 0.0, 10.0, 0.01, {}, 0.01,
       "lambda of lambda*exp(-alpha*sum ||W||_2) (0 = ablation without the spectral term)."},
      {"si_scale", "SI scales", T::Bool, 0, 0, 0, {}, true, "Train the per-input-channel scale s."},
      {"si_shift", "SI shifts", T::Bool, 0, 0, 0, {}, true, "Train the per-input-channel shift delta."},
      {"si_qk", "SI query/key scale", T::Bool, 0, 0, 0, {}, true, "Train s_a (q rows * s_a, k rows / s_a)."},
      {"si_init", "SI scale init", T::Choice, 0, 0, 0, {"auto", "rms", "paper", "ones"}, "auto",
       "auto: per site, s = 1 or the rms start, whichever gives the lower block loss; rms: s = std of the layer "
       "input; paper: (median - mean)^2 (eq. 5, on inputs); ones: s = 1."},
      {"si_inputs", "SI block inputs", T::Choice, 0, 0, 0, {"dense", "pruned"}, "dense",
       "dense: each block trains on the dense model's block inputs; pruned: on the outputs of the already "
       "trained, masked blocks before it (the inputs the pruner will see)."},
  };
  if (id == "sparsegpt") {
    m.params.push_back({"blocksize", "Column block", T::Int, 8, 4096, 8, {}, 128,
                        "Columns per lazy-update block (multiple of M for N:M)."});
    m.params.push_back({"damp", "Dampening", T::Float, 0.0, 1.0, 0.005, {}, 0.01,
                        "Added to the Hessian diagonal, as a fraction of its mean."});
  }
  m.presets = {{"50%", {{"pattern", "unstructured"}, {"sparsity", 0.5}, {"si", false}}},
               {"2:4", {{"pattern", "2:4"}, {"si", false}}},
               {"4:8", {{"pattern", "4:8"}, {"si", false}}},
               {"50% + SI", {{"pattern", "unstructured"}, {"sparsity", 0.5}, {"si", true}}},
               {"2:4 + SI", {{"pattern", "2:4"}, {"si", true}}}};
  return m;
}

bool globMatch(const std::string& pat, const std::string& s) { return fnmatch(pat.c_str(), s.c_str(), 0) == 0; }

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::vector<float> toVec(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kFloat32).contiguous().reshape({-1});
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

}  // namespace

const std::vector<MethodInfo>& pruneMethods() {
  static const std::vector<MethodInfo> all = {
      pruneInfo("magnitude", "Magnitude pruning",
                "Removes the weights of smallest |W| (per layer by default). One-shot, no weight update."),
      pruneInfo("wanda", "Wanda (|W| x input norm)",
                "Removes the smallest |W_ij| * ||X_j||_2 within each output row, with X from calibration text "
                "through the already-pruned earlier layers. No weight update."),
      pruneInfo("sparsegpt", "SparseGPT (OBS with inverse-Hessian updates)",
                "Prunes column by column, compensating each removed weight's error in the remaining columns "
                "through the inverse Hessian of the layer inputs (blocked, dampened; N:M supported)."),
  };
  return all;
}

bool isPruneMethod(const std::string& id) {
  for (auto& m : pruneMethods())
    if (m.id == id) return true;
  return false;
}

double peakRssMiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

bool resetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  return static_cast<bool>(f);
}

Result<PruneResult> prune(const Model& model, const Recipe& recipe0, const PruneOptions& opts, JobContext& job) {
  if (!model.valid()) return Error::badArgument("no model");
  if (model.task() != Task::LanguageModel || !dynamic_cast<const DecoderLM*>(model.impl().get()))
    return Error{Error::Code::Unsupported, model.source() + ": pruning needs a decoder language model (LLaMA or OPT)"};
  const MethodInfo* info = nullptr;
  for (auto& m : pruneMethods())
    if (m.id == recipe0.method) info = &m;
  if (!info) return Error::badArgument("unknown pruning method '" + recipe0.method + "' (magnitude, wanda, sparsegpt)");
  Recipe recipe = recipe0;
  if (auto err = info->validate(recipe.params); !err.empty()) return Error::badArgument(err);
  if (recipe.calibSamples < 1) return Error::badArgument("calibration needs at least one sequence");
  const auto t0 = std::chrono::steady_clock::now();
  CS_TRY_RESULT(model.source(), {
    c10::InferenceMode notInference(false);  // SI trains with autograd; weights are edited in place
    const auto& Pm = recipe.params;
    const std::string method = recipe.method, patternName = Pm["pattern"];
    P::Pattern pat;
    pat.sparsity = Pm["sparsity"].get<double>();
    if (patternName != "unstructured") {
      pat.n = std::stoi(patternName.substr(0, patternName.find(':')));
      pat.m = std::stoi(patternName.substr(patternName.find(':') + 1));
      pat.sparsity = 1.0 - static_cast<double>(pat.n) / pat.m;
    }
    const std::string scope = Pm["scope"];
    pat.scope = scope == "layer" ? P::Scope::Layer
                : scope == "row" ? P::Scope::Row
                : method == "magnitude" ? P::Scope::Layer
                : method == "wanda" ? P::Scope::Row
                                    : P::Scope::Block;
    const bool si = Pm["si"];
    auto lm = LanguageModel::fromModel(model);
    if (!lm) return lm.error();
    const auto& src = static_cast<const DecoderLM&>(*model.impl());
    auto work = std::static_pointer_cast<DecoderLM>(src.clone());
    const auto& cfg = work->config();

    // layer selection
    std::vector<std::string> selected;
    for (int64_t i = 0; i < cfg.layers; ++i)
      for (auto& g : P::blockLinearGroups(*work, i))
        for (auto& l : g) {
          bool in = opts.include.empty();
          for (auto& p : opts.include) in = in || globMatch(p, l);
          for (auto& p : opts.exclude) in = in && !globMatch(p, l);
          if (in) selected.push_back(l);
        }
    if (selected.empty()) return Error::badArgument("no decoder-block Linear matches the layer selection");
    std::set<std::string> selSet(selected.begin(), selected.end());

    PruneResult res;
    nlohmann::json metrics;
    // calibration
    auto tc = std::chrono::steady_clock::now();
    auto calibJob = job.sub(0.0, 0.05);
    auto calib = prunedetail::makeCalibration(*lm, opts.calibSource, recipe.calibSamples, opts.calibLength,
                                              recipe.calibSeed, calibJob);
    if (!calib) return calib.error();
    std::ostringstream hs;
    hs << std::hex << calib->hash;
    metrics["calibration"] = {{"source", calib->source},     {"sequences", calib->tokens.size(0)},
                              {"length", calib->tokens.size(1)}, {"seed", recipe.calibSeed},
                              {"fnv1a", hs.str()},            {"seconds", since(tc)}};

    // Sparsity Induction
    std::map<std::string, torch::Tensor> shifts;
    std::map<std::string, torch::Tensor> siScaleOfLayer;
    if (si) {
      P::SiOptions so;
      so.metric = method;
      so.pattern = pat;
      so.epochs = Pm["si_epochs"];
      so.lr = Pm["si_lr"];
      so.lambda = Pm["si_lambda"];
      so.scale = Pm["si_scale"];
      so.shift = Pm["si_shift"];
      so.qk = Pm["si_qk"];
      so.init = Pm["si_init"];
      so.prunedInputs = Pm["si_inputs"].get<std::string>() == "pruned";
      resetPeakRss();
      auto siJob = job.sub(0.05, 0.6);
      torch::AutoGradMode grad(true);
      auto r = P::sparsityInduction(*work, calib->tokens, selected, so, siJob);
      shifts = r.shifts;
      for (auto& site : r.sites)
        for (auto& l : site.layers) siScaleOfLayer[l] = torch::tensor(site.scale);
      metrics["si"] = {{"seconds", r.seconds},  {"steps", r.steps},         {"epochs", so.epochs},
                       {"lr", so.lr},           {"lambda", so.lambda},      {"init", so.init},
                       {"scale", so.scale},     {"shift", so.shift},        {"qk", so.qk}, {"inputs", so.prunedInputs ? "pruned" : "dense"},
                       {"loss_start", r.lossStart}, {"loss_end", r.lossEnd}, {"rms_sites", r.rmsSites},
                       {"peak_rss_mib", peakRssMiB()}};
      // LLaMA linears have no bias: the shift's correction b + (W - W_pruned)·delta needs one.
      if (!shifts.empty() && cfg.arch != "opt") {
        torch::NoGradGuard ng;
        work->mutableConfig().attentionBias = true;
        work->mutableConfig().mlpBias = true;
        for (int64_t i = 0; i < cfg.layers; ++i)
          for (auto& g : P::blockLinearGroups(*work, i))
            for (auto& l : g)
              if (!work->hasWeight(l + ".bias")) work->setWeight(l + ".bias", torch::zeros({work->weight(l + ".weight").size(0)}));
      }
    }

    // layer-sequential pruning
    torch::NoGradGuard ng;
    resetPeakRss();
    const auto tp = std::chrono::steady_clock::now();
    auto pruneJob = job.sub(si ? 0.6 : 0.05, 0.85);
    std::vector<torch::Tensor> h;
    detail::ForwardCtx plain;
    const int64_t B = 16;
    for (int64_t b0 = 0; b0 < calib->tokens.size(0); b0 += B)
      h.push_back(work->embed(calib->tokens.narrow(0, b0, std::min<int64_t>(B, calib->tokens.size(0) - b0)), plain));
    const std::string viewLayer = opts.siViewLayer.empty() ? selected.front() : opts.siViewLayer;
    int64_t zeros = 0, total = 0;
    size_t doneLayers = 0;
    for (int64_t i = 0; i < cfg.layers; ++i) {
      for (auto& g : P::blockLinearGroups(*work, i)) {
        std::vector<std::string> sel;
        for (auto& l : g)
          if (selSet.count(l)) sel.push_back(l);
        if (sel.empty()) continue;
        std::map<std::string, P::InputStats> stats;
        detail::TapObserver obs = [&](const std::string& point, detail::TapKind kind, const torch::Tensor& x) {
          if (kind == detail::TapKind::LayerInput && std::find(sel.begin(), sel.end(), point) != sel.end())
            stats[point].add(x);
          return x;
        };
        detail::ForwardCtx ctx{nullptr, &obs};
        for (auto& hb : h) work->block(i, hb, ctx);
        for (auto& l : sel) {
          if (job.cancelled()) return Error::cancelled();
          const auto tl = std::chrono::steady_clock::now();
          auto W = work->weight(l + ".weight");
          auto shift = shifts.count(l) ? shifts[l] : torch::Tensor();
          const auto& st = stats.at(l);
          auto Hs = st.hessian(shift);
          torch::Tensor Wp, keep, scores;
          if (method == "sparsegpt") {
            auto o = P::sparseGpt(W, Hs, pat, Pm["blocksize"].get<int>(), Pm["damp"].get<double>());
            Wp = o.weight;
            keep = o.keep;
          } else {
            scores = method == "magnitude" ? P::magnitudeScores(W) : P::wandaScores(W, st.sqNorm(shift));
            keep = P::maskFromScores(scores, pat);
            Wp = W * keep;
          }
          if (opts.siView && l == viewLayer) {
            // scores of the layer as it is now (after SI when on) and of the untransformed layer
            auto sq = st.sqNorm(shift).to(torch::kFloat32);
            auto after = method == "magnitude" ? P::magnitudeScores(W) : P::wandaScores(W, sq);
            torch::Tensor s = siScaleOfLayer.count(l) ? siScaleOfLayer[l] : torch::ones({W.size(1)});
            auto Wo = W / s.unsqueeze(0);
            auto before = method == "magnitude" ? P::magnitudeScores(Wo) : P::wandaScores(Wo, st.sqNorm() * s.to(torch::kFloat64).pow(2));
            res.siView.layer = l;
            res.siView.scale = toVec(s);
            res.siView.shift = shift.defined() ? toVec(shift * s) : std::vector<float>(static_cast<size_t>(W.size(1)), 0.f);
            res.siView.scoresBefore = toVec(before);
            res.siView.scoresAfter = toVec(after);
          }
          if (shift.defined()) {
            auto b = work->hasWeight(l + ".bias") ? work->weight(l + ".bias") : torch::zeros({W.size(0)});
            work->setWeight(l + ".bias", (b + torch::mv(W - Wp, shift)).contiguous());
          }
          LayerPruneReport rep;
          rep.layer = l;
          rep.rows = W.size(0);
          rep.cols = W.size(1);
          const int64_t z = (Wp == 0).sum().item<int64_t>();
          rep.sparsity = static_cast<double>(z) / static_cast<double>(Wp.numel());
          rep.outputError = P::relOutputError(W, Wp, Hs, st.gram);
          rep.denseColumns = pat.nm() ? W.size(1) % pat.m : 0;
          work->setWeight(l + ".weight", Wp.contiguous());
          rep.seconds = since(tl);
          zeros += z;
          total += Wp.numel();
          res.layers.push_back(rep);
          if (opts.keepMasks) {
            LayerMask mk;
            mk.layer = l;
            mk.rows = W.size(0);
            mk.cols = W.size(1);
            auto k8 = keep.to(torch::kUInt8).contiguous();
            mk.keep.assign(k8.data_ptr<uint8_t>(), k8.data_ptr<uint8_t>() + k8.numel());
            res.masks.push_back(std::move(mk));
          }
          ++doneLayers;
          pruneJob.progress(static_cast<double>(doneLayers) / selected.size(),
                            "pruning " + l + " (" + std::to_string(doneLayers) + "/" + std::to_string(selected.size()) + ")");
        }
      }
      for (auto& hb : h) hb = work->block(i, hb, plain);
    }
    metrics["prune"] = {{"seconds", since(tp)}, {"peak_rss_mib", peakRssMiB()}, {"layers", selected.size()}};
    res.sparsity = total ? static_cast<double>(zeros) / total : 0.0;

    work->name = src.name + "-" + method + (si ? "-si" : "") + "-" + patternName;
    work->properties["pruning.method"] = method + (si ? "+si" : "");
    work->properties["pruning.pattern"] = patternName;
    work->properties["pruning.recipe"] = recipe.toJson().dump();
    res.variant = Model(std::shared_ptr<const detail::ModelImpl>(work));
    res.recipe = recipe;

    // evaluation
    if (opts.evaluate) {
      const auto te = std::chrono::steady_clock::now();
      auto variantLm = LanguageModel::fromModel(res.variant);
      if (!variantLm) return variantLm.error();
      auto specs = prunedetail::evalSpecs(src, opts);
      nlohmann::json ppl = nlohmann::json::object();
      for (size_t k = 0; k < specs.size(); ++k) {
        auto& e = specs[k];
        auto ej = job.sub(0.85 + 0.15 * k / specs.size(), 0.85 + 0.15 * (k + 1) / specs.size());
        nlohmann::json row = {{"context", e.context}, {"file", e.file}};
        if (opts.evaluateDense) {
          auto d = prunedetail::evaluate(*lm, e, ej);
          if (!d) return d.error();
          row["dense"] = d->ppl;
          row["dense_nll"] = d->meanNll;
        }
        auto pr = prunedetail::evaluate(*variantLm, e, ej);
        if (!pr) return pr.error();
        row["pruned"] = pr->ppl;
        row["pruned_nll"] = pr->meanNll;
        row["tokens"] = pr->tokens;
        ppl[e.label] = row;
      }
      metrics["ppl"] = ppl;
      metrics["eval_seconds"] = since(te);
    }
    metrics["method"] = method;
    metrics["si"]["enabled"] = si;
    metrics["pattern"] = patternName;
    metrics["sparsity"] = res.sparsity;
    metrics["layers_pruned"] = selected.size();
    metrics["seconds_total"] = since(t0);
    res.metrics = metrics;
    res.seconds = since(t0);
    return res;
  })
}

Status savePruned(const PruneResult& r, const std::string& path) {
  if (!r.variant.valid()) return Error::badArgument("no variant to save");
  return detail::guarded(path, [&]() -> Status {
    const auto& m = static_cast<const DecoderLM&>(*r.variant.impl());
    const auto maskPath = (fs::path(path).parent_path() / (fs::path(path).stem().string() + ".masks.safetensors")).string();
    std::map<std::string, std::string> meta = {{"name", m.name},
                                               {"pruning_recipe", r.recipe.toJson().dump()},
                                               {"pruning_metrics", r.metrics.dump()},
                                               {"pruning_masks", fs::path(maskPath).filename().string()}};
    auto st = detail::saveDecoderLM(m, path, /*fp16=*/false, meta);
    if (!st) return st;
    std::vector<std::pair<std::string, torch::Tensor>> ts;
    for (auto& mk : r.masks) {
      auto t = torch::from_blob(const_cast<uint8_t*>(mk.keep.data()), {mk.rows, mk.cols}, torch::kUInt8).clone();
      ts.emplace_back(mk.layer + ".mask", t);
    }
    return detail::writeSafeTensors(maskPath, ts, {{"pruning_recipe", r.recipe.toJson().dump()}, {"variant", fs::path(path).filename().string()}});
  });
}

}  // namespace cs
