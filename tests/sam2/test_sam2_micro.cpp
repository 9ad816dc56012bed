// sam2-micro: the synthetic video generator (deterministic, masks equal to the composited
// objects), the committed model (opens as size "micro", runs a held-out clip through the
// plain video session, and tracks it in its best candidate mask), and corrupt weights.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>

#include "engine/data.h"
#include "engine/sam2.h"
#include "engine/sam2_micro.h"
#include "engine/torch/sam2_train.h"

using namespace cs;
namespace fs = std::filesystem;
namespace S2 = cs::detail::sam2;

namespace {
bool haveFmnist() { return fs::exists(fs::path(fashionMnistDirectory()) / "t10k-images-idx3-ubyte.gz") ||
                           fs::exists(fs::path(fashionMnistDirectory()) / "t10k-images-idx3-ubyte"); }
}  // namespace

class TestSam2Micro : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  void generatorIsDeterministicAndExact() {
    if (!haveFmnist()) QSKIP("Fashion-MNIST absent");
    torch::NoGradGuard ng;
    auto sprites = S2::synthSprites("test");
    const std::vector<uint64_t> seeds{S2::kHeldOutSeed0, S2::kHeldOutSeed0 + 1};
    auto a = S2::synthClips(sprites, seeds, 6, 128, torch::kCPU);
    auto b = S2::synthClips(sprites, seeds, 6, 128, torch::kCPU);
    QVERIFY(torch::equal(a.frames, b.frames));
    QVERIFY(torch::equal(a.masks, b.masks));
    auto c = S2::synthClips(sprites, {S2::kHeldOutSeed0 + 2, S2::kHeldOutSeed0 + 1}, 6, 128, torch::kCPU);
    QVERIFY(!torch::equal(a.frames[0], c.frames[0]));  // another seed, another video
    QVERIFY(torch::equal(a.frames[1], c.frames[1]));   // a clip depends on its own seed only
    QCOMPARE(a.frames.sizes().vec(), (std::vector<int64_t>{2, 6, 3, 128, 128}));
    QCOMPARE(a.masks.sizes().vec(), (std::vector<int64_t>{2, 6, S2::kSynthObjects, 128, 128}));
    QVERIFY(a.frames.min().item<float>() >= 0 && a.frames.max().item<float>() <= 1);
    // masks are binary and disjoint; their union is the union of the silhouettes
    QVERIFY(torch::equal(a.masks, (a.masks > 0.5).to(torch::kFloat32)));
    QVERIFY(a.masks.sum(2).max().item<float>() <= 1);
    QVERIFY(torch::equal(a.masks.amax(2), a.alpha.amax(2)));
    // where object k is visible the frame shows exactly its colours; elsewhere, the objects
    // above it or the background
    for (int k = 0; k < S2::kSynthObjects; ++k) {
      auto vis = a.masks.select(2, k).unsqueeze(2) > 0.5;  // [B,T,1,S,S]
      auto diff = (a.frames - a.layers.select(2, k)).abs();
      QVERIFY(torch::where(vis, diff, torch::zeros_like(diff)).max().item<float>() < 1e-6);
    }
    auto none = a.masks.sum(2, true) < 0.5;
    auto bgDiff = (a.frames - a.background).abs();
    QVERIFY(torch::where(none, bgDiff, torch::zeros_like(bgDiff)).max().item<float>() < 1e-6);
    // the topmost object is never hidden; every clip has a visible object on frame 0
    QVERIFY(torch::equal(a.masks.select(2, S2::kSynthObjects - 1), a.alpha.select(2, S2::kSynthObjects - 1)));
    QVERIFY(a.masks.select(1, 0).sum({2, 3}).amax(1).min().item<float>() > 30);
    // the facade's label images agree with the masks
    auto v = synthVideo(S2::kHeldOutSeed0 + 1, 6, "test", 128);
    QVERIFY2(v.ok(), v.ok() ? "" : v.error().message.c_str());
    for (int t = 0; t < 6; ++t)
      for (int k = 0; k < S2::kSynthObjects; ++k) {
        auto m = a.masks[1][t][k].flatten();
        int64_t same = 0, n = m.numel();
        auto acc = m.accessor<float, 1>();
        for (int64_t i = 0; i < n; ++i) same += (acc[i] > 0.5) == (v->label[t][i] == k + 1);
        QCOMPARE(same, n);
      }
  }

  void absentObjectEventsKeepMasksExact() {
    if (!haveFmnist()) QSKIP("Fashion-MNIST absent");
    torch::NoGradGuard ng;
    auto sprites = S2::synthSprites("test");
    std::vector<uint64_t> seeds;
    for (int i = 0; i < 12; ++i) seeds.push_back(S2::kHeldOutSeed0 + 500 + i);
    S2::SynthOptions none, all;
    all.leaveProb = 1;
    all.occluderProb = 1;
    auto plain = S2::synthClips(sprites, seeds, 8, 128, torch::kCPU);
    auto same = S2::synthClips(sprites, seeds, 8, 128, torch::kCPU, none);
    QVERIFY(torch::equal(plain.frames, same.frames));  // options off: the clips as they always were
    auto a = S2::synthClips(sprites, seeds, 8, 128, torch::kCPU, all);
    QVERIFY(!torch::equal(a.frames, plain.frames));
    QVERIFY(torch::equal(a.masks, (a.masks > 0.5).to(torch::kFloat32)));
    QVERIFY(a.masks.sum(2).max().item<float>() <= 1);
    QVERIFY(torch::equal(a.masks * a.alpha, a.masks));  // visible parts lie inside the silhouettes
    for (int k = 0; k < S2::kSynthObjects; ++k) {       // visible pixels show the object's own colours
      auto vis = a.masks.select(2, k).unsqueeze(2) > 0.5;
      auto diff = (a.frames - a.layers.select(2, k)).abs();
      QVERIFY(torch::where(vis, diff, torch::zeros_like(diff)).max().item<float>() < 1e-6);
    }
    // objects visible on frame 0 vanish later (left the frame or hidden by the band), and
    // some of them come back
    auto area = a.masks.sum({3, 4});  // [B,T,K]
    int visible0 = 0, vanish = 0, back = 0;
    for (int64_t b = 0; b < area.size(0); ++b)
      for (int64_t k = 0; k < area.size(2); ++k) {
        if (area[b][0][k].item<float>() < 30) continue;
        ++visible0;
        int gone = -1;
        for (int64_t t = 1; t < area.size(1); ++t) {
          if (area[b][t][k].item<float>() == 0 && gone < 0) gone = static_cast<int>(t);
          if (gone > 0 && area[b][t][k].item<float>() > 30) {
            ++back;
            break;
          }
        }
        vanish += gone > 0;
      }
    qInfo("absent events: %d of %d objects visible on frame 0 vanish, %d come back", vanish, visible0, back);
    QVERIFY(vanish * 2 >= visible0);
    QVERIFY(back >= 1);
  }

  // Training clutter (SynthOptions::extraObjects): up to 4 more objects, masks still exact,
  // held-out clips (option off) unchanged, some extras the same item as one of the first three.
  void extraObjectsKeepMasksExact() {
    if (!haveFmnist()) QSKIP("Fashion-MNIST absent");
    torch::NoGradGuard ng;
    auto sprites = S2::synthSprites("train");
    std::vector<uint64_t> seeds;
    for (int i = 0; i < 16; ++i) seeds.push_back(777 + i);
    S2::SynthOptions more;
    more.extraObjects = 4;
    auto plain = S2::synthClips(sprites, seeds, 3, 128, torch::kCPU);
    auto a = S2::synthClips(sprites, seeds, 3, 128, torch::kCPU, more);
    QCOMPARE(a.masks.size(2), int64_t(S2::kSynthObjects + 4));
    QVERIFY(torch::equal(a.masks, (a.masks > 0.5).to(torch::kFloat32)));
    QVERIFY(a.masks.sum(2).max().item<float>() <= 1);
    QVERIFY(torch::equal(a.masks.amax(2), a.alpha.amax(2)));
    for (int k = 0; k < a.masks.size(2); ++k) {
      auto vis = a.masks.select(2, k).unsqueeze(2) > 0.5;
      auto diff = (a.frames - a.layers.select(2, k)).abs();
      QVERIFY(torch::where(vis, diff, torch::zeros_like(diff)).max().item<float>() < 1e-6);
    }
    // the first three objects' silhouettes are those of the plain clip (extras only drawn above)
    QVERIFY(torch::equal(a.alpha.narrow(2, 0, S2::kSynthObjects), plain.alpha));
    auto area = (a.masks.select(1, 0).sum({2, 3}) >= 30).sum(1);  // clickable objects per clip
    const int most = area.max().item<int>(), least = area.min().item<int>();
    qInfo("clickable objects on frame 0 per clip: %d..%d", least, most);
    QVERIFY(most >= 5);
  }

  // The loss (see train_sam2.cpp): SAM's min over candidates alone trains one arbitrary slot
  // per input; with allWeight > 0 every candidate gets a gradient. The IoU target is the
  // real IoU of each candidate; absent objects give only the object-score term.
  void lossTrainsEveryCandidateAndTargetsRealIou() {
    const int64_t S = 16;
    auto gt = torch::zeros({2, S, S});
    gt[0].slice(0, 4, 12).slice(1, 4, 12).fill_(1);  // sample 1: object absent
    auto cand = torch::full({2, 3, S, S}, -10.f);
    cand[0][0].copy_(gt[0] * 20 - 10);                         // exact
    cand[0][2].slice(0, 4, 12).slice(1, 4, 8).fill_(10);       // half: IoU 0.5
    auto run = [&](double allWeight, double& iouPart, torch::Tensor& gMask, torch::Tensor& gScore) {
      S2::SamHeadsOut o;
      o.highResMulti = cand.clone().requires_grad_(true);
      o.ious = torch::tensor({1.f, 0.f, 0.5f, 0.3f, 0.3f, 0.3f}).view({2, 3}).requires_grad_(true);
      o.objScore = torch::tensor({4.f, 4.f}).view({2, 1}).requires_grad_(true);
      double parts[3] = {0, 0, 0};
      S2::sam2FrameLoss(o, gt, parts, 1.0, allWeight).backward();
      iouPart = parts[1];
      gMask = o.highResMulti.grad().abs().sum({2, 3});
      gScore = o.objScore.grad().flatten();
    };
    double iou0, iou1;
    torch::Tensor g0, g1, s0, s1;
    run(0.0, iou0, g0, s0);
    run(1.0, iou1, g1, s1);
    QVERIFY2(iou0 < 1e-10, qPrintable(QString("IoU term %1 with exact predictions").arg(iou0)));
    QVERIFY(g0[0][0].item<float>() > 0);
    QCOMPARE(g0[0][1].item<float>(), 0.f);  // min only: the other candidates get nothing
    QCOMPARE(g0[0][2].item<float>(), 0.f);
    QVERIFY(g1[0][1].item<float>() > 0 && g1[0][2].item<float>() > 0);  // every candidate is trained
    QCOMPARE(g1[1].sum().item<float>(), 0.f);  // absent object: no mask gradient ...
    QVERIFY(s1[1].item<float>() > 0);          // ... and the score is pushed down
    QVERIFY(s1[0].item<float>() < 0);          // present object: pushed up
  }

  void committedModelOpensAndTracksHeldOutClip() {
    if (!haveFmnist()) QSKIP("Fashion-MNIST absent");
    const auto path = sam2MicroPath();
    auto model = Sam2::open(path, "auto");
    QVERIFY2(model.ok(), model.ok() ? "" : model.error().message.c_str());  // committed: must open
    QCOMPARE(QString::fromStdString(model.value()->size()), QString("micro"));
    QCOMPARE(model.value()->imageSize(), 128);
    // a held-out clip (test split, held-out seed) written as PNGs, tracked by the same
    // session the GUI and `cstudio segment` use, from one click on the largest object
    const uint64_t seed = S2::kHeldOutSeed0 + 7;
    auto v = synthVideo(seed, 8, "test", 128);
    QVERIFY(v.ok());
    QTemporaryDir tmp;
    QVERIFY(writeSynthVideo(*v, tmp.path().toStdString()).ok());
    int obj = 0, best = -1;
    for (int k = 0; k < v->objects; ++k) {
      int area = 0;
      for (auto l : v->label[0]) area += l == k + 1;
      if (area > best) best = area, obj = k;
    }
    auto [x, y] = synthDeepestPixel(*v, obj, 0);
    auto s = Sam2VideoSession::openFolder(model.value(), tmp.path().toStdString() + "/frames");
    QVERIFY2(s.ok(), s.ok() ? "" : s.error().message.c_str());
    QCOMPARE(s.value()->numFrames(), 8);
    auto m0 = s.value()->addPoints(0, 1, {{float(x), float(y), true}});
    QVERIFY2(m0.ok(), m0.ok() ? "" : m0.error().message.c_str());
    std::vector<double> js;
    auto st = s.value()->propagate(nullJob(), [&](const Sam2FrameResult& r) {
      const auto& o = r.objects.at(0);
      BinaryMask pred{o.width, o.height, o.present() ? o.binary() : std::vector<uint8_t>(o.logits.size(), 0)};
      BinaryMask gt{128, 128, std::vector<uint8_t>(128 * 128)};
      for (size_t i = 0; i < gt.data.size(); ++i) gt.data[i] = v->label[r.frame][i] == obj + 1;
      js.push_back(regionSimilarityJ(pred, gt));
    });
    QVERIFY2(st.ok(), st.ok() ? "" : st.error().message.c_str());
    QCOMPARE(static_cast<int>(js.size()), 8);
    double mean = 0;
    for (auto j : js) mean += j / js.size();
    qInfo("session (IoU-head choice) on held-out clip %llu, object %d: mean J over 8 frames %.3f",
          static_cast<unsigned long long>(seed), obj + 1, mean);
    // The mask the session CHOSE (the official argmax-IoU choice on the prompted frame,
    // then tracking) follows the object: mean J over 8 frames >= 0.7 (issue 7's target).
    QVERIFY2(mean >= 0.7, qPrintable(QString("chosen-mask mean J %1 < 0.7").arg(mean)));
    // And one of the three candidate masks is on the object on every frame.
    torch::InferenceMode im;
    auto sprites = S2::synthSprites("test");
    auto b = S2::synthClips(sprites, {seed}, 8, 128, torch::kCPU);
    auto gt = b.masks.select(2, obj);  // [1,8,S,S]
    auto imgs = S2::sam2Normalize(b.frames.flatten(0, 1)).view({1, 8, 3, 128, 128});
    auto coords = torch::tensor({float(x), float(y)}).view({1, 1, 2});
    auto outs = S2::trackClips(model.value()->impl(), imgs, coords, torch::ones({1, 1}, torch::kInt64));
    double bestJ = 0;
    for (int t = 0; t < 8; ++t) {
      auto pb = outs[t].highResMulti[0] > 0;  // [3,S,S]
      auto g = (gt[0][t] > 0.5).unsqueeze(0);
      auto iou = (pb & g).sum({1, 2}).to(torch::kFloat32) / (pb | g).sum({1, 2}).clamp_min(1).to(torch::kFloat32);
      bestJ += iou.max().item<double>() / 8;
    }
    qInfo("best-candidate mean J over 8 frames %.3f", bestJ);
    QVERIFY2(bestJ >= 0.7, qPrintable(QString("best-candidate mean J %1 < 0.7").arg(bestJ)));
  }

  // Does the committed model use the click? Each object of 16 held-out clips is clicked in
  // turn on frame 0 (S2::checkClicks). The session-5 weights did not (same candidate masks
  // whatever object was clicked, same-slot IoU 0.997, one object per slot, chosen J 0.29);
  // the session-6 weights do (same-slot IoU 0.02, 90 % of candidates on the clicked object,
  // chosen J 0.78). A model that falls back to ignoring the click fails here.
  void committedModelClickCheck() {
    if (!haveFmnist()) QSKIP("Fashion-MNIST absent");
    auto model = Sam2::open(sam2MicroPath(), "auto");
    QVERIFY(model.ok());
    torch::InferenceMode im;
    auto sprites = S2::synthSprites("test");
    std::vector<uint64_t> seeds;
    for (int i = 0; i < 16; ++i) seeds.push_back(S2::kHeldOutSeed0 + i);
    auto b = S2::synthClips(sprites, seeds, 1, 128, torch::kCPU);
    auto c = S2::checkClicks(model.value()->impl(), b);
    qInfo("click check: %d clips, %d clicks, %d pairs; same-slot IoU across clicks %.3f, same-slot object %.3f, "
          "candidates on the clicked object %.3f; best J %.3f, chosen J %.3f",
          c.clips, c.clicks, c.pairs, c.sameSlotIou, c.sameSlotObject, c.slotOnClicked, c.bestJ, c.chosenJ);
    QVERIFY(c.pairs >= 10);
    QVERIFY2(c.sameSlotIou < 0.5, qPrintable(QString("same-slot IoU across clicks %1: the click is ignored").arg(c.sameSlotIou)));
    QVERIFY2(c.slotOnClicked > 0.6, qPrintable(QString("candidates on the clicked object %1").arg(c.slotOnClicked)));
    QVERIFY2(c.chosenJ > 0.6, qPrintable(QString("chosen-mask J on the prompted frame %1").arg(c.chosenJ)));
    // the training switch for one click, single-mask output: one candidate (slot 0)
    S2::Sam2TrainingMode training;
    auto imgs = S2::sam2Normalize(b.frames.select(1, 0).narrow(0, 0, 2)).view({2, 1, 3, 128, 128});
    auto xy = torch::tensor({40.f, 40.f, 80.f, 80.f}).view({2, 1, 2});
    auto one = S2::trackClips(model.value()->impl(), imgs, xy, torch::ones({2, 1}, torch::kInt64), false);
    auto three = S2::trackClips(model.value()->impl(), imgs, xy, torch::ones({2, 1}, torch::kInt64), true);
    QCOMPARE(one[0].highResMulti.size(1), int64_t(1));
    QCOMPARE(three[0].highResMulti.size(1), int64_t(3));
  }

  void corruptWeightsGiveClearError() {
    QTemporaryDir tmp;
    const std::string bad = tmp.path().toStdString() + "/broken.safetensors";
    {
      std::ofstream f(bad, std::ios::binary);
      const uint64_t n = 1u << 20;  // a header length far past the end of the file
      f.write(reinterpret_cast<const char*>(&n), 8);
      f << "{\"a\":";
    }
    auto r = Sam2::open(bad, "auto");
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find("broken.safetensors") != std::string::npos, r.error().message.c_str());
    // truncated copy of the committed model
    const auto path = sam2MicroPath();
    QVERIFY2(fs::exists(path), path.c_str());
    const std::string cut = tmp.path().toStdString() + "/cut.safetensors";
    {
      std::ifstream in(path, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
    }
    auto r2 = Sam2::open(cut, "auto");
    QVERIFY(!r2.ok());
    QVERIFY2(r2.error().message.find("cut.safetensors") != std::string::npos, r2.error().message.c_str());
    // the right format, the wrong size: every mismatching tensor is named
    auto r3 = Sam2::open(path, "mini");
    QVERIFY(!r3.ok());
    QVERIFY2(r3.error().message.find("memory_attention.layers.2") != std::string::npos, r3.error().message.c_str());
  }
};

QTEST_GUILESS_MAIN(TestSam2Micro)
#include "test_sam2_micro.moc"
