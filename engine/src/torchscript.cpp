// TorchScript models (torch.jit.save files): generic layer tree from the module
// hierarchy, weights by name, and activation taps by graph instrumentation.
//
// Instrumentation: the module's forward graph is copied and inlined (every submodule
// call becomes plain ops, loops and branches stay as prim::Loop / prim::If blocks),
// then the input and output of every aten::linear / conv1d / conv2d / conv3d /
// _convolution, the output of aten::matmul and aten::softmax, and the output of
// aten::layer_norm are routed through the custom op `cstudio::tap(Tensor x, str point,
// int kind) -> Tensor`. Its kernel forwards to the ForwardCtx of the current call
// (thread-local), so transforms (activation fake-quant) and observers (statistics)
// work exactly as on native models. Tap points are named after the module path of the
// weight (the prim::GetAttr chain, e.g. "blocks.0.fc1"), else after the inlined call
// stack's module instances plus the op kind ("attn.matmul.1"), else op kind + index.
// Ops that carry compute but are not instrumented (bmm, einsum, addmm, ...) are listed
// in the property "taps.uninstrumented". If instrumentation fails, the model still
// runs through its own forward and supportsTaps() is false (property "taps.error").
#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/script.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "engine/torch/model_impl.h"
#include "torchscript_model.h"

namespace cs::detail {
namespace {

thread_local const ForwardCtx* tlsCtx = nullptr;

at::Tensor tapKernel(const at::Tensor& x, std::string point, int64_t kind) {
  const ForwardCtx* ctx = tlsCtx;
  if (!ctx) return x;
  return ctx->tap(point, static_cast<TapKind>(kind), x);
}

struct CtxGuard {
  const ForwardCtx* prev;
  explicit CtxGuard(const ForwardCtx* c) : prev(tlsCtx) { tlsCtx = c; }
  ~CtxGuard() { tlsCtx = prev; }
};

std::string shortType(const torch::jit::Module& m) {
  auto t = m.type()->name();
  if (!t) return "Module";
  std::string s = t->name();  // unqualified class name
  return s;
}

// Dotted attribute path of `v` from the graph's `self` input, or "" if `v` is not a
// chain of prim::GetAttr starting at self.
std::string attrPath(torch::jit::Value* v, torch::jit::Value* self) {
  std::vector<std::string> parts;
  while (v != self) {
    auto* n = v->node();
    if (n->kind() != c10::prim::GetAttr) return "";
    parts.push_back(n->s(c10::attr::name));
    v = n->input(0);
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += (out.empty() ? "" : ".") + *it;
  return out;
}

// Module path from the inlined call stack ("blocks.0.attn"), "" at top level.
std::string callStackPath(const torch::jit::Node* n) {
  auto cs = n->callstack();
  if (!cs) return "";
  std::string out;
  c10::optional<torch::jit::InlinedCallStackPtr> cur = *cs;
  while (cur) {
    auto mi = (*cur)->module_instance();
    if (mi) {
      auto nm = mi->instance_name();
      if (!nm.empty() && nm != "SELF" && nm != "self") out += (out.empty() ? "" : ".") + nm;
    }
    cur = (*cur)->callee();
  }
  return out;
}

struct Instrumenter {
  Instrumenter(torch::jit::Graph& graph, torch::jit::Value* selfValue) : g(graph), self(selfValue) {}
  torch::jit::Graph& g;
  torch::jit::Value* self;
  std::map<std::string, int> counters;      // per generated name, for uniqueness
  std::set<std::string> layerNames;         // layers that got an input tap
  std::map<std::string, int> uninstrumented;  // op kind -> occurrences
  int taps = 0;

  std::string layerName(torch::jit::Node* n, size_t weightIndex, const std::string& op) {
    if (n->inputs().size() > weightIndex) {
      auto p = attrPath(n->input(weightIndex), self);
      if (!p.empty()) {
        const std::string suffix = ".weight";
        if (p.size() > suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0)
          return p.substr(0, p.size() - suffix.size());
        return p;
      }
    }
    return indexedName(n, op);
  }
  std::string indexedName(torch::jit::Node* n, const std::string& op) {
    auto base = callStackPath(n);
    base = base.empty() ? op : base + "." + op;
    int k = counters[base]++;
    return base + "." + std::to_string(k);
  }

  torch::jit::Node* makeTap(torch::jit::Value* x, const std::string& point, TapKind kind) {
    auto* pv = g.insertConstant(point);
    auto* kv = g.insertConstant(static_cast<int64_t>(kind));
    auto* t = g.create(c10::Symbol::fromQualString("cstudio::tap"), {x, pv, kv});
    g.insertNode(t);
    t->output()->setType(x->type());
    ++taps;
    return t;
  }
  void tapInput(torch::jit::Node* n, const std::string& point) {
    torch::jit::WithInsertPoint ip(n);
    auto* t = makeTap(n->input(0), point, TapKind::LayerInput);
    n->replaceInput(0, t->output());
    layerNames.insert(point);
  }
  void tapOutput(torch::jit::Node* n, const std::string& point, TapKind kind) {
    auto* out = n->output(0);
    torch::jit::WithInsertPoint ip(n->next());
    auto* t = makeTap(out, point, kind);
    out->replaceAllUsesAfterNodeWith(t, t->output());
  }

  void visit(torch::jit::Block* b) {
    std::vector<torch::jit::Node*> nodes(b->nodes().begin(), b->nodes().end());
    for (auto* n : nodes) {
      for (auto* sub : n->blocks()) visit(sub);
      const std::string k = n->kind().toQualString();
      if (k == "aten::linear" || k == "aten::conv1d" || k == "aten::conv2d" || k == "aten::conv3d" ||
          k == "aten::_convolution") {
        const std::string op = k.substr(6);
        auto name = layerName(n, 1, op);
        tapInput(n, name);
        tapOutput(n, name, TapKind::LayerOutput);
      } else if (k == "aten::matmul") {
        tapOutput(n, indexedName(n, "matmul"), TapKind::LayerOutput);
      } else if (k == "aten::softmax") {
        tapOutput(n, indexedName(n, "softmax"), TapKind::Softmax);
      } else if (k == "aten::layer_norm") {
        auto p = n->inputs().size() > 2 ? attrPath(n->input(2), self) : "";
        std::string name;
        if (!p.empty() && p.size() > 7 && p.compare(p.size() - 7, 7, ".weight") == 0) name = p.substr(0, p.size() - 7);
        else name = indexedName(n, "layer_norm");
        tapOutput(n, name, TapKind::NormOutput);
      } else if (k == "aten::bmm" || k == "aten::mm" || k == "aten::addmm" || k == "aten::baddbmm" ||
                 k == "aten::einsum" || k == "aten::conv_transpose1d" || k == "aten::conv_transpose2d" ||
                 k == "aten::conv_transpose3d" || k == "aten::lstm" || k == "aten::gru" || k == "aten::rnn_tanh" ||
                 k == "aten::rnn_relu" || k == "aten::scaled_dot_product_attention" || k == "aten::group_norm" ||
                 k == "aten::batch_norm" || k == "aten::instance_norm" || k == "aten::log_softmax" ||
                 k == "prim::CallFunction" || k == "prim::CallMethod" || k == "prim::fork") {
        uninstrumented[k]++;
      }
    }
  }
};

class TorchScriptModel : public ModelImpl {
 public:
  explicit TorchScriptModel(torch::jit::Module m) : m_(std::move(m)) {
    m_.eval();
    instrument();
  }

  std::string family() const override { return "torchscript"; }
  Task task() const override { return task_; }
  bool supportsTaps() const override { return fn_ != nullptr && !broken_->load(); }

  std::vector<LayerInfo> layers() const override {
    std::vector<LayerInfo> out;
    for (const auto& nm : m_.named_modules()) {
      if (nm.name.empty()) continue;
      LayerInfo l;
      l.name = nm.name;
      l.type = shortType(nm.value);
      for (const auto& p : nm.value.named_parameters(/*recurse=*/false)) {
        l.params += p.value.numel();
        if (p.name == "weight") {
          l.weightShape = p.value.sizes().vec();
          l.dtype = c10::toString(p.value.scalar_type());
          if (l.dtype == "Float") l.dtype = "float32";
        }
      }
      l.quantizable = l.weightShape.size() >= 2 && (l.type.find("Linear") != std::string::npos ||
                                                    l.type.find("Conv") != std::string::npos);
      out.push_back(l);
    }
    return out;
  }

  std::vector<std::pair<std::string, torch::Tensor>> namedTensors() const override {
    std::vector<std::pair<std::string, torch::Tensor>> v;
    for (const auto& p : m_.named_parameters(true)) v.emplace_back(p.name, p.value);
    for (const auto& b : m_.named_buffers(true)) v.emplace_back(b.name, b.value);
    return v;
  }

  std::shared_ptr<ModelImpl> clone() const override {
    auto c = std::make_shared<TorchScriptModel>(m_.deepcopy());
    c->name = name;
    c->source = source;
    c->properties = properties;
    c->inputTransforms = inputTransforms;
    c->task_ = task_;
    return c;
  }

  torch::Tensor forward(const torch::Tensor& input, const ForwardCtx& ctx) const override {
    c10::IValue out;
    if (fn_ && !broken_->load()) {
      CtxGuard guard(&ctx);
      torch::jit::Stack stack{m_._ivalue(), input};
      try {
        fn_->run(stack);
      } catch (const std::exception&) {
        // If the module's own forward succeeds, the instrumentation is at fault: stop using
        // it (taps off) rather than failing every call; otherwise the input is the problem.
        auto plain = const_cast<torch::jit::Module&>(m_).forward({input});
        broken_->store(true);
        stack = {plain};
      }
      out = stack.at(0);
    } else {
      out = const_cast<torch::jit::Module&>(m_).forward({input});
    }
    if (out.isTensor()) return out.toTensor();
    if (out.isTuple()) return out.toTuple()->elements().at(0).toTensor();
    throw EngineError(Error::failed(source + ": forward() returned neither a tensor nor a tuple"));
  }

  void setTask(Task t) { task_ = t; }
  const std::map<std::string, std::string>& tapInfo() const { return tapInfo_; }

 private:
  void instrument() {
    try {
      auto g = m_.get_method("forward").graph()->copy();
      torch::jit::Inline(*g);
      if (g->inputs().empty()) throw std::runtime_error("forward graph has no self input");
      Instrumenter ins(*g, g->inputs()[0]);
      ins.visit(g->block());
      std::string un;
      for (auto& [k, c] : ins.uninstrumented) un += (un.empty() ? "" : ", ") + k + " x" + std::to_string(c);
      tapInfo_["taps.points"] = std::to_string(ins.taps);
      tapInfo_["taps.uninstrumented"] = un.empty() ? "none" : un;
      g->lint();
      fn_ = std::make_shared<torch::jit::GraphFunction>(c10::QualifiedName("cstudio.tapped_forward"), g, nullptr);
    } catch (const std::exception& e) {
      fn_.reset();
      tapInfo_["taps.error"] = errorFromException(e).message;
    }
  }

  torch::jit::Module m_;
  std::shared_ptr<torch::jit::GraphFunction> fn_;
  std::shared_ptr<std::atomic<bool>> broken_ = std::make_shared<std::atomic<bool>>(false);
  std::map<std::string, std::string> tapInfo_;
  Task task_ = Task::Unknown;
};

// Classifier probe: a model taking [N,1,28,28] and returning [N,10] logits is treated
// as a Fashion-MNIST classifier (calibration and evaluation data exist for it).
Task probeTask(const TorchScriptModel& m) {
  try {
    torch::InferenceMode guard;
    auto y = m.run(torch::zeros({2, 1, 28, 28}));
    if (y.dim() == 2 && y.size(0) == 2 && y.size(1) == 10) return Task::ImageClassification;
  } catch (const std::exception&) {
  }
  return Task::Unknown;
}

}  // namespace

TORCH_LIBRARY(cstudio, m) {
  m.def(torch::schema("cstudio::tap(Tensor x, str point, int kind) -> Tensor", c10::AliasAnalysisKind::CONSERVATIVE),
        &tapKernel);
}

std::shared_ptr<ModelImpl> openTorchScript(const std::string& path) {
  torch::jit::Module m;
  try {
    m = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    std::string what = errorFromException(e).message;
    throw EngineError(Error::badFile(path, "not a loadable TorchScript file (" + what + ")"));
  }
  auto impl = std::make_shared<TorchScriptModel>(std::move(m));
  impl->source = path;
  int64_t n = 0;
  for (auto& [k, t] : impl->namedTensors()) n += t.numel();
  impl->properties["parameters+buffers"] = std::to_string(n);
  for (auto& [k, v] : impl->tapInfo()) impl->properties[k] = v;
  if (n < 50'000'000) impl->setTask(probeTask(*impl));
  if (impl->task() == Task::ImageClassification) impl->properties["task"] = "image classification ([N,1,28,28] -> 10)";
  return impl;
}

}  // namespace cs::detail
