// Streamed per-group moments and the channel x token magnitude map (explore.h).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "engine/explore.h"

namespace cs {

void GroupMoments::add(const float* data, const std::vector<int64_t>& shape, int axis) {
  if (shape.empty()) throw std::invalid_argument("GroupMoments::add: empty shape");
  if (axis < 0) axis += int(shape.size());
  if (axis < 0 || axis >= int(shape.size())) throw std::invalid_argument("GroupMoments::add: axis out of range");
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[i];
  for (size_t i = axis + 1; i < shape.size(); ++i) inner *= shape[i];
  const int64_t G = shape[axis];
  if (count_.empty()) {
    count_.assign(G, 0);
    mean_.assign(G, 0.0);
    m2_.assign(G, 0.0);
    min_.assign(G, std::numeric_limits<float>::infinity());
    max_.assign(G, -std::numeric_limits<float>::infinity());
  } else if (int64_t(count_.size()) != G) {
    throw std::invalid_argument("GroupMoments::add: " + std::to_string(G) + " groups, expected " +
                                std::to_string(count_.size()));
  }
  // Batch moments per group (two passes: mean, then squared deviations), then merge.
  std::vector<double> bsum(G, 0.0), bm2(G, 0.0);
  std::vector<float> bmin(G, std::numeric_limits<float>::infinity()), bmax(G, -std::numeric_limits<float>::infinity());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t g = 0; g < G; ++g) {
      const float* p = data + (o * G + g) * inner;
      double s = 0;
      float mn = bmin[g], mx = bmax[g];
      for (int64_t i = 0; i < inner; ++i) {
        s += p[i];
        mn = std::min(mn, p[i]);
        mx = std::max(mx, p[i]);
      }
      bsum[g] += s;
      bmin[g] = mn;
      bmax[g] = mx;
    }
  const int64_t bn = outer * inner;
  if (bn == 0) return;
  std::vector<double> bmean(G);
  for (int64_t g = 0; g < G; ++g) bmean[g] = bsum[g] / double(bn);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t g = 0; g < G; ++g) {
      const float* p = data + (o * G + g) * inner;
      double s = 0;
      const double m = bmean[g];
      for (int64_t i = 0; i < inner; ++i) {
        const double d = p[i] - m;
        s += d * d;
      }
      bm2[g] += s;
    }
  for (int64_t g = 0; g < G; ++g) {
    const double na = double(count_[g]), nb = double(bn), n = na + nb;
    const double delta = bmean[g] - mean_[g];
    mean_[g] += delta * nb / n;
    m2_[g] += bm2[g] + delta * delta * na * nb / n;
    count_[g] += bn;
    min_[g] = std::min(min_[g], bmin[g]);
    max_[g] = std::max(max_[g], bmax[g]);
  }
}

void GroupMoments::merge(const GroupMoments& o) {
  if (o.count_.empty()) return;
  if (count_.empty()) {
    *this = o;
    return;
  }
  if (o.count_.size() != count_.size()) throw std::invalid_argument("GroupMoments::merge: group counts differ");
  for (size_t g = 0; g < count_.size(); ++g) {
    const double na = double(count_[g]), nb = double(o.count_[g]), n = na + nb;
    if (nb == 0) continue;
    const double delta = o.mean_[g] - mean_[g];
    mean_[g] += delta * nb / n;
    m2_[g] += o.m2_[g] + delta * delta * na * nb / n;
    count_[g] += o.count_[g];
    min_[g] = std::min(min_[g], o.min_[g]);
    max_[g] = std::max(max_[g], o.max_[g]);
  }
}

GroupSummary summarize(const GroupMoments& m) {
  GroupSummary s;
  for (size_t g = 0; g < m.groups(); ++g) {
    s.mean.push_back(m.mean(g));
    s.stddev.push_back(std::sqrt(m.variance(g)));
    s.min.push_back(m.min(g));
    s.max.push_back(m.max(g));
    s.absmax.push_back(m.absmax(g));
    s.count.push_back(m.count(g));
  }
  return s;
}

std::vector<int> GroupSummary::outliers(double factor) const {
  std::vector<int> out;
  if (absmax.empty()) return out;
  std::vector<float> v = absmax;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  const double med = v[v.size() / 2];
  for (size_t i = 0; i < absmax.size(); ++i)
    if (absmax[i] > factor * med && absmax[i] > 0) out.push_back(int(i));
  return out;
}

void MagnitudeMap::add(const float* data, int64_t B, int64_t T, int64_t C) {
  if (T <= 0 || C <= 0) return;
  if (batches_ == 0) {
    T_ = T;
    C_ = C;
    tPer_ = int((T + maxT_ - 1) / maxT_);
    cPer_ = int((C + maxC_ - 1) / maxC_);
    cols_ = int((T + tPer_ - 1) / tPer_);
    rows_ = int((C + cPer_ - 1) / cPer_);
    sum_.assign(size_t(rows_) * cols_, 0.0);
    n_.assign(size_t(rows_) * cols_, 0);
    max_.assign(size_t(rows_) * cols_, 0.f);
  } else if (T != T_ || C != C_) {
    throw std::invalid_argument("MagnitudeMap::add: shape [" + std::to_string(T) + "," + std::to_string(C) +
                                "] differs from the first batch [" + std::to_string(T_) + "," + std::to_string(C_) + "]");
  }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      const float* p = data + (b * T + t) * C;
      const size_t col = size_t(t / tPer_);
      for (int64_t c = 0; c < C; ++c) {
        const size_t k = size_t(c / cPer_) * cols_ + col;
        const float a = std::fabs(p[c]);
        sum_[k] += a;
        n_[k] += 1;
        if (a > max_[k]) max_[k] = a;
      }
    }
  batches_ += 1;
}

double MagnitudeMap::meanAbs(int row, int col) const {
  const size_t k = size_t(row) * cols_ + col;
  return n_[k] > 0 ? sum_[k] / double(n_[k]) : 0.0;
}

}  // namespace cs
