// `cstudio quantize MODEL --recipe FILE | --method rtn --wbits 8 --abits 8 [--eval] [--json] [--workspace FILE] [--save DIR|FILE] [--plan FILE [--plan-only]]`.
// Method parameters become flags generated from the methods' schemas.
#include <iomanip>
#include <set>
#include <iostream>

#include "cli_common.h"
#include "cmd_core.h"
#include "compression/quant_plan.h"
#include "compression/quant_variant.h"
#include "compression/quantize.h"
#include "engine/model.h"
#include "engine/workspace.h"

namespace cs::cli {
namespace {

struct QuantArgs {
  std::string model, recipeFile, method = "rtn", workspace, save, plan;
  int calib = 256, seed = 0, evalSamples = 10000;
  bool eval = false, json = false, planOnly = false;
  std::map<std::string, std::string> params;  // raw flag values by schema name
};

Result<nlohmann::json> parseParam(const ParamSpec& p, const std::string& raw) {
  try {
    switch (p.type) {
      case ParamSpec::Type::Int: {
        size_t pos = 0;
        long long v = std::stoll(raw, &pos);
        if (pos != raw.size()) throw std::invalid_argument(raw);
        return nlohmann::json(v);
      }
      case ParamSpec::Type::Float: return nlohmann::json(std::stod(raw));
      case ParamSpec::Type::Bool:
        if (raw == "true" || raw == "1" || raw == "yes") return nlohmann::json(true);
        if (raw == "false" || raw == "0" || raw == "no") return nlohmann::json(false);
        throw std::invalid_argument(raw);
      case ParamSpec::Type::Choice: return nlohmann::json(raw);
    }
  } catch (const std::exception&) {
  }
  return Error::badArgument("--" + p.name + ": cannot read '" + raw + "'");
}

int run(QuantArgs& a, const std::string& commandLine) {
  auto job = progressJob(a.json && false);
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
  const MethodInfo* info = findMethod(recipe.method);
  if (!info) return fail(Error::badArgument("unknown method '" + recipe.method + "'"));
  for (auto& [name, raw] : a.params) {
    const ParamSpec* spec = nullptr;
    for (auto& p : info->params)
      if (p.name == name) spec = &p;
    if (!spec) return fail(Error::badArgument("method '" + info->id + "' has no parameter --" + name));
    auto v = parseParam(*spec, raw);
    if (!v) return fail(v.error());
    recipe.params[name] = *v;
  }
  auto m = openModel(a.model, job);
  if (!m) return fail(m.error());
  if (a.planOnly && a.plan.empty()) return fail(Error::badArgument("--plan-only needs --plan FILE.json"));
  if (!a.plan.empty()) {
    auto qp = QuantPlan::fromFile(a.plan);
    if (!qp) return fail(qp.error());
    if (a.planOnly) {
      auto rp = resolvePlan(*m, *qp);
      if (!rp) return fail(rp.error());
      auto j = rp->toJson();
      j["model"] = m->name();
      j["plan"] = qp->toJson();
      if (a.json) {
        printJson(j);
        return 0;
      }
      std::cout << std::left << std::setw(30) << "tensor" << std::setw(9) << "target" << std::setw(10) << "op"
                << std::setw(28) << "quantizer" << "decided by\n";
      for (auto& d : rp->decisions)
        std::cout << std::left << std::setw(30) << d.tensor << std::setw(9) << d.target << std::setw(10) << d.op
                  << std::setw(28)
                  << (d.quantize ? std::to_string(d.q.bits) + "-bit " + (d.q.symmetric ? "sym " : "asym ") +
                                       d.q.granularity + " " + d.q.range
                                 : std::string("FP"))
                  << d.decidedBy << "\n";
      return 0;
    }
    recipe.params["plan"] = qp->toJson();
  }
  QuantizeOptions opts;
  opts.evaluate = a.eval;
  opts.evalSamples = a.evalSamples;
  auto res = quantize(*m, recipe, opts, job);
  if (!res) return fail(res.error());

  nlohmann::json layers = nlohmann::json::array();
  for (auto& l : res->layers) {
    nlohmann::json j = {{"layer", l.layer},
                        {"wbits", l.wbits},
                        {"abits", l.abits},
                        {"granularity", l.granularity},
                        {"weight_mse", l.weightError.mse},
                        {"weight_sqnr_db", l.weightError.sqnrDb}};
    if (l.activation)
      j["activation"] = {{"scale", l.activation->scale}, {"zero_point", l.activation->zeroPoint},
                         {"lo", l.activation->lo}, {"hi", l.activation->hi}};
    layers.push_back(j);
  }
  nlohmann::json out = {{"model", m->name()},     {"variant", res->variant.name()}, {"recipe", res->recipe.toJson()},
                        {"metrics", res->metrics}, {"layers", layers},              {"seconds", res->seconds}};
  if (!a.save.empty()) {
    auto saved = saveQuantizedVariant(*res, a.save);
    if (!saved) return fail(saved.error());
    out["saved"] = *saved;
  }
  if (!a.workspace.empty()) {
    auto ws = Workspace::open(a.workspace);
    if (!ws) return fail(ws.error());
    (*ws)->addModel(m->name(), m->source());
    RunRecord r;
    r.model = m->name();
    r.method = res->recipe.method;
    r.recipeJson = res->recipe.toJson().dump();
    r.metricsJson = res->metrics.dump();
    r.layersJson = layers.dump();
    r.seconds = res->seconds;
    auto id = (*ws)->addRun(r);
    if (!id) return fail(id.error());
    out["run_id"] = *id;
    out["workspace"] = a.workspace;
  }
  if (a.json) {
    printJson(out);
    return 0;
  }
  std::cout << out["variant"].get<std::string>() << "  (" << std::fixed << std::setprecision(1) << res->seconds << " s)\n";
  if (res->metrics.contains("fp_accuracy"))
    std::cout << "accuracy: full precision " << std::setprecision(2) << res->metrics["fp_accuracy"].get<double>() * 100
              << " %, quantized " << res->metrics["q_accuracy"].get<double>() * 100 << " % ("
              << res->metrics["eval_samples"] << " test images, simulated)\n";
  if (res->metrics.contains("note")) std::cout << "note: " << res->metrics["note"].get<std::string>() << "\n";
  std::cout << std::left << std::setw(24) << "layer" << std::right << std::setw(6) << "W" << std::setw(6) << "A"
            << std::setw(14) << "weight SQNR" << "\n";
  for (auto& l : res->layers)
    std::cout << std::left << std::setw(24) << l.layer << std::right << std::setw(6) << l.wbits << std::setw(6) << l.abits
              << std::setw(11) << std::setprecision(1) << l.weightError.sqnrDb << " dB\n";
  if (out.contains("saved")) std::cout << "saved variant: " << out["saved"].get<std::string>() << "\n";
  if (out.contains("run_id")) std::cout << "saved as run " << out["run_id"] << " in " << a.workspace << "\n";
  return 0;
}

}  // namespace

void addQuantizeCommands(CLI::App& app) {
  static QuantArgs a;
  auto* q = app.add_subcommand("quantize", "Quantize a model with a recipe and report its accuracy");
  q->add_option("model", a.model, "Zoo model name or file")->required();
  q->add_option("--recipe", a.recipeFile, "Recipe JSON file (method, params, calibration)");
  q->add_option("--method", a.method, "Method id (see --help of the method's flags below)");
  q->add_option("--calib", a.calib, "Calibration images")->check(CLI::Range(1, 60000));
  q->add_option("--seed", a.seed, "Calibration seed");
  q->add_flag("--eval", a.eval, "Evaluate full precision and quantized models");
  q->add_option("--eval-samples", a.evalSamples, "Test images for --eval")->check(CLI::Range(1, 10000));
  q->add_flag("--json", a.json, "JSON output");
  q->add_option("--workspace", a.workspace, "Record the run in this workspace file");
  q->add_option("--plan", a.plan, "Quantization plan JSON (rules by layer glob/regex and op type; honoured by rtn)");
  q->add_flag("--plan-only", a.planOnly, "Print the resolved per-tensor plan and stop (with --plan)");
  q->add_option("--save", a.save,
                "Save the quantized variant (weights + every quantizer + recipe) to FILE.safetensors or into DIR; "
                "reopen it like any model file");
  // One flag per schema parameter across all methods.
  std::set<std::string> seen;
  for (auto& m : methods())
    for (auto& p : m.params) {
      if (!seen.insert(p.name).second) continue;
      auto* opt = q->add_option_function<std::string>(
          "--" + p.name, [name = p.name](const std::string& v) { a.params[name] = v; }, p.help);
      if (p.type == ParamSpec::Type::Choice) opt->check(CLI::IsMember(p.choices));
    }
  q->add_option_function<std::string>("--granularity", [](const std::string& v) { a.params["w_granularity"] = v; },
                                      "Alias of --w_granularity")
      ->check(CLI::IsMember({"per-channel", "per-tensor"}));
  q->callback([] {
    int rc = run(a, "");
    if (rc != 0) std::exit(rc);
  });
}

}  // namespace cs::cli
