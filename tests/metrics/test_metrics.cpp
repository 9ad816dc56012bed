// Tests of engine/metrics.h through the plain-C++ facade (see CMakeLists.txt).
#include <QtTest/QtTest>
#include <cmath>

#include "engine/metrics.h"
#include "engine/model.h"

using namespace cs;

namespace {
GaussianStats gauss(std::vector<double> mean, std::vector<double> cov) {
  GaussianStats g;
  g.dim = int(mean.size());
  g.count = 100;
  g.mean = std::move(mean);
  g.cov = std::move(cov);
  return g;
}
double fd(const GaussianStats& a, const GaussianStats& b) {
  auto r = frechetDistance(a, b);
  if (!r) qFatal("%s", r.error().message.c_str());
  return *r;
}
}  // namespace

class TestMetrics : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void frechetHandComputed() {
    // 1-D: (m1-m2)^2 + s1 + s2 - 2 sqrt(s1 s2) = 4 + 4 + 9 - 12 = 5.
    QVERIFY(std::abs(fd(gauss({1}, {4}), gauss({3}, {9})) - 5.0) < 1e-9);
    // 2-D diagonal: |(1,1)|^2 + (1+4) + (9+1) - 2 (3 + 2) = 7.
    QVERIFY(std::abs(fd(gauss({0, 0}, {1, 0, 0, 4}), gauss({1, 1}, {9, 0, 0, 1})) - 7.0) < 1e-9);
    // 2-D non-diagonal: I vs [[2,1],[1,2]] (eigenvalues 3, 1): 2 + 4 - 2 (sqrt 3 + 1).
    QVERIFY(std::abs(fd(gauss({0, 0}, {1, 0, 0, 1}), gauss({0, 0}, {2, 1, 1, 2})) - (4 - 2 * std::sqrt(3.0))) < 1e-9);
    // Symmetric in its arguments for non-commuting covariances.
    auto a = gauss({0.5, -1}, {2, 0.3, 0.3, 1}), b = gauss({0, 0}, {1, -0.8, -0.8, 3});
    QVERIFY(std::abs(fd(a, b) - fd(b, a)) < 1e-9);
    QVERIFY(!frechetDistance(gauss({0}, {1}), gauss({0, 0}, {1, 0, 0, 1})).ok());
  }

  void inceptionScoreExtremes() {
    std::vector<std::vector<float>> uniform(50, std::vector<float>(10, 0.1f)), onehot;
    for (int i = 0; i < 50; ++i) {
      std::vector<float> r(10, 0.0f);
      r[size_t(i % 10)] = 1.0f;
      onehot.push_back(r);
    }
    auto u = inceptionScore(uniform);
    QVERIFY(u.ok());
    QVERIFY(std::abs(u->mean - 1.0) < 1e-6);
    auto o = inceptionScore(onehot);
    QVERIFY(o.ok());
    QVERIFY(std::abs(o->mean - 10.0) < 1e-4);
    auto cc = classConsistency(onehot, std::vector<int>(50, 0));
    QVERIFY(cc.ok());
    QCOMPARE(*cc, 0.1);
    QVERIFY(!classConsistency(onehot, {1, 2}).ok());
  }

  void realImages() {
    auto clf = openModel("vit-fmnist");
    if (!clf && clf.error().code == Error::Code::NotFound) QSKIP("vit-fmnist weights or Fashion-MNIST absent");
    QVERIFY2(clf.ok(), clf.ok() ? "" : clf.error().message.c_str());
    auto test = fashionMnistTestImages(2000);
    if (!test && test.error().code == Error::Code::NotFound)
      QSKIP(("Fashion-MNIST test split absent: " + test.error().message).c_str());
    QVERIFY2(test.ok(), test ? "" : test.error().message.c_str());
    QCOMPARE(test->n, 2000);
    // Class consistency of real images with their true labels = classifier accuracy (89 %).
    auto probs = classifyImages(*clf, test->pixels, test->n, 28, 28);
    QVERIFY2(probs.ok(), probs.ok() ? "" : probs.error().message.c_str());
    auto cc = classConsistency(*probs, test->labels);
    QVERIFY(cc.ok());
    qInfo("class consistency of 2000 real test images: %.4f", *cc);
    QVERIFY(*cc >= 0.85);
    // The same images padded to 32x32 (as the diffusion model makes them) are center-cropped.
    std::vector<float> padded(size_t(100) * 32 * 32, 0.0f);
    for (int i = 0; i < 100; ++i)
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x)
          padded[(size_t(i) * 32 + y + 2) * 32 + x + 2] = test->pixels[(size_t(i) * 28 + y) * 28 + x];
    auto p32 = classifyImages(*clf, padded, 100, 32, 32);
    QVERIFY(p32.ok());
    for (int i = 0; i < 100; ++i)
      for (int k = 0; k < 10; ++k) QCOMPARE((*p32)[size_t(i)][size_t(k)], (*probs)[size_t(i)][size_t(k)]);
    // FID of a set against itself is ~0; two different halves are not.
    FeatureSet pooled;
    for (auto kind : {FeatureKind::Pooled, FeatureKind::Spatial}) {
      auto f = imageFeatures(*clf, test->pixels, test->n, 28, 28, kind);
      QVERIFY2(f.ok(), f.ok() ? "" : f.error().message.c_str());
      QCOMPARE(f->dim, kind == FeatureKind::Pooled ? 64 : 392);
      if (kind == FeatureKind::Pooled) pooled = *f;
      auto s = gaussianStats(*f);
      QVERIFY(s.ok());
      QVERIFY(fd(*s, *s) < 1e-6);
      FeatureSet a = *f, b = *f;
      a.n = b.n = 1000;
      a.data.resize(size_t(1000) * f->dim);
      b.data.erase(b.data.begin(), b.data.begin() + ptrdiff_t(1000) * f->dim);
      const double halves = fd(*gaussianStats(a), *gaussianStats(b));
      qInfo("FID-like distance of two 1000-image halves (%s): %.4f", kind == FeatureKind::Pooled ? "pooled" : "spatial",
            halves);
      QVERIFY(halves > 1e-3);
    }
    // A class-collapsed set (all images of class 0) is far from the whole test set.
    LabeledImages only0;
    for (int i = 0; i < test->n; ++i)
      if (test->labels[size_t(i)] == 0)
        only0.pixels.insert(only0.pixels.end(), test->pixels.begin() + ptrdiff_t(i) * 784,
                            test->pixels.begin() + ptrdiff_t(i + 1) * 784);
    const int n0 = int(only0.pixels.size() / 784);
    auto f0 = imageFeatures(*clf, only0.pixels, n0, 28, 28, FeatureKind::Pooled);
    const auto* fa = &pooled;
    QVERIFY(f0.ok());
    auto ha = *fa;
    ha.n = 1000;
    ha.data.resize(size_t(1000) * 64);
    auto hb = *fa;
    hb.n = 1000;
    hb.data.erase(hb.data.begin(), hb.data.begin() + 1000 * 64);
    QVERIFY(fd(*gaussianStats(*f0), *gaussianStats(*fa)) > 5 * fd(*gaussianStats(ha), *gaussianStats(hb)));
  }

  void refusesBadInput() {
    auto clf = openModel("vit-fmnist");
    QVERIFY2(clf.ok(), clf ? "" : clf.error().message.c_str());  // committed zoo weights: must open
    std::vector<float> px(10 * 30 * 30, 0.5f);
    auto r = classifyImages(*clf, px, 10, 30, 30);
    QVERIFY(!r.ok());
    QVERIFY(r.error().message.find("28x28 or 32x32") != std::string::npos);
    auto r2 = classifyImages(*clf, px, 11, 28, 28);  // buffer too small
    QVERIFY(!r2.ok());
  }
};

QTEST_GUILESS_MAIN(TestMetrics)
#include "test_metrics.moc"
