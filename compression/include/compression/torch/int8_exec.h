// Torch-facing part of the integer execution (compression/int8_exec.h): the converted
// ViT, for tests and benchmarks. compression/ and tests only.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>

#include "compression/quantize.h"
#include "engine/torch/vit.h"

namespace cs::detail {

class Int8Vit {
 public:
  // `variant`: an RTN W8A8 variant of a native ViT (fake-quantized weights, per-tensor
  // asymmetric 8-bit input quantizers) with its QuantizeResult::saveInfo. `engine`:
  // "onednn", "qnnpack", "fbgemm" or "x86". Output ranges are calibrated on `calib`.
  // Throws on an engine that cannot prepack or run.
  Int8Vit(const QuantizeResult& variant, const std::string& engine, const torch::Tensor& calib);
  // Logits through the integer kernels (under InferenceMode).
  torch::Tensor forward(const torch::Tensor& images) const;
  const std::string& engine() const { return engine_; }
  std::vector<std::string> int8Layers() const;

 private:
  struct QLinear;
  enum class Mode { Calibrate, Int8 };
  torch::Tensor run(const torch::Tensor& images, Mode mode) const;
  torch::Tensor linear(const std::string& name, const torch::Tensor& x, Mode mode) const;
  std::shared_ptr<const VitModel> vit_;
  std::map<std::string, torch::Tensor> p_;
  std::map<std::string, std::shared_ptr<QLinear>> lin_;
  std::string engine_;
  TensorTransform patchInput_;
};

// Sets the process-wide quantized engine by name; false if unsupported here.
bool setQuantizedEngine(const std::string& name);

}  // namespace cs::detail
