// Statistics against brute-force references.
#include <QtTest/QtTest>
#include <algorithm>
#include <cmath>
#include <random>

#include "engine/stats.h"

using namespace cs;

class TestStats : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void histogramKnown() {
    std::vector<float> v = {0, 0.1f, 0.2f, 0.5f, 0.99f, 1.0f, -1, 2};
    auto h = histogram(v.data(), v.size(), 2, 0.0, 1.0);
    QCOMPARE(h.counts[0], 3.0);  // 0, 0.1, 0.2
    QCOMPARE(h.counts[1], 3.0);  // 0.5, 0.99, 1.0 (hi edge inclusive)
    QCOMPARE(h.below, int64_t(1));
    QCOMPARE(h.above, int64_t(1));
    QCOMPARE(h.total, int64_t(8));
    auto a = histogramAuto(v, 4);
    QCOMPARE(a.lo, -1.0);
    QCOMPARE(a.hi, 2.0);
    double s = 0;
    for (double c : a.counts) s += c;
    QCOMPARE(s, 8.0);
  }
  void percentileMatchesSortedReference() {
    std::mt19937 rng(1);
    std::normal_distribution<float> d;
    std::vector<float> v(10001);
    for (auto& x : v) x = d(rng);
    auto s = v;
    std::sort(s.begin(), s.end());
    QCOMPARE(percentile(v, 0), double(s.front()));
    QCOMPARE(percentile(v, 100), double(s.back()));
    QCOMPARE(percentile(v, 50), double(s[5000]));
    // numpy linear interpolation: p=99.99 -> pos 9999.0
    QCOMPARE(percentile(v, 99.99), double(s[9999]));
    const double pos = 0.25 / 100 * 10000;  // 25.0
    QCOMPARE(percentile(v, 0.25), double(s[size_t(pos)]));
    std::vector<float> two = {1, 3};
    QCOMPARE(percentile(two, 50), 2.0);
  }
  void largeArrayBeyondTorchQuantileLimit() {
    std::vector<float> v((1 << 24) + 5);
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 1000);
    QCOMPARE(percentile(v, 100), 999.0);
    QVERIFY(std::abs(percentile(v, 50) - 499.5) < 1.0);
  }
  void runningHistogramMatchesDirect() {
    std::mt19937 rng(2);
    std::normal_distribution<float> d(0, 1);
    RunningHistogram rh;
    std::vector<float> all;
    for (int b = 0; b < 20; ++b) {
      std::vector<float> batch(5000);
      for (auto& x : batch) x = d(rng) * (1 + b);  // range grows batch by batch
      rh.add(batch.data(), batch.size());
      all.insert(all.end(), batch.begin(), batch.end());
    }
    QCOMPARE(rh.count(), int64_t(all.size()));
    auto m = minMax(all.data(), all.size());
    QCOMPARE(rh.range().min, m.min);
    QCOMPARE(rh.range().max, m.max);
    auto h = rh.histogram(32);
    auto ref = histogram(all.data(), all.size(), 32, m.min, m.max);
    double sum = 0, l1 = 0;
    for (size_t i = 0; i < h.counts.size(); ++i) {
      sum += h.counts[i];
      l1 += std::abs(h.counts[i] - ref.counts[i]);
    }
    QCOMPARE(sum, double(all.size()));
    QVERIFY2(l1 / all.size() < 0.02, qPrintable(QString::number(l1 / all.size())));  // fine bins: < 2% mass moved
  }
  void perChannel() {
    std::vector<float> v = {1, -2, 3, 4, 5, -6};  // shape [3, 2]: channels along axis 1
    auto r = perChannelMinMax(v.data(), {3, 2}, 1);
    QCOMPARE(r.size(), size_t(2));
    QCOMPARE(r[0].min, 1.f);
    QCOMPARE(r[0].max, 5.f);
    QCOMPARE(r[1].min, -6.f);
    QCOMPARE(r[1].max, 4.f);
    auto r0 = perChannelMinMax(v.data(), {3, 2}, 0);
    QCOMPARE(r0[2].min, -6.f);
  }
  void errorStats() {
    std::vector<float> a = {1, 2, 3, 4}, b = {1, 2, 3, 4.1f};
    auto e = compareTensors(a.data(), b.data(), 4);
    QVERIFY(std::abs(e.mse - 0.0025) < 1e-6);
    QVERIFY(std::abs(e.sqnrDb - 10 * std::log10(30.0 / 0.01)) < 1e-3);
    auto same = compareTensors(a.data(), a.data(), 4);
    QVERIFY(std::isinf(same.sqnrDb));
  }
};

QTEST_GUILESS_MAIN(TestStats)
#include "test_stats.moc"
