// `cstudio report repquant [--model vit-fmnist] [--eval-samples N] [--seeds 3] [--calib 32]
//  [--out docs/results/repquant.md] [--json]`: the RepQ-ViT comparison table (FP, RTN,
// percentile, OMSE, SmoothQuant, RepQ-ViT and its ablations, RepQuant and its ablations at
// W8A8/W6A6/W4A8/W4A4), averaged over calibration seeds, through the same quantize()
// facade as `cstudio quantize`, with each method's calibration time and peak memory.
// Register with cs::cli::addReportCommands(app) in main.cpp.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <string>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "compression/quantize.h"
#include "engine/model.h"

namespace cs::cli {
void addReportCommands(CLI::App& app);

namespace {

struct ReportArgs {
  std::string model = "vit-fmnist", out;
  int evalSamples = 10000, seeds = 3, calib = 32;
  bool json = false;
  std::string commandLine;
  std::vector<int> rows;  // subset of row indexes (0-based); empty: all
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
// Resets the RSS high-water mark (Linux: "5" to /proc/self/clear_refs); false if not possible.
bool resetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  if (!f) return false;
  f << "5";
  return bool(f.flush());
}

std::vector<Row> selectedRows(const std::vector<int>& pick) {
  auto all = allRows();
  if (pick.empty()) return all;
  std::vector<Row> v;
  for (int i : pick)
    if (i >= 0 && i < int(all.size())) v.push_back(all[i]);
  return v;
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

int runReport(const ReportArgs& a) {
  auto job = progressJob(false);
  auto m = openModel(a.model, job);
  if (!m) return fail(m.error());
  auto fp = evaluateModel(*m, a.evalSamples, job);
  if (!fp) return fail(fp.error());
  const double fpAcc = (*fp)["accuracy"];
  const int evalN = (*fp)["samples"];

  nlohmann::json runs = nlohmann::json::array();
  std::vector<std::vector<std::pair<double, double>>> acc;   // [row][bits] mean, std
  std::vector<double> calibSec;                               // [row] mean over all runs
  std::vector<double> peakMiB;                                // [row] mean over all runs, -1 if unknown
  std::vector<std::string> hashes(a.seeds);
  const auto rs = selectedRows(a.rows);
  for (auto& row : rs) {
    std::vector<std::pair<double, double>> perBits;
    double secSum = 0, memSum = 0;
    int secN = 0, memN = 0;
    for (auto [w, x] : kBits) {
      std::vector<double> accs;
      for (int seed = 0; seed < a.seeds; ++seed) {
        Recipe r;
        r.method = row.method;
        r.params = row.params;
        r.params["wbits"] = w;
        r.params["abits"] = x;
        r.calibSamples = a.calib;
        r.calibSeed = seed;
        QuantizeOptions o;
        o.evaluate = false;
        std::cerr << row.method << " " << row.params.dump() << " W" << w << "A" << x << " seed " << seed << "\n";
        // Peak memory of calibration + quantization: RSS high-water mark above the RSS before.
        const bool peakOk = resetPeakRss();
        const double rss0 = procStatusMiB("VmRSS");
        auto res = quantize(*m, r, o, job);
        if (!res) return fail(res.error());
        const double hwm = procStatusMiB("VmHWM");
        const double peak = peakOk && rss0 >= 0 && hwm >= 0 ? std::max(0.0, hwm - rss0) : -1;
        if (peak >= 0) memSum += peak, ++memN;
        auto q = evaluateModel(res->variant, a.evalSamples, job);
        if (!q) return fail(q.error());
        const double acc1 = (*q)["accuracy"];
        accs.push_back(acc1);
        const double sec = res->metrics.value("calib_seconds", res->seconds);
        secSum += sec;
        ++secN;
        if (res->metrics.contains("calib_hash")) hashes[seed] = res->metrics["calib_hash"];
        runs.push_back({{"row", row.label}, {"recipe", r.toJson()}, {"accuracy", acc1}, {"calib_seconds", sec},
                        {"peak_mib", peak}, {"metrics", res->metrics}});
      }
      perBits.push_back(meanStd(accs));
    }
    acc.push_back(perBits);
    calibSec.push_back(secSum / std::max(1, secN));
    peakMiB.push_back(memN ? memSum / memN : -1);
  }

  std::ostringstream md;
  md << "# RepQ-ViT, RepQuant and PTQ baselines on the zoo ViT\n\n";
  md << "Generated by:\n\n```\n" << a.commandLine << "\n```\n\n";
  md << "- Model: `" << m->name() << "` (native ViT, dim 64, depth 4, 4 heads, 28x28 Fashion-MNIST, patch 4).\n";
  md << "- Metric: top-1 accuracy on the first " << evalN << " Fashion-MNIST test images; full precision "
     << fmtPct(fpAcc) << " %.\n";
  md << "- Calibration: " << a.calib << " training images per run, seeds 0.." << a.seeds - 1 << " (hashes";
  for (auto& h : hashes) md << " `" << h << "`";
  md << "); cells are mean ± sample std over the seeds, in %.\n";
  md << "- All quantization is simulated (fake-quant). Weights per output channel; activations (the input of every "
        "Linear/Conv) per tensor; the patch-embedding input at 8 bits or more for every method except RTN; "
        "the softmax output (A of A·V) and the matmul operands Q, K (of Q·Kᵀ) and V (of A·V, uniform per tensor) "
        "at the activation bit-width for every method except RTN.\n\n";
  md << "| Method | W8A8 | W6A6 | W4A8 | W4A4 | calib s | peak MiB |\n|---|---|---|---|---|---|---|\n";
  md << "| Full precision | " << fmtPct(fpAcc) << " | " << fmtPct(fpAcc) << " | " << fmtPct(fpAcc) << " | "
     << fmtPct(fpAcc) << " | - | - |\n";
  for (size_t i = 0; i < rs.size(); ++i) {
    md << "| " << rs[i].label << " |";
    for (auto& [mu, sd] : acc[i]) md << " " << fmtPct(mu) << " ± " << fmtPct(sd) << " |";
    md << " " << std::fixed << std::setprecision(2) << calibSec[i] << " |";
    if (peakMiB[i] >= 0) md << " " << std::fixed << std::setprecision(1) << peakMiB[i] << " |\n";
    else md << " n/a |\n";
  }
  md << "\n`calib s`: mean wall time of calibration and quantization per run (" << a.calib
     << " images, this machine's shared CPU; evaluation excluded). `peak MiB`: mean over the runs of the process's "
        "resident-set high-water mark during calibration and quantization minus its resident set before (VmHWM reset "
        "through /proc/self/clear_refs before each run).\n";

  nlohmann::json out = {{"model", m->name()},     {"fp_accuracy", fpAcc}, {"eval_samples", evalN},
                        {"calib_samples", a.calib}, {"seeds", a.seeds},     {"runs", runs},
                        {"markdown", md.str()}};
  if (!a.out.empty()) {
    std::ofstream f(a.out);
    if (!f) return fail(Error::badArgument("cannot write " + a.out));
    f << md.str();
  }
  if (a.json) printJson(out);
  else std::cout << md.str();
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
  rq->add_option("--rows", a.rows, "Only these rows (0-based: 0 RTN, 1 percentile, 2 OMSE, 3 SmoothQuant, 4-8 RepQ-ViT, 9-11 RepQuant)")
      ->delimiter(',');
  rep->require_subcommand(1);
  rq->callback([] {
    std::ostringstream cmd;
    cmd << "cstudio report repquant --model " << a.model << " --eval-samples " << a.evalSamples << " --seeds " << a.seeds
        << " --calib " << a.calib;
    if (!a.rows.empty()) {
      cmd << " --rows ";
      for (size_t i = 0; i < a.rows.size(); ++i) cmd << (i ? "," : "") << a.rows[i];
    }
    if (!a.out.empty()) cmd << " --out " << a.out;
    a.commandLine = cmd.str();
    int rc = runReport(a);
    if (rc != 0) std::exit(rc);
  });
}

}  // namespace cs::cli
