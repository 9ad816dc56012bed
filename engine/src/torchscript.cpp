// TorchScript models (torch.jit.save files): generic layer tree from the module
// hierarchy, weights by name, forward through the scripted method. Activation taps
// on TorchScript graphs arrive with the distribution-explorer work (graph rewriting).
#include <torch/script.h>

#include "engine/torch/model_impl.h"
#include "torchscript_model.h"

namespace cs::detail {
namespace {

std::string shortType(const torch::jit::Module& m) {
  auto t = m.type()->name();
  if (!t) return "Module";
  std::string s = t->name();  // unqualified class name
  return s;
}

class TorchScriptModel : public ModelImpl {
 public:
  explicit TorchScriptModel(torch::jit::Module m) : m_(std::move(m)) { m_.eval(); }

  std::string family() const override { return "torchscript"; }
  Task task() const override { return Task::Unknown; }
  bool supportsTaps() const override { return false; }

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
    return c;
  }

  torch::Tensor forward(const torch::Tensor& input, const ForwardCtx&) const override {
    auto out = const_cast<torch::jit::Module&>(m_).forward({input});
    if (out.isTensor()) return out.toTensor();
    if (out.isTuple()) return out.toTuple()->elements().at(0).toTensor();
    throw EngineError(Error::failed(source + ": forward() returned neither a tensor nor a tuple"));
  }

 private:
  torch::jit::Module m_;
};

}  // namespace

std::shared_ptr<ModelImpl> openTorchScript(const std::string& path) {
  torch::jit::Module m;
  try {
    m = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    std::string what = errorFromException(e).message;
    throw EngineError(Error::badFile(path, "not a loadable TorchScript file (" + what + ")"));
  }
  auto impl = std::make_shared<TorchScriptModel>(std::move(m));
  int64_t n = 0;
  for (auto& [k, t] : impl->namedTensors()) n += t.numel();
  impl->properties["parameters+buffers"] = std::to_string(n);
  return impl;
}

}  // namespace cs::detail
