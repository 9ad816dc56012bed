// Parameter schema defaults and validation (see compression/schema.h).
#include "compression/schema.h"

#include <cmath>

namespace cs {

nlohmann::json MethodInfo::defaults() const {
  nlohmann::json j = nlohmann::json::object();
  for (auto& p : params) j[p.name] = p.defaultValue;
  return j;
}

std::string MethodInfo::validate(nlohmann::json& j) const {
  if (j.is_null()) j = nlohmann::json::object();
  if (!j.is_object()) return "method '" + id + "': parameters must be a JSON object";
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool known = false;
    for (auto& p : params) known |= p.name == it.key();
    if (!known) return "method '" + id + "' has no parameter '" + it.key() + "'";
  }
  for (auto& p : params) {
    if (!j.contains(p.name)) {
      j[p.name] = p.defaultValue;
      continue;
    }
    auto& v = j[p.name];
    const std::string where = "parameter '" + p.name + "' of method '" + id + "'";
    switch (p.type) {
      case ParamSpec::Type::Int:
      case ParamSpec::Type::Float: {
        if (!v.is_number()) return where + " must be a number, got " + v.dump();
        double d = v.get<double>();
        if (p.type == ParamSpec::Type::Int && std::floor(d) != d) return where + " must be an integer, got " + v.dump();
        if (d < p.min || d > p.max)
          return where + " = " + v.dump() + " is outside [" + nlohmann::json(p.min).dump() + ", " +
                 nlohmann::json(p.max).dump() + "]";
        if (p.type == ParamSpec::Type::Int) v = static_cast<int64_t>(d);
        break;
      }
      case ParamSpec::Type::Bool:
        if (!v.is_boolean()) return where + " must be true or false, got " + v.dump();
        break;
      case ParamSpec::Type::Choice: {
        if (!v.is_string()) return where + " must be one of its choices, got " + v.dump();
        bool ok = false;
        for (auto& c : p.choices) ok |= c == v.get<std::string>();
        if (!ok) {
          std::string list;
          for (auto& c : p.choices) list += (list.empty() ? "" : ", ") + c;
          return where + " = " + v.dump() + " is not one of: " + list;
        }
        break;
      }
    }
  }
  return {};
}

}  // namespace cs
