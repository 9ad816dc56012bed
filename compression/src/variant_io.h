// Internal (compression/ only): the quantizer parameters a QuantizeResult carries for
// saving (QuantizeResult::saveInfo), and the description of one activation quantizer
// as stored in a saved variant. See compression/quant_variant.h.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compression/torch/quantizers.h"

namespace cs::detail {

struct QuantVariantInfo {
  std::map<std::string, UniformQuantizer> weightQuantizers;  // per layer (axis 0: per output channel)
  std::map<std::string, UniformQuantizer> inputQuantizers;   // per layer input (axis -1 broadcast)
  std::vector<NormFold> folds;                               // RepQ-ViT LayerNorm folds
};

// Built from the PTQ pipeline's outcome (quantizePtq).
std::shared_ptr<const QuantVariantInfo> ptqVariantInfo(const PtqOutcome& outcome);

// One activation quantizer (a transform point of the variant).
struct ActQuantDesc {
  enum class Kind { Uniform, Log, TwinUniform } kind = Kind::Uniform;
  UniformQuantizer uniform;  // Kind::Uniform (scale/zero scalar or [C] on the last dim)
  LogQuantizer log;          // Kind::Log
  TwinUniformQuantizer twin; // Kind::TwinUniform (softmax outputs, PTQ4ViT)
  bool probed = false;       // recovered from the transform's outputs (and verified bit-exact)
};
TensorTransform transformFor(const ActQuantDesc& d);
// Recovers the quantizer behind an opaque elementwise per-tensor transform from its
// outputs: uniform (scale = the smallest positive output, zero point and bit-width
// from the outputs at +-infinity), log2/log-sqrt2 (delta = output at +infinity) or
// twin-uniform (bits from the output at +infinity, m scanned), then
// checks the rebuilt quantizer gives bit-identical outputs on ~90k probe values
// (ramps, log-spaced magnitudes, random values, zeros). nullopt if none matches.
std::optional<ActQuantDesc> probeTransform(const TensorTransform& t, int bitsHint);

}  // namespace cs::detail
