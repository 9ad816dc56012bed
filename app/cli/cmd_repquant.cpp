// `cstudio report repquant [--model vit-fmnist] [--eval-samples N] [--seeds 3] [--calib 32]
//  [--out docs/results/repquant.md] [--json]`: the RepQ-ViT comparison table (FP, RTN,
// percentile, OMSE, SmoothQuant, RepQ-ViT and its ablations, RepQuant and its ablations at
// W8A8/W6A6/W4A8/W4A4), averaged over calibration seeds, through the same quantize()
// facade as `cstudio quantize`, with each method's calibration time and peak memory.
// Register with cs::cli::addReportCommands(app) in main.cpp.
#include <CLI/CLI.hpp>

#include <chrono>
#include <sys/resource.h>
#include <cmath>
#include <ctime>
#include <fstream>
#include <string>
#include <iomanip>
#include <iostream>
#include <map>
#include <algorithm>
#include <sstream>

#include "cli_common.h"
#include "compression/quantize.h"
#include "engine/model.h"
#include "engine/runtime.h"

namespace cs::cli {
void addReportCommands(CLI::App& app);

namespace {

struct ReportArgs {
  std::string model = "vit-fmnist", out;
  int evalSamples = 10000, seeds = 3, calib = 32;
  bool json = false, noFp = false;
  std::string commandLine;
  std::vector<int> rows;          // subset of row indexes (0-based); empty: all
  std::vector<std::string> bits;  // subset of W8A8,W6A6,W4A8,W4A4; empty: all
  std::vector<int> onlySeeds;     // subset of 0..seeds-1 (completing a partial run set); empty: all
  std::string jsonOut, merge;     // save the runs; render from saved runs instead of running
  std::string reconDevice = "cpu";  // repquant rows: where the reconstruction loop runs
};

struct Row {
  std::string label, method;
  nlohmann::json params;
};

std::vector<Row> allRows() {
  return {
      {"RTN (min-max; softmax FP)", "rtn", nlohmann::json::object()},
      {"Percentile (0.9999)", "percentile", nlohmann::json::object()},
      {"OMSE (MSE-optimal clipping)", "omse", nlohmann::json::object()},
      {"SmoothQuant (alpha 0.5)", "smoothquant", nlohmann::json::object()},
      {"Per-tensor pct-MSE, uniform softmax (RepQ ablation 1)", "repq-vit",
       {{"reparam", "per-tensor"}, {"softmax", "uniform"}}},
      {"Per-tensor pct-MSE, log-sqrt2 softmax (ablation 2)", "repq-vit", {{"reparam", "per-tensor"}}},
      {"Per-channel post-LN, not folded (ablation 3, upper bound)", "repq-vit", {{"reparam", "per-channel"}}},
      {"**RepQ-ViT** (fold, fractional z)", "repq-vit", nlohmann::json::object()},
      {"RepQ-ViT, integer z (exact fold)", "repq-vit", {{"round_zero", true}}},
      {"**RepQuant** (dual clip + fold + log2 softmax + AdaRound)", "repquant", nlohmann::json::object()},
      {"RepQuant without reconstruction (dual clip only)", "repquant", {{"recon_iters", 0}}},
      {"RepQuant without dual clipping (reconstruction only)", "repquant", {{"clip_iters", 0}}},
      {"OMSE, twin-uniform softmax (PTQ4ViT-style)", "omse", {{"softmax", "twin-uniform"}}},
      {"Per-tensor pct-MSE, twin-uniform softmax (ablation 1 with PTQ4ViT's softmax)", "repq-vit",
       {{"reparam", "per-tensor"}, {"softmax", "twin-uniform"}}},
  };
}

// Resident-set figures of this process in MiB from /proc/self/status ("VmRSS", "VmHWM"); -1 if unavailable.
double procStatusMiB(const std::string& key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;  // kB
  return -1;
}
// CPU time (user + system, all threads) of this process so far, in seconds.
double processCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}
// Resets the RSS high-water mark (Linux: "5" to /proc/self/clear_refs); false if not possible.
bool resetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  return bool(f.flush());
}

const std::vector<std::pair<int, int>> kBits = {{8, 8}, {6, 6}, {4, 8}, {4, 4}};

std::string fmtPct(double v, int prec = 2) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(prec) << v * 100;
  return s.str();
}

std::pair<double, double> meanStd(const std::vector<double>& v) {
  double m = 0, s = 0;
  for (double x : v) m += x;
  m /= v.size();
  for (double x : v) s += (x - m) * (x - m);
  return {m, v.size() > 1 ? std::sqrt(s / (v.size() - 1)) : 0.0};
}

// One quantize + evaluate per (row, bits, seed); each run as a JSON record.
Status computeRuns(const ReportArgs& a, nlohmann::json& out) {
  auto job = progressJob(false);
  auto m = openModel(a.model, job);
  if (!m) return m.error();
  double fpAcc = -1;  // -1: not evaluated here (--no-fp; another run set of a merge has it)
  if (!a.noFp) {
    auto fp = evaluateModel(*m, a.evalSamples, job);
    if (!fp) return fp.error();
    fpAcc = (*fp)["accuracy"];
  }
  out = {{"model", m->name()},
         {"fp_accuracy", fpAcc},
         {"eval_samples", a.evalSamples},
         {"calib_samples", a.calib},
         {"seeds", a.seeds},
         {"threads", runtimeInfo().threads},
         {"command", a.commandLine},
         {"runs", nlohmann::json::array()}};
  const auto all = allRows();
  std::vector<int> pick = a.rows;
  if (pick.empty())
    for (int i = 0; i < int(all.size()); ++i) pick.push_back(i);
  for (int ri : pick) {
    if (ri < 0 || ri >= int(all.size())) return Error::badArgument("--rows: no row " + std::to_string(ri));
    const Row& row = all[ri];
    for (auto [w, x] : kBits) {
      const std::string bits = "W" + std::to_string(w) + "A" + std::to_string(x);
      if (!a.bits.empty() && std::find(a.bits.begin(), a.bits.end(), bits) == a.bits.end()) continue;
      for (int seed = 0; seed < a.seeds; ++seed) {
        if (!a.onlySeeds.empty() && std::find(a.onlySeeds.begin(), a.onlySeeds.end(), seed) == a.onlySeeds.end())
          continue;
        Recipe r;
        r.method = row.method;
        r.params = row.params;
        if (row.method == "repquant" && a.reconDevice != "cpu") r.params["recon_device"] = a.reconDevice;
        r.params["wbits"] = w;
        r.params["abits"] = x;
        r.calibSamples = a.calib;
        r.calibSeed = seed;
        QuantizeOptions o;
        o.evaluate = false;
        std::cerr << row.method << " " << row.params.dump() << " " << bits << " seed " << seed << "\n";
        // Peak memory of calibration + quantization: RSS high-water mark above the RSS before.
        const bool peakOk = resetPeakRss();
        const double rss0 = procStatusMiB("VmRSS");
        const double cpu0 = processCpuSeconds();
        auto res = quantize(*m, r, o, job);
        if (!res) return res.error();
        const double cpuSec = processCpuSeconds() - cpu0;
        const double hwm = procStatusMiB("VmHWM");
        const double peak = peakOk && rss0 >= 0 && hwm >= 0 ? std::max(0.0, hwm - rss0) : -1;
        auto q = evaluateModel(res->variant, a.evalSamples, job);
        if (!q) return q.error();
        out["eval_samples"] = (*q)["samples"];
        const double sec = res->metrics.value("calib_seconds", res->seconds);
        out["runs"].push_back({{"row_index", ri},
                               {"row", row.label},
                               {"bits", bits},
                               {"seed", seed},
                               {"recipe", r.toJson()},
                               {"accuracy", (*q)["accuracy"]},
                               {"calib_seconds", sec},
                               {"calib_cpu_seconds", cpuSec},
                               {"peak_mib", peak},
                               {"metrics", res->metrics}});
        if (!a.jsonOut.empty()) std::ofstream(a.jsonOut) << out.dump(1);  // partial results survive a kill
      }
    }
  }
  return okStatus();
}

// The Markdown table of one or more run sets (same model, eval set and calibration size).
std::string renderTable(const std::vector<nlohmann::json>& sets, const std::string& commands) {
  const auto& h = sets.front();
  const auto all = allRows();
  std::map<int, std::map<std::string, std::vector<double>>> acc;  // row -> bits -> accuracies
  std::map<int, std::vector<double>> sec, cpu, mem;
  std::map<int, std::string> hashes;  // seed -> calibration hash
  int seeds = 0;
  for (auto& set : sets)
    for (auto& r : set["runs"]) {
      const int ri = r["row_index"];
      acc[ri][r["bits"].get<std::string>()].push_back(r["accuracy"]);
      sec[ri].push_back(r["calib_seconds"]);
      if (r.contains("calib_cpu_seconds")) cpu[ri].push_back(r["calib_cpu_seconds"]);
      if (r["peak_mib"].get<double>() >= 0) mem[ri].push_back(r["peak_mib"]);
      const int seed = r["seed"];
      seeds = std::max(seeds, seed + 1);
      if (r["metrics"].contains("calib_hash")) hashes[seed] = r["metrics"]["calib_hash"];
    }
  auto mean = [](const std::vector<double>& v) { return meanStd(v).first; };
  double fpAcc = -1;
  for (auto& set : sets)
    if (set["fp_accuracy"].get<double>() >= 0) fpAcc = set["fp_accuracy"];
  std::ostringstream md;
  md << "Generated by:\n\n```\n" << commands << "```\n\n";
  md << "- Model: `" << h["model"].get<std::string>()
     << "` (native ViT, dim 64, depth 4, 4 heads, 28x28 Fashion-MNIST, patch 4).\n";
  md << "- Metric: top-1 accuracy on the first " << h["eval_samples"].get<int>()
     << " Fashion-MNIST test images; full precision " << (fpAcc >= 0 ? fmtPct(fpAcc) + " %" : "not evaluated")
     << ".\n";
  md << "- Calibration: " << h["calib_samples"].get<int>() << " training images per run, seeds 0.." << seeds - 1
     << " (hashes";
  for (auto& [seed, hash] : hashes) md << " `" << hash << "`";
  md << "); cells are mean ± sample std over the seeds, in %.\n";
  md << "- All quantization is simulated (fake-quant). Weights per output channel; activations (the input of every "
        "Linear/Conv) per tensor; the patch-embedding input at 8 bits or more for every method except RTN; "
        "the softmax output (A of A·V) and the matmul operands Q, K (of Q·Kᵀ) and V (of A·V, uniform per tensor) "
        "at the activation bit-width for every method except RTN.\n\n";
  md << "| Method |";
  for (auto [w, x] : kBits) md << " W" << w << "A" << x << " |";
  md << " calib s | calib CPU s | peak MiB |\n|---|---|---|---|---|---|---|---|\n";
  md << "| Full precision |";
  for (size_t k = 0; k < kBits.size(); ++k) md << " " << (fpAcc >= 0 ? fmtPct(fpAcc) : "n/a") << " |";
  md << " - | - | - |\n";
  for (auto& [ri, perBits] : acc) {
    md << "| " << all[ri].label << " |";
    for (auto [w, x] : kBits) {
      auto it = perBits.find("W" + std::to_string(w) + "A" + std::to_string(x));
      if (it == perBits.end()) md << " - |";
      else {
        auto [mu, sd] = meanStd(it->second);
        md << " " << fmtPct(mu) << " ± " << fmtPct(sd);
        if (int(it->second.size()) < seeds) md << " (" << it->second.size() << " of " << seeds << " seeds)";
        md << " |";
      }
    }
    md << " " << std::fixed << std::setprecision(2) << mean(sec[ri]) << " |";
    if (!cpu[ri].empty()) md << " " << std::fixed << std::setprecision(2) << mean(cpu[ri]) << " |";
    else md << " n/a |";
    if (!mem[ri].empty()) md << " " << std::fixed << std::setprecision(1) << mean(mem[ri]) << " |\n";
    else md << " n/a |\n";
  }
  md << "\n`calib s`: mean wall time of calibration and quantization per run (evaluation excluded), on the machine "
        "and thread count that produced the runs (" << h["threads"].get<int>() << " intra-op thread(s) per process); "
        "`calib CPU s`: the process's CPU time (user + system, all threads) over the same span, which a shared or "
        "oversubscribed machine inflates less than wall time. "
        "`peak MiB`: mean over the runs of the process's resident-set high-water mark during calibration and "
        "quantization minus its resident set before (VmHWM reset through /proc/self/clear_refs before each run).\n";
  return md.str();
}

int runReport(const ReportArgs& a) {
  std::vector<nlohmann::json> sets;
  std::string commands;
  if (!a.merge.empty()) {
    for (auto& path : splitList(a.merge)) {
      std::ifstream f(path);
      if (!f) return fail(Error::badFile(path, "cannot read"));
      try {
        sets.push_back(nlohmann::json::parse(f));
        if (!sets.back().contains("runs") || !sets.back().contains("fp_accuracy"))
          return fail(Error::badFile(path, "not a report repquant JSON (no runs / fp_accuracy)"));
      } catch (const std::exception& e) {
        return fail(Error::badFile(path, std::string("bad JSON: ") + e.what()));
      }
      commands += sets.back().value("command", std::string("?")) + "\n";
      if (sets.back()["eval_samples"] != sets.front()["eval_samples"] ||
          sets.back()["model"] != sets.front()["model"])
        return fail(Error::badFile(path, "different model or evaluation set from " + splitList(a.merge).front()));
    }
    commands += a.commandLine + "\n";
  } else {
    nlohmann::json out;
    if (auto s = computeRuns(a, out); !s) return fail(s.error());
    sets.push_back(out);
    commands = a.commandLine + "\n";
  }
  const std::string md = "# RepQ-ViT, RepQuant and PTQ baselines on the zoo ViT\n\n" + renderTable(sets, commands);
  if (!a.out.empty()) {
    std::ofstream f(a.out);
    if (!f) return fail(Error::badArgument("cannot write " + a.out));
    f << md;
  }
  if (a.json) {
    nlohmann::json j = sets.size() == 1 ? sets.front() : nlohmann::json{{"sets", sets}};
    j["markdown"] = md;
    printJson(j);
  } else {
    std::cout << md;
  }
  return 0;
}

}  // namespace

void addReportCommands(CLI::App& app) {
  static ReportArgs a;
  auto* rep = app.add_subcommand("report", "Generate a results report");
  auto* rq = rep->add_subcommand("repquant", "RepQ-ViT versus PTQ baselines on the ViT (docs/results/repquant.md)");
  rq->add_option("--model", a.model, "Zoo model name or file");
  rq->add_option("--eval-samples", a.evalSamples, "Test images")->check(CLI::Range(1, 10000));
  rq->add_option("--seeds", a.seeds, "Calibration seeds")->check(CLI::Range(1, 10));
  rq->add_option("--calib", a.calib, "Calibration images per run")->check(CLI::Range(1, 60000));
  rq->add_option("--out", a.out, "Write the Markdown table here");
  rq->add_flag("--json", a.json, "JSON output (all runs and the Markdown)");
  rq->add_option("--only-seeds", a.onlySeeds, "Run only these of the seeds (to complete a partial set)")->delimiter(',');
  rq->add_flag("--no-fp", a.noFp, "Skip the full-precision evaluation (parallel parts of one table)");
  rq->add_option("--rows", a.rows, "Only these rows (0-based: 0 RTN, 1 percentile, 2 OMSE, 3 SmoothQuant, 4-8 RepQ-ViT, 9-11 RepQuant, 12-13 twin-uniform softmax)")
      ->delimiter(',');
  rq->add_option("--bits", a.bits, "Only these bit-widths (W8A8,W6A6,W4A8,W4A4)")->delimiter(',');
  rq->add_option("--json-out", a.jsonOut, "Save every run (and the FP figure) here, updated after each run");
  rq->add_option("--merge", a.merge,
                 "Comma-separated --json-out files: render one table from them (nothing is run)");
  rq->add_option("--recon-device", a.reconDevice, "RepQuant rows: run the reconstruction loop on cpu or cuda")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  rep->require_subcommand(1);
  rq->callback([] {
    std::ostringstream cmd;
    cmd << "cstudio --threads " << runtimeInfo().threads << " report repquant --model " << a.model << " --eval-samples " << a.evalSamples << " --seeds " << a.seeds
        << " --calib " << a.calib;
    if (!a.rows.empty()) {
      cmd << " --rows ";
      for (size_t i = 0; i < a.rows.size(); ++i) cmd << (i ? "," : "") << a.rows[i];
    }
    if (!a.bits.empty()) {
      cmd << " --bits ";
      for (size_t i = 0; i < a.bits.size(); ++i) cmd << (i ? "," : "") << a.bits[i];
    }
    if (a.noFp) cmd << " --no-fp";
    if (!a.onlySeeds.empty()) {
      cmd << " --only-seeds ";
      for (size_t i = 0; i < a.onlySeeds.size(); ++i) cmd << (i ? "," : "") << a.onlySeeds[i];
    }
    if (a.reconDevice != "cpu") cmd << " --recon-device " << a.reconDevice;
    if (!a.jsonOut.empty()) cmd << " --json-out " << a.jsonOut;
    if (!a.out.empty()) cmd << " --out " << a.out;
    a.commandLine = cmd.str();
    if (!a.merge.empty()) a.commandLine = "cstudio report repquant --merge " + a.merge + (a.out.empty() ? "" : " --out " + a.out);
    int rc = runReport(a);
    if (rc != 0) std::exit(rc);
  });
}

}  // namespace cs::cli
