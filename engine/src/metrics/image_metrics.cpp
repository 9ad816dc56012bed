// Image-quality metrics on the project's Fashion-MNIST classifier (engine/metrics.h).
#include <cmath>

#include "engine/data.h"
#include "engine/metrics.h"
#include "engine/torch/model_impl.h"
#include "engine/torch/tensors.h"
#include "engine/torch/vit.h"

namespace cs {
namespace {

constexpr int kChunk = 256;      // images per forward call
constexpr int kSpatialBlock = 1; // sFID: output of blocks.1
constexpr int kSpatialChannels = 8;

// [n,1,28,28] normalized like Fashion-MNIST, from [0,1] pixels (32x32 center-cropped).
torch::Tensor toClassifierInput(const std::vector<float>& px, int64_t first, int64_t count, int h, int w) {
  auto t = torch::from_blob(const_cast<float*>(px.data()) + first * h * w, {count, 1, h, w}, torch::kFloat);
  if (h == 32) t = t.slice(2, 2, 30).slice(3, 2, 30);
  return ((t - detail::kFmnistMean) / detail::kFmnistStd).contiguous();
}

Status checkImages(const Model& m, const std::vector<float>& px, int n, int h, int w) {
  if (!m.valid()) return Error::badArgument("no classifier model");
  if (m.task() != Task::ImageClassification)
    return Error::badArgument(m.name() + ": not an image classifier (metrics need e.g. vit-fmnist)");
  if (n <= 0) return Error::badArgument("no images to score");
  if (!((h == 28 && w == 28) || (h == 32 && w == 32)))
    return Error::badArgument("images must be 28x28 or 32x32, got " + std::to_string(h) + "x" + std::to_string(w));
  if (px.size() != size_t(n) * size_t(h) * size_t(w))
    return Error::badArgument("pixel buffer holds " + std::to_string(px.size()) + " values, expected " +
                              std::to_string(size_t(n) * h * w));
  return okStatus();
}

}  // namespace

Result<std::vector<std::vector<float>>> classifyImages(const Model& classifier, const std::vector<float>& pixels01, int n,
                                                       int h, int w, JobContext& job) {
  auto ok = checkImages(classifier, pixels01, n, h, w);
  if (!ok) return ok.error();
  CS_TRY_RESULT(classifier.source(), {
    torch::InferenceMode im;
    std::vector<std::vector<float>> out;
    out.reserve(size_t(n));
    for (int64_t s = 0; s < n; s += kChunk) {
      if (job.cancelled()) return Error::cancelled();
      const int64_t c = std::min<int64_t>(kChunk, n - s);
      auto p = torch::softmax(classifier.impl()->run(toClassifierInput(pixels01, s, c, h, w)), 1).contiguous();
      const int64_t k = p.size(1);
      const float* d = p.data_ptr<float>();
      for (int64_t i = 0; i < c; ++i) out.emplace_back(d + i * k, d + (i + 1) * k);
      job.progress(double(s + c) / n, "classifying images");
    }
    return out;
  })
}

Result<FeatureSet> imageFeatures(const Model& classifier, const std::vector<float>& pixels01, int n, int h, int w,
                                 FeatureKind kind, JobContext& job) {
  auto ok = checkImages(classifier, pixels01, n, h, w);
  if (!ok) return ok.error();
  auto vit = std::dynamic_pointer_cast<const detail::VitModel>(classifier.impl());
  if (!vit) return Error::badArgument(classifier.name() + ": feature metrics need a vit-family classifier (e.g. vit-fmnist)");
  if (kind == FeatureKind::Spatial && vit->config().depth <= kSpatialBlock)
    return Error::badArgument(classifier.name() + ": too few blocks for sFID features");
  CS_TRY_RESULT(classifier.source(), {
    torch::InferenceMode im;
    FeatureSet f;
    f.n = n;
    const std::string tapName = "blocks." + std::to_string(kSpatialBlock);
    for (int64_t s = 0; s < n; s += kChunk) {
      if (job.cancelled()) return Error::cancelled();
      const int64_t c = std::min<int64_t>(kChunk, n - s);
      auto x = toClassifierInput(pixels01, s, c, h, w);
      torch::Tensor feat;
      if (kind == FeatureKind::Pooled) {
        feat = vit->features(x, detail::ForwardCtx{&vit->inputTransforms, nullptr});
      } else {
        detail::TapObserver obs = [&](const std::string& point, detail::TapKind k, const torch::Tensor& t) {
          if (k == detail::TapKind::BlockOutput && point == tapName)  // [B, 1+tokens, D]: patch tokens only
            feat = t.slice(1, 1).slice(2, 0, kSpatialChannels).reshape({t.size(0), -1}).clone();
          return t;
        };
        vit->features(x, detail::ForwardCtx{&vit->inputTransforms, &obs});
      }
      feat = feat.to(torch::kDouble).contiguous();
      if (f.dim == 0) {
        f.dim = int(feat.size(1));
        f.data.reserve(size_t(n) * size_t(f.dim));
      }
      const double* d = feat.data_ptr<double>();
      f.data.insert(f.data.end(), d, d + feat.numel());
      job.progress(double(s + c) / n, kind == FeatureKind::Pooled ? "FID features" : "sFID features");
    }
    return f;
  })
}

Result<GaussianStats> gaussianStats(const FeatureSet& f) {
  if (f.n < 2 || f.dim < 1) return Error::badArgument("need at least 2 feature vectors for a covariance");
  if (f.data.size() != size_t(f.n) * size_t(f.dim)) return Error::badArgument("feature matrix size mismatch");
  CS_TRY_RESULT("", {
    auto X = torch::from_blob(const_cast<double*>(f.data.data()), {f.n, f.dim}, torch::kDouble);
    auto mu = X.mean(0);
    auto Xc = X - mu;
    auto cov = torch::matmul(Xc.t(), Xc) / double(f.n - 1);
    GaussianStats g;
    g.dim = f.dim;
    g.count = f.n;
    g.mean.assign(mu.data_ptr<double>(), mu.data_ptr<double>() + f.dim);
    cov = cov.contiguous();
    g.cov.assign(cov.data_ptr<double>(), cov.data_ptr<double>() + size_t(f.dim) * f.dim);
    return g;
  })
}

Result<double> frechetDistance(const GaussianStats& a, const GaussianStats& b) {
  if (a.dim != b.dim || a.dim < 1) return Error::badArgument("Fréchet distance: dimensions differ or are zero");
  if (a.mean.size() != size_t(a.dim) || b.mean.size() != size_t(b.dim) || a.cov.size() != size_t(a.dim) * a.dim ||
      b.cov.size() != size_t(b.dim) * b.dim)
    return Error::badArgument("Fréchet distance: malformed statistics");
  CS_TRY_RESULT("", {
    const int64_t d = a.dim;
    auto m1 = torch::from_blob(const_cast<double*>(a.mean.data()), {d}, torch::kDouble);
    auto m2 = torch::from_blob(const_cast<double*>(b.mean.data()), {d}, torch::kDouble);
    auto S1 = torch::from_blob(const_cast<double*>(a.cov.data()), {d, d}, torch::kDouble);
    auto S2 = torch::from_blob(const_cast<double*>(b.cov.data()), {d, d}, torch::kDouble);
    S1 = (S1 + S1.t()) / 2;
    S2 = (S2 + S2.t()) / 2;
    // sqrt(S1) from its eigen-decomposition; then tr sqrt(sqrt(S1) S2 sqrt(S1)).
    auto e1 = torch::linalg_eigh(S1);
    auto w1 = std::get<0>(e1).clamp_min(0).sqrt();
    auto V1 = std::get<1>(e1);
    auto sq1 = torch::matmul(V1 * w1.unsqueeze(0), V1.t());
    auto M = torch::matmul(torch::matmul(sq1, S2), sq1);
    M = (M + M.t()) / 2;
    auto wM = torch::linalg_eigvalsh(M).clamp_min(0).sqrt();
    const double diff = (m1 - m2).pow(2).sum().item<double>();
    const double fd = diff + S1.trace().item<double>() + S2.trace().item<double>() - 2 * wM.sum().item<double>();
    return std::max(fd, 0.0);
  })
}

Result<ScoreWithSpread> inceptionScore(const std::vector<std::vector<float>>& probs, int splits) {
  if (probs.empty()) return Error::badArgument("inception score: no predictions");
  const size_t k = probs[0].size();
  for (auto& r : probs)
    if (r.size() != k || k == 0) return Error::badArgument("inception score: rows of different lengths");
  splits = std::max(1, std::min<int>(splits, int(probs.size())));
  std::vector<double> scores;
  const size_t n = probs.size();
  for (int s = 0; s < splits; ++s) {
    const size_t lo = n * size_t(s) / size_t(splits), hi = n * size_t(s + 1) / size_t(splits);
    std::vector<double> marg(k, 0.0);
    for (size_t i = lo; i < hi; ++i)
      for (size_t j = 0; j < k; ++j) marg[j] += probs[i][j];
    for (auto& m : marg) m /= double(hi - lo);
    double kl = 0;
    for (size_t i = lo; i < hi; ++i)
      for (size_t j = 0; j < k; ++j) {
        const double p = probs[i][j];
        if (p > 0) kl += p * (std::log(p) - std::log(std::max(marg[j], 1e-300)));
      }
    scores.push_back(std::exp(kl / double(hi - lo)));
  }
  ScoreWithSpread r;
  for (double v : scores) r.mean += v;
  r.mean /= double(scores.size());
  for (double v : scores) r.std += (v - r.mean) * (v - r.mean);
  r.std = std::sqrt(r.std / double(scores.size()));
  return r;
}

Result<double> classConsistency(const std::vector<std::vector<float>>& probs, const std::vector<int>& labels) {
  if (probs.empty()) return Error::badArgument("class consistency: no predictions");
  if (probs.size() != labels.size()) return Error::badArgument("class consistency: predictions and labels differ in count");
  size_t hit = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    const auto& r = probs[i];
    const auto best = std::max_element(r.begin(), r.end()) - r.begin();
    if (best == labels[i]) ++hit;
  }
  return double(hit) / double(probs.size());
}

Result<LabeledImages> fashionMnistTestImages(int maxCount) {
  auto set = loadFashionMnist("test");
  if (!set) return set.error();
  LabeledImages out;
  out.n = maxCount > 0 ? std::min(maxCount, set->count) : set->count;
  out.h = set->rows;
  out.w = set->cols;
  const size_t px = size_t(out.n) * out.h * out.w;
  out.pixels.resize(px);
  for (size_t i = 0; i < px; ++i) out.pixels[i] = float(set->pixels[i]) / 255.0f;
  out.labels.assign(set->labels.begin(), set->labels.begin() + out.n);
  return out;
}

}  // namespace cs
