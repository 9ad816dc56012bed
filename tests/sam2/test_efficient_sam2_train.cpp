// Efficient-SAM2 SWR adapter self-distillation and the method schema (compression/
// efficient_sam2.h) on the sam2_mini fixture (seeded random weights).
#include <torch/torch.h>

#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>

#include "compression/efficient_sam2.h"
#include "engine/sam2.h"
#include "engine/torch/sam2.h"

using namespace cs;
using namespace cs::detail::sam2;
namespace fs = std::filesystem;

namespace {
const std::string kShared = CS_SHARED_DIR;
const std::string kMini = kShared + "/fixtures/sam2_mini";
}  // namespace

class TestEfficientSam2Train : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void initTestCase() {
    if (!fs::exists(kShared)) QSKIP("../shared absent");
  }

  void adapterTrainingLowersLoss() {
    SwrAdapterTrainOptions o;
    o.model = kMini + "/sam2_mini.safetensors";
    o.size = "mini";
    o.videos = {kMini + "/frames"};
    o.out = (fs::temp_directory_path() / "test_efficient_sam2.swr_adapter.safetensors").string();
    o.epochs = 3;
    o.lossEvery = 1;
    o.stepEvery = 1;
    o.lr = 3e-3;
    o.randomRouteFraction = 0.5;  // the fixture's masks cover every one of its 4 windows
    JobContext job;
    int calls = 0;
    job.setProgress([&](double, const std::string&) { ++calls; });
    auto r = trainSwrAdapter(o, job);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    qInfo("identity %.4g, before %.4g, after %.4g, %d steps", r->identityLoss, r->evalBefore, r->evalAfter, r->steps);
    QCOMPARE(r->steps, 21);
    QVERIFY(calls >= 21);
    QVERIFY(r->evalAfter < 0.9 * r->evalBefore);
    QVERIFY(std::abs(r->evalBefore - r->identityLoss) < 0.05 * r->identityLoss);  // starts near identity
    auto back = SwrAdapter::load(r->adapterPath, 64);
    QVERIFY(back.defined());
    QVERIFY_EXCEPTION_THROWN(SwrAdapter::load(r->adapterPath, 96), EngineError);
    // the trained adapter loads into a session
    auto mdl = Sam2::open(o.model, "mini");
    auto s = Sam2VideoSession::openFolder(mdl.value(), kMini + "/frames");
    Sam2Efficiency e;
    e.swr = true;
    e.adapterPath = r->adapterPath;
    QVERIFY(s.value()->setEfficiency(e).ok());
    e.adapterPath = kMini + "/missing.safetensors";
    auto bad = s.value()->setEfficiency(e);
    QVERIFY(!bad.ok());
    QVERIFY(bad.error().message.find("missing.safetensors") != std::string::npos);
    // cancelled training returns cancelled
    JobContext c;
    c.cancel();
    auto rc = trainSwrAdapter(o, c);
    QVERIFY(!rc.ok());
    fs::remove(r->adapterPath);
  }

  // `bench sam2`: the tracking loop on random frames with SWR and SMR switched on: the geometry,
  // the selected windows and the pruned memory are those asked for; bad options are refused.
  void benchSam2RunsVariants() {
    Sam2BenchOptions o;
    o.size = "mini";  // tiny layout at width 16, 256 px: 16x16 map, windows of 14 -> 2x2 grid
    o.frames = 2;
    o.warmup = 8;     // memory bank full, so older frames are pruned on the timed frames
    o.swr = o.smr = true;
    o.swrSelected = 0.5;
    o.keepRatio = 0.05;
    JobContext job;
    auto r = benchSam2(o, job);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    QCOMPARE(r->windows, 4);
    QCOMPARE(r->windowsSelected, 2);
    QCOMPARE(r->frames, 2);
    QVERIFY(r->routedBlocks > 0);
    QVERIFY(r->framesPerSecond > 0);
    // 7 memory frames of 256 tokens, the prompt frame and the newest dense, 5 pruned to 12 tokens
    const double expect = (2 * 256 + 5 * 12) / (7.0 * 256);
    qInfo("memory tokens attended %.4f (expected %.4f)", r->memTokensKept, expect);
    QVERIFY(std::abs(r->memTokensKept - expect) < 1e-9);
    o.swr = o.smr = false;
    auto full = benchSam2(o, job);
    QVERIFY(full.ok());
    QCOMPARE(full->windows, 0);
    QCOMPARE(full->memTokensKept, 1.0);
    o.device = "cuda";
    if (!torch::cuda::is_available()) {
      auto c = benchSam2(o, job);
      QVERIFY(!c.ok());
      QVERIFY(c.error().message.find("cuda") != std::string::npos);
    }
    o.device = "cpu";
    o.swr = true;
    o.swrSelected = 1.5;
    auto bad = benchSam2(o, job);
    QVERIFY(!bad.ok());
    QVERIFY(bad.error().message.find("swr-selected") != std::string::npos);
  }

  void swrCoverageOfMasks() {
    // The router on masks at SAM 2.1-L's 4x4 grid: a frame-filling mask selects every
    // window, a corner blob exactly one; DAVIS ground truth lies in between.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const int W = 854, H = 480;
    auto writePgm = [&](const std::string& path, int blob) {  // blob 0: all object
      std::ofstream f(path, std::ios::binary);
      f << "P5\n" << W << " " << H << "\n255\n";
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) f.put(static_cast<char>((blob == 0 || (x < blob && y < blob)) ? 255 : 0));
    };
    const std::string full = dir.filePath("full").toStdString(), corner = dir.filePath("corner").toStdString();
    fs::create_directories(full);
    fs::create_directories(corner);
    writePgm(full + "/00000.pgm", 0);
    writePgm(corner + "/00000.pgm", 40);
    writePgm(corner + "/00001.pgm", 40);
    SwrCoverageOptions o;
    o.size = "large";
    o.maskDirs = {full, corner};
    JobContext job;
    auto r = swrMaskCoverage(o, job);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    QCOMPARE(r->gridH * r->gridW, 16);
    QCOMPARE(r->sequences.at(0).selected, 1.0);
    QCOMPARE(r->sequences.at(1).frames, 2);
    QCOMPARE(r->sequences.at(1).selected, 1.0 / 16);
    // DAVIS ground truth (the shared data)
    const std::string davis = kShared + "/data/davis2016/Annotations/480p";
    o.maskDirs = {davis + "/blackswan", davis + "/car-shadow"};
    auto d = swrMaskCoverage(o, job);
    QVERIFY2(d.ok(), d.ok() ? "" : d.error().message.c_str());
    for (const auto& q : d->sequences) {
      qInfo("%s: %d frames, %.3f of the 4x4 windows selected (min %.3f, max %.3f)", q.dir.c_str(), q.frames, q.selected,
            q.minSelected, q.maxSelected);
      QVERIFY(q.frames > 0);
      QVERIFY(q.selected > 0.0 && q.selected < 1.0);
    }
    // errors name the folder or the file
    const std::string empty = dir.filePath("empty").toStdString();
    fs::create_directories(empty);
    o.maskDirs = {empty};
    auto e1 = swrMaskCoverage(o, job);
    QVERIFY(!e1.ok());
    QVERIFY2(e1.error().message.find(empty) != std::string::npos, e1.error().message.c_str());
    std::ofstream(empty + "/00000.png") << "not a png";
    auto e2 = swrMaskCoverage(o, job);
    QVERIFY(!e2.ok());
    QVERIFY2(e2.error().message.find("00000.png") != std::string::npos, e2.error().message.c_str());
  }

  void schema() {
    auto e = efficientSam2Options({{"swr", true}, {"keep_ratio", 0.1}});
    QVERIFY(e.ok());
    QVERIFY(e->swr && !e->smr);
    QCOMPARE(e->keepRatio, 0.1);
    QCOMPARE(e->theta, 0.7);
    auto bad = efficientSam2Options({{"keep_ratio", 2.0}});
    QVERIFY(!bad.ok());
    QVERIFY(bad.error().message.find("keep_ratio") != std::string::npos);
  }
};

QTEST_GUILESS_MAIN(TestEfficientSam2Train)
#include "test_efficient_sam2_train.moc"
