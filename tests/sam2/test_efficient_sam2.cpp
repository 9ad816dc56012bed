// Efficient-SAM2 on the sam2_mini fixture (seeded random weights: mechanism, not accuracy):
// SWR geometry of every size, the routed trunk equal to the full trunk with every window
// selected, a routed subset, window choice from masks and decoder attention; SMR dense
// equality and kept-token counts through the session. (Adapter training and the schema:
// test_efficient_sam2_train.)
#include <torch/torch.h>

#include <QtTest/QtTest>

#include <filesystem>

#include "engine/sam2.h"
#include "engine/torch/sam2.h"
#include "engine/torch/tensors.h"

using namespace cs;
using namespace cs::detail;
using namespace cs::detail::sam2;
namespace fs = std::filesystem;

namespace {
const std::string kShared = CS_SHARED_DIR;
const std::string kMini = kShared + "/fixtures/sam2_mini";

double relErr(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(1e-12, b.abs().max().item<double>());
}
}  // namespace

class TestEfficientSam2 : public QObject {
  Q_OBJECT
  std::shared_ptr<const Sam2Model> model;
  torch::Tensor images;

 private Q_SLOTS:
  void initTestCase() {
    if (!fs::exists(kShared)) QSKIP("../shared absent");
    try {
      model = Sam2Model::loadSafetensors(Sam2Config::mini(), kMini + "/sam2_mini.safetensors");
    } catch (const std::exception& e) {
      QFAIL(e.what());
    }
    auto in = readSafeTensors(kMini + "/inputs.safetensors");
    QVERIFY2(in.ok(), in.ok() ? "" : in.error().message.c_str());
    images = in->get("images").to(torch::kFloat32);
    QCOMPARE(images.size(0), 8);
  }

  void geometryOfEverySize() {
    // Efficient-SAM2 §2.1/2.2: B+ routes 6..20 (globals 12, 16 inside, 20 final), 5x5 windows of
    // 14 at 1024 px, width 448; L routes 9..43 (23, 33 inside, 43 final), 4x4 windows of 16, 576.
    auto b = swrGeometry(Sam2Config::basePlus());
    QCOMPARE(b.entryBlock, 5);
    QCOMPARE(b.routeBlock, 6);
    QCOMPARE(b.finalGlobal, 20);
    QCOMPARE(b.midGlobals, (std::vector<int>{12, 16}));
    QCOMPARE(b.window, 14);
    QCOMPARE(b.padH, 70);
    QCOMPARE(b.numWindows(), 25);
    QCOMPARE(b.dim, 448);
    QCOMPARE(b.skippedBlocks(), 14);
    auto l = swrGeometry(Sam2Config::large());
    QCOMPARE(l.entryBlock, 8);
    QCOMPARE(l.routeBlock, 9);
    QCOMPARE(l.finalGlobal, 43);
    QCOMPARE(l.midGlobals, (std::vector<int>{23, 33}));
    QCOMPARE(l.window, 16);
    QCOMPARE(l.padH, 64);
    QCOMPARE(l.numWindows(), 16);
    QCOMPARE(l.dim, 576);
    QCOMPARE(l.skippedBlocks(), 34);
    // extensions (no published span): tiny stages [1,2,7,2], globals 5,7,9; small [1,2,11,2], 7,10,13
    auto t = swrGeometry(Sam2Config::tiny());
    QCOMPARE(t.routeBlock, 4);
    QCOMPARE(t.finalGlobal, 9);
    QCOMPARE(t.midGlobals, (std::vector<int>{5, 7}));
    QCOMPARE(t.numWindows(), 25);
    QCOMPARE(t.dim, 384);
    auto s = swrGeometry(Sam2Config::small());
    QCOMPARE(s.routeBlock, 4);
    QCOMPARE(s.finalGlobal, 13);
    QCOMPARE(s.midGlobals, (std::vector<int>{7, 10}));
    auto m = swrGeometry(Sam2Config::mini());  // 16x16 map, window 14 padded to 28: 2x2
    QCOMPARE(m.featH, 16);
    QCOMPARE(m.gridH, 2);
    QCOMPARE(m.numWindows(), 4);
    QCOMPARE(m.dim, 64);
  }

  void allWindowsEqualsFullTrunk() {
    torch::InferenceMode g;
    const auto geo = swrGeometry(model->config());
    auto img = images.slice(0, 0, 1);
    auto full = model->trunk(img);
    auto ad = SwrAdapter::init(geo.dim, 3);  // irrelevant when nothing is background
    SwrPlan plan{torch::arange(geo.numWindows(), torch::kInt64), &ad};
    auto routed = model->trunk(img, &plan);
    QCOMPARE(routed.size(), full.size());
    for (size_t i = 0; i < full.size(); ++i) {
      const double e = relErr(routed[i], full[i]);
      qInfo("stage %zu: max rel err %.3g", i, e);
      QVERIFY2(e < 1e-5, ("stage " + std::to_string(i) + " err " + std::to_string(e)).c_str());
    }
    QCOMPARE(relErr(routed[0], full[0]), 0.0);  // stages before the routed span are untouched
    QCOMPARE(relErr(routed[1], full[1]), 0.0);
  }

  void subsetRoutesOnlySelectedWindows() {
    torch::InferenceMode g;
    const auto geo = swrGeometry(model->config());
    auto img = images.slice(0, 1, 2);
    auto full = model->trunk(img);
    SwrPlan one{torch::tensor({1}, torch::kInt64), nullptr};
    auto r1 = model->trunk(img, &one);
    for (auto& t : r1) QVERIFY(torch::isfinite(t).all().item<bool>());
    QVERIFY(relErr(r1[2], full[2]) > 1e-3);  // background windows really skipped the blocks
    // with no window selected, the stage input reaches the final global block unchanged
    // (identity shortcut): equal to running only the blocks outside the routed span
    SwrPlan none{torch::zeros({0}, torch::kInt64), nullptr};
    auto r0 = model->trunk(img, &none);
    for (auto& t : r0) QVERIFY(torch::isfinite(t).all().item<bool>());
    QVERIFY(relErr(r0[2], r1[2]) > 1e-4);
    // an adapter changes only the background's path
    auto ad = SwrAdapter::init(geo.dim, 5);
    ad.upW = ad.upW * 1000;  // visible effect
    SwrPlan withAd{torch::tensor({1}, torch::kInt64), &ad};
    auto ra = model->trunk(img, &withAd);
    QVERIFY(relErr(ra[2], r1[2]) > 1e-4);
  }

  void windowChoice() {
    torch::InferenceMode g;
    const auto geo = swrGeometry(model->config());  // 2x2 windows of 56 mask px (on a 64 map)
    RouterObject ob;
    ob.multimasks = torch::full({1, 3, 64, 64}, -5.0f);
    ob.multimasks.index_put_({0, 2, torch::indexing::Slice(5, 10), torch::indexing::Slice(5, 10)}, 3.0f);
    ob.objScore = torch::full({1, 1}, 10.0f);  // confident: mask windows only
    ob.decAttn = torch::full({1, 16, 16}, 1.0f / 256);
    auto sel = selectWindows(geo, {ob}, SwrOptions{5, 0.7, 5.0});
    QCOMPARE(sel.sum().item<int64_t>(), 1);
    QVERIFY(sel[0].item<bool>());
    // a blob near the window border is dilated into the next window (column 56 = window 1)
    ob.multimasks.index_put_({0, 1, torch::indexing::Slice(5, 10), torch::indexing::Slice(53, 55)}, 3.0f);
    QCOMPARE(selectWindows(geo, {ob}, SwrOptions{5, 0.7, 5.0}).sum().item<int64_t>(), 2);
    QCOMPARE(selectWindows(geo, {ob}, SwrOptions{1, 0.7, 5.0}).sum().item<int64_t>(), 1);
    // low confidence: add windows by cumulative decoder-attention mass (all on window 3 here)
    ob.objScore = torch::full({1, 1}, 1.0f);
    ob.decAttn = torch::zeros({1, 16, 16});
    ob.decAttn.index_put_({0, 15, 15}, 1.0f);
    auto s2 = selectWindows(geo, {ob}, SwrOptions{1, 0.7, 5.0});
    QCOMPARE(s2.sum().item<int64_t>(), 2);
    QVERIFY(s2[3].item<bool>());
    // no object: every window (first frame / reset)
    QCOMPARE(selectWindows(geo, {}, SwrOptions{}).sum().item<int64_t>(), 4);
    // the decoder attention map is a mean of softmax rows: it sums to 1
    auto f = model->forwardImage(images.slice(0, 0, 1));
    auto sam = model->forwardSamHeads(f.visionFeatures(), torch::tensor({{{70.f, 117.f}}}), torch::tensor({{1}}),
                                      torch::Tensor(), f.highRes0, f.highRes1, true);
    QCOMPARE(sam.decAttn.sizes().vec(), (std::vector<int64_t>{1, 16, 16}));
    QVERIFY(std::abs(sam.decAttn.sum().item<double>() - 1.0) < 1e-4);
  }

  void smrDenseKeepEqualsDense() {
    torch::InferenceMode g;
    const int64_t HW = 256, Cm = model->config().memDim, C = model->config().dModel;
    torch::manual_seed(0);
    auto curr = torch::randn({HW, 1, C}), currPos = torch::randn({HW, 1, C});
    auto memory = torch::randn({3 * HW + 4, 1, Cm}), memPos = torch::randn({3 * HW + 4, 1, Cm});
    auto dense = model->memoryAttention(curr, memory, currPos, memPos, 4);
    SmrPlan all;
    std::vector<torch::Tensor> imp;
    for (int l = 0; l < model->config().memAttnLayers; ++l) all.keep.push_back(torch::arange(3 * HW));
    all.newestStart = 2 * HW;
    all.newestLen = HW;
    all.importance = &imp;
    auto same = model->memoryAttention(curr, memory, currPos, memPos, 4, &all);
    QCOMPARE(relErr(same, dense), 0.0);
    QCOMPARE(static_cast<int>(imp.size()), model->config().memAttnLayers);
    for (auto& t : imp) {
      QCOMPARE(t.numel(), HW);
      QVERIFY(std::abs(t.sum().item<double>() - 1.0) < 1e-4);  // softmax within the frame, mean over queries
    }
    // pruning the middle frame to 10 tokens (RoPE rows gathered) changes the output but stays finite
    SmrPlan some;
    for (int l = 0; l < model->config().memAttnLayers; ++l)
      some.keep.push_back(torch::cat({torch::arange(HW), torch::arange(HW, HW + 10), torch::arange(2 * HW, 3 * HW)}));
    auto pruned = model->memoryAttention(curr, memory, currPos, memPos, 4, &some);
    QVERIFY(torch::isfinite(pruned).all().item<bool>());
    QVERIFY(relErr(pruned, dense) > 1e-6);
  }

  void sessionSmrCountsAndSwrStats() {
    const auto mdl = Sam2::open(kMini + "/sam2_mini.safetensors", "mini");
    QVERIFY(mdl.ok());
    auto run = [&](const Sam2Efficiency& e, std::vector<Sam2FrameResult>& out) {
      auto s = Sam2VideoSession::openFolder(mdl.value(), kMini + "/frames");
      QVERIFY(s.ok());
      QVERIFY(s.value()->setEfficiency(e).ok());
      QVERIFY(s.value()->addPoints(0, 1, {{70.f, 117.f, true}}).ok());
      JobContext job;
      QVERIFY(s.value()->propagate(job, [&](const Sam2FrameResult& r) { out.push_back(r); }).ok());
    };
    std::vector<Sam2FrameResult> full, keepAll, smr, swrAll;
    run(Sam2Efficiency{}, full);
    Sam2Efficiency ka;
    ka.smr = true;
    ka.keepRatio = 1.0;
    run(ka, keepAll);
    QCOMPARE(keepAll.size(), size_t(8));
    for (size_t i = 0; i < full.size(); ++i) QVERIFY(full[i].objects[0].logits == keepAll[i].objects[0].logits);
    Sam2Efficiency sm;
    sm.smr = true;
    sm.keepRatio = 0.25;  // 64 of 256 tokens per pruned frame
    run(sm, smr);
    const int64_t L = 4, HW = 256, k = 64;
    for (const auto& r : smr) {
      if (r.frame == 0) continue;
      // bank: prompt frame 0 + non-conditioning frames max(1, t-6)..t-1; the prompt frame and
      // the newest frame dense, the older ones measured (when newest) and pruned to k
      const int t = r.frame, nonCond = std::min(t - 1, 6);
      const int64_t chunks = 1 + nonCond, pruned = std::max(0, nonCond - 1);
      QCOMPARE(r.stats.memTokens, L * HW * chunks);
      QCOMPARE(r.stats.memTokensKept, L * (HW * (chunks - pruned) + k * pruned));
      QCOMPARE(static_cast<int64_t>(r.stats.memory.size()), pruned);
      for (const auto& mk : r.stats.memory) {
        QVERIFY(mk.memFrame >= 1 && mk.memFrame < t - 1);  // never the prompt or the newest frame
        double sum = 0;
        for (float v : mk.kept) sum += v;
        QCOMPARE(sum, static_cast<double>(k));
      }
    }
    // SWR with every window forced through: the routed trunk equals the full one
    Sam2Efficiency sw;
    sw.swr = true;
    sw.dilate = 63;
    sw.theta = 1.0;
    run(sw, swrAll);
    QCOMPARE(swrAll.size(), size_t(8));
    for (size_t i = 1; i < swrAll.size(); ++i) {
      const auto& r = swrAll[i];
      QCOMPARE(r.stats.gridW, 2);
      QCOMPARE(r.stats.selected.size(), size_t(4));
      int n = 0;
      for (auto v : r.stats.selected) n += v;
      QCOMPARE(r.stats.windowsRouted, n / 4.0);
      if (n == 4) {  // every window routed: the full model up to float round-off
        double md = 0, mx = 0;
        for (size_t p = 0; p < r.objects[0].logits.size(); ++p) {
          md = std::max(md, static_cast<double>(std::abs(r.objects[0].logits[p] - full[i].objects[0].logits[p])));
          mx = std::max(mx, static_cast<double>(std::abs(full[i].objects[0].logits[p])));
        }
        QVERIFY2(md <= 1e-3 * mx, ("frame " + std::to_string(i) + " diff " + std::to_string(md)).c_str());
      }
    }
  }

};

QTEST_GUILESS_MAIN(TestEfficientSam2)
#include "test_efficient_sam2.moc"
