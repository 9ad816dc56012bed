// Quantization plan: which tensors get which quantizer. A plan has per-target
// defaults, default exclusions (embeddings, heads, first/last layer) and rules that
// select tensors by layer-name glob or regex and by op type. resolvePlan() turns it
// into one decision per quantizable tensor of a model, shown before running
// (`cstudio quantize MODEL --plan FILE.json --plan-only --json`).
//
// Targets: "weight" (of each Linear/Conv), "input" (of each Linear/Conv), "matmul"
// (the operands of attention's Q*K^T and A*V), "softmax" (attention probabilities),
// "norm" (LayerNorm/RMSNorm outputs).
// Precedence, lowest to highest: the target's default < default exclusions < rules
// that select by op type only (later wins) < rules that select by name (glob or regex,
// optionally also by op type; later wins). So a named rule can re-include an excluded
// tensor, an op-type rule cannot.
// Which methods honour a plan: RTN (weights, inputs, softmax). Others refuse one.
// Plain C++, no torch; thread-safe value types.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/result.h"

namespace cs {

struct QuantizerSpec {
  int bits = 8;
  bool symmetric = false;
  std::string granularity = "per-tensor";  // per-tensor | per-channel | per-group | per-token
  int groupSize = 0;                        // per-group
  std::string range = "minmax";             // minmax | percentile | mse | percentile-mse | log2 | log-sqrt2
  nlohmann::json toJson() const;
};

struct PlanRule {
  std::string name;                   // shown as what decided (defaults to "rule N")
  std::string glob;                   // layer-name glob: * any run of characters, ? one character
  std::string regex;                  // ECMAScript regex matched against the whole layer name
  std::vector<std::string> ops;       // op types ("Linear", "Conv2d", "Softmax", "LayerNorm", "MatMul")
  std::vector<std::string> targets;   // empty or "*": every target
  bool fp = false;                    // keep full precision
  nlohmann::json quantizer = nlohmann::json::object();  // fields overriding the target's default
};

struct QuantPlan {
  // Defaults per target; a null default leaves that target in full precision.
  nlohmann::json defaults = {
      {"weight", {{"bits", 8}, {"symmetric", true}, {"granularity", "per-channel"}, {"range", "minmax"}}},
      {"input", {{"bits", 8}, {"symmetric", false}, {"granularity", "per-tensor"}, {"range", "minmax"}}},
      {"matmul", nullptr},
      {"softmax", nullptr},
      {"norm", nullptr}};
  bool excludeEmbeddings = true, excludeHead = true, excludeFirst = false, excludeLast = false;
  std::vector<PlanRule> rules;

  // {"defaults": {...}, "exclude": {"embeddings":..,"head":..,"first":..,"last":..},
  //  "rules": [{"name", "match" (glob) | "regex", "op", "target", "fp", "quantizer"}]}
  // `origin` (a file name) prefixes errors.
  static Result<QuantPlan> fromJson(const nlohmann::json& j, const std::string& origin = "plan");
  static Result<QuantPlan> fromFile(const std::string& path);
  nlohmann::json toJson() const;
};

struct PlanDecision {
  std::string tensor;     // "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv:input", "blocks.0.attn.softmax", ...
  std::string layer;      // the layer the tensor belongs to
  std::string target;     // weight | input | matmul | softmax | norm
  std::string op;         // the op type selected on
  bool quantize = false;
  QuantizerSpec q;        // when quantize
  std::string decidedBy;  // "default", "exclusion: head", "rule 2 (attn-4bit)"
};

struct ResolvedPlan {
  std::vector<PlanDecision> decisions;
  const PlanDecision* find(const std::string& tensor) const;
  nlohmann::json toJson() const;
};

// One decision per weight and input of every quantizable layer, per attention softmax
// and matmul, and per norm output. Errors: a regex that does not compile, a quantizer
// field out of range (named by rule).
Result<ResolvedPlan> resolvePlan(const Model& model, const QuantPlan& plan);

}  // namespace cs
