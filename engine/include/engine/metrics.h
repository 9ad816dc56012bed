// Quality metrics for generated images, on the project's own Fashion-MNIST classifier.
// Plain C++ facade (no torch). Images cross it as float pixels in [0, 1], row-major
// [n][h][w], one channel; 28x28 is used as is, 32x32 (the diffusion zoo's size) is
// center-cropped to 28x28. Any other size is refused.
//
// Features (documented choice, see docs/results/zoo.md):
//  - FID-FMNIST: the classifier's pre-logit features (ViT: CLS token after the final
//    LayerNorm, 64 dims for vit-fmnist). Not Inception FID: numbers are only comparable
//    with other FID-FMNIST numbers.
//  - sFID-FMNIST: spatial features, the patch tokens of the output of ViT block 1 (the
//    second of four), first 8 channels of each of the 49 tokens (392 dims), the analogue of
//    sFID's first 7 channels of Inception's mixed_6/conv spatial map.
//  - Inception-style score: exp(E_x KL(p(y|x) || p(y))) with the classifier's softmax.
//  - Class consistency: fraction of samples whose argmax class is the conditioning class.
// Fréchet distance: |m1-m2|^2 + tr(S1) + tr(S2) - 2 tr(sqrt(sqrt(S1) S2 sqrt(S1))), with
// both square roots from symmetric eigen-decompositions in double precision (negative
// round-off eigenvalues clamped to 0).
// Threading: every function is reentrant; the Model is only read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/job.h"
#include "engine/model.h"
#include "engine/result.h"

namespace cs {

// Softmax class probabilities [n][classes] of an image classifier (a Model whose task is
// ImageClassification and that takes 28x28 one-channel images normalized like
// Fashion-MNIST, e.g. the zoo's vit-fmnist). Pixels in [0, 1]; h = w = 28 or 32.
Result<std::vector<std::vector<float>>> classifyImages(const Model& classifier, const std::vector<float>& pixels01, int n,
                                                       int h, int w, JobContext& job = nullJob());

// Feature matrix, row-major [n][dim].
struct FeatureSet {
  int n = 0, dim = 0;
  std::vector<double> data;
};
enum class FeatureKind { Pooled /* FID */, Spatial /* sFID */ };
// Features of a vit-family classifier (see above); other families are refused.
Result<FeatureSet> imageFeatures(const Model& classifier, const std::vector<float>& pixels01, int n, int h, int w,
                                 FeatureKind kind, JobContext& job = nullJob());

// Mean and covariance (unbiased, n-1) of a feature set.
struct GaussianStats {
  int dim = 0, count = 0;
  std::vector<double> mean;  // dim
  std::vector<double> cov;   // dim*dim, row-major
};
Result<GaussianStats> gaussianStats(const FeatureSet& f);
// Fréchet distance between two Gaussians of the same dimension.
Result<double> frechetDistance(const GaussianStats& a, const GaussianStats& b);

// Inception-style score of softmax rows (each summing to ~1); `splits` > 1 averages over
// that many equal chunks (as the original IS). Returns the mean (and the std over splits).
struct ScoreWithSpread {
  double mean = 0, std = 0;
};
Result<ScoreWithSpread> inceptionScore(const std::vector<std::vector<float>>& probs, int splits = 1);
// Fraction of rows whose argmax equals labels[i].
Result<double> classConsistency(const std::vector<std::vector<float>>& probs, const std::vector<int>& labels);

// The Fashion-MNIST test split as [0,1] pixels (10,000 x 28 x 28) with labels.
struct LabeledImages {
  int n = 0, h = 0, w = 0;
  std::vector<float> pixels;
  std::vector<int> labels;
};
Result<LabeledImages> fashionMnistTestImages(int maxCount = 0);

}  // namespace cs
