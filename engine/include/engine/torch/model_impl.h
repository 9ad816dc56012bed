// Torch-facing model interface, for engine/ and compression/ sources only (never
// include from app/ or widgets/). A ModelImpl is immutable once published inside a
// cs::Model; compression builds variants with clone() and edits the clone before
// publishing it.
//
// Taps: native models route the input of every quantizable layer (and other named
// points) through ForwardCtx::tap(). A variant carries per-layer input transforms
// (e.g. activation fake-quant); a call may add an observer (e.g. calibration stats).
// Threading: forward() is const and may run concurrently from several threads when
// observers are per-call; transforms must be stateless.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"

namespace cs::detail {

enum class TapKind { LayerInput, LayerOutput, Softmax, NormOutput, BlockOutput };

// Observer called at each tap during one forward call. Returns the (possibly
// modified) tensor to continue with.
using TapObserver = std::function<torch::Tensor(const std::string& point, TapKind, const torch::Tensor&)>;
using TensorTransform = std::function<torch::Tensor(const torch::Tensor&)>;

struct ForwardCtx {
  const std::map<std::string, TensorTransform>* inputTransforms = nullptr;  // by layer name
  const TapObserver* observer = nullptr;
  torch::Tensor tap(const std::string& point, TapKind kind, torch::Tensor x) const {
    if (kind == TapKind::LayerInput && inputTransforms) {
      auto it = inputTransforms->find(point);
      if (it != inputTransforms->end()) x = it->second(x);
    }
    if (observer && *observer) x = (*observer)(point, kind, x);
    return x;
  }
};

class ModelImpl {
 public:
  virtual ~ModelImpl() = default;

  virtual std::string family() const = 0;
  virtual Task task() const = 0;
  virtual std::vector<LayerInfo> layers() const = 0;
  // All parameters and buffers by dotted name (views; editing them edits the model).
  virtual std::vector<std::pair<std::string, torch::Tensor>> namedTensors() const = 0;
  // Deep copy (weights, transforms and properties). The copy can be edited freely.
  virtual std::shared_ptr<ModelImpl> clone() const = 0;
  // Generic forward for classifiers and other single-input models.
  virtual torch::Tensor forward(const torch::Tensor& input, const ForwardCtx& ctx) const = 0;
  // Whether taps fire for layer inputs (native: yes; TorchScript: not yet).
  virtual bool supportsTaps() const { return true; }

  // The weight tensor of a quantizable layer ("<layer>.weight"), undefined if none.
  torch::Tensor layerWeight(const std::string& layer) const;

  // Convenience: forward with this model's own input transforms and an optional observer.
  torch::Tensor run(const torch::Tensor& input, const TapObserver* observer = nullptr) const {
    ForwardCtx ctx{&inputTransforms, observer};
    return forward(input, ctx);
  }

  std::string name, source;
  std::map<std::string, std::string> properties;
  std::map<std::string, TensorTransform> inputTransforms;

 protected:
  ModelImpl() = default;
  ModelImpl(const ModelImpl&) = default;
};

// Helpers for implementations.
int64_t countParams(const torch::Tensor& t);
// Turns any exception into an Error that names `file` (may be empty).
Error errorFromException(const std::exception& e, const std::string& file = {});

}  // namespace cs::detail

// Runs `body` (returning Result<T>) and converts exceptions into Errors.
// (variadic so that commas inside the body need no extra parentheses)
#define CS_TRY_RESULT(file, ...)                                               \
  try {                                                                        \
    __VA_ARGS__                                                                \
  } catch (const ::cs::EngineError& e) {                                       \
    return e.error;                                                            \
  } catch (const std::exception& e) {                                          \
    return ::cs::detail::errorFromException(e, file);                          \
  }
