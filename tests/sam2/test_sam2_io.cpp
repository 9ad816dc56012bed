// SAM 2 input and output around the session: the official .pt checkpoint layout and
// size auto-detection, video files decoded on demand, mask PNG export, and clear errors.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/videoio.hpp>

#include "engine/sam2.h"

using namespace cs;
namespace fs = std::filesystem;

namespace {
const std::string kMini = std::string(CS_SHARED_DIR) + "/fixtures/sam2_mini";

std::vector<fs::path> frameFiles() {
  std::vector<fs::path> v;
  for (auto& e : fs::directory_iterator(kMini + "/frames")) v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}
}  // namespace

class TestSam2Io : public QObject {
  Q_OBJECT
  QTemporaryDir tmp;

 private Q_SLOTS:
  void officialPtEqualsSafetensorsAndSizeIsDetected() {
    if (!fs::exists(kMini)) QSKIP("../shared/fixtures/sam2_mini absent");
    auto a = Sam2::open(kMini + "/sam2_mini.pt", "auto");
    QVERIFY2(a.ok(), a.ok() ? "" : a.error().message.c_str());
    QCOMPARE(a.value()->size(), std::string("mini"));
    auto b = Sam2::open(kMini + "/sam2_mini.safetensors", "mini");
    QVERIFY(b.ok());
    auto sa = Sam2VideoSession::open(a.value(), kMini + "/frames");
    auto sb = Sam2VideoSession::open(b.value(), kMini + "/frames");
    QVERIFY(sa.ok() && sb.ok());
    auto ma = sa.value()->addPoints(0, 1, {{70.f, 117.f, true}});
    auto mb = sb.value()->addPoints(0, 1, {{70.f, 117.f, true}});
    QVERIFY(ma.ok() && mb.ok());
    QCOMPARE(ma->logits, mb->logits);  // same weights, same code: bit-identical
    // An explicit wrong size names the mismatching tensors.
    auto wrong = Sam2::open(kMini + "/sam2_mini.pt", "tiny");
    QVERIFY(!wrong.ok());
    QVERIFY2(wrong.error().message.find("sam2_mini.pt") != std::string::npos, wrong.error().message.c_str());
    QVERIFY2(wrong.error().message.find("expected") != std::string::npos, wrong.error().message.c_str());
  }

  void notACheckpointNamesTheFile() {
    const auto bad = tmp.filePath("garbage.pt").toStdString();
    std::ofstream(bad) << "this is not a zip archive";
    auto m = Sam2::open(bad, "auto");
    QVERIFY(!m.ok());
    QVERIFY2(m.error().message.find("garbage.pt") != std::string::npos, m.error().message.c_str());
    auto missing = Sam2::open(tmp.filePath("nope.pt").toStdString(), "auto");
    QVERIFY(!missing.ok());
    QVERIFY(missing.error().message.find("nope.pt") != std::string::npos);
  }

  void videoFileTracksLikeTheFrames() {
    if (!fs::exists(kMini)) QSKIP("../shared/fixtures/sam2_mini absent");
    // A lossless (FFV1) AVI made from the fixture's frames through OpenCV's ffmpeg backend,
    // so the video session must see exactly the pixels of the frame folder.
    const auto video = tmp.filePath("clip.avi").toStdString();
    {
      auto files = frameFiles();
      cv::Mat f0 = cv::imread(files[0].string());
      cv::VideoWriter w(video, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('F', 'F', 'V', '1'), 10, f0.size());
      QVERIFY2(w.isOpened(), "OpenCV cannot write FFV1 through ffmpeg");
      for (auto& f : files) w.write(cv::imread(f.string()));
    }
    auto model = Sam2::open(kMini + "/sam2_mini.safetensors", "mini");
    QVERIFY(model.ok());
    auto sv = Sam2VideoSession::open(model.value(), video);
    QVERIFY2(sv.ok(), sv.ok() ? "" : sv.error().message.c_str());
    auto sf = Sam2VideoSession::open(model.value(), kMini + "/frames");
    QVERIFY(sf.ok());
    QCOMPARE(sv.value()->numFrames(), 8);
    QCOMPARE(sv.value()->width(), 320);
    QCOMPARE(sv.value()->height(), 180);
    for (auto* s : {sv.value().get(), sf.value().get()}) QVERIFY(s->addPoints(0, 1, {{70.f, 117.f, true}}).ok());
    std::vector<Sam2FrameResult> rv, rf;
    JobContext job;
    QVERIFY(sv.value()->propagate(job, [&](const Sam2FrameResult& r) { rv.push_back(r); }).ok());
    QVERIFY(sf.value()->propagate(job, [&](const Sam2FrameResult& r) { rf.push_back(r); }).ok());
    QCOMPARE(rv.size(), size_t(8));
    for (size_t i = 0; i < rv.size(); ++i) {
      QCOMPARE(rv[i].frame, rf[i].frame);
      QCOMPARE(rv[i].objects[0].logits, rf[i].objects[0].logits);
    }
    // Random access after the sequential pass (a seek back to frame 0, then frame 5).
    auto back0 = sv.value()->addPoints(0, 2, {{70.f, 117.f, true}});
    auto ref0 = sf.value()->addPoints(0, 2, {{70.f, 117.f, true}});
    QVERIFY(back0.ok() && ref0.ok());
    QCOMPARE(back0->logits, ref0->logits);
    auto at5 = sv.value()->addPoints(5, 3, {{200.f, 60.f, true}});
    auto ref5 = sf.value()->addPoints(5, 3, {{200.f, 60.f, true}});
    QVERIFY(at5.ok() && ref5.ok());
    QCOMPARE(at5->logits, ref5->logits);
  }

  void corruptVideoNamesTheFile() {
    const auto bad = tmp.filePath("broken.mp4").toStdString();
    std::ofstream(bad) << std::string(4096, 'x');
    if (!fs::exists(kMini)) QSKIP("../shared/fixtures/sam2_mini absent");
    auto model = Sam2::open(kMini + "/sam2_mini.safetensors", "mini");
    QVERIFY2(model.ok(), model.ok() ? "" : model.error().message.c_str());
    auto s = Sam2VideoSession::open(model.value(), bad);
    QVERIFY(!s.ok());
    QVERIFY2(s.error().message.find("broken.mp4") != std::string::npos, s.error().message.c_str());
  }

  void maskPngRoundTrip() {
    Sam2FrameResult r;
    r.frame = 3;
    for (int id : {1, 2}) {
      Sam2ObjectMask m;
      m.objId = id;
      m.width = 16;
      m.height = 8;
      m.objectScore = 1;
      m.logits.assign(16 * 8, -1.f);
      for (int y = 0; y < 8; ++y)
        for (int x = 0; x < 16; ++x)
          if ((id == 1 && x < 8) || (id == 2 && x >= 6 && y < 4)) m.logits[y * 16 + x] = 1.f;
      r.objects.push_back(m);
    }
    const auto png = tmp.filePath("00003.png").toStdString();
    QVERIFY(writeObjectMaskPng(r, png).ok());
    QVERIFY(!fs::exists(png + ".part.png"));
    auto one = readMaskImage(png, 1), two = readMaskImage(png, 2);
    QVERIFY(one.ok() && two.ok());
    int n1 = 0, n2 = 0;
    for (auto v : one->data) n1 += v;
    for (auto v : two->data) n2 += v;
    QCOMPARE(n2, 10 * 4);           // object 2 drawn last, over object 1
    QCOMPARE(n1, 8 * 8 - 2 * 4);    // object 1 minus the overlap
    // An absent object (score <= 0) is not drawn.
    r.objects[1].objectScore = -1;
    QVERIFY(writeObjectMaskPng(r, png).ok());
    two = readMaskImage(png, 2);
    n2 = 0;
    for (auto v : two->data) n2 += v;
    QCOMPARE(n2, 0);
    r.objects[1].objId = 300;
    QVERIFY(!writeObjectMaskPng(r, png).ok());
  }
};

QTEST_GUILESS_MAIN(TestSam2Io)
#include "test_sam2_io.moc"
