// Recipes: what to apply to a model, as JSON shared verbatim by the GUI and the CLI.
//   { "method": "rtn", "params": {"wbits": 8, ...}, "calibration": {"samples": 256, "seed": 0} }
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "engine/result.h"

namespace cs {

struct Recipe {
  std::string method = "rtn";
  nlohmann::json params = nlohmann::json::object();
  int calibSamples = 256;
  int calibSeed = 0;

  nlohmann::json toJson() const;
  static Result<Recipe> fromJson(const nlohmann::json& j);
  static Result<Recipe> fromFile(const std::string& path);  // errors name the file
};

}  // namespace cs
