// `cstudio info MODEL` and `cstudio stats MODEL --layer NAME [--calib N]`.
#include <cmath>
#include <iomanip>
#include <iostream>

#include "cli_common.h"
#include "cmd_core.h"
#include "compression/quantize.h"
#include "engine/model.h"

namespace cs::cli {
namespace {

nlohmann::json histJson(const Histogram& h) {
  return {{"lo", h.lo}, {"hi", h.hi}, {"counts", h.counts}, {"below", h.below}, {"above", h.above}, {"total", h.total}};
}

nlohmann::json tensorSummary(const std::vector<float>& v, int bins) {
  double sum = 0, sq = 0;
  for (float x : v) {
    sum += x;
    sq += double(x) * x;
  }
  const double mean = v.empty() ? 0 : sum / v.size();
  const double sd = v.empty() ? 0 : std::sqrt(std::max(0.0, sq / v.size() - mean * mean));
  MinMax m = minMax(v.data(), v.size());
  return {{"count", v.size()}, {"min", m.min}, {"max", m.max}, {"mean", mean}, {"std", sd},
          {"p0.1", percentile(v, 0.1)}, {"p1", percentile(v, 1)}, {"p50", percentile(v, 50)},
          {"p99", percentile(v, 99)}, {"p99.9", percentile(v, 99.9)}, {"histogram", histJson(histogramAuto(v, bins))}};
}

}  // namespace

void addModelCommands(CLI::App& app) {
  auto* info = app.add_subcommand("info", "Show a model's layers (name, type, shape, parameters, dtype)");
  static std::string infoModel;
  static bool infoJson = false;
  info->add_option("model", infoModel, "Zoo model name or file")->required();
  info->add_flag("--json", infoJson, "JSON output");
  info->callback([] {
    auto job = progressJob(true);
    auto m = openModel(infoModel, job);
    if (!m) throw EngineError(m.error());
    if (infoJson) {
      nlohmann::json layers = nlohmann::json::array();
      for (auto& l : m->layers())
        layers.push_back({{"name", l.name}, {"type", l.type}, {"shape", l.weightShape}, {"params", l.params},
                          {"dtype", l.dtype}, {"quantizable", l.quantizable}});
      printJson({{"name", m->name()}, {"family", m->family()}, {"source", m->source()},
                 {"parameters", m->parameterCount()}, {"properties", m->properties()}, {"layers", layers}});
      return;
    }
    std::cout << m->name() << " (" << m->family() << ", " << m->parameterCount() << " parameters)\n"
              << "source: " << m->source() << "\n\n";
    std::cout << std::left << std::setw(28) << "layer" << std::setw(12) << "type" << std::setw(20) << "weight shape"
              << std::right << std::setw(10) << "params" << "  dtype\n";
    for (auto& l : m->layers())
      std::cout << std::left << std::setw(28) << l.name << std::setw(12) << l.type << std::setw(20)
                << (l.weightShape.empty() ? "-" : shapeString(l.weightShape)) << std::right << std::setw(10) << l.params
                << "  " << l.dtype << (l.quantizable ? "  [q]" : "") << "\n";
  });

  auto* stats = app.add_subcommand("stats", "Weight and activation statistics of one layer");
  static std::string sModel, sLayer;
  static int sCalib = 0, sSeed = 0, sBins = 64;
  static bool sJson = false;
  stats->add_option("model", sModel, "Zoo model name or file")->required();
  stats->add_option("--layer", sLayer, "Layer name (see `cstudio info`)")->required();
  stats->add_option("--calib", sCalib, "Calibration images for the input-activation statistics (0: weights only)");
  stats->add_option("--seed", sSeed, "Calibration seed");
  stats->add_option("--bins", sBins, "Histogram bins")->check(CLI::Range(1, 4096));
  stats->add_flag("--json", sJson, "JSON output");
  stats->callback([] {
    auto job = progressJob();
    auto m = openModel(sModel, job);
    if (!m) throw EngineError(m.error());
    nlohmann::json out = {{"model", m->name()}, {"layer", sLayer}};
    auto w = m->weight(sLayer);
    if (!w) throw EngineError(w.error());
    out["weight"] = tensorSummary(w->values, sBins);
    out["weight"]["shape"] = w->shape;
    if (sCalib > 0) {
      auto a = activationStats(*m, sLayer, sCalib, sSeed, job);
      if (!a) throw EngineError(a.error());
      out["activation"] = tensorSummary(a->sample, sBins);
      out["activation"]["count"] = a->values;
      out["activation"]["min"] = a->range.min;
      out["activation"]["max"] = a->range.max;
      out["activation"]["histogram"] = histJson(a->histogram);
      out["activation"]["calib_samples"] = a->samples;
      out["activation"]["note"] = "percentiles, mean and std from a uniform subsample of " +
                                  std::to_string(a->sample.size()) + " values; min, max and histogram over all";
    }
    if (sJson) {
      printJson(out);
      return;
    }
    auto print = [](const char* what, const nlohmann::json& s) {
      std::cout << what << ": count " << s["count"] << ", min " << s["min"] << ", max " << s["max"] << ", mean "
                << s["mean"] << ", std " << s["std"] << ", p1 " << s["p1"] << ", p99 " << s["p99"] << "\n";
    };
    print("weight", out["weight"]);
    if (out.contains("activation")) print("input activation", out["activation"]);
  });
}

}  // namespace cs::cli
