// Distribution explorer verbs:
//   cstudio sensitivity MODEL --wbits 4 --abits 8 [--mode isolated|cumulative|both] [--samples N] [--json]
//   cstudio explore MODEL [--list] [--point P[@kind] ...] [--samples N] [--input-shape 16,32] [--json]
//   cstudio explore MODEL --weight LAYER [--json]    (singular values, stable rank, sparsity pattern)
//   ... --bits B [--granularity tensor|channel|group|token] [--group G] [--asymmetric] [--clip P]
//       what-if fake-quantization of the weight (or of each captured point's sample)
// Same facade calls as the GUI's Explore tab (compression/diagnose.h, engine/explore.h).
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "cmd_explore.h"
#include "compression/diagnose.h"
#include "engine/explore.h"
#include "engine/model.h"

namespace cs::cli {
namespace {

struct SensArgs {
  std::string model, mode = "both", layers;
  int wbits = 4, abits = 8, samples = 256, calib = 256, seed = 0;
  bool perTensor = false, json = false;
};

std::string fmt(double v, int prec = 2) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return "inf";
  std::ostringstream o;
  o << std::fixed << std::setprecision(prec) << v;
  return o.str();
}

int runSensitivity(const SensArgs& a) {
  if (a.mode != "isolated" && a.mode != "cumulative" && a.mode != "both")
    return fail(Error::badArgument("--mode must be isolated, cumulative or both"));
  auto job = progressJob();
  auto m = openExploreModel(a.model, job);
  if (!m) return fail(m.error());
  RtnLayerOptions ro;
  ro.wbits = a.wbits;
  ro.abits = a.abits;
  ro.perChannel = !a.perTensor;
  ro.calibSamples = a.calib;
  ro.calibSeed = a.seed;
  if (a.wbits < 0 || a.wbits > 16 || a.abits < 0 || a.abits > 16 || (a.wbits == 1))
    return fail(Error::badArgument("--wbits must be 0 or 2..16, --abits 0..16"));
  SensitivityOptions so;
  so.isolated = a.mode != "cumulative";
  so.cumulative = a.mode != "isolated";
  so.samples = a.samples;
  so.layers = splitList(a.layers);
  auto r = layerSensitivity(*m, rtnLayerCompressor(ro), so, job, [&](const LayerSensitivity& l) {
    if (!a.json)
      std::cout << std::setw(3) << l.index << "  " << std::left << std::setw(28) << l.layer << std::right
                << "  iso " << std::setw(7) << fmt(l.isolatedSqnrDb) << " dB  " << std::setw(7)
                << fmt(l.isolatedMetric, 4) << "   cum " << std::setw(7) << fmt(l.cumulativeSqnrDb) << " dB  "
                << std::setw(7) << fmt(l.cumulativeMetric, 4) << std::endl;
  });
  if (!r) return fail(r.error());
  if (a.json) {
    auto j = toJson(*r);
    j["model"] = m->name();
    printJson(j);
  } else {
    std::cout << r->compressor << " on " << m->name() << " (" << r->data << "), metric: "
              << (r->metricName.empty() ? "none" : r->metricName) << ", FP " << fmt(r->fpMetric, 4) << "\n";
    if (r->jumpIndex >= 0)
      std::cout << "cumulative error jumps at layer " << r->jumpIndex << " (" << r->layers[r->jumpIndex].layer << ")\n";
    if (!r->ranking.empty()) std::cout << "most sensitive: " << r->layers[r->ranking.front()].layer << "\n";
    std::cout << "time: " << fmt(r->seconds, 1) << " s (simulated quantization)\n";
  }
  return 0;
}

struct ExploreArgs {
  std::string model, weight, inputShape, granularity = "channel";
  int bits = 0, group = 32;
  double clip = 100.0;
  bool asymmetric = false;
  std::vector<std::string> points;
  int samples = 64, seed = 0, batch = 32, steps = 20, bins = 64;
  bool list = false, json = false, noMagnitude = false;
};

// What-if fake-quantization of a [rows, cols] tensor (weights: rows = output channels;
// activations: rows = tokens). Returns the JSON and prints a line unless json.
nlohmann::json whatIf(const ExploreArgs& a, const float* data, int64_t rows, int64_t cols, bool activation,
                      const std::string& what) {
  WhatIfOptions o;
  o.bits = a.bits;
  o.symmetric = !a.asymmetric;
  o.clipPercentile = a.clip;
  o.groupSize = a.group;
  if (a.granularity == "tensor") o.granularity = QuantGranularity::Tensor;
  else if (a.granularity == "group") o.granularity = QuantGranularity::Group;
  else if (a.granularity == "token") o.granularity = activation ? QuantGranularity::Row : QuantGranularity::Column;
  else o.granularity = activation ? QuantGranularity::Column : QuantGranularity::Row;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = whatIfQuantize(data, rows, cols, o);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  nlohmann::json j = {{"what", what}, {"rows", rows}, {"cols", cols}, {"bits", a.bits},
                      {"granularity", a.granularity}, {"symmetric", o.symmetric}, {"clip_percentile", a.clip},
                      {"groups", r.groups}, {"clip_lo", r.clipLo}, {"clip_hi", r.clipHi},
                      {"clipped_fraction", r.clippedFraction}, {"mse", r.mse},
                      {"sqnr_db", std::isinf(r.sqnrDb) ? 999.0 : r.sqnrDb}, {"milliseconds", ms},
                      {"histogram", {{"lo", r.reference.lo}, {"hi", r.reference.hi}, {"fp", r.reference.counts},
                                     {"quantized", r.quantized.counts}}}};
  if (!a.json)
    std::cout << "what-if " << what << " [" << rows << " x " << cols << "] " << a.bits << " bit " << a.granularity
              << (o.symmetric ? " symmetric" : " asymmetric") << ", clip p" << a.clip << ": SQNR " << fmt(r.sqnrDb)
              << " dB, MSE " << r.mse << ", clipped " << fmt(100 * r.clippedFraction, 3) << " %, range ["
              << fmt(r.clipLo, 4) << ", " << fmt(r.clipHi, 4) << "], " << fmt(ms, 2) << " ms\n";
  return j;
}

int runExplore(const ExploreArgs& a) {
  if (a.bits != 0 && (a.bits < 2 || a.bits > 16)) return fail(Error::badArgument("--bits must be 2..16"));
  if (a.granularity != "tensor" && a.granularity != "channel" && a.granularity != "group" && a.granularity != "token")
    return fail(Error::badArgument("--granularity must be tensor, channel, group or token"));
  if (a.clip < 50 || a.clip > 100) return fail(Error::badArgument("--clip must be a percentile in [50, 100]"));
  auto job = progressJob();
  auto m = openExploreModel(a.model, job);
  if (!m) return fail(m.error());
  if (!a.weight.empty()) {
    auto w = m->weight(a.weight);
    if (!w) return fail(w.error());
    if (w->shape.size() < 2) return fail(Error::badArgument(a.weight + ": weight is not a matrix"));
    const int64_t rows = w->shape[0], cols = int64_t(w->values.size()) / rows;
    auto sp = weightSpectrum(w->values.data(), rows, cols);
    auto pat = sparsityPattern(w->values.data(), rows, cols, 64);
    nlohmann::json j = {{"layer", a.weight},
                        {"rows", rows},
                        {"cols", cols},
                        {"singular_values", sp.singular},
                        {"stable_rank", sp.stableRank},
                        {"effective_rank", sp.effectiveRank},
                        {"rank_99_energy", sp.rankForEnergy(0.99)},
                        {"sparsity", pat.sparsity},
                        {"n_m", pat.nmLabel()},
                        {"row_density", pat.rowDensity}};
    if (a.bits > 0) j["what_if"] = whatIf(a, w->values.data(), rows, cols, false, a.weight + " weight");
    if (a.json) printJson(j);
    else
      std::cout << a.weight << " [" << rows << " x " << cols << "]: sigma_max " << fmt(sp.singular.front(), 4)
                << ", stable rank " << fmt(sp.stableRank) << ", effective rank " << fmt(sp.effectiveRank)
                << ", rank for 99% energy " << sp.rankForEnergy(0.99) << ", sparsity " << fmt(100 * pat.sparsity)
                << "% (" << pat.nmLabel() << ")\n";
    return 0;
  }
  if (a.list) {
    auto t = listTapPoints(*m, job);
    if (!t) return fail(t.error());
    nlohmann::json arr = nlohmann::json::array();
    for (auto& p : *t) {
      arr.push_back({{"point", p.point}, {"kind", p.kind}, {"shape", p.shape}, {"calls", p.calls}});
      if (!a.json) {
        std::string s;
        for (auto d : p.shape) s += (s.empty() ? "" : "x") + std::to_string(d);
        std::cout << std::left << std::setw(40) << p.point << std::setw(9) << p.kind << std::setw(18) << s << p.calls
                  << " call(s)\n";
      }
    }
    if (a.json) printJson({{"model", m->name()}, {"taps", arr}, {"properties", m->properties()}});
    return 0;
  }
  CaptureOptions co;
  co.points = a.points;
  co.samples = a.samples;
  co.seed = a.seed;
  co.batch = a.batch;
  co.bins = a.bins;
  co.diffusionSteps = a.steps;
  co.magnitude = !a.noMagnitude;
  for (auto& d : splitList(a.inputShape)) {
    try {
      co.inputShape.push_back(std::stoll(d));
    } catch (const std::exception&) {
      return fail(Error::badArgument("--input-shape: cannot read '" + d + "'"));
    }
  }
  auto r = captureActivations(*m, co, job);
  if (!r) return fail(r.error());
  const double mvals = double(r->valuesSeen) / 1e6;
  if (a.json) {
    nlohmann::json pts = nlohmann::json::array();
    for (auto& p : r->points) {
      pts.push_back(toJson(p, true));
      if (a.bits > 0 && !p.sample.empty())
        pts.back()["what_if"] = whatIf(a, p.sample.data(), int64_t(p.sample.size()) / p.sampleCols, p.sampleCols,
                                       true, p.point + "@" + p.kind + " sample");
    }
    printJson({{"model", m->name()}, {"data", r->data}, {"seconds", r->seconds}, {"values", r->valuesSeen},
               {"mvalues_per_second", r->seconds > 0 ? mvals / r->seconds : 0.0},
               {"input_seconds", r->inputSeconds}, {"stats_seconds", r->statsSeconds}, {"points", pts}});
    return 0;
  }
  std::cout << m->name() << ": " << r->data << "\n";
  for (auto& p : r->points) {
    auto outl = p.perChannel.outliers();
    std::cout << std::left << std::setw(40) << (p.point + "@" + p.kind) << std::right << " calls " << std::setw(4)
              << p.calls << "  range [" << fmt(p.range.min, 3) << ", " << fmt(p.range.max, 3) << "]  outlier channels "
              << outl.size() << "/" << p.perChannel.mean.size();
    if (!p.perStep.empty())
      std::cout << "  steps " << p.perStep.size() << " (|x| p99.9 " << fmt(p.perStep.front().p999Abs, 3) << " -> "
                << fmt(p.perStep.back().p999Abs, 3) << ")";
    std::cout << "\n";
    if (a.bits > 0 && !p.sample.empty())
      whatIf(a, p.sample.data(), int64_t(p.sample.size()) / p.sampleCols, p.sampleCols, true,
             p.point + "@" + p.kind + " sample");
  }
  std::cout << "captured " << fmt(mvals, 1) << " M values in " << fmt(r->seconds, 2) << " s ("
            << fmt(r->seconds > 0 ? mvals / r->seconds : 0, 1) << " M values/s; inputs " << fmt(r->inputSeconds, 2)
            << " s, statistics " << fmt(r->statsSeconds, 2) << " s, model "
            << fmt(r->seconds - r->inputSeconds - r->statsSeconds, 2) << " s)\n";
  return 0;
}

}  // namespace

void addExploreCommands(CLI::App& app) {
  auto sa = std::make_shared<SensArgs>();
  auto* s = app.add_subcommand("sensitivity", "Per-layer sensitivity: quantize one layer (isolated) or all up to it "
                                              "(cumulative); SQNR of the output and task metric per layer");
  s->add_option("model", sa->model, "Zoo name or model file")->required();
  s->add_option("--wbits", sa->wbits, "Weight bits (0: FP weights)");
  s->add_option("--abits", sa->abits, "Activation bits (0: FP activations)");
  s->add_option("--mode", sa->mode, "isolated, cumulative or both");
  s->add_option("--samples", sa->samples, "Evaluation inputs (test images / text windows)");
  s->add_option("--calib", sa->calib, "Calibration samples for activation ranges");
  s->add_option("--seed", sa->seed, "Calibration seed");
  s->add_option("--layers", sa->layers, "Comma-separated layers (default: every quantizable layer)");
  s->add_flag("--per-tensor", sa->perTensor, "Per-tensor weight ranges (default per output channel)");
  s->add_flag("--json", sa->json, "JSON on stdout");
  s->callback([sa] {
    int rc = runSensitivity(*sa);
    if (rc != 0) std::exit(rc);
  });

  auto ea = std::make_shared<ExploreArgs>();
  auto* e = app.add_subcommand("explore", "Activation statistics (per channel/token, magnitude map, per timestep), tap "
                                          "list, or a weight's spectrum and sparsity");
  e->add_option("model", ea->model, "Zoo name, model file or diffusers UNet folder")->required();
  e->add_flag("--list", ea->list, "List the tap points of one forward pass");
  e->add_option("--point", ea->points, "Tap point, optionally @input|output|softmax|norm|block; '*' for all");
  e->add_option("--weight", ea->weight, "Layer whose weight spectrum and sparsity to report");
  e->add_option("--samples", ea->samples, "Calibration samples");
  e->add_option("--seed", ea->seed, "Seed");
  e->add_option("--batch", ea->batch, "Batch size");
  e->add_option("--bins", ea->bins, "Histogram bins");
  e->add_option("--steps", ea->steps, "Diffusion sampling steps");
  e->add_option("--input-shape", ea->inputShape, "Per-sample input shape for models without data, e.g. 16,32");
  e->add_option("--bits", ea->bits, "What-if fake-quantization bits (2..16) of the weight / captured samples");
  e->add_option("--granularity", ea->granularity, "What-if granularity: tensor, channel, group or token");
  e->add_option("--group", ea->group, "What-if group size (granularity group)");
  e->add_option("--clip", ea->clip, "What-if clip percentile (100: min/max)");
  e->add_flag("--asymmetric", ea->asymmetric, "What-if asymmetric range (default symmetric)");
  e->add_flag("--no-magnitude", ea->noMagnitude, "Skip the channel x token magnitude map");
  e->add_flag("--json", ea->json, "JSON on stdout");
  e->callback([ea] {
    int rc = runExplore(*ea);
    if (rc != 0) std::exit(rc);
  });
}

}  // namespace cs::cli
