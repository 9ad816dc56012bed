// Tensor statistics on plain float arrays: histograms with fixed or automatic
// range, exact percentiles without torch::quantile's 2^24-element limit, per-channel
// ranges, error measures (MSE, SQNR). Pure functions, thread-safe, no torch or Qt.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace cs {

struct Histogram {
  double lo = 0, hi = 0;          // range covered by the bins
  std::vector<double> counts;     // bins of equal width (hi-lo)/counts.size()
  int64_t below = 0, above = 0;   // samples outside [lo, hi]
  int64_t total = 0;              // all samples seen (including below/above)
  double binWidth() const { return counts.empty() ? 0.0 : (hi - lo) / counts.size(); }
  double binCenter(size_t i) const { return lo + (i + 0.5) * binWidth(); }
  // Adds another histogram with identical range and bin count.
  void merge(const Histogram& other);
};

// Histogram over [lo, hi]; values outside count as below/above. bins >= 1.
Histogram histogram(const float* data, size_t n, int bins, double lo, double hi);
// Range = [min, max] of the data (a tiny range is widened symmetrically).
Histogram histogramAuto(const float* data, size_t n, int bins);
inline Histogram histogramAuto(const std::vector<float>& v, int bins) {
  return histogramAuto(v.data(), v.size(), bins);
}

struct MinMax {
  float min = 0, max = 0;
};
MinMax minMax(const float* data, size_t n);

// Exact percentile (p in [0,100]) with linear interpolation between order statistics
// (numpy's default), by nth_element on a copy: O(n), any size.
double percentile(const float* data, size_t n, double p);
inline double percentile(const std::vector<float>& v, double p) { return percentile(v.data(), v.size(), p); }

// Per-channel min/max for a row-major tensor where `channels` is the size of dimension
// `axis` of `shape`.
std::vector<MinMax> perChannelMinMax(const float* data, const std::vector<int64_t>& shape, int axis);

// Streaming histogram: many fine bins over a range that doubles (merging bin pairs)
// whenever a value falls outside, so any number of batches can be added in O(bins)
// memory. histogram() rebins onto [min, max] of everything seen.
class RunningHistogram {
 public:
  explicit RunningHistogram(int fineBins = 8192);
  void add(const float* data, size_t n);
  Histogram histogram(int bins) const;
  MinMax range() const { return seen_; }
  int64_t count() const { return total_; }

 private:
  void grow(double v);
  std::vector<double> fine_;
  double lo_ = 0, hi_ = 0;
  MinMax seen_;
  int64_t total_ = 0;
};

struct ErrorStats {
  double mse = 0;
  double sqnrDb = 0;       // 10 log10(sum y^2 / sum (y - yq)^2); +inf when identical
  double cosine = 1;
  double clippedFraction = 0;  // filled by callers that know the clip range
};
ErrorStats compareTensors(const float* ref, const float* test, size_t n);

}  // namespace cs
