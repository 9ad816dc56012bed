// Plain-C++ statistics (see engine/stats.h).
#include "engine/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace cs {

void Histogram::merge(const Histogram& o) {
  if (o.counts.size() != counts.size() || o.lo != lo || o.hi != hi)
    throw std::invalid_argument("Histogram::merge: ranges differ");
  for (size_t i = 0; i < counts.size(); ++i) counts[i] += o.counts[i];
  below += o.below;
  above += o.above;
  total += o.total;
}

Histogram histogram(const float* data, size_t n, int bins, double lo, double hi) {
  Histogram h;
  h.lo = lo;
  h.hi = hi;
  h.counts.assign(std::max(bins, 1), 0.0);
  h.total = static_cast<int64_t>(n);
  const double scale = h.counts.size() / (hi - lo);
  const int64_t last = static_cast<int64_t>(h.counts.size()) - 1;
  for (size_t i = 0; i < n; ++i) {
    const double v = data[i];
    if (v < lo) {
      ++h.below;
    } else if (v > hi) {
      ++h.above;
    } else {
      int64_t b = static_cast<int64_t>((v - lo) * scale);
      h.counts[std::min(b, last)] += 1.0;
    }
  }
  return h;
}

MinMax minMax(const float* data, size_t n) {
  MinMax m{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  for (size_t i = 0; i < n; ++i) {
    m.min = std::min(m.min, data[i]);
    m.max = std::max(m.max, data[i]);
  }
  if (n == 0) m = {0, 0};
  return m;
}

Histogram histogramAuto(const float* data, size_t n, int bins) {
  MinMax m = minMax(data, n);
  double lo = m.min, hi = m.max;
  if (!(hi - lo > 1e-12 * std::max(1.0, std::abs(lo)))) {
    lo -= 0.5;
    hi += 0.5;
  }
  return histogram(data, n, bins, lo, hi);
}

double percentile(const float* data, size_t n, double p) {
  if (n == 0) throw std::invalid_argument("percentile of an empty array");
  p = std::clamp(p, 0.0, 100.0);
  std::vector<float> v(data, data + n);
  const double pos = p / 100.0 * (n - 1);
  const size_t k = static_cast<size_t>(std::floor(pos));
  const double frac = pos - k;
  std::nth_element(v.begin(), v.begin() + k, v.end());
  const double a = v[k];
  if (frac == 0.0 || k + 1 >= n) return a;
  const double b = *std::min_element(v.begin() + k + 1, v.end());
  return a + frac * (b - a);
}

std::vector<MinMax> perChannelMinMax(const float* data, const std::vector<int64_t>& shape, int axis) {
  if (shape.empty()) return {};
  if (axis < 0) axis += static_cast<int>(shape.size());
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t C = shape[axis];
  std::vector<MinMax> r(C, MinMax{std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()});
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t c = 0; c < C; ++c) {
      const float* p = data + (o * C + c) * inner;
      for (int64_t i = 0; i < inner; ++i) {
        r[c].min = std::min(r[c].min, p[i]);
        r[c].max = std::max(r[c].max, p[i]);
      }
    }
  return r;
}

ErrorStats compareTensors(const float* ref, const float* test, size_t n) {
  ErrorStats e;
  double se = 0, sig = 0, dot = 0, nt = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = double(ref[i]) - test[i];
    se += d * d;
    sig += double(ref[i]) * ref[i];
    nt += double(test[i]) * test[i];
    dot += double(ref[i]) * test[i];
  }
  e.mse = n ? se / n : 0;
  e.sqnrDb = se > 0 ? 10.0 * std::log10(sig / se) : std::numeric_limits<double>::infinity();
  e.cosine = (sig > 0 && nt > 0) ? dot / std::sqrt(sig * nt) : 1.0;
  return e;
}

RunningHistogram::RunningHistogram(int fineBins) : fine_(std::max(fineBins, 2) & ~1, 0.0) {}

void RunningHistogram::grow(double v) {
  const size_t B = fine_.size();
  while (v < lo_ || v > hi_) {
    const double w = hi_ - lo_;
    std::vector<double> merged(B, 0.0);
    if (v > hi_) {  // keep lo, double upwards: old bins fold into the lower half
      for (size_t i = 0; i < B; ++i) merged[i / 2] += fine_[i];
      hi_ = lo_ + 2 * w;
    } else {        // keep hi, double downwards: old bins fold into the upper half
      for (size_t i = 0; i < B; ++i) merged[B / 2 + i / 2] += fine_[i];
      lo_ = hi_ - 2 * w;
    }
    fine_.swap(merged);
  }
}

void RunningHistogram::add(const float* data, size_t n) {
  if (n == 0) return;
  MinMax m = minMax(data, n);
  if (total_ == 0) {
    double lo = m.min, hi = m.max;
    double pad = std::max(1e-6, 0.05 * (hi - lo));
    lo_ = lo - pad;
    hi_ = hi + pad;
    seen_ = m;
  } else {
    seen_.min = std::min(seen_.min, m.min);
    seen_.max = std::max(seen_.max, m.max);
  }
  if (m.min < lo_) grow(m.min);
  if (m.max > hi_) grow(m.max);
  const double scale = fine_.size() / (hi_ - lo_);
  const int64_t last = static_cast<int64_t>(fine_.size()) - 1;
  for (size_t i = 0; i < n; ++i) {
    int64_t b = static_cast<int64_t>((data[i] - lo_) * scale);
    fine_[std::clamp<int64_t>(b, 0, last)] += 1.0;
  }
  total_ += static_cast<int64_t>(n);
}

Histogram RunningHistogram::histogram(int bins) const {
  Histogram h;
  h.counts.assign(std::max(bins, 1), 0.0);
  h.total = total_;
  if (total_ == 0) return h;
  h.lo = seen_.min;
  h.hi = seen_.max;
  if (!(h.hi > h.lo)) {
    h.lo -= 0.5;
    h.hi += 0.5;
  }
  const double fw = (hi_ - lo_) / fine_.size();
  const double scale = h.counts.size() / (h.hi - h.lo);
  const int64_t last = static_cast<int64_t>(h.counts.size()) - 1;
  for (size_t i = 0; i < fine_.size(); ++i) {
    if (fine_[i] == 0) continue;
    const double c = std::clamp(lo_ + (i + 0.5) * fw, h.lo, h.hi);
    int64_t b = static_cast<int64_t>((c - h.lo) * scale);
    h.counts[std::clamp<int64_t>(b, 0, last)] += fine_[i];
  }
  return h;
}

}  // namespace cs
