// Uniform quantizer primitives (see compression/torch/quantizer.h).
#include "compression/torch/quantizer.h"

#include <cmath>

namespace cs::detail {

UniformQuantizer quantizerFromRange(const torch::Tensor& lo0, const torch::Tensor& hi0, int bits, bool symmetric,
                                    int axis) {
  UniformQuantizer q;
  q.bits = bits;
  q.symmetric = symmetric;
  q.axis = axis;
  auto lo = torch::clamp_max(lo0.to(torch::kFloat), 0.0);
  auto hi = torch::clamp_min(hi0.to(torch::kFloat), 0.0);
  if (symmetric) {
    auto amax = torch::maximum(lo.abs(), hi);
    q.scale = torch::clamp_min(amax / double(q.qmax()), 1e-12);
    q.zero = torch::zeros_like(q.scale);
  } else {
    q.scale = torch::clamp_min((hi - lo) / double(q.qmax() - q.qmin()), 1e-12);
    q.zero = torch::clamp(torch::round(-lo / q.scale), double(q.qmin()), double(q.qmax()));
  }
  return q;
}

UniformQuantizer weightQuantizer(const torch::Tensor& w, int bits, bool symmetric, bool perChannel) {
  if (perChannel) {
    auto flat = w.reshape({w.size(0), -1});
    return quantizerFromRange(std::get<0>(flat.min(1)), std::get<0>(flat.max(1)), bits, symmetric, 0);
  }
  return quantizerFromRange(w.min(), w.max(), bits, symmetric, -1);
}

torch::Tensor fakeQuant(const torch::Tensor& x, const UniformQuantizer& q) {
  auto s = q.scale, z = q.zero;
  if (q.axis >= 0 && s.dim() == 1) {
    std::vector<int64_t> shape(x.dim(), 1);
    shape[q.axis] = s.size(0);
    s = s.view(shape);
    z = z.view(shape);
  }
  auto v = torch::clamp(torch::round(x / s) + z, double(q.qmin()), double(q.qmax()));
  return (v - z) * s;
}

QuantParams toQuantParams(const UniformQuantizer& q) {
  QuantParams p;
  p.bits = q.bits;
  p.symmetric = q.symmetric;
  p.scale = q.scale.numel() == 1 ? q.scale.item<double>() : q.scale.mean().item<double>();
  p.zeroPoint = q.zero.numel() == 1 ? q.zero.item<double>() : 0.0;
  p.lo = p.scale * (double(q.qmin()) - p.zeroPoint);
  p.hi = p.scale * (double(q.qmax()) - p.zeroPoint);
  return p;
}

}  // namespace cs::detail

namespace cs {

QuantParams rtnParams(const float* data, size_t n, int bits, bool symmetric) {
  MinMax m = minMax(data, n);
  auto q = detail::quantizerFromRange(torch::tensor(m.min), torch::tensor(m.max), bits, symmetric);
  return detail::toQuantParams(q);
}

std::vector<float> fakeQuantize(const std::vector<float>& values, const QuantParams& p) {
  const double qmin = p.symmetric ? -((1LL << (p.bits - 1)) - 1) : 0;
  const double qmax = p.symmetric ? (1LL << (p.bits - 1)) - 1 : (1LL << p.bits) - 1;
  std::vector<float> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    double v = std::nearbyint(values[i] / p.scale) + p.zeroPoint;
    v = std::min(std::max(v, qmin), qmax);
    out[i] = static_cast<float>((v - p.zeroPoint) * p.scale);
  }
  return out;
}

}  // namespace cs
