// The native ViT: fixed-input forward, taps, clone independence, safetensors round
// trip through openModel(), and (when the zoo weights exist) their accuracy.
#include <torch/torch.h>

#include <QtTest/QtTest>

#include "engine/model.h"
#include "engine/torch/tensors.h"
#include "engine/torch/vit.h"

using namespace cs;
using namespace cs::detail;

class TestVit : public QObject {
  Q_OBJECT
  QTemporaryDir dir;

 private Q_SLOTS:
  void fixedInputForward() {
    torch::InferenceMode g;
    VitModel m(VitConfig{});
    m.initRandom(0);
    auto x = torch::linspace(-1, 1, 2 * 28 * 28).reshape({2, 1, 28, 28});
    auto y = m.run(x);
    QCOMPARE(y.sizes().vec(), (std::vector<int64_t>{2, 10}));
    QVERIFY(torch::isfinite(y).all().item<bool>());
    // Batch invariance: each row equals the single-image forward.
    auto y0 = m.run(x.slice(0, 0, 1));
    QVERIFY(torch::allclose(y.slice(0, 0, 1), y0, 1e-5, 1e-6));
    // Determinism of the seeded init.
    VitModel m2(VitConfig{});
    m2.initRandom(0);
    QVERIFY(torch::equal(m2.run(x), y));
  }
  void tapsFireForEveryQuantizableLayer() {
    torch::InferenceMode g;
    VitModel m(VitConfig{});
    m.initRandom(1);
    std::map<std::string, std::vector<int64_t>> seen;
    TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) {
      if (k == TapKind::LayerInput) seen[p] = x.sizes().vec();
      return x;
    };
    auto x = torch::randn({3, 1, 28, 28});
    auto ref = m.run(x);
    auto out = m.run(x, &obs);
    QVERIFY(torch::equal(ref, out));  // observing changes nothing
    int quantizable = 0;
    for (auto& l : m.layers())
      if (l.quantizable) {
        ++quantizable;
        QVERIFY2(seen.count(l.name), l.name.c_str());
      }
    QCOMPARE(int(seen.size()), quantizable);
    QCOMPARE(seen["blocks.0.mlp.fc1"], (std::vector<int64_t>{3, 50, 64}));
    QCOMPARE(seen["head"], (std::vector<int64_t>{3, 64}));
    // A transform on one layer's input changes the output.
    m.inputTransforms["blocks.1.mlp.fc2"] = [](const torch::Tensor& t) { return t * 0; };
    QVERIFY(!torch::allclose(m.run(x), ref));
  }
  void cloneIsIndependent() {
    VitModel m(VitConfig{});
    m.initRandom(2);
    auto c = m.clone();
    torch::NoGradGuard ng;
    c->layerWeight("head").zero_();
    QVERIFY(m.layerWeight("head").abs().sum().item<float>() > 0);
  }
  void saveAndOpen() {
    VitModel m(VitConfig{});
    m.initRandom(3);
    const auto path = (dir.path() + "/v.safetensors").toStdString();
    QVERIFY(writeSafeTensors(path, m.namedTensors(), VitConfig{}.toMetadata()).ok());
    auto opened = openModel(path);
    QVERIFY2(opened.ok(), opened.ok() ? "" : opened.error().message.c_str());
    QCOMPARE(opened->family(), std::string("vit"));
    auto w = opened->weight("blocks.0.attn.qkv");
    QVERIFY(w.ok());
    QCOMPARE(w->shape, (std::vector<int64_t>{192, 64}));
    auto x = torch::randn({2, 1, 28, 28});
    torch::InferenceMode g;
    QVERIFY(torch::allclose(opened->impl()->run(x), m.run(x)));
    // Missing tensor: clear error naming the file and the tensor.
    auto t = m.namedTensors();
    t.erase(t.begin() + 5);
    QVERIFY(writeSafeTensors(path, t, VitConfig{}.toMetadata()).ok());
    auto bad = openModel(path);
    QVERIFY(!bad.ok());
    QVERIFY(bad.error().message.find(path) != std::string::npos);
    QVERIFY(bad.error().message.find("missing tensor") != std::string::npos);
  }
  void zooModelAccuracy() {
    auto m = openModel("vit-fmnist");
    if (!m.ok()) QSKIP("zoo weights resources/zoo/vit-fmnist/model.safetensors not present");
    auto test = fashionMnistTensors("test");
    if (!test.ok()) QSKIP("Fashion-MNIST not installed");
    torch::InferenceMode g;
    auto x = test->images.slice(0, 0, 1000);
    auto acc = m->impl()->run(x).argmax(1).eq(test->labels.slice(0, 0, 1000)).to(torch::kFloat).mean().item<float>();
    QVERIFY2(acc > 0.85, qPrintable(QString::number(acc)));
  }
};

QTEST_GUILESS_MAIN(TestVit)
#include "test_vit.moc"
