// `cstudio prune MODEL --method wanda --sparsity 0.5 [--pattern 2:4] [--si] --calib 128 --seed 0
//  [--out variant.safetensors] [--json]` and `cstudio report sparsity`.
// Method parameters become flags generated from the pruning methods' schemas.
#include "cmd_prune.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "cli_common.h"
#include "compression/prune.h"
#include "engine/llm.h"
#include "engine/runtime.h"

namespace fs = std::filesystem;

namespace cs::cli {
namespace {

struct PruneArgs {
  std::string model, recipeFile, method = "wanda", out, calibSource = "auto", evalText = "auto", separator;
  std::vector<std::string> include, exclude, ood;
  int calib = 128, calibLen = 128, seed = 0, context = 0;
  int64_t maxBytes = 0;
  bool json = false, noEval = false;
  std::map<std::string, std::string> params;
  std::set<std::string> flags;  // boolean params given as flags
};

Result<nlohmann::json> parseValue(const ParamSpec& p, const std::string& raw) {
  try {
    switch (p.type) {
      case ParamSpec::Type::Int: {
        size_t pos = 0;
        long long v = std::stoll(raw, &pos);
        if (pos != raw.size()) break;
        return nlohmann::json(v);
      }
      case ParamSpec::Type::Float: {
        size_t pos = 0;
        double v = std::stod(raw, &pos);
        if (pos != raw.size()) break;
        return nlohmann::json(v);
      }
      case ParamSpec::Type::Bool:
        if (raw == "true" || raw == "1" || raw == "yes") return nlohmann::json(true);
        if (raw == "false" || raw == "0" || raw == "no") return nlohmann::json(false);
        break;
      case ParamSpec::Type::Choice: return nlohmann::json(raw);
    }
  } catch (const std::exception&) {
  }
  return Error::badArgument("--" + p.name + ": cannot read '" + raw + "'");
}

nlohmann::json layersJson(const PruneResult& r) {
  nlohmann::json a = nlohmann::json::array();
  for (auto& l : r.layers)
    a.push_back({{"layer", l.layer},
                 {"shape", {l.rows, l.cols}},
                 {"sparsity", l.sparsity},
                 {"output_error", l.outputError},
                 {"dense_columns", l.denseColumns},
                 {"seconds", l.seconds}});
  return a;
}

int runPrune(PruneArgs& a) {
  auto job = progressJob();
  Recipe recipe;
  if (!a.recipeFile.empty()) {
    auto r = Recipe::fromFile(a.recipeFile);
    if (!r) return fail(r.error());
    recipe = *r;
  } else {
    recipe.method = a.method;
    recipe.calibSamples = a.calib;
    recipe.calibSeed = a.seed;
  }
  const MethodInfo* info = nullptr;
  for (auto& m : pruneMethods())
    if (m.id == recipe.method) info = &m;
  if (!info) return fail(Error::badArgument("unknown pruning method '" + recipe.method + "' (magnitude, wanda, sparsegpt)"));
  for (auto& [name, raw] : a.params) {
    const ParamSpec* spec = nullptr;
    for (auto& p : info->params)
      if (p.name == name) spec = &p;
    if (!spec) return fail(Error::badArgument("method '" + recipe.method + "' has no parameter --" + name));
    auto v = parseValue(*spec, raw);
    if (!v) return fail(v.error());
    recipe.params[name] = *v;
  }
  for (auto& f : a.flags) recipe.params[f] = true;
  auto model = openModel(a.model, job);
  if (!model) return fail(model.error());
  PruneOptions o;
  o.include = a.include;
  o.exclude = a.exclude;
  o.calibSource = a.calibSource;
  o.calibLength = a.calibLen;
  o.evaluate = !a.noEval;
  o.evalText = a.evalText;
  o.evalSeparator = a.separator;
  o.evalContext = a.context;
  o.evalMaxBytes = a.maxBytes;
  o.extraEvalTexts = a.ood;
  auto r = prune(*model, recipe, o, job);
  if (!r) return fail(r.error());
  if (!a.out.empty()) {
    auto st = savePruned(*r, a.out);
    if (!st) return fail(st.error());
  }
  if (a.json) {
    printJson({{"model", a.model},
               {"variant", r->variant.name()},
               {"recipe", r->recipe.toJson()},
               {"metrics", r->metrics},
               {"layers", layersJson(*r)},
               {"out", a.out}});
    return 0;
  }
  std::cout << std::left << std::setw(44) << "layer" << std::setw(14) << "shape" << std::setw(10) << "sparsity"
            << "output rel. error\n";
  for (auto& l : r->layers)
    std::cout << std::setw(44) << l.layer << std::setw(14) << (std::to_string(l.rows) + "x" + std::to_string(l.cols))
              << std::setw(10) << std::fixed << std::setprecision(3) << l.sparsity << std::setprecision(5)
              << l.outputError << "\n";
  std::cout << "sparsity " << std::setprecision(4) << r->sparsity << " over " << r->layers.size() << " layers\n";
  if (r->metrics.contains("ppl"))
    for (auto& [label, row] : r->metrics["ppl"].items())
      std::cout << "perplexity on " << label << ": dense " << std::setprecision(3)
                << (row.contains("dense") ? row["dense"].get<double>() : NAN) << ", pruned " << row["pruned"].get<double>()
                << "\n";
  if (!a.out.empty()) std::cout << "wrote " << a.out << "\n";
  return 0;
}

}  // namespace

}  // namespace cs::cli

// ---- report sparsity ----
namespace cs::cli {
namespace {

struct ReportArgs {
  std::string out = "docs/results/sparsity.md", models = "lm-fortunes,stories260K", shared = "../shared";
  std::string patterns = "unstructured,2:4,4:8", methodsList = "magnitude,wanda,sparsegpt";
  int seeds = 3, calib = 128, calibLen = 128, siEpochs = 2;
  std::string siInputs = "dense";
  int64_t oodBytes = 65536, fortunesBytes = 16384;
  bool ablations = true;
};

struct Stat {
  std::vector<double> v;
  double mean() const {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? NAN : s / v.size();
  }
  double sd() const {
    if (v.size() < 2) return 0;
    double m = mean(), s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / (v.size() - 1));
  }
};

std::string fmt(double x, int p = 2) {
  if (std::isnan(x)) return "-";
  std::ostringstream o;
  o << std::fixed << std::setprecision(p) << x;
  return o.str();
}

std::string pm(const Stat& s, int p = 2) { return fmt(s.mean(), p) + " ± " + fmt(s.sd(), p); }

double maskChange(const PruneResult& a, const PruneResult& b) {
  int64_t diff = 0, n = 0;
  for (size_t i = 0; i < a.masks.size() && i < b.masks.size(); ++i)
    for (size_t k = 0; k < a.masks[i].keep.size(); ++k) {
      diff += a.masks[i].keep[k] != b.masks[i].keep[k];
      ++n;
    }
  return n ? static_cast<double>(diff) / n : NAN;
}

int runReport(const ReportArgs& a, const std::string& commandLine) {
  auto job = progressJob();
  std::ostringstream md;
  const auto t0 = std::chrono::steady_clock::now();
  md << "# Post-training sparsity: Magnitude, Wanda, SparseGPT, each without and with Sparsity Induction\n\n"
     << "Generated by `" << commandLine << "` on this CPU (" << runtimeInfo().threads << " threads, LibTorch "
     << runtimeInfo().torchVersion << ", " << runtimeInfo().blas << "); every run is also in "
     << fs::path(a.out).replace_extension(".json").filename().string() << ".\n\n"
     << "**Settings.** Calibration: " << a.calib << " sequences of " << a.calibLen
     << " tokens per run, seeds 0.." << a.seeds - 1
     << " (lm-fortunes: random windows of the fortunes training split; stories260K: text sampled from the dense "
        "model itself at temperature 1, so it is disjoint from the evaluation stories). Pruning: every Linear of "
        "the decoder blocks (embeddings and LM head dense), layer-sequential, one-shot; unstructured 50 % ranks per "
        "layer for Magnitude, per output row for Wanda, per column block for SparseGPT (block 128, dampening 0.01); "
        "N:M keeps N of every M input columns (stories260K down_proj has 172 inputs: 4:8 keeps its last 4 columns "
        "dense). SI: " << a.siEpochs << " epochs per block on the " << (a.siInputs == "pruned" ? "inputs produced by the already trained, masked blocks" : "dense model's block inputs") << ", batches of 8 sequences, AdamW lr 5e-3, λ = 0.01, "
        "s initialised per input site to 1 or to the input's per-channel standard deviation, whichever gives the "
        "lower block loss (si_init auto), δ to the input's mean, s_a to 1; the base method's "
        "mask is recomputed every step. Evaluation: lm-fortunes on the first " << a.fortunesBytes
     << " bytes of the held-out fortunes (concatenated as [BOS] fortune [EOS] ..., non-overlapping windows of 256, "
        "one batch: faster than the model card's per-fortune protocol, so its figures differ from the card's); "
        "stories260K on "
        "tinystories_sample.txt (5 stories, [BOS] + tokens, 512) and, out of domain, the first " << a.oodBytes
     << " bytes of tinyshakespeare.txt (windows of 512). Cells: mean ± standard deviation of the perplexity over "
        "the seeds; (+x) is SI minus base. Mask changed: fraction of mask entries that differ between the base and "
        "the SI run of the same seed. SI loss: normalised block MSE + regulariser, mean over blocks, at the start "
        "(the initialisation, with its mask) and the end of training.\n\n"
     << "The paper's shape (WikiText-2 perplexity, base / +SI, Table 1): OPT-125M 50 % Magnitude 193.36 / 52.85, "
        "Wanda 38.99 / 38.00, SparseGPT 36.97 / 35.79; 2:4 Magnitude 341.45 / 226.83, Wanda 79.89 / 79.11, "
        "SparseGPT 61.44 / 60.66. SI helps Magnitude a lot, Wanda and SparseGPT a little, and not in every cell.\n\n";
  std::ostringstream timing;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& name : splitList(a.models)) {
    std::string path = name;
    PruneOptions o;
    o.calibLength = a.calibLen;
    o.keepMasks = true;
    std::string oodLabel;
    if (name == "stories260K") {
      path = a.shared + "/data/weights/stories260K/stories260K.bin";
      o.extraEvalTexts = {a.shared + "/data/text/tinyshakespeare.txt"};
      o.evalMaxBytes = a.oodBytes;
      oodLabel = "tinyshakespeare.txt";
    }
    if (name == "lm-fortunes") o.evalMaxBytes = a.fortunesBytes;
    auto model = openModel(path, job);
    if (!model) return fail(model.error());
    // dense figures once (the same evaluation windows for every variant)
    Recipe r0;
    r0.method = "magnitude";
    r0.calibSamples = 1;
    r0.params = {{"sparsity", 0.0}};
    PruneOptions od = o;
    od.calibLength = 8;
    auto dense = prune(*model, r0, od, job);
    if (!dense) return fail(dense.error());
    const auto densePpl = dense->metrics["ppl"];
    o.evaluateDense = false;
    md << "## " << name << "\n\n";
    md << "Dense perplexity: ";
    for (auto& [label, row] : densePpl.items()) md << label << " " << fmt(row["dense"].get<double>(), 3) << " (" << row["tokens"].get<int64_t>() << " tokens, context " << row["context"].get<int>() << "); ";
    md << "\n\n";
    // out-of-domain text: cap bytes through a second pass only for that file
    std::vector<std::string> labels;
    for (auto& [label, row] : densePpl.items()) labels.push_back(label);
    md << "| pattern | method | " ;
    for (auto& l : labels) md << l << " base | " << l << " +SI | ";
    md << "mask changed by SI | SI loss start → end |\n|---|---|";
    for (size_t k = 0; k < labels.size(); ++k) md << "---|---|";
    md << "---|---|\n";
    for (const auto& pattern : splitList(a.patterns)) {
      for (const auto& method : splitList(a.methodsList)) {
        std::map<std::string, Stat> base, withSi;
        Stat changed, lossA, lossB, tBase, tSi, tSiTrain, memBase, memSi;
        for (int seed = 0; seed < a.seeds; ++seed) {
          PruneResult runs[2];
          for (int si = 0; si < 2; ++si) {
            Recipe rc;
            rc.method = method;
            rc.calibSamples = a.calib;
            rc.calibSeed = seed;
            rc.params = {{"pattern", pattern}, {"sparsity", 0.5}, {"si", si == 1}};
            if (si) {
              rc.params["si_epochs"] = a.siEpochs;
              rc.params["si_inputs"] = a.siInputs;
            }
            job.progress(0, name + " " + pattern + " " + method + (si ? "+SI" : "") + " seed " + std::to_string(seed));
            auto r = prune(*model, rc, o, job);
            if (!r) return fail(r.error());
            for (auto& [label, row] : r->metrics["ppl"].items()) (si ? withSi : base)[label].v.push_back(row["pruned"]);
            (si ? tSi : tBase).v.push_back(r->metrics["prune"]["seconds"]);
            (si ? memSi : memBase).v.push_back(r->metrics["prune"]["peak_rss_mib"]);
            if (si) {
              tSiTrain.v.push_back(r->metrics["si"]["seconds"]);
              const auto& ls = r->metrics["si"]["loss_start"];
              const auto& le = r->metrics["si"]["loss_end"];
              double s = 0, e = 0;
              for (size_t k = 0; k < ls.size(); ++k) {
                s += ls[k].get<double>();
                e += le[k].get<double>();
              }
              lossA.v.push_back(s / ls.size());
              lossB.v.push_back(e / le.size());
            }
            all.push_back({{"model", name}, {"pattern", pattern}, {"method", method}, {"si", si == 1}, {"seed", seed},
                           {"metrics", r->metrics}});
            runs[si] = std::move(*r);
          }
          changed.v.push_back(maskChange(runs[0], runs[1]));
        }
        md << "| " << pattern << " | " << method << " | ";
        for (auto& l : labels) {
          const double d = withSi[l].mean() - base[l].mean();
          md << pm(base[l]) << " | " << pm(withSi[l]) << " (" << (d <= 0 ? "" : "+") << fmt(d) << ") | ";
        }
        md << fmt(100 * changed.mean(), 1) << "% | " << fmt(lossA.mean(), 4) << " → " << fmt(lossB.mean(), 4) << " |\n";
        timing << "| " << name << " | " << pattern << " | " << method << " | " << fmt(tBase.mean(), 2) << " | "
               << fmt(memBase.mean(), 0) << " | " << fmt(tSiTrain.mean(), 2) << " | " << fmt(memSi.mean(), 0) << " |\n";
        std::cerr << md.str().substr(md.str().rfind("| " + pattern)) << std::flush;
        std::ofstream(a.out) << md.str() << "\n(report still running: rows so far)\n";  // partial results survive a kill
      }
    }
    md << "\n";
    if (a.ablations) {
      md << "Ablations (seed 0; " << labels.front() << " perplexity; base = no SI):\n\n"
         << "| pattern | method | base | SI (full) | s only | δ only | s and δ, no s_a | λ = 0 | init (m−μ)² |\n"
         << "|---|---|---|---|---|---|---|---|---|\n";
      const std::vector<std::pair<std::string, std::string>> cells = {{"unstructured", "magnitude"}, {"2:4", "wanda"}};
      const std::vector<nlohmann::json> variants = {
          {{"si", false}},
          {{"si", true}},
          {{"si", true}, {"si_shift", false}},
          {{"si", true}, {"si_scale", false}, {"si_qk", false}},
          {{"si", true}, {"si_qk", false}},
          {{"si", true}, {"si_lambda", 0.0}},
          {{"si", true}, {"si_init", "paper"}}};
      for (auto& [pattern, method] : cells) {
        md << "| " << pattern << " | " << method << " | ";
        for (auto& v : variants) {
          Recipe rc;
          rc.method = method;
          rc.calibSamples = a.calib;
          rc.calibSeed = 0;
          rc.params = v;
          rc.params["pattern"] = pattern;
          if (v["si"].get<bool>()) {
            rc.params["si_epochs"] = a.siEpochs;
            rc.params["si_inputs"] = a.siInputs;
          }
          job.progress(0, name + " ablation " + pattern + " " + method + " " + v.dump());
          auto r = prune(*model, rc, o, job);
          if (!r) return fail(r.error());
          md << fmt(r->metrics["ppl"][labels.front()]["pruned"].get<double>()) << " | ";
          all.push_back({{"model", name}, {"ablation", v}, {"pattern", pattern}, {"method", method}, {"metrics", r->metrics}});
        }
        md << "\n";
      }
      md << "\n";
    }
  }
  md << "## Time and peak memory on this CPU\n\n"
     << "Means over the seeds. Pruning time covers the layer-sequential pass (calibration forward through the "
        "already-pruned blocks, statistics, masks, SparseGPT updates); SI time is the block-wise training "
        "and the fold. Peak memory is the process's resident peak (VmHWM, reset before each phase), "
        "so it includes the model, the calibration activations and the runtime.\n\n"
     << "| model | pattern | method | prune s | prune peak MiB | SI train s | with SI: prune peak MiB |\n"
     << "|---|---|---|---|---|---|---|\n"
     << timing.str() << "\n";
  md << "Total report time: " << fmt(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / 60.0, 1)
     << " min.\n";
  std::ofstream f(a.out);
  if (!f) return fail(Error::notFound(a.out + ": cannot write"));
  f << md.str();
  auto jsonPath = fs::path(a.out).replace_extension(".json").string();
  std::ofstream j(jsonPath);
  j << all.dump(1);
  std::cout << md.str();
  return 0;
}

}  // namespace
}  // namespace cs::cli

void addPruneCommands(CLI::App& app) {
  using namespace cs;
  using namespace cs::cli;
  static PruneArgs a;
  auto* p = app.add_subcommand("prune", "Prune a language model (magnitude, wanda, sparsegpt; --si for Sparsity Induction)");
  p->add_option("model", a.model, "Zoo name (lm-fortunes), HF directory, studio .safetensors or llama2.c .bin")->required();
  p->add_option("--method", a.method, "magnitude, wanda or sparsegpt");
  p->add_option("--recipe", a.recipeFile, "Recipe JSON (method, params, calibration)");
  p->add_option("--calib", a.calib, "Calibration sequences")->check(CLI::Range(1, 100000));
  p->add_option("--calib-len", a.calibLen, "Tokens per calibration sequence")->check(CLI::Range(2, 100000));
  p->add_option("--calib-source", a.calibSource, "auto, fortunes, generated, or a text file");
  p->add_option("--seed", a.seed, "Calibration seed");
  p->add_option("--layers", a.include, "Only layers matching these globs")->delimiter(',');
  p->add_option("--exclude", a.exclude, "Skip layers matching these globs")->delimiter(',');
  p->add_option("--eval-text", a.evalText, "Perplexity text: auto, fortunes-heldout, or a file ('' = none)");
  p->add_option("--separator", a.separator, "Split --eval-text into documents on this string");
  p->add_option("--context", a.context, "Perplexity window (0: default)");
  p->add_option("--max-bytes", a.maxBytes, "Only the first bytes of the evaluation files");
  p->add_option("--ood-text", a.ood, "More evaluation files (e.g. out-of-domain text)");
  p->add_flag("--no-eval", a.noEval, "Skip perplexity");
  p->add_option("--out", a.out, "Write the variant (.safetensors) and its masks beside it");
  p->add_flag("--json", a.json, "JSON on stdout");
  std::set<std::string> seen;
  for (auto& m : pruneMethods())
    for (auto& ps : m.params) {
      if (!seen.insert(ps.name).second) continue;
      if (ps.type == ParamSpec::Type::Bool) {
        p->add_flag_function("--" + ps.name, [name = ps.name](int64_t) { a.flags.insert(name); }, ps.help);
        continue;
      }
      auto* opt = p->add_option_function<std::string>(
          "--" + ps.name, [name = ps.name](const std::string& v) { a.params[name] = v; }, ps.help);
      if (ps.type == ParamSpec::Type::Choice) opt->check(CLI::IsMember(ps.choices));
    }
  p->add_option_function<std::string>("--no", [](const std::string& v) { a.params[v] = "false"; },
                                      "Turn a boolean parameter off (e.g. --no si_shift)");
  p->callback([] {
    int rc = runPrune(a);
    if (rc != 0) std::exit(rc);
  });

  static ReportArgs ra;
  CLI::App* rep = nullptr;
  try {
    rep = app.get_subcommand("report");
  } catch (const std::exception&) {
    rep = app.add_subcommand("report", "Generate a results report");
    rep->require_subcommand(1);
  }
  auto* rs = rep->add_subcommand("sparsity", "Pruners with and without SI on lm-fortunes and stories260K (docs/results/sparsity.md)");
  rs->add_option("--out", ra.out, "Markdown file (tables are written to <out>.tables.md, runs to <out>.json)");
  rs->add_option("--models", ra.models, "Comma-separated: lm-fortunes, stories260K, or paths");
  rs->add_option("--shared", ra.shared, "The ../shared folder (stories260K and its texts)");
  rs->add_option("--patterns", ra.patterns, "Comma-separated: unstructured,2:4,4:8");
  rs->add_option("--methods", ra.methodsList, "Comma-separated: magnitude,wanda,sparsegpt");
  rs->add_option("--seeds", ra.seeds, "Calibration seeds")->check(CLI::Range(1, 10));
  rs->add_option("--calib", ra.calib, "Calibration sequences")->check(CLI::Range(1, 100000));
  rs->add_option("--calib-len", ra.calibLen, "Tokens per sequence")->check(CLI::Range(2, 4096));
  rs->add_option("--si-epochs", ra.siEpochs, "SI epochs")->check(CLI::Range(0, 100));
  rs->add_option("--si-inputs", ra.siInputs, "SI block inputs: dense or pruned")->check(CLI::IsMember({"dense", "pruned"}));
  rs->add_option("--fortunes-bytes", ra.fortunesBytes, "Held-out fortunes scored (bytes, 0 = all)");
  rs->add_option("--ood-bytes", ra.oodBytes, "Bytes of the out-of-domain text scored");
  rs->add_flag("!--no-ablations", ra.ablations, "Skip the SI ablations");
  rs->callback([] {
    std::ostringstream cmd;
    cmd << "cstudio report sparsity --models " << ra.models << " --patterns " << ra.patterns << " --methods "
        << ra.methodsList << " --seeds " << ra.seeds << " --calib " << ra.calib << " --calib-len " << ra.calibLen
        << " --si-epochs " << ra.siEpochs << (ra.siInputs == "dense" ? "" : " --si-inputs " + ra.siInputs) << " --fortunes-bytes " << ra.fortunesBytes << " --ood-bytes " << ra.oodBytes
        << (ra.ablations ? "" : " --no-ablations");
    int rc = runReport(ra, cmd.str());
    if (rc != 0) std::exit(rc);
  });
}
