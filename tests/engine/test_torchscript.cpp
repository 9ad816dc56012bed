// Generic TorchScript models: layer tree, weights, forward, clone, bad files.
#include <torch/torch.h>

#include <QtTest/QtTest>
#include <fstream>

#include "engine/model.h"
#include "engine/torch/model_impl.h"

using namespace cs;

class TestTorchScript : public QObject {
  Q_OBJECT
  std::string models = std::string(CS_SOURCE_DIR) + "/tests/models/";

 private Q_SLOTS:
  void cnnLayers() {
    auto m = openModel(models + "cnn.pt");
    QVERIFY2(m.ok(), m.ok() ? "" : m.error().message.c_str());
    QCOMPARE(m->family(), std::string("torchscript"));
    std::map<std::string, LayerInfo> byName;
    for (auto& l : m->layers()) byName[l.name] = l;
    QVERIFY(byName.count("conv1") && byName.count("fc") && byName.count("bn"));
    QCOMPARE(byName["conv1"].type, std::string("Conv2d"));
    QVERIFY(byName["conv1"].quantizable);
    QVERIFY(!byName["bn"].quantizable);
    QCOMPARE(byName["fc"].weightShape, (std::vector<int64_t>{10, 3136}));
    QCOMPARE(m->parameterCount(), int64_t(32650));
    auto w = m->weight("conv2");
    QVERIFY(w.ok());
    QCOMPARE(w->numel(), int64_t(16 * 8 * 9));
    torch::InferenceMode g;
    auto y = m->impl()->run(torch::randn({2, 1, 28, 28}));
    QCOMPARE(y.sizes().vec(), (std::vector<int64_t>{2, 10}));
  }
  void cloneDoesNotTouchSource() {
    auto m = openModel(models + "transformer_block.pt");
    QVERIFY(m.ok());
    auto c = m->impl()->clone();
    torch::NoGradGuard ng;
    c->layerWeight("fc1").zero_();
    QVERIFY(m->impl()->layerWeight("fc1").abs().sum().item<float>() > 0);
  }
  void branchLoopRuns() {
    auto m = openModel(models + "branch_loop.pt");
    QVERIFY(m.ok());
    torch::InferenceMode g;
    QCOMPARE(m->impl()->run(torch::randn({3, 16})).size(1), int64_t(4));
  }
  void badFiles() {
    QTemporaryDir dir;
    auto junk = (dir.path() + "/junk.pt").toStdString();
    std::ofstream(junk) << "not a zip archive";
    auto r = openModel(junk);
    QVERIFY(!r.ok());
    QVERIFY(r.error().message.find(junk) != std::string::npos);
    QVERIFY(r.error().message.find("TorchScript") != std::string::npos);
    auto missing = openModel("/nonexistent/model.pt");
    QVERIFY(!missing.ok());
    QVERIFY(missing.error().message.find("no such file") != std::string::npos);
  }
};

QTEST_GUILESS_MAIN(TestTorchScript)
#include "test_torchscript.moc"
