// Quantization plan: parsing, validation and resolution (compression/quant_plan.h).
#include <fstream>
#include <regex>
#include <set>

#include "compression/quant_plan.h"

namespace cs {

namespace {

const std::vector<std::string> kTargets = {"weight", "input", "matmul", "softmax", "norm"};

bool globMatch(const std::string& pat, const std::string& s) {
  size_t p = 0, i = 0, star = std::string::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p, ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != std::string::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

std::vector<std::string> stringOrList(const nlohmann::json& j, const std::string& what) {
  if (j.is_string()) return {j.get<std::string>()};
  if (!j.is_array()) throw std::invalid_argument(what + " must be a string or a list of strings");
  std::vector<std::string> v;
  for (auto& e : j) {
    if (!e.is_string()) throw std::invalid_argument(what + " must be a string or a list of strings");
    v.push_back(e.get<std::string>());
  }
  return v;
}

// Merges `over` into `base` and validates the result as a quantizer.
QuantizerSpec makeSpec(nlohmann::json base, const nlohmann::json& over, const std::string& where) {
  if (base.is_null()) base = {{"bits", 8}, {"symmetric", false}, {"granularity", "per-tensor"}, {"range", "minmax"}};
  if (!over.is_null()) {
    if (!over.is_object()) throw std::invalid_argument(where + ": quantizer must be an object");
    for (auto it = over.begin(); it != over.end(); ++it) base[it.key()] = it.value();
  }
  static const std::set<std::string> keys = {"bits", "symmetric", "granularity", "group_size", "range"};
  for (auto it = base.begin(); it != base.end(); ++it)
    if (!keys.count(it.key())) throw std::invalid_argument(where + ": unknown quantizer field '" + it.key() + "'");
  QuantizerSpec q;
  try {
    q.bits = base.value("bits", 8);
    q.symmetric = base.value("symmetric", false);
    q.granularity = base.value("granularity", std::string("per-tensor"));
    q.groupSize = base.value("group_size", 0);
    q.range = base.value("range", std::string("minmax"));
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(where + ": " + e.what());
  }
  if (q.bits < 2 || q.bits > 16) throw std::invalid_argument(where + ": bits must be in [2, 16], got " + std::to_string(q.bits));
  static const std::set<std::string> grans = {"per-tensor", "per-channel", "per-group", "per-token"};
  if (!grans.count(q.granularity)) throw std::invalid_argument(where + ": unknown granularity '" + q.granularity + "'");
  if (q.granularity == "per-group" && q.groupSize <= 0)
    throw std::invalid_argument(where + ": per-group needs a positive group_size");
  static const std::set<std::string> ranges = {"minmax", "percentile", "mse", "percentile-mse", "log2", "log-sqrt2"};
  if (!ranges.count(q.range)) throw std::invalid_argument(where + ": unknown range method '" + q.range + "'");
  return q;
}

struct Point {
  std::string tensor, layer, target, op;
  bool embedding = false, head = false, first = false, last = false;
};

std::vector<Point> planPoints(const Model& model) {
  std::vector<Point> pts;
  auto layers = model.layers();
  std::vector<std::string> quantizable;
  for (auto& l : layers)
    if (l.quantizable) quantizable.push_back(l.name);
  auto lower = [](std::string s) {
    for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  for (auto& l : layers) {
    const std::string low = lower(l.name);
    const std::string leaf = l.name.substr(l.name.rfind('.') == std::string::npos ? 0 : l.name.rfind('.') + 1);
    if (l.quantizable) {
      Point base;
      base.layer = l.name;
      base.op = l.type;
      base.embedding = low.find("embed") != std::string::npos;
      base.head = leaf == "head" || leaf == "head_dist" || leaf == "lm_head" || leaf == "output" || leaf == "classifier";
      base.first = !quantizable.empty() && l.name == quantizable.front();
      base.last = !quantizable.empty() && l.name == quantizable.back();
      Point w = base, in = base;
      w.tensor = l.name + ".weight";
      w.target = "weight";
      in.tensor = l.name + ":input";
      in.target = "input";
      pts.push_back(w);
      pts.push_back(in);
    } else if (l.type == "Attention") {
      for (auto [suffix, target, op] : {std::tuple{".matmul_qk", "matmul", "MatMul"}, std::tuple{".softmax", "softmax", "Softmax"},
                                        std::tuple{".matmul_av", "matmul", "MatMul"}}) {
        Point p;
        p.layer = l.name;
        p.tensor = l.name + suffix;
        p.target = target;
        p.op = op;
        pts.push_back(p);
      }
    } else if (l.type.find("Norm") != std::string::npos) {
      Point p;
      p.layer = l.name;
      p.tensor = l.name + ":output";
      p.target = "norm";
      p.op = l.type;
      pts.push_back(p);
    }
  }
  return pts;
}

}  // namespace

nlohmann::json QuantizerSpec::toJson() const {
  nlohmann::json j = {{"bits", bits}, {"symmetric", symmetric}, {"granularity", granularity}, {"range", range}};
  if (granularity == "per-group") j["group_size"] = groupSize;
  return j;
}

Result<QuantPlan> QuantPlan::fromJson(const nlohmann::json& j, const std::string& origin) {
  try {
    if (!j.is_object()) throw std::invalid_argument("a plan must be a JSON object");
    static const std::set<std::string> top = {"defaults", "exclude", "rules", "comment"};
    for (auto it = j.begin(); it != j.end(); ++it)
      if (!top.count(it.key())) throw std::invalid_argument("unknown field '" + it.key() + "'");
    QuantPlan p;
    if (j.contains("defaults")) {
      if (!j["defaults"].is_object()) throw std::invalid_argument("'defaults' must be an object");
      for (auto it = j["defaults"].begin(); it != j["defaults"].end(); ++it) {
        if (std::find(kTargets.begin(), kTargets.end(), it.key()) == kTargets.end())
          throw std::invalid_argument("defaults: unknown target '" + it.key() + "'");
        if (it.value().is_null() || it.value() == false) {
          p.defaults[it.key()] = nullptr;
        } else {
          (void)makeSpec(it.value(), nullptr, "defaults." + it.key());
          p.defaults[it.key()] = it.value();
        }
      }
    }
    if (j.contains("exclude")) {
      const auto& e = j["exclude"];
      if (!e.is_object()) throw std::invalid_argument("'exclude' must be an object");
      for (auto it = e.begin(); it != e.end(); ++it) {
        if (!it.value().is_boolean()) throw std::invalid_argument("exclude." + it.key() + " must be true or false");
        const bool v = it.value();
        if (it.key() == "embeddings") p.excludeEmbeddings = v;
        else if (it.key() == "head") p.excludeHead = v;
        else if (it.key() == "first") p.excludeFirst = v;
        else if (it.key() == "last") p.excludeLast = v;
        else throw std::invalid_argument("exclude: unknown field '" + it.key() + "' (embeddings, head, first, last)");
      }
    }
    if (j.contains("rules")) {
      if (!j["rules"].is_array()) throw std::invalid_argument("'rules' must be a list");
      int n = 0;
      for (auto& r : j["rules"]) {
        ++n;
        PlanRule rule;
        rule.name = r.value("name", "rule " + std::to_string(n));
        const std::string where = "rule " + std::to_string(n) + (r.contains("name") ? " (" + rule.name + ")" : "");
        if (!r.is_object()) throw std::invalid_argument(where + ": must be an object");
        static const std::set<std::string> keys = {"name", "match", "regex", "op", "target", "fp", "quantizer", "comment"};
        for (auto it = r.begin(); it != r.end(); ++it)
          if (!keys.count(it.key())) throw std::invalid_argument(where + ": unknown field '" + it.key() + "'");
        rule.glob = r.value("match", "");
        rule.regex = r.value("regex", "");
        if (!rule.glob.empty() && !rule.regex.empty()) throw std::invalid_argument(where + ": give 'match' or 'regex', not both");
        if (r.contains("op")) rule.ops = stringOrList(r["op"], where + ": 'op'");
        if (r.contains("target")) rule.targets = stringOrList(r["target"], where + ": 'target'");
        for (auto& t : rule.targets)
          if (t != "*" && std::find(kTargets.begin(), kTargets.end(), t) == kTargets.end())
            throw std::invalid_argument(where + ": unknown target '" + t + "' (weight, input, matmul, softmax, norm, *)");
        if (rule.glob.empty() && rule.regex.empty() && rule.ops.empty())
          throw std::invalid_argument(where + ": selects nothing (give 'match', 'regex' or 'op')");
        if (!rule.regex.empty()) {
          try {
            std::regex re(rule.regex, std::regex::ECMAScript);
          } catch (const std::regex_error& e) {
            throw std::invalid_argument(where + ": bad regex '" + rule.regex + "': " + e.what());
          }
        }
        rule.fp = r.value("fp", false);
        rule.quantizer = r.value("quantizer", nlohmann::json::object());
        if (!rule.fp) (void)makeSpec(nullptr, rule.quantizer, where);  // fields valid on their own
        p.rules.push_back(rule);
      }
    }
    return p;
  } catch (const std::exception& e) {
    return Error::badArgument(origin + ": " + e.what());
  }
}

Result<QuantPlan> QuantPlan::fromFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Error::notFound(path + ": cannot read the plan file");
  nlohmann::json j;
  try {
    f >> j;
  } catch (const std::exception& e) {
    return Error::badFile(path, std::string("not valid JSON: ") + e.what());
  }
  return fromJson(j, path);
}

nlohmann::json QuantPlan::toJson() const {
  nlohmann::json rs = nlohmann::json::array();
  for (auto& r : rules) {
    nlohmann::json j = {{"name", r.name}};
    if (!r.glob.empty()) j["match"] = r.glob;
    if (!r.regex.empty()) j["regex"] = r.regex;
    if (!r.ops.empty()) j["op"] = r.ops;
    if (!r.targets.empty()) j["target"] = r.targets;
    if (r.fp) j["fp"] = true;
    if (!r.quantizer.empty()) j["quantizer"] = r.quantizer;
    rs.push_back(j);
  }
  return {{"defaults", defaults},
          {"exclude", {{"embeddings", excludeEmbeddings}, {"head", excludeHead}, {"first", excludeFirst}, {"last", excludeLast}}},
          {"rules", rs}};
}

const PlanDecision* ResolvedPlan::find(const std::string& tensor) const {
  for (auto& d : decisions)
    if (d.tensor == tensor) return &d;
  return nullptr;
}

nlohmann::json ResolvedPlan::toJson() const {
  nlohmann::json arr = nlohmann::json::array();
  int nq = 0;
  for (auto& d : decisions) {
    nlohmann::json j = {{"tensor", d.tensor}, {"layer", d.layer}, {"target", d.target}, {"op", d.op},
                        {"quantize", d.quantize}, {"decided_by", d.decidedBy}};
    if (d.quantize) j["quantizer"] = d.q.toJson(), ++nq;
    arr.push_back(j);
  }
  return {{"decisions", arr}, {"quantized", nq}, {"full_precision", int(decisions.size()) - nq}};
}

Result<ResolvedPlan> resolvePlan(const Model& model, const QuantPlan& plan) {
  if (!model.valid()) return Error::badArgument("no model");
  try {
    std::vector<std::regex> res(plan.rules.size());
    for (size_t i = 0; i < plan.rules.size(); ++i)
      if (!plan.rules[i].regex.empty()) {
        try {
          res[i] = std::regex(plan.rules[i].regex, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
          throw std::invalid_argument("rule '" + plan.rules[i].name + "': bad regex '" + plan.rules[i].regex + "': " + e.what());
        }
      }
    ResolvedPlan out;
    for (auto& pt : planPoints(model)) {
      PlanDecision d;
      d.tensor = pt.tensor;
      d.layer = pt.layer;
      d.target = pt.target;
      d.op = pt.op;
      const auto& def = plan.defaults.contains(pt.target) ? plan.defaults.at(pt.target) : nlohmann::json();
      d.quantize = !def.is_null();
      if (d.quantize) d.q = makeSpec(def, nullptr, "defaults." + pt.target);
      d.decidedBy = "default";
      bool excluded = false;
      auto exclude = [&](bool on, bool is, const char* why) {
        if (on && is && !excluded) {
          excluded = true;
          d.quantize = false;
          d.decidedBy = std::string("exclusion: ") + why;
        }
      };
      exclude(plan.excludeEmbeddings, pt.embedding, "embeddings");
      exclude(plan.excludeHead, pt.head, "head");
      exclude(plan.excludeFirst, pt.first, "first layer");
      exclude(plan.excludeLast, pt.last, "last layer");
      // Two passes: op-type-only rules, then named rules; later wins within each.
      for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < plan.rules.size(); ++i) {
          const auto& r = plan.rules[i];
          const bool named = !r.glob.empty() || !r.regex.empty();
          if (named != (pass == 1)) continue;
          if (!named && excluded) continue;  // op-type rules never override a default exclusion
          if (!r.targets.empty() && std::find(r.targets.begin(), r.targets.end(), "*") == r.targets.end() &&
              std::find(r.targets.begin(), r.targets.end(), pt.target) == r.targets.end())
            continue;
          if (!r.ops.empty() && std::find(r.ops.begin(), r.ops.end(), pt.op) == r.ops.end()) continue;
          if (!r.glob.empty() && !globMatch(r.glob, pt.layer)) continue;
          if (!r.regex.empty() && !std::regex_match(pt.layer, res[i])) continue;
          const std::string who = "rule " + std::to_string(i + 1) +
                                  (r.name != "rule " + std::to_string(i + 1) ? " (" + r.name + ")" : "");
          if (r.fp) {
            d.quantize = false;
          } else {
            d.q = makeSpec(def.is_null() ? nlohmann::json() : def, r.quantizer, who);
            d.quantize = true;
          }
          d.decidedBy = who;
        }
      }
      out.decisions.push_back(d);
    }
    return out;
  } catch (const std::exception& e) {
    return Error::badArgument(model.name() + ": quantization plan: " + e.what());
  }
}

}  // namespace cs
