// RTN on the native ViT: the source model is untouched, weights and activations are
// quantized as the recipe says, W8A8 keeps accuracy and W2 destroys it, cancel works.
#include <torch/torch.h>

#include <QtTest/QtTest>

#include "compression/quantize.h"
#include "engine/torch/tensors.h"
#include "engine/torch/vit.h"

using namespace cs;
using namespace cs::detail;

class TestRtn : public QObject {
  Q_OBJECT
  Model model;

  Model randomVit() {
    auto m = std::make_shared<VitModel>(VitConfig{});
    m->initRandom(7);
    m->name = "random-vit";
    return Model(std::shared_ptr<const ModelImpl>(m));
  }

 private Q_SLOTS:
  void initTestCase() {
    if (!loadFashionMnist("test").ok()) QSKIP("Fashion-MNIST not installed (Debian dataset-fashion-mnist)");
    auto zoo = openModel("vit-fmnist");
    model = zoo.ok() ? *zoo : randomVit();
  }
  void sourceUntouchedAndLayersQuantized() {
    auto before = model.weight("blocks.0.mlp.fc1");
    Recipe r;
    r.params = {{"wbits", 4}, {"abits", 8}};
    r.calibSamples = 64;
    QuantizeOptions o;
    o.evaluate = false;
    auto res = quantize(model, r, o, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    auto after = model.weight("blocks.0.mlp.fc1");
    QCOMPARE(after->values, before->values);
    auto q = res->variant.weight("blocks.0.mlp.fc1");
    QVERIFY(q->values != before->values);
    // 4-bit per-channel symmetric: at most 15 levels per output row.
    std::set<float> row(q->values.begin(), q->values.begin() + q->shape[1]);
    QVERIFY(row.size() <= 15);
    int quantizable = 0;
    for (auto& l : model.layers()) quantizable += l.quantizable;
    QCOMPARE(int(res->layers.size()), quantizable);
    for (auto& l : res->layers) {
      QVERIFY2(l.activation.has_value(), l.layer.c_str());
      QCOMPARE(l.abits, 8);
      QVERIFY(l.weightError.sqnrDb > 10 && l.weightError.sqnrDb < 40);
    }
    QVERIFY(res->metrics.contains("calib_hash"));
    // Same seed, same calibration set.
    auto again = quantize(model, r, o, nullJob());
    QCOMPARE(again->metrics["calib_hash"], res->metrics["calib_hash"]);
  }
  void w8a8KeepsAccuracyW2DoesNot() {
    if (model.name() != "vit-fmnist") QSKIP("zoo weights resources/zoo/vit-fmnist not present");
    QuantizeOptions o;
    o.evalSamples = 1000;
    Recipe r;
    r.params = {{"wbits", 8}, {"abits", 8}};
    r.calibSamples = 128;
    auto res = quantize(model, r, o, nullJob());
    QVERIFY(res.ok());
    double fp = res->metrics["fp_accuracy"], q = res->metrics["q_accuracy"];
    QVERIFY2(fp > 0.85, qPrintable(QString::number(fp)));
    QVERIFY2(std::abs(fp - q) <= 0.01, qPrintable(QString("%1 vs %2").arg(fp).arg(q)));
    r.params = {{"wbits", 2}, {"abits", 2}, {"w_granularity", "per-tensor"}};
    auto bad = quantize(model, r, o, nullJob());
    QVERIFY(bad.ok());
    QVERIFY(bad->metrics["q_accuracy"].get<double>() < fp - 0.2);
  }
  void activationStatsStream() {
    auto st = activationStats(model, "blocks.0.mlp.fc1", 96, 3, nullJob());
    QVERIFY2(st.ok(), st.ok() ? "" : st.error().message.c_str());
    QCOMPARE(st->values, int64_t(96) * 50 * 64);
    QCOMPARE(st->histogram.total, st->values);
    double sum = 0;
    for (double c : st->histogram.counts) sum += c;
    QCOMPARE(sum, double(st->values));
    QCOMPARE(st->perChannel.size(), size_t(64));
    QCOMPARE(st->sample.size(), size_t(200000));
    QVERIFY(!activationStats(model, "no.such.layer", 8, 0, nullJob()).ok());
  }
  void cancelStopsTheJob() {
    JobContext job;
    job.cancel();
    Recipe r;
    auto res = quantize(model, r, QuantizeOptions{}, job);
    QVERIFY(!res.ok());
    QVERIFY(res.error().isCancelled());
  }
  void weightOnlyOnTorchScript() {
    auto ts = openModel(std::string(CS_SOURCE_DIR) + "/tests/models/cnn.pt");
    QVERIFY(ts.ok());
    Recipe r;
    r.params = {{"wbits", 4}, {"abits", 8}};
    auto res = quantize(*ts, r, QuantizeOptions{}, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    // TorchScript graphs are instrumented (activation taps): activations are quantized too.
    QVERIFY(!res->metrics.contains("note"));
    QCOMPARE(res->layers.at(0).abits, 8);
    QCOMPARE(int(res->layers.size()), 3);      // conv1, conv2, fc
    QVERIFY(res->variant.weight("fc")->values != ts->weight("fc")->values);
  }
};

QTEST_GUILESS_MAIN(TestRtn)
#include "test_rtn.moc"
