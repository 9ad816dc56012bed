// The plain-C++ SAM 2 video session on the sam2_mini fixture frames, and the DAVIS J/F
// metrics against the OSVOS figures stated in ../shared/data/README.md.
#include <QtTest/QtTest>

#include <atomic>
#include <cstdio>
#include <filesystem>

#include "engine/sam2.h"

using namespace cs;
namespace fs = std::filesystem;

namespace {
const std::string kShared = CS_SHARED_DIR;
}

class TestSam2Video : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void sessionTracksFixtureClip() {
    if (!fs::exists(kShared)) QSKIP("../shared absent");
    const std::string dir = kShared + "/fixtures/sam2_mini";
    auto model = Sam2::open(dir + "/sam2_mini.safetensors", "mini");
    QVERIFY2(model.ok(), model.ok() ? "" : model.error().message.c_str());
    auto s = Sam2VideoSession::openFolder(model.value(), dir + "/frames");
    QVERIFY2(s.ok(), s.ok() ? "" : s.error().message.c_str());
    auto& session = *s.value();
    QCOMPARE(session.numFrames(), 8);
    QCOMPARE(session.width(), 320);
    QCOMPARE(session.height(), 180);
    auto m0 = session.addPoints(0, 1, {{70.f, 117.f, true}});
    QVERIFY2(m0.ok(), m0.ok() ? "" : m0.error().message.c_str());
    QCOMPARE(static_cast<int>(m0->logits.size()), 320 * 180);
    QVERIFY(m0->present());
    int fg = 0;
    for (auto v : m0->binary()) fg += v;
    QVERIFY(fg > 320 * 180 / 20);
    std::vector<int> frames;
    JobContext job;
    auto st = session.propagate(job, [&](const Sam2FrameResult& r) {
      frames.push_back(r.frame);
      QCOMPARE(static_cast<int>(r.objects.size()), 1);
    });
    QVERIFY2(st.ok(), st.ok() ? "" : st.error().message.c_str());
    QCOMPARE(frames, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
    // cancellation between frames
    session.reset();
    QVERIFY(session.addPoints(0, 1, {{70.f, 117.f, true}}).ok());
    JobContext job2;
    int n = 0;
    st = session.propagate(job2, [&](const Sam2FrameResult&) {
      if (++n == 3) job2.cancel();
    });
    QVERIFY(!st.ok() && st.error().isCancelled());
    QCOMPARE(n, 3);
  }

  void davisJMatchesOsvos_data() {
    QTest::addColumn<QString>("seq");
    QTest::addColumn<double>("expectedJ");
    QTest::newRow("blackswan") << "blackswan" << 0.943;
    QTest::newRow("car-shadow") << "car-shadow" << 0.928;
  }
  void davisJMatchesOsvos() {
    QFETCH(QString, seq);
    QFETCH(double, expectedJ);
    const std::string root = kShared + "/data/davis2016";
    if (!fs::exists(root)) QSKIP("../shared absent");
    const std::string s = seq.toStdString();
    int n = 0;
    while (fs::exists(root + "/Annotations/480p/" + s + "/" + [&] {
             char b[16];
             std::snprintf(b, sizeof b, "%05d.png", n);
             return std::string(b);
           }()))
      ++n;
    QVERIFY(n > 2);
    double sumJ = 0, sumF = 0;
    for (int i = 1; i <= n - 2; ++i) {
      char b[16];
      std::snprintf(b, sizeof b, "%05d.png", i);
      auto gt = readMaskImage(root + "/Annotations/480p/" + s + "/" + b);
      auto pr = readMaskImage(root + "/osvos_2017_predictions/" + s + "/" + b);
      QVERIFY2(gt.ok() && pr.ok(), b);
      sumJ += regionSimilarityJ(pr.value(), gt.value());
      sumF += boundaryF(pr.value(), gt.value());
    }
    const double J = sumJ / (n - 2), Fm = sumF / (n - 2);
    qInfo("%s: J %.4f (stated %.3f), F %.4f over frames 1..%d", s.c_str(), J, expectedJ, Fm, n - 2);
    QVERIFY(std::abs(J - expectedJ) <= 0.002);
    QVERIFY(Fm > 0.5 && Fm <= 1.0);
  }

  void metricEdgeCases() {
    BinaryMask a{4, 4, std::vector<uint8_t>(16, 0)}, b = a;
    QCOMPARE(regionSimilarityJ(a, b), 1.0);
    QCOMPARE(boundaryF(a, b), 1.0);
    b.data[5] = 1;
    QCOMPARE(regionSimilarityJ(a, b), 0.0);
    a.data[5] = 1;
    QCOMPARE(regionSimilarityJ(a, b), 1.0);
    QCOMPARE(boundaryF(a, b), 1.0);
  }
};

QTEST_GUILESS_MAIN(TestSam2Video)
#include "test_sam2_video.moc"
