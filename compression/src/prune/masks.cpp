// Mask kernels, importance scores, input statistics and one-layer SparseGPT.
#include <algorithm>
#include <cmath>

#include "compression/torch/prune_ops.h"

namespace cs::detail::prune {

namespace {
// Keep-mask keeping the `keep` largest entries of each row of s [R, C].
torch::Tensor keepTopPerRow(const torch::Tensor& s, int64_t keep) {
  auto mask = torch::zeros(s.sizes(), torch::TensorOptions().dtype(torch::kBool));
  if (keep <= 0) return mask;
  if (keep >= s.size(1)) return torch::ones(s.sizes(), torch::TensorOptions().dtype(torch::kBool));
  auto idx = std::get<1>(s.topk(keep, 1, /*largest=*/true, /*sorted=*/false));
  return mask.scatter(1, idx, true);
}
}  // namespace

torch::Tensor maskFromScores(const torch::Tensor& scores0, const Pattern& p) {
  torch::NoGradGuard ng;
  auto scores = scores0.detach().to(torch::kFloat32);
  const int64_t R = scores.size(0), C = scores.size(1);
  if (p.nm()) {
    const int64_t groups = C / p.m, full = groups * p.m;
    auto mask = torch::ones({R, C}, torch::TensorOptions().dtype(torch::kBool));
    if (groups == 0) return mask;
    auto g = scores.narrow(1, 0, full).reshape({R * groups, p.m});
    auto gm = keepTopPerRow(g, p.n).reshape({R, full});
    mask.narrow(1, 0, full).copy_(gm);
    return mask;
  }
  const double sp = std::clamp(p.sparsity, 0.0, 1.0);
  if (p.scope == Scope::Layer) {
    const int64_t numel = R * C, prune = static_cast<int64_t>(std::floor(sp * static_cast<double>(numel)));
    auto flat = scores.reshape({1, numel});
    return keepTopPerRow(flat, numel - prune).reshape({R, C});
  }
  const int64_t prune = static_cast<int64_t>(std::floor(sp * static_cast<double>(C)));
  return keepTopPerRow(scores, C - prune);
}

void InputStats::add(const torch::Tensor& x0) {
  torch::NoGradGuard ng;
  // float32 products per batch (sgemm), accumulated in double across batches
  auto x = x0.detach().reshape({-1, x0.size(-1)}).to(torch::kFloat32);
  if (!sum.defined()) {
    sum = torch::zeros({x.size(1)}, torch::kFloat64);
    gram = torch::zeros({x.size(1), x.size(1)}, torch::kFloat64);
  }
  sum += x.sum(0).to(torch::kFloat64);
  gram += torch::matmul(x.t(), x).to(torch::kFloat64);
  n += x.size(0);
}

torch::Tensor InputStats::sqNorm(const torch::Tensor& shift) const {
  auto d = gram.diagonal().clone();
  if (!shift.defined()) return d;
  auto s = shift.to(torch::kFloat64);
  return d - 2.0 * s * sum + static_cast<double>(n) * s * s;
}

torch::Tensor InputStats::hessian(const torch::Tensor& shift) const {
  if (!shift.defined()) return gram.clone();
  auto s = shift.to(torch::kFloat64);
  return gram - torch::outer(s, sum) - torch::outer(sum, s) + static_cast<double>(n) * torch::outer(s, s);
}

torch::Tensor magnitudeScores(const torch::Tensor& w) { return w.detach().abs(); }

torch::Tensor wandaScores(const torch::Tensor& w, const torch::Tensor& colSqNorm) {
  auto norm = colSqNorm.clamp_min(0).sqrt().to(torch::kFloat32);
  return w.detach().abs() * norm.unsqueeze(0);
}

SparseGptOut sparseGpt(const torch::Tensor& w0, const torch::Tensor& H0, const Pattern& p, int blocksize,
                       double damp) {
  torch::NoGradGuard ng;
  auto W = w0.detach().to(torch::kFloat64).clone();
  auto H = H0.to(torch::kFloat64).clone();
  const int64_t R = W.size(0), C = W.size(1);
  if (p.nm() && blocksize % p.m != 0) blocksize = std::max(p.m, blocksize / p.m * p.m);
  auto diag = H.diagonal();
  auto dead = diag == 0;
  if (dead.any().item<bool>()) {
    diag.masked_fill_(dead, 1.0);
    W.index_put_({torch::indexing::Slice(), dead}, 0.0);
  }
  const double lambda = damp * diag.mean().item<double>();
  diag.add_(lambda);
  auto L = at::linalg_cholesky(H);
  auto Hinv = torch::cholesky_inverse(L);
  Hinv = at::linalg_cholesky(Hinv).transpose(0, 1).contiguous();  // upper factor
  auto prunedAll = torch::zeros({R, C}, torch::TensorOptions().dtype(torch::kBool));
  const int64_t fullNm = p.nm() ? C / p.m * p.m : 0;
  for (int64_t i1 = 0; i1 < C; i1 += blocksize) {
    const int64_t i2 = std::min<int64_t>(i1 + blocksize, C), cnt = i2 - i1;
    auto W1 = W.narrow(1, i1, cnt).clone();
    auto Q1 = torch::zeros_like(W1);
    auto Err1 = torch::zeros_like(W1);
    auto Hinv1 = Hinv.narrow(0, i1, cnt).narrow(1, i1, cnt);
    auto d1 = Hinv1.diagonal();
    torch::Tensor prune1;  // true = pruned
    if (!p.nm()) {
      auto tmp = W1.pow(2) / d1.pow(2).unsqueeze(0);
      Pattern q = p;
      q.scope = p.scope == Scope::Row ? Scope::Row : Scope::Layer;  // Block == whole block
      prune1 = maskFromScores(tmp, q).logical_not();
    } else {
      prune1 = torch::zeros({R, cnt}, torch::TensorOptions().dtype(torch::kBool));
    }
    for (int64_t i = 0; i < cnt; ++i) {
      const int64_t col = i1 + i;
      if (p.nm() && col % p.m == 0 && col + p.m <= fullNm) {
        auto tmp = W1.narrow(1, i, p.m).pow(2) / d1.narrow(0, i, p.m).pow(2).unsqueeze(0);
        Pattern q;
        q.n = p.n;
        q.m = p.m;
        prune1.narrow(1, i, p.m).copy_(maskFromScores(tmp, q).logical_not());
      }
      auto wcol = W1.select(1, i);
      auto q = wcol.masked_fill(prune1.select(1, i), 0.0);
      Q1.select(1, i).copy_(q);
      auto err = (wcol - q) / d1[i];
      W1.narrow(1, i, cnt - i).sub_(torch::outer(err, Hinv1.select(0, i).narrow(0, i, cnt - i)));
      Err1.select(1, i).copy_(err);
    }
    W.narrow(1, i1, cnt).copy_(Q1);
    prunedAll.narrow(1, i1, cnt).copy_(prune1);
    if (i2 < C) W.narrow(1, i2, C - i2).sub_(torch::matmul(Err1, Hinv.narrow(0, i1, cnt).narrow(1, i2, C - i2)));
  }
  auto keep = prunedAll.logical_not();
  auto out = W.to(torch::kFloat32).masked_fill(prunedAll, 0.0f);
  return {out, keep};
}

double relOutputError(const torch::Tensor& w, const torch::Tensor& wp, const torch::Tensor& Hs, const torch::Tensor& G) {
  torch::NoGradGuard ng;
  auto W = w.detach().to(torch::kFloat64), dW = W - wp.detach().to(torch::kFloat64);
  const double num = (torch::matmul(dW, Hs) * dW).sum().item<double>();
  const double den = (torch::matmul(W, G) * W).sum().item<double>();
  return den > 0 ? num / den : 0.0;
}

}  // namespace cs::detail::prune
