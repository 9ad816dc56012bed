// Recipe JSON (see compression/recipe.h).
#include "compression/recipe.h"

#include <fstream>

namespace cs {

nlohmann::json Recipe::toJson() const {
  return {{"method", method}, {"params", params}, {"calibration", {{"samples", calibSamples}, {"seed", calibSeed}}}};
}

Result<Recipe> Recipe::fromJson(const nlohmann::json& j) {
  if (!j.is_object()) return Error::badArgument("recipe must be a JSON object");
  Recipe r;
  if (!j.contains("method") || !j["method"].is_string()) return Error::badArgument("recipe lacks a \"method\" string");
  r.method = j["method"];
  if (j.contains("params")) {
    if (!j["params"].is_object()) return Error::badArgument("recipe \"params\" must be an object");
    r.params = j["params"];
  }
  if (j.contains("calibration")) {
    auto& c = j["calibration"];
    if (!c.is_object()) return Error::badArgument("recipe \"calibration\" must be an object");
    if (c.contains("samples")) {
      if (!c["samples"].is_number_integer() || c["samples"].get<int>() < 1)
        return Error::badArgument("recipe calibration.samples must be a positive integer");
      r.calibSamples = c["samples"];
    }
    if (c.contains("seed")) {
      if (!c["seed"].is_number_integer()) return Error::badArgument("recipe calibration.seed must be an integer");
      r.calibSeed = c["seed"];
    }
  }
  return r;
}

Result<Recipe> Recipe::fromFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Error::notFound(path + ": cannot open recipe file");
  auto j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded()) return Error::badFile(path, "not valid JSON");
  auto r = fromJson(j);
  if (!r) return Error::badFile(path, r.error().message);
  return r;
}

}  // namespace cs
