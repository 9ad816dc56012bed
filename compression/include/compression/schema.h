// Parameter schemas: every method describes its parameters once (name, type, range,
// default, help). The GUI renders forms from them and the CLI parses flags from them.
// Plain value types; thread-safe.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace cs {

struct ParamSpec {
  enum class Type { Int, Float, Bool, Choice };
  std::string name;     // JSON key and CLI flag (--wbits)
  std::string label;    // form label ("Weight bits")
  Type type = Type::Int;
  double min = 0, max = 0, step = 1;   // numeric range (Int/Float)
  std::vector<std::string> choices;    // Choice values
  nlohmann::json defaultValue;
  std::string help;
};

struct Preset {
  std::string name;          // "W8A8"
  nlohmann::json params;     // values overriding the defaults
};

struct MethodInfo {
  std::string id;            // "rtn"
  std::string name;          // "RTN (round-to-nearest, min-max)"
  std::string kind;          // "quantization", "pruning", ...
  std::string description;
  std::vector<ParamSpec> params;
  std::vector<Preset> presets;

  nlohmann::json defaults() const;
  // Fills defaults, checks types/ranges/choices; errors name the parameter.
  // Returns an empty string when valid.
  std::string validate(nlohmann::json& params) const;
};

}  // namespace cs
