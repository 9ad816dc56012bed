// Per-layer sensitivity on the zoo ViT: W2 hurts more than W8, cumulative SQNR falls,
// a deliberately fragile layer ranks first and is where the cumulative error jumps;
// results stream layer by layer; cancel works; the jump rule on constructed curves.
#include <torch/torch.h>

#include <QtTest>

#include "compression/diagnose.h"
#include "engine/torch/model_impl.h"

using namespace cs;

namespace {
const std::vector<std::string> kLayers = {"patch_embed.proj", "blocks.0.attn.qkv", "blocks.0.attn.proj",
                                          "blocks.0.mlp.fc1", "blocks.0.mlp.fc2"};
}

class TestExploreSensitivity : public QObject {
  Q_OBJECT
  Model vit_;

 private Q_SLOTS:
  void initTestCase() {
    auto m = openModel("vit-fmnist");
    QVERIFY2(m.ok(), m ? "" : ("zoo model vit-fmnist (committed weights) must open: " + m.error().message).c_str());
    vit_ = *m;
  }

  void jumpRule() {
    QCOMPARE(cumulativeJump({40, 39, 38.5, 20, 19.8}), 3);
    QCOMPARE(cumulativeJump({40, 40, 40}), -1);
    QCOMPARE(cumulativeJump({12, 11.5, 11.2, 11}), 0);  // the first layer already carries most error
    QCOMPARE(cumulativeJump({}), -1);
  }

  void w2HurtsMoreThanW8() {
    SensitivityOptions so;
    so.samples = 64;
    so.layers = {"blocks.0.mlp.fc1"};
    so.cumulative = false;
    RtnLayerOptions w2, w8;
    w2.wbits = 2;
    w2.abits = 0;
    w8.wbits = 8;
    w8.abits = 0;
    auto r2 = layerSensitivity(vit_, rtnLayerCompressor(w2), so, nullJob());
    auto r8 = layerSensitivity(vit_, rtnLayerCompressor(w8), so, nullJob());
    QVERIFY2(r2.ok() && r8.ok(), r2.ok() ? (r8.ok() ? "" : r8.error().message.c_str()) : r2.error().message.c_str());
    const double s2 = r2->layers[0].isolatedSqnrDb, s8 = r8->layers[0].isolatedSqnrDb;
    QVERIFY2(s8 > s2 + 10, qPrintable(QStringLiteral("W8 %1 dB, W2 %2 dB").arg(s8).arg(s2)));
    QVERIFY(r8->layers[0].isolatedMetric >= r2->layers[0].isolatedMetric);
    QVERIFY(r8->fpMetric > 0.8);  // FP top-1 on 64 test images
    QCOMPARE(r8->metricName, std::string("top-1 accuracy"));
  }

  // One layer made fragile with the FP function unchanged: query row 0 of blocks.0's qkv
  // scaled by 100 and the matching key row by 1/100 (q.k is the same), so a per-tensor
  // W4 range set by that row zeroes the rest of the layer.
  void fragileLayerRanksFirstAndJumps() {
    auto impl = vit_.impl()->clone();
    torch::Tensor bias;
    for (auto& [n, t] : impl->namedTensors())
      if (n == "blocks.0.attn.qkv.bias") bias = t;
    {
      torch::NoGradGuard ng;
      auto w = impl->layerWeight("blocks.0.attn.qkv");
      const int64_t D = w.size(1);
      w[0].mul_(100);
      w[D].div_(100);
      if (bias.defined()) {
        bias[0].mul_(100);
        bias[D].div_(100);
      }
    }
    Model fragile{std::shared_ptr<const cs::detail::ModelImpl>(impl)};
    RtnLayerOptions ro;
    ro.wbits = 4;
    ro.abits = 0;
    ro.perChannel = false;
    SensitivityOptions so;
    so.samples = 64;
    so.layers = kLayers;
    std::vector<std::string> streamed;
    auto r = layerSensitivity(fragile, rtnLayerCompressor(ro), so, nullJob(),
                              [&](const LayerSensitivity& l) { streamed.push_back(l.layer); });
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    QCOMPARE(streamed, kLayers);  // one callback per layer, in order
    QCOMPARE(r->layers[r->ranking.front()].layer, std::string("blocks.0.attn.qkv"));
    QCOMPARE(r->jumpIndex, 1);
    // Cumulative SQNR never improves by much as layers are added.
    for (size_t i = 1; i < r->layers.size(); ++i)
      QVERIFY(r->layers[i].cumulativeSqnrDb <= r->layers[i - 1].cumulativeSqnrDb + 1.0);
    // First layer: isolated == cumulative.
    QVERIFY(std::abs(r->layers[0].isolatedSqnrDb - r->layers[0].cumulativeSqnrDb) < 1e-9);
    auto j = toJson(*r);
    QCOMPARE(j["jump_layer"].get<std::string>(), std::string("blocks.0.attn.qkv"));
    // The FP function is unchanged by the construction.
    torch::InferenceMode g;
    auto x = torch::rand({4, 1, 28, 28});
    QVERIFY(torch::allclose(fragile.impl()->run(x), vit_.impl()->run(x), 1e-4, 1e-4));
  }

  void cancelStops() {
    JobContext job;
    int seen = 0;
    SensitivityOptions so;
    so.samples = 32;
    so.layers = kLayers;
    RtnLayerOptions ro;
    ro.abits = 0;
    auto r = layerSensitivity(vit_, rtnLayerCompressor(ro), so, job, [&](const LayerSensitivity&) {
      if (++seen == 2) job.cancel();
    });
    QVERIFY(!r.ok());
    QVERIFY(r.error().isCancelled());
    QCOMPARE(seen, 2);
  }

  // Language model (lm-fortunes): output SQNR of the logits and top-1 next-token agreement
  // with FP on held-out fortunes windows; W2 hurts more than W8 (small setting).
  void languageModelSmall() {
    auto m = openModel("lm-fortunes");
    QVERIFY2(m.ok(), m ? "" : ("zoo model lm-fortunes (committed weights) must open: " + m.error().message).c_str());
    std::vector<std::string> layers;
    for (auto& l : m->layers())
      if (l.quantizable && layers.size() < 3) layers.push_back(l.name);
    SensitivityOptions so;
    so.samples = 4;
    so.layers = layers;
    RtnLayerOptions w2, w8;
    w2.wbits = 2;
    w8.wbits = 8;
    w2.abits = w8.abits = 8;
    w2.calibSamples = w8.calibSamples = 4;
    auto r2 = layerSensitivity(*m, rtnLayerCompressor(w2), so, nullJob());
    auto r8 = layerSensitivity(*m, rtnLayerCompressor(w8), so, nullJob());
    QVERIFY2(r2.ok(), r2.ok() ? "" : r2.error().message.c_str());
    QVERIFY2(r8.ok(), r8.ok() ? "" : r8.error().message.c_str());
    QCOMPARE(int(r8->layers.size()), 3);
    QCOMPARE(r8->metricName, std::string("top-1 next-token agreement with FP"));
    QCOMPARE(r8->fpMetric, 1.0);
    for (int i = 0; i < 3; ++i) {
      QVERIFY(r8->layers[i].isolatedSqnrDb > r2->layers[i].isolatedSqnrDb);
      QVERIFY(r8->layers[i].isolatedMetric >= 0 && r8->layers[i].isolatedMetric <= 1);
    }
    QVERIFY(r2->layers[2].cumulativeMetric < 1.0);
  }

  // Diffusion UNet (ddpm-fmnist): SQNR of the noise prediction against FP and the
  // noise-prediction MSE against the true noise on noised test images (small setting).
  void diffusionUNetSmall() {
    auto m = openExploreModel("ddpm-fmnist");
    QVERIFY2(m.ok(), m ? "" : ("zoo model ddpm-fmnist (committed weights) must open: " + m.error().message).c_str());
    std::vector<std::string> layers;
    for (auto& l : m->layers())
      if (l.quantizable && layers.size() < 3) layers.push_back(l.name);
    SensitivityOptions so;
    so.samples = 8;
    so.layers = layers;
    RtnLayerOptions w2, w8;
    w2.wbits = 2;
    w8.wbits = 8;
    w2.abits = w8.abits = 8;
    w2.calibSamples = w8.calibSamples = 8;
    auto r2 = layerSensitivity(*m, rtnLayerCompressor(w2), so, nullJob());
    auto r8 = layerSensitivity(*m, rtnLayerCompressor(w8), so, nullJob());
    QVERIFY2(r2.ok(), r2.ok() ? "" : r2.error().message.c_str());
    QVERIFY2(r8.ok(), r8.ok() ? "" : r8.error().message.c_str());
    QCOMPARE(r8->metricName, std::string("noise-prediction MSE"));
    // A trained eps-predictor beats predicting zeros (MSE 1) by a wide margin.
    QVERIFY2(r8->fpMetric > 0 && r8->fpMetric < 0.5, qPrintable(QString::number(r8->fpMetric)));
    for (int i = 0; i < 3; ++i) {
      QVERIFY(std::isfinite(r8->layers[i].isolatedSqnrDb));
      QVERIFY(r8->layers[i].isolatedSqnrDb > r2->layers[i].isolatedSqnrDb);
    }
    QVERIFY(r2->layers[2].cumulativeMetric >= r8->layers[2].cumulativeMetric);
  }
};

QTEST_GUILESS_MAIN(TestExploreSensitivity)
#include "test_explore_sensitivity.moc"
