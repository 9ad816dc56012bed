// Streamed statistics and weight diagnostics (engine/explore.h) against brute force.
#include <QtTest>

#include <time.h>

#include <cmath>
#include <random>

#include "engine/explore.h"

using namespace cs;

namespace {
// CPU time of this thread (ms): on the shared, loaded machine wall time mostly measures
// waiting for a core; both are printed.
double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
}  // namespace

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

  // What-if quantizer: per-tensor symmetric against a brute-force fake-quant, the SQNR
  // ordering (8 > 4 bits, per-channel >= per-tensor on rows of very different scale),
  // clipping, shared bins, and the 10-million-value timing (printed, not asserted).
  void whatIfQuantizer() {
    std::mt19937 rng(3);
    std::normal_distribution<float> nd(0.f, 1.f);
    const int64_t R = 64, C = 96;
    std::vector<float> w(R * C);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < C; ++c) w[r * C + c] = nd(rng) * (r % 8 == 0 ? 20.f : 1.f);
    WhatIfOptions o;
    o.bits = 4;
    o.granularity = QuantGranularity::Tensor;
    auto t4 = whatIfQuantize(w.data(), R, C, o);
    // Brute force: scale = absmax / 7, q = clamp(round(x/s), -7, 7).
    float amax = 0;
    for (float v : w) amax = std::max(amax, std::fabs(v));
    const double s = amax / 7.0;
    double sig = 0, err = 0;
    for (float v : w) {
      const double q = std::clamp(std::nearbyint(v / s), -7.0, 7.0) * s;
      sig += double(v) * v;
      err += (v - q) * (v - q);
    }
    QVERIFY(std::fabs(t4.sqnrDb - 10 * std::log10(sig / err)) < 1e-3);
    QVERIFY(std::fabs(t4.mse - err / w.size()) < 1e-6 * (1 + err / w.size()));
    QCOMPARE(t4.clippedFraction, 0.0);
    QCOMPARE(t4.groups, int64_t(1));
    double refSum = 0, qSum = 0;
    for (double c : t4.reference.counts) refSum += c;
    for (double c : t4.quantized.counts) qSum += c;
    QCOMPARE(refSum, double(R * C));
    QCOMPARE(qSum, double(R * C));
    int occupied = 0;  // the quantized histogram sits on at most 15 levels
    for (double c : t4.quantized.counts) occupied += c > 0;
    QVERIFY(occupied <= 15);

    o.bits = 8;
    auto t8 = whatIfQuantize(w.data(), R, C, o);
    QVERIFY(t8.sqnrDb > t4.sqnrDb + 15);
    o.bits = 4;
    o.granularity = QuantGranularity::Row;
    auto r4 = whatIfQuantize(w.data(), R, C, o);
    QVERIFY(r4.sqnrDb >= t4.sqnrDb);
    QCOMPARE(r4.groups, R);
    o.granularity = QuantGranularity::Group;
    o.groupSize = 16;
    auto g4 = whatIfQuantize(w.data(), R, C, o);
    QCOMPARE(g4.groups, R * C / 16);
    QVERIFY(g4.sqnrDb >= r4.sqnrDb - 0.5);
    o.granularity = QuantGranularity::Column;
    QCOMPARE(whatIfQuantize(w.data(), R, C, o).groups, C);
    // Clipping at p99 clips about 1 % of each row and narrows the range.
    o.granularity = QuantGranularity::Row;
    o.clipPercentile = 99.0;
    auto c4 = whatIfQuantize(w.data(), R, C, o);
    QVERIFY(c4.clippedFraction > 0.002 && c4.clippedFraction < 0.03);
    QVERIFY(c4.clipHi < r4.clipHi);
    // Asymmetric on a one-sided tensor (post-GELU-like) beats symmetric.
    std::vector<float> pos(w.size());
    for (size_t i = 0; i < w.size(); ++i) pos[i] = std::fabs(w[i]);
    WhatIfOptions a;
    a.bits = 4;
    a.granularity = QuantGranularity::Tensor;
    const double symDb = whatIfQuantize(pos.data(), R, C, a).sqnrDb;
    a.symmetric = false;
    QVERIFY(whatIfQuantize(pos.data(), R, C, a).sqnrDb > symDb);
    QVERIFY_THROWS_EXCEPTION(std::invalid_argument, whatIfQuantize(w.data(), R, C, WhatIfOptions{1}));

    // 10 million values: histogram binning (histogramAuto) and a per-channel what-if.
    std::vector<float> big(10'000'000);
    for (auto& v : big) v = nd(rng);
    QElapsedTimer clock;
    clock.start();
    double cpu0 = threadCpuMs();
    auto h = histogramAuto(big.data(), big.size(), 256);
    const double histMs = clock.nsecsElapsed() / 1e6, histCpu = threadCpuMs() - cpu0;
    QCOMPARE(h.total, int64_t(big.size()));
    clock.restart();
    cpu0 = threadCpuMs();
    auto f = binValues(big.data(), big.size(), 256);
    const double fastMs = clock.nsecsElapsed() / 1e6, fastCpu = threadCpuMs() - cpu0;
    QCOMPARE(f.total, h.total);
    QCOMPARE(f.counts, h.counts);  // same bins, same counts as the reference binning
    clock.restart();
    cpu0 = threadCpuMs();
    WhatIfOptions b;
    b.bits = 4;
    auto wb = whatIfQuantize(big.data(), 2500, 4000, b);
    const double whatIfMs = clock.nsecsElapsed() / 1e6, whatIfCpu = threadCpuMs() - cpu0;
    QVERIFY(wb.sqnrDb > 10);
    qInfo("10 M values: histogramAuto %.1f ms wall (%.1f ms CPU); binValues %.1f ms wall (%.1f ms CPU); what-if W4 "
          "per-row %.1f ms wall (%.1f ms CPU)",
          histMs, histCpu, fastMs, fastCpu, whatIfMs, whatIfCpu);
  }
};

QTEST_GUILESS_MAIN(TestExploreStats)
#include "test_explore_stats.moc"
