// Torch-facing uniform quantizer primitives shared by every quantization method.
// Fake quantization: x_hat = (clamp(round(x/s) + z, qmin, qmax) - z) * s, per tensor
// or per channel along `axis`. Stateless value types; thread-safe.
#pragma once
#include <torch/torch.h>

#include "compression/quantize.h"

namespace cs::detail {

struct UniformQuantizer {
  int bits = 8;
  bool symmetric = false;
  torch::Tensor scale;  // scalar or [C]
  torch::Tensor zero;   // same shape, integer-valued floats
  int axis = -1;        // channel axis for per-channel, -1 for per-tensor
  int64_t qmin() const { return symmetric ? -((int64_t(1) << (bits - 1)) - 1) : 0; }
  int64_t qmax() const { return symmetric ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1; }
};

// Round-to-nearest parameters from a min/max range (scalars or per-channel vectors).
// The range is widened to include 0 so that zero is exactly representable.
UniformQuantizer quantizerFromRange(const torch::Tensor& lo, const torch::Tensor& hi, int bits, bool symmetric,
                                    int axis = -1);
// Min-max RTN for a weight: per-tensor or per output channel (axis 0).
UniformQuantizer weightQuantizer(const torch::Tensor& w, int bits, bool symmetric, bool perChannel);
torch::Tensor fakeQuant(const torch::Tensor& x, const UniformQuantizer& q);
// Plain-C++ description of a per-tensor quantizer.
QuantParams toQuantParams(const UniformQuantizer& q);

}  // namespace cs::detail
