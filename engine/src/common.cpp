// Torch-facing shared helpers: exceptions to Errors, TensorData conversions.
#include <c10/util/Exception.h>

#include "engine/torch/model_impl.h"
#include "engine/torch/tensors.h"

namespace cs::detail {

Error errorFromException(const std::exception& e, const std::string& file) {
  std::string msg = e.what();
  if (auto* ce = dynamic_cast<const c10::Error*>(&e)) msg = ce->what_without_backtrace();
  // Keep one line: LibTorch messages can span many.
  auto nl = msg.find('\n');
  if (nl != std::string::npos) msg = msg.substr(0, nl);
  return file.empty() ? Error::failed(msg) : Error::badFile(file, msg);
}

int64_t countParams(const torch::Tensor& t) { return t.defined() ? t.numel() : 0; }

torch::Tensor ModelImpl::layerWeight(const std::string& layer) const {
  const std::string key = layer + ".weight";
  for (auto& [n, t] : namedTensors())
    if (n == key) return t;
  return {};
}

TensorData toTensorData(const torch::Tensor& t) {
  TensorData d;
  auto c = t.detach().to(torch::kCPU, torch::kFloat).contiguous();
  d.shape.assign(c.sizes().begin(), c.sizes().end());
  d.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  return d;
}

torch::Tensor fromTensorData(const TensorData& d) {
  return torch::from_blob(const_cast<float*>(d.values.data()), d.shape, torch::kFloat).clone();
}

}  // namespace cs::detail
