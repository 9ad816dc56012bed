// Streamed statistics and weight diagnostics (engine/explore.h) against brute force.
#include <QtTest>

#include <cmath>
#include <random>

#include "engine/explore.h"

using namespace cs;

class TestExploreStats : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  // Welford/Chan moments over many uneven batches equal the two-pass brute force.
  void momentsMatchBruteForce() {
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.f, 1.f);
    const int C = 7;
    std::vector<std::vector<double>> all(C);
    GroupMoments gm, half1, half2;
    for (int b = 0; b < 13; ++b) {
      const int64_t B = 1 + b % 4, T = 5;
      std::vector<float> x(B * T * C);
      for (int64_t i = 0; i < int64_t(x.size()); ++i) {
        const int c = int(i % C);
        x[i] = 1000.f + c * 3.f + (c + 1) * nd(rng);  // large offset: naive sums would lose precision
        all[c].push_back(x[i]);
      }
      gm.add(x.data(), {B, T, C}, 2);
      (b % 2 ? half1 : half2).add(x.data(), {B, T, C}, -1);
    }
    half1.merge(half2);
    QCOMPARE(int(gm.groups()), C);
    for (int c = 0; c < C; ++c) {
      double mean = 0;
      for (double v : all[c]) mean += v;
      mean /= all[c].size();
      double var = 0, mn = 1e30, mx = -1e30;
      for (double v : all[c]) {
        var += (v - mean) * (v - mean);
        mn = std::min(mn, v);
        mx = std::max(mx, v);
      }
      var /= all[c].size();
      QCOMPARE(gm.count(c), int64_t(all[c].size()));
      QVERIFY(std::abs(gm.mean(c) - mean) < 1e-9 * std::abs(mean));
      QVERIFY2(std::abs(gm.variance(c) - var) < 1e-6 * var, qPrintable(QString::number(gm.variance(c) - var)));
      QVERIFY(std::abs(half1.variance(c) - var) < 1e-6 * var);
      QCOMPARE(double(gm.min(c)), mn);
      QCOMPARE(double(gm.max(c)), mx);
      QCOMPARE(double(gm.absmax(c)), std::max(-mn, mx));
    }
    // A batch with another group count is refused, not mixed in.
    std::vector<float> bad(6, 1.f);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, gm.add(bad.data(), {1, 6}, 1));
  }

  void outlierChannels() {
    GroupSummary s;
    s.absmax = {1, 1.2f, 0.9f, 30, 1.1f, 1};
    QCOMPARE(s.outliers(6.0), std::vector<int>{3});
  }

  // Channel x token mean |x|: exact when unbinned, bounded and averaged when binned.
  void magnitudeMap() {
    const int64_t B = 3, T = 10, C = 6;
    std::vector<float> x(B * T * C);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t c = 0; c < C; ++c) x[(b * T + t) * C + c] = float((c == 2 ? -50 : 1) * (t + 1) * (b + 1));
    MagnitudeMap full(512, 256);
    full.add(x.data(), B, T, C);
    full.add(x.data(), B, T, C);
    QCOMPARE(full.rows(), 6);
    QCOMPARE(full.cols(), 10);
    // mean over b of |x| = (t+1) * 2 for c != 2 (b+1 averages to 2), 50x for channel 2.
    QCOMPARE(full.meanAbs(0, 4), 10.0);
    QCOMPARE(full.meanAbs(2, 4), 500.0);
    QCOMPARE(double(full.maxAbs(2, 4)), 750.0);
    MagnitudeMap small(3, 4);  // 2 channels per row, 3 tokens per column
    small.add(x.data(), B, T, C);
    QCOMPARE(small.rows(), 3);
    QCOMPARE(small.cols(), 4);
    QCOMPARE(small.channelsPerRow(), 2);
    QCOMPARE(small.tokensPerCol(), 3);
    // Row 1 = channels 2,3; column 0 = tokens 0..2: mean of (50 and 1) * (t+1) * 2.
    QCOMPARE(small.meanAbs(1, 0), (50.0 + 1.0) / 2 * 2.0 * 2.0);
    QCOMPARE(small.meanAbs(1, 3), (50.0 + 1.0) / 2 * 2.0 * 10.0);  // last column holds token 9 only
  }

  // Stable rank of a known matrix: diag(3, 4, 0) padded -> ||W||_F^2 / s_max^2 = 25/16.
  void spectrumStableRank() {
    std::vector<float> w = {3, 0, 0, 0,  //
                            0, 4, 0, 0,  //
                            0, 0, 0, 0};
    auto s = weightSpectrum(w.data(), 3, 4);
    QCOMPARE(int(s.singular.size()), 3);
    QVERIFY(std::abs(s.singular[0] - 4) < 1e-9);
    QVERIFY(std::abs(s.singular[1] - 3) < 1e-9);
    QVERIFY(std::abs(s.singular[2]) < 1e-9);
    QVERIFY(std::abs(s.stableRank - 25.0 / 16.0) < 1e-9);
    QCOMPARE(s.rankForEnergy(0.6), 1);  // 16/25 = 0.64
    QCOMPARE(s.rankForEnergy(0.99), 2);
    // Rank-1 outer product: stable rank 1, effective rank 1.
    std::vector<float> r1(20);
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 5; ++j) r1[i * 5 + j] = float((i + 1) * (j - 2));
    auto s1 = weightSpectrum(r1.data(), 4, 5);
    QVERIFY(std::abs(s1.stableRank - 1.0) < 1e-9);
    QVERIFY(std::abs(s1.effectiveRank - 1.0) < 1e-6);
  }

  void sparsityAndNM() {
    const int R = 8, Cc = 16;
    std::vector<float> w(R * Cc, 1.f);
    // 2:4 pattern: zero positions 1 and 3 of every group of 4.
    for (int r = 0; r < R; ++r)
      for (int c = 0; c < Cc; ++c)
        if (c % 4 == 1 || c % 4 == 3) w[r * Cc + c] = 0.f;
    auto s = sparsityPattern(w.data(), R, Cc, 4);
    QCOMPARE(s.sparsity, 0.5);
    QCOMPARE(s.nmLabel(), std::string("2:4"));
    QCOMPARE(s.gridRows, 4);
    QCOMPARE(s.gridCols, 4);
    QCOMPARE(s.blockDensity[0], 0.5);
    QCOMPARE(s.rowDensity[3], 0.5);
    QCOMPARE(s.colDensity[1], 0.0);
    // Break one group: 3 nonzeros in a group of 4 -> no 2:4 any more (3:4 or 6:8 at best).
    w[0 * Cc + 1] = 2.f;
    auto u = sparsityPattern(w.data(), R, Cc, 4);
    QVERIFY(u.nmLabel() != "2:4");
    // Unstructured: one zero row only.
    std::vector<float> d(R * Cc, 1.f);
    for (int c = 0; c < Cc; ++c) d[5 * Cc + c] = 0.f;
    auto z = sparsityPattern(d.data(), R, Cc, 64);
    QCOMPARE(z.nmLabel(), std::string("unstructured"));
    QCOMPARE(z.rowDensity[5], 0.0);
    std::vector<float> dense(R * Cc, 1.f);
    QCOMPARE(sparsityPattern(dense.data(), R, Cc).nmLabel(), std::string("dense"));
  }
};

QTEST_GUILESS_MAIN(TestExploreStats)
#include "test_explore_stats.moc"
