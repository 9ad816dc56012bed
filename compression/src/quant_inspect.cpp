// Distribution-view data from a quantization result (compression/quant_inspect.h).
#include "compression/quant_inspect.h"

#include <torch/torch.h>

#include "variant_io.h"

namespace cs {
namespace {

std::vector<float> toVector(const torch::Tensor& t) {
  auto c = t.detach().to(torch::kFloat).contiguous().reshape({-1});
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

}  // namespace

std::vector<NormFoldRanges> normFoldRanges(const QuantizeResult& r) {
  std::vector<NormFoldRanges> out;
  if (!r.saveInfo) return out;
  const auto& info = *r.saveInfo;
  torch::NoGradGuard ng;
  for (const auto& f : info.folds) {
    if (!f.deltaC.defined() || !f.zeroC.defined() || !f.r.defined() || !f.b.defined()) continue;
    NormFoldRanges v;
    v.norm = f.norm;
    v.consumer = f.consumer;
    int bits = 8;
    bool symmetric = false;
    if (auto it = info.inputQuantizers.find(f.consumer); it != info.inputQuantizers.end()) {
      bits = it->second.bits;
      symmetric = it->second.symmetric;
    }
    detail::UniformQuantizer q;
    q.bits = bits;
    q.symmetric = symmetric;
    const double qmin = double(q.qmin()), qmax = double(q.qmax());
    auto dC = f.deltaC.to(torch::kDouble), zC = f.zeroC.to(torch::kDouble);
    auto lo = dC * (qmin - zC), hi = dC * (qmax - zC);
    auto rr = f.r.to(torch::kDouble), b = f.b.to(torch::kDouble);
    v.bits = bits;
    v.channelLo = toVector(lo);
    v.channelHi = toVector(hi);
    v.foldedLo = toVector(lo / rr - b);
    v.foldedHi = toVector(hi / rr - b);
    v.delta = f.delta;
    v.zeroPoint = f.zero;
    v.tensorLo = f.delta * (qmin - f.zero);
    v.tensorHi = f.delta * (qmax - f.zero);
    v.rMin = rr.min().item<double>();
    v.rMax = rr.max().item<double>();
    out.push_back(std::move(v));
  }
  return out;
}

Result<ReferenceWeight> referenceWeight(const QuantizeResult& r, const Model& source, const std::string& layer) {
  auto w = source.weight(layer);
  if (!w) return w.error();
  ReferenceWeight ref;
  ref.values = std::move(w->values);
  if (!r.saveInfo) return ref;
  for (const auto& f : r.saveInfo->folds) {
    if (f.consumer != layer || !f.r.defined()) continue;
    const std::vector<float> factors = toVector(f.r);
    const size_t in = factors.size();
    if (in == 0 || ref.values.size() % in != 0)
      return Error::failed("layer " + layer + ": weight of " + std::to_string(ref.values.size()) +
                           " values does not match the fold's " + std::to_string(in) + " input channels");
    // W' = W * r (per input channel; the weight is [out, in] row-major), as foldNorm does.
    for (size_t i = 0; i < ref.values.size(); ++i) ref.values[i] *= factors[i % in];
    ref.folded = true;
  }
  return ref;
}

}  // namespace cs
