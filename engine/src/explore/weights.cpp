// Weight diagnostics (explore.h): singular-value spectrum, stable/effective rank,
// zero pattern with per-row/per-block density and N:M structure detection.
#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "engine/explore.h"

namespace cs {

Spectrum weightSpectrum(const float* data, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0) throw std::invalid_argument("weightSpectrum: empty matrix");
  Spectrum s;
  s.rows = rows;
  s.cols = cols;
  torch::NoGradGuard ng;
  auto w = torch::from_blob(const_cast<float*>(data), {rows, cols}, torch::kFloat).to(torch::kDouble);
  auto sv = torch::linalg_svdvals(w).contiguous();
  const double* p = sv.data_ptr<double>();
  s.singular.assign(p, p + sv.numel());
  double fro2 = 0, sum = 0;
  for (double v : s.singular) {
    fro2 += v * v;
    sum += v;
  }
  const double top = s.singular.empty() ? 0.0 : s.singular.front();
  s.stableRank = top > 0 ? fro2 / (top * top) : 0.0;
  double h = 0;
  if (sum > 0)
    for (double v : s.singular)
      if (v > 0) h -= (v / sum) * std::log(v / sum);
  s.effectiveRank = sum > 0 ? std::exp(h) : 0.0;
  return s;
}

int Spectrum::rankForEnergy(double energy) const {
  double total = 0;
  for (double v : singular) total += v * v;
  if (total <= 0) return 0;
  double acc = 0;
  for (size_t k = 0; k < singular.size(); ++k) {
    acc += singular[k] * singular[k];
    if (acc >= energy * total - 1e-12 * total) return int(k + 1);
  }
  return int(singular.size());
}

std::string SparsityPattern::nmLabel() const {
  if (zeros == 0) return "dense";
  if (nmM > 0 && nmN < nmM) return std::to_string(nmN) + ":" + std::to_string(nmM);
  return "unstructured";
}

SparsityPattern sparsityPattern(const float* w, int64_t rows, int64_t cols, int maxGrid) {
  if (rows <= 0 || cols <= 0) throw std::invalid_argument("sparsityPattern: empty matrix");
  SparsityPattern s;
  s.rows = rows;
  s.cols = cols;
  s.rowDensity.assign(rows, 0.0);
  s.colDensity.assign(cols, 0.0);
  maxGrid = std::max(1, maxGrid);
  s.blockRows = int((rows + maxGrid - 1) / maxGrid);
  s.blockCols = int((cols + maxGrid - 1) / maxGrid);
  s.gridRows = int((rows + s.blockRows - 1) / s.blockRows);
  s.gridCols = int((cols + s.blockCols - 1) / s.blockCols);
  std::vector<int64_t> blockNz(size_t(s.gridRows) * s.gridCols, 0), blockN(blockNz.size(), 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t nz = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const bool on = w[r * cols + c] != 0.0f;
      nz += on;
      s.colDensity[c] += on;
      const size_t k = size_t(r / s.blockRows) * s.gridCols + size_t(c / s.blockCols);
      blockNz[k] += on;
      blockN[k] += 1;
    }
    s.rowDensity[r] = double(nz) / cols;
    s.zeros += cols - nz;
  }
  for (auto& d : s.colDensity) d /= double(rows);
  s.blockDensity.resize(blockNz.size());
  for (size_t k = 0; k < blockNz.size(); ++k) s.blockDensity[k] = double(blockNz[k]) / double(blockN[k]);
  s.sparsity = double(s.zeros) / double(rows * cols);
  // N:M along columns (M in 4, 2, 8, 16 dividing cols): the worst group of M has N < M
  // nonzeros; keep the tightest ratio N/M, the first M tried on ties.
  double best = 1.0;
  for (int M : {4, 2, 8, 16}) {  // 4 first: a 2:4 pattern is also 1:2; report the usual name
    if (cols % M != 0) continue;
    int worst = 0;
    for (int64_t r = 0; r < rows && worst < M; ++r)
      for (int64_t c = 0; c < cols; c += M) {
        int nz = 0;
        for (int j = 0; j < M; ++j) nz += w[r * cols + c + j] != 0.0f;
        worst = std::max(worst, nz);
      }
    if (worst < M && double(worst) / M < best - 1e-12) {
      best = double(worst) / M;
      s.nmN = worst;
      s.nmM = M;
    }
  }
  if (s.nmM == 0) s.nmN = s.nmM = 0;
  return s;
}

}  // namespace cs
