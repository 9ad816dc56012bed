// Inspecting a quantization result for the distribution views (GUI Compress tab):
// the reparameterized LayerNorm ranges of RepQ-ViT / RepQuant folds (per-channel
// quantizer ranges before the fold, the per-tensor range after it) and the FP weight
// a quantized weight approximates (the source weight, times the fold factor r of each
// input channel for a fold consumer, so FP and quantized compare like with like).
// Plain C++ over QuantizeResult::saveInfo; no torch in the interface. Thread-safe
// (reads only).
#pragma once
#include <string>
#include <vector>

#include "compression/quantize.h"
#include "engine/result.h"

namespace cs {

struct NormFoldRanges {
  std::string norm, consumer;  // "blocks.0.norm1", "blocks.0.attn.qkv"
  int bits = 0;                // of the consumer's input quantizer
  // Before the fold: the per-channel quantizer of the LayerNorm output, channel c
  // representing [channelLo[c], channelHi[c]].
  std::vector<float> channelLo, channelHi;
  // After the fold the LayerNorm emits X/r - b: channel c's range maps to
  // [foldedLo[c], foldedHi[c]] (computed through r and b, so it shows whether every
  // channel lands on the per-tensor range; the rounding grids coincide only when the
  // zero-point offsets are integers, which round_zero guarantees).
  std::vector<float> foldedLo, foldedHi;
  double tensorLo = 0, tensorHi = 0;  // the per-tensor quantizer after the fold
  double delta = 0, zeroPoint = 0;    // its step and zero point
  double rMin = 0, rMax = 0;          // range of the fold factors r
};

// Every LayerNorm fold of `r` (empty for methods without folds, or without saveInfo).
std::vector<NormFoldRanges> normFoldRanges(const QuantizeResult& r);

struct ReferenceWeight {
  std::vector<float> values;  // same layout as Model::weight(layer).values
  bool folded = false;        // a LayerNorm fold scaled the input channels
};
// The FP weight that `layer`'s quantized weight in r.variant approximates. Errors name
// the layer.
Result<ReferenceWeight> referenceWeight(const QuantizeResult& r, const Model& source, const std::string& layer);

}  // namespace cs
