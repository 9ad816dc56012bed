// Distribution explorer: streamed statistics and weight diagnostics on plain arrays.
// No torch, no Qt: these are the data behind the explorer views (widgets/explore) and
// `cstudio explore ...`. Accumulators take one batch at a time and keep O(groups)
// memory, so any number of calibration batches can be added without holding the
// activations. Threading: accumulators are plain values (not synchronized); the
// free functions are pure and thread-safe.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/stats.h"

namespace cs {

// Per-group moments (per channel, per token, ...) merged batch by batch with Chan et
// al.'s parallel form of Welford's update: count, mean, M2 (sum of squared deviations),
// min, max, absmax. Numerically stable for any number of batches.
class GroupMoments {
 public:
  GroupMoments() = default;
  // Adds a row-major array of `shape`; the group index is the coordinate along `axis`.
  // The group count is fixed by the first call (a later mismatch throws std::invalid_argument).
  void add(const float* data, const std::vector<int64_t>& shape, int axis);
  // Merges another accumulator with the same group count.
  void merge(const GroupMoments& other);

  size_t groups() const { return count_.size(); }
  int64_t count(size_t g) const { return count_[g]; }
  double mean(size_t g) const { return mean_[g]; }
  double variance(size_t g) const { return count_[g] > 0 ? m2_[g] / double(count_[g]) : 0.0; }  // population
  double sampleVariance(size_t g) const { return count_[g] > 1 ? m2_[g] / double(count_[g] - 1) : 0.0; }
  float min(size_t g) const { return min_[g]; }
  float max(size_t g) const { return max_[g]; }
  float absmax(size_t g) const { return std::max(-min_[g], max_[g]); }

 private:
  std::vector<int64_t> count_;
  std::vector<double> mean_, m2_;
  std::vector<float> min_, max_;
};

// Flat copy of a GroupMoments for views and JSON.
struct GroupSummary {
  std::vector<double> mean, stddev;
  std::vector<float> min, max, absmax;
  std::vector<int64_t> count;
  // Groups whose absmax exceeds `factor` times the median absmax (outliers).
  std::vector<int> outliers(double factor = 6.0) const;
};
GroupSummary summarize(const GroupMoments& m);

// Channel x token mean |x| accumulator with bounded size. Input is [B, T, C] row-major
// (tokens, then channels; images are passed as [B, H*W, C]). At most maxTokens columns
// and maxChannels rows are kept: when T or C is larger, neighbouring tokens/channels
// share a cell (cell value = mean |x| over everything that fell in it; the cell max is
// kept as well so outliers stay visible).
class MagnitudeMap {
 public:
  explicit MagnitudeMap(int maxChannels = 512, int maxTokens = 256) : maxC_(maxChannels), maxT_(maxTokens) {}
  void add(const float* data, int64_t batch, int64_t tokens, int64_t channels);
  int rows() const { return rows_; }     // channel cells
  int cols() const { return cols_; }     // token cells
  int64_t tokens() const { return T_; }
  int64_t channels() const { return C_; }
  int channelsPerRow() const { return cPer_; }
  int tokensPerCol() const { return tPer_; }
  double meanAbs(int row, int col) const;  // 0 when nothing was added
  float maxAbs(int row, int col) const { return max_[size_t(row) * cols_ + col]; }
  int64_t batches() const { return batches_; }

 private:
  int maxC_, maxT_;
  int rows_ = 0, cols_ = 0, cPer_ = 1, tPer_ = 1;
  int64_t T_ = 0, C_ = 0, batches_ = 0;
  std::vector<double> sum_;
  std::vector<int64_t> n_;
  std::vector<float> max_;
};

// Activation range of one tap point per sampling step (diffusion).
struct TimestepRange {
  int step = 0;          // 0-based sampling step
  int64_t timestep = 0;  // the model's t at that step
  float min = 0, max = 0;
  double meanAbs = 0;
  double p999Abs = 0;    // 99.9th percentile of |x| within the step
  int64_t count = 0;
};

// Singular values (descending) and derived ranks of a weight reshaped to [rows, cols].
struct Spectrum {
  std::vector<double> singular;
  double stableRank = 0;     // ||W||_F^2 / sigma_max^2
  double effectiveRank = 0;  // exp(entropy of sigma / sum sigma) (Roy & Vetterli)
  int64_t rows = 0, cols = 0;
  // Smallest k such that the first k singular values hold `energy` of ||W||_F^2.
  int rankForEnergy(double energy) const;
};
// data: row-major [rows, cols] (conv weights flattened to [out, in*kh*kw]).
Spectrum weightSpectrum(const float* data, int64_t rows, int64_t cols);

// Zero pattern of a weight viewed as [rows, cols].
struct SparsityPattern {
  int64_t rows = 0, cols = 0;
  int64_t zeros = 0;
  double sparsity = 0;               // zeros / numel
  std::vector<double> rowDensity;    // nonzero fraction per row
  std::vector<double> colDensity;    // nonzero fraction per column
  int blockRows = 1, blockCols = 1;  // block size of the density grid
  int gridRows = 0, gridCols = 0;
  std::vector<double> blockDensity;  // [gridRows * gridCols] nonzero fraction per block
  // N:M structure along the input (column) dimension: every group of M consecutive
  // weights in a row has at most N nonzeros. n == m when no such structure was found.
  int nmN = 0, nmM = 0;
  std::string nmLabel() const;       // "2:4", "dense" or "unstructured"
};
// The density grid has at most maxGrid x maxGrid blocks.
SparsityPattern sparsityPattern(const float* data, int64_t rows, int64_t cols, int maxGrid = 128);

// Histogram over [min, max] of the data with `bins` equal bins (the same bins and counts
// as histogramAuto), in float arithmetic with 4 interleaved count arrays: the fast path
// for plotting large tensors (10 M values in a few tens of ms).
Histogram binValues(const float* data, size_t n, int bins);

// ------------------------------------------------------------------ what-if quantizer
// Fake-quantization of a cached tensor viewed as [rows, cols] with a chosen granularity,
// for the explorer's what-if view: the full-precision and quantized histograms on the
// same bins, the clipping range, clipped fraction, MSE and SQNR. Pure; O(rows*cols).
// Weights are passed as [out, in*k*k] (Row = per output channel); activations as
// [tokens, channels] (Row = per token, Column = per channel).
enum class QuantGranularity { Tensor, Row, Column, Group };
struct WhatIfOptions {
  int bits = 8;                     // 2..16
  QuantGranularity granularity = QuantGranularity::Row;
  int groupSize = 128;              // Group: consecutive values along a row
  bool symmetric = true;            // symmetric: [-a, a], a = percentile of |x|; else [p_lo, p_hi] with zero inside
  double clipPercentile = 100.0;    // per group; 100 = min/max (no clipping)
  int bins = 256;
};
struct WhatIfResult {
  Histogram reference, quantized;   // identical bins over [min, max] of the data
  double clipLo = 0, clipHi = 0;    // Tensor: the range; otherwise the widest group range
  double clippedFraction = 0;       // values outside their group's range
  double mse = 0, sqnrDb = 0;       // sqnr: +inf when exact
  int64_t groups = 0, values = 0;
  int levels = 0;                   // quantization levels per group
};
// Throws std::invalid_argument on bad arguments (empty data, bits out of range).
WhatIfResult whatIfQuantize(const float* data, int64_t rows, int64_t cols, const WhatIfOptions& opt);
const char* granularityName(QuantGranularity g);

}  // namespace cs
