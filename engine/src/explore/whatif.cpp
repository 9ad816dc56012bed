// What-if quantizer (explore.h): fake-quantizes a cached [rows, cols] tensor per tensor,
// row, column or row group, and measures it against the original (histograms on shared
// bins, clipped fraction, MSE, SQNR). One pass for the ranges, one for the error.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "engine/explore.h"

namespace cs {

const char* granularityName(QuantGranularity g) {
  switch (g) {
    case QuantGranularity::Tensor: return "tensor";
    case QuantGranularity::Row: return "row";
    case QuantGranularity::Column: return "column";
    case QuantGranularity::Group: return "group";
  }
  return "?";
}

Histogram binValues(const float* data, size_t n, int bins) {
  Histogram h;
  h.counts.assign(size_t(std::max(bins, 1)), 0.0);
  h.total = int64_t(n);
  if (n == 0) return h;
  // Min/max with four independent accumulators (instruction-level parallelism).
  float mn[4], mx[4];
  for (int k = 0; k < 4; ++k) mn[k] = mx[k] = data[0];
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) {
      mn[k] = data[i + k] < mn[k] ? data[i + k] : mn[k];
      mx[k] = data[i + k] > mx[k] ? data[i + k] : mx[k];
    }
  for (; i < n; ++i) {
    mn[0] = std::min(mn[0], data[i]);
    mx[0] = std::max(mx[0], data[i]);
  }
  double lo = std::min(std::min(mn[0], mn[1]), std::min(mn[2], mn[3]));
  double hi = std::max(std::max(mx[0], mx[1]), std::max(mx[2], mx[3]));
  if (!(hi - lo > 1e-12 * std::max(1.0, std::abs(lo)))) {  // as histogramAuto
    lo -= 0.5;
    hi += 0.5;
  }
  h.lo = lo;
  h.hi = hi;
  // Same arithmetic as histogram() (so identical bins); every value is inside [lo, hi].
  const size_t B = h.counts.size();
  const double scale = double(B) / (hi - lo);
  const int64_t last = int64_t(B) - 1;
  std::vector<int64_t> c(4 * B, 0);  // four interleaved arrays: no store-to-load stalls on runs
  i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) {
      const int64_t b = std::min(int64_t((double(data[i + k]) - lo) * scale), last);
      ++c[size_t(k) * B + size_t(b)];
    }
  for (; i < n; ++i) ++c[size_t(std::min(int64_t((double(data[i]) - lo) * scale), last))];
  for (size_t b = 0; b < B; ++b) h.counts[b] = double(c[b] + c[B + b] + c[2 * B + b] + c[3 * B + b]);
  return h;
}

namespace {

struct GroupRange {
  float scale = 1, zero = 0;  // dq = (q - zero) * scale
  float qmin = 0, qmax = 0;
  float lo = 0, hi = 0;       // representable range (the clipping range)
};

// Range of one group from its values (copied into buf, which nth_element reorders).
GroupRange rangeOf(std::vector<float>& buf, const WhatIfOptions& o) {
  GroupRange r;
  const size_t n = buf.size();
  const bool full = o.clipPercentile >= 100.0;
  const double p = std::clamp(o.clipPercentile, 50.0, 100.0) / 100.0;
  auto orderStat = [&](double q) -> float {  // q-quantile by nth_element (nearest rank)
    const size_t k = std::min(n - 1, size_t(std::llround(q * double(n - 1))));
    std::nth_element(buf.begin(), buf.begin() + k, buf.end());
    return buf[k];
  };
  if (o.symmetric) {
    float a = 0;
    if (full) {
      for (float v : buf) a = std::max(a, std::fabs(v));
    } else {
      for (float& v : buf) v = std::fabs(v);
      a = orderStat(p);
    }
    const float qmax = float((1 << (o.bits - 1)) - 1);
    r.qmin = -qmax;
    r.qmax = qmax;
    r.scale = a > 0 ? a / qmax : 1.0f;
    r.zero = 0;
    r.lo = -qmax * r.scale;
    r.hi = qmax * r.scale;
    if (a <= 0) r.lo = r.hi = 0;
    return r;
  }
  float lo, hi;
  if (full) {
    lo = std::numeric_limits<float>::infinity();
    hi = -lo;
    for (float v : buf) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  } else {
    lo = orderStat(1.0 - p);
    hi = orderStat(p);
  }
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  r.qmin = 0;
  r.qmax = float((int64_t(1) << o.bits) - 1);
  r.scale = hi > lo ? (hi - lo) / r.qmax : 1.0f;
  r.zero = std::nearbyint(-lo / r.scale);
  r.lo = (r.qmin - r.zero) * r.scale;
  r.hi = (r.qmax - r.zero) * r.scale;
  if (!(hi > lo)) r.lo = r.hi = 0;
  return r;
}

}  // namespace

WhatIfResult whatIfQuantize(const float* data, int64_t rows, int64_t cols, const WhatIfOptions& o) {
  if (!data || rows <= 0 || cols <= 0) throw std::invalid_argument("whatIfQuantize: empty tensor");
  if (o.bits < 2 || o.bits > 16) throw std::invalid_argument("whatIfQuantize: bits must be 2..16");
  if (o.granularity == QuantGranularity::Group && o.groupSize < 1)
    throw std::invalid_argument("whatIfQuantize: group size must be >= 1");
  WhatIfResult res;
  const size_t n = size_t(rows) * size_t(cols);
  res.values = int64_t(n);
  res.levels = o.symmetric ? (1 << (o.bits - 1)) * 2 - 1 : int(int64_t(1) << o.bits);
  // Groups: a group id per element is implicit; ranges are computed per group.
  const int64_t gsize = o.granularity == QuantGranularity::Group ? std::min<int64_t>(o.groupSize, cols) : cols;
  const int64_t groupsPerRow = (cols + gsize - 1) / gsize;
  std::vector<GroupRange> ranges;
  std::vector<float> buf;
  switch (o.granularity) {
    case QuantGranularity::Tensor:
      buf.assign(data, data + n);
      ranges.push_back(rangeOf(buf, o));
      break;
    case QuantGranularity::Row:
      for (int64_t r = 0; r < rows; ++r) {
        buf.assign(data + r * cols, data + (r + 1) * cols);
        ranges.push_back(rangeOf(buf, o));
      }
      break;
    case QuantGranularity::Column:
      buf.resize(size_t(rows));
      for (int64_t c = 0; c < cols; ++c) {
        buf.resize(size_t(rows));
        for (int64_t r = 0; r < rows; ++r) buf[size_t(r)] = data[r * cols + c];
        ranges.push_back(rangeOf(buf, o));
      }
      break;
    case QuantGranularity::Group:
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t g = 0; g < groupsPerRow; ++g) {
          const float* p = data + r * cols + g * gsize;
          buf.assign(p, p + std::min(gsize, cols - g * gsize));
          ranges.push_back(rangeOf(buf, o));
        }
      break;
  }
  res.groups = int64_t(ranges.size());
  res.clipLo = std::numeric_limits<double>::infinity();
  res.clipHi = -res.clipLo;
  for (auto& g : ranges) {
    res.clipLo = std::min<double>(res.clipLo, g.lo);
    res.clipHi = std::max<double>(res.clipHi, g.hi);
  }

  // Shared bins over the data range (and the quantized values, which stay inside it
  // up to one step of rounding).
  float mn = data[0], mx = data[0];
  for (size_t i = 1; i < n; ++i) {
    mn = std::min(mn, data[i]);
    mx = std::max(mx, data[i]);
  }
  double lo = mn, hi = mx;
  if (!(hi - lo > 1e-12 * std::max(1.0, std::fabs(lo)))) {
    lo -= 0.5;
    hi += 0.5;
  }
  const int bins = std::max(1, o.bins);
  for (Histogram* h : {&res.reference, &res.quantized}) {
    h->lo = lo;
    h->hi = hi;
    h->counts.assign(size_t(bins), 0.0);
    h->total = int64_t(n);
  }
  const double binScale = bins / (hi - lo);

  double sig = 0, err = 0;
  int64_t clipped = 0;
  std::vector<int64_t> refCounts(size_t(bins), 0), qCounts(size_t(bins), 0);
  const double lastBin = double(bins - 1);
  // One value: round half away from zero through an int conversion after clamping (no
  // libm call), reciprocal scale, both histograms, clip test and error sums.
  auto one = [&](float x, const GroupRange& g, float inv) {
    float v = x * inv + g.zero;
    v = std::clamp(v, g.qmin - 1.0f, g.qmax + 1.0f);
    const float q = std::clamp(float(int32_t(v + (v >= 0 ? 0.5f : -0.5f))), g.qmin, g.qmax);
    const float y = (q - g.zero) * g.scale;
    const float tol = 1e-4f * g.scale;  // float rounding of scale * qmax
    clipped += (x < g.lo - tol) | (x > g.hi + tol);
    const double d = double(x) - double(y);
    sig += double(x) * double(x);
    err += d * d;
    ++refCounts[size_t(std::clamp((double(x) - lo) * binScale, 0.0, lastBin))];
    ++qCounts[size_t(std::clamp((double(y) - lo) * binScale, 0.0, lastBin))];
  };
  std::vector<float> inv(ranges.size());
  for (size_t k = 0; k < ranges.size(); ++k) inv[k] = 1.0f / ranges[k].scale;
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = data + r * cols;
    switch (o.granularity) {
      case QuantGranularity::Tensor:
        for (int64_t c = 0; c < cols; ++c) one(row[c], ranges[0], inv[0]);
        break;
      case QuantGranularity::Row:
        for (int64_t c = 0; c < cols; ++c) one(row[c], ranges[size_t(r)], inv[size_t(r)]);
        break;
      case QuantGranularity::Column:
        for (int64_t c = 0; c < cols; ++c) one(row[c], ranges[size_t(c)], inv[size_t(c)]);
        break;
      case QuantGranularity::Group:
        for (int64_t c = 0; c < cols; ++c) {
          const size_t k = size_t(r * groupsPerRow + c / gsize);
          one(row[c], ranges[k], inv[k]);
        }
        break;
    }
  }
  for (int b = 0; b < bins; ++b) {
    res.reference.counts[size_t(b)] = double(refCounts[size_t(b)]);
    res.quantized.counts[size_t(b)] = double(qCounts[size_t(b)]);
  }
  res.clippedFraction = double(clipped) / double(n);
  res.mse = err / double(n);
  res.sqnrDb = err > 0 ? 10.0 * std::log10(sig / err) : std::numeric_limits<double>::infinity();
  return res;
}

}  // namespace cs
