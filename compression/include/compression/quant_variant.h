// Saving quantized variants. A saved variant is one .safetensors file: the variant's
// weights as they run (fake-quantized, LayerNorm folds applied), every quantization
// parameter (per-layer weight scale/zero point, each activation quantizer: uniform
// per-tensor or per-channel scale/zero point, log2/log-sqrt2 delta; fold factors),
// and in the metadata the recipe, the calibration set (samples, seed, hash), the
// source model and the metrics. Written atomically (temporary file + rename).
//
// Reopening goes through the normal cs::openModel(): the file names the loader it needs
// ("requires_loader": "quantized-variant"), which cs_compression registers, so the
// reopened model runs WITH its activation quantizers and gives the same logits as the
// in-memory variant. A program without cs_compression refuses the file with an error.
// Threading: any thread; the result is not touched.
#pragma once
#include <string>

#include "compression/quantize.h"
#include "engine/result.h"

namespace cs {

// Writes `r.variant` (native ViT variants) to `path`: a file ending in .safetensors, or
// a directory (created if needed) that receives "<variant name>.safetensors".
// Returns the file written. Errors name the file.
Result<std::string> saveQuantizedVariant(const QuantizeResult& r, const std::string& path);

// Makes sure the "quantized-variant" open hook is registered (it is registered at
// start-up whenever cs_compression's quantization code is linked; calling this is only
// needed by programs that open saved variants without ever quantizing).
void registerQuantizedVariantLoader();

}  // namespace cs
