// Real integer execution of a W8A8 ViT on LibTorch's quantized CPU kernels, timed
// against FP32 on the same inputs ("measured", as opposed to fake-quant "simulated").
//
// What runs in int8: every Linear of the native ViT (qkv, proj, fc1, fc2, head) as
// quantized::linear with prepacked per-output-channel symmetric int8 weights, its input
// quantized per tensor to uint8 with the calibrated RTN W8A8 range, its output
// requantized to uint8 with a calibrated output range, then dequantized. What stays
// FP32 between them: the patch-embedding conv (run on its fake-quantized weight and
// input), LayerNorm, attention matmuls and softmax, GELU, residual adds.
// Threading: caller's thread; the process-wide quantized engine
// (at::globalContext().setQEngine) is set for the call.
#pragma once
#include <string>
#include <vector>

#include "engine/job.h"
#include "engine/model.h"
#include "engine/result.h"

namespace cs {

// LibTorch's quantized CPU engines usable here ("onednn", "qnnpack", "fbgemm", "x86"),
// in the order tried by "auto". "none" is never listed.
std::vector<std::string> quantizedEngines();

struct Int8Options {
  std::string engine = "auto";  // one of quantizedEngines(), or "auto" (first that works)
  int batch = 64;               // timing batch (the first `batch` test images)
  int warmup = 3, repeats = 20;  // per model; warm-up excluded from the timing
  int calibSamples = 128, calibSeed = 0;
  int evalSamples = 2000;       // Fashion-MNIST test images for the accuracies
  bool time = true;             // false: accuracy/agreement only (tests)
};

struct Int8Report {
  std::string engine;                      // engine used ("" when none worked)
  std::vector<std::string> enginesTried;   // "onednn: ok", "fbgemm: <error>"...
  bool measured = false;                   // integer kernels ran; false: simulated only
  std::string note;
  int threads = 0, batch = 0, repeats = 0;
  std::string torchVersion;
  double fp32ImagesPerSec = 0, int8ImagesPerSec = 0, speedup = 0;   // median
  double fp32MedianMs = 0, fp32P90Ms = 0, int8MedianMs = 0, int8P90Ms = 0;
  int evalSamples = 0;
  double fp32Accuracy = 0, fakeQuantAccuracy = 0, int8Accuracy = 0;
  double top1Agreement = 0;     // int8 vs fake-quant W8A8, over the eval images
  double maxAbsLogitDiff = 0, meanAbsLogitDiff = 0, logitStd = 0;  // int8 vs fake-quant
  std::vector<std::string> int8Layers, fpLayers;
};

// Quantizes `model` (native ViT classifier) with RTN W8A8 (per-channel symmetric
// weights, per-tensor asymmetric activations), converts it to the quantized kernels,
// and compares speed and accuracy. Errors name the model; an engine that fails is
// reported in enginesTried, and with none working the report says simulated only.
Result<Int8Report> benchInt8(const Model& model, const Int8Options& opts, JobContext& job);

}  // namespace cs
