// Quantizer primitives: RTN error bounds, per-channel vs per-tensor, symmetric zero
// point, plain-array fake quantization agreeing with the tensor one, schema checks.
#include <torch/torch.h>

#include <QtTest/QtTest>

#include "compression/quantize.h"
#include "compression/torch/quantizer.h"

using namespace cs;
using namespace cs::detail;

class TestQuantizer : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void w8ErrorBound() {
    torch::manual_seed(0);
    auto w = torch::randn({64, 128});
    for (bool sym : {true, false}) {
      auto q = weightQuantizer(w, 8, sym, true);
      auto wq = fakeQuant(w, q);
      // Every value is within range, so the error is at most half a step of its channel.
      auto err = (w - wq).abs();
      auto bound = q.scale.view({64, 1}) / 2 + 1e-7;
      QVERIFY(err.le(bound).all().item<bool>());
      // Idempotent: quantizing a quantized tensor changes nothing.
      QVERIFY(torch::allclose(fakeQuant(wq, q), wq, 0, 1e-6));
      // At most 2^8 distinct levels per channel.
      QVERIFY(std::get<0>(at::_unique(wq[3])).numel() <= 256);
    }
  }
  void perChannelBeatsPerTensor() {
    torch::manual_seed(1);
    auto w = torch::randn({32, 64}) * torch::linspace(0.01, 5.0, 32).view({32, 1});  // channel scales differ 500x
    auto pc = fakeQuant(w, weightQuantizer(w, 4, true, true));
    auto pt = fakeQuant(w, weightQuantizer(w, 4, true, false));
    double ePc = (w - pc).pow(2).mean().item<double>(), ePt = (w - pt).pow(2).mean().item<double>();
    QVERIFY2(ePc < ePt * 0.5, qPrintable(QString("%1 vs %2").arg(ePc).arg(ePt)));
  }
  void zeroIsExact() {
    auto x = torch::tensor({0.0f, 0.3f, 1.7f, 5.0f});
    auto q = quantizerFromRange(x.min(), x.max(), 8, false);
    QCOMPARE(fakeQuant(torch::zeros({1}), q).item<float>(), 0.0f);
    auto s = quantizerFromRange(torch::tensor(-3.0), torch::tensor(1.0), 8, true);
    QCOMPARE(s.zero.item<float>(), 0.0f);
    QCOMPARE(s.scale.item<float>(), 3.0f / 127);
  }
  void plainArrayAgreesWithTensor() {
    std::vector<float> v = {-1.5f, -0.2f, 0, 0.33f, 0.8f, 2.9f};
    for (int bits : {2, 4, 8})
      for (bool sym : {true, false}) {
        auto p = rtnParams(v.data(), v.size(), bits, sym);
        auto out = fakeQuantize(v, p);
        auto t = torch::tensor(v);
        auto q = quantizerFromRange(t.min(), t.max(), bits, sym);
        auto ref = fakeQuant(t, q);
        for (size_t i = 0; i < v.size(); ++i) QVERIFY(std::abs(out[i] - ref[i].item<float>()) < 1e-5);
        // The representable range covers the data up to one step (the zero point is rounded).
        QVERIFY(p.lo <= -1.5 + p.scale + 1e-6 && p.hi >= 2.9 - p.scale - 1e-6);
      }
  }
  void schemaValidation() {
    auto* m = findMethod("rtn");
    QVERIFY(m);
    nlohmann::json ok = {{"wbits", 4}};
    QCOMPARE(m->validate(ok), std::string());
    QCOMPARE(ok["abits"].get<int>(), 8);  // defaults filled
    nlohmann::json bad = {{"wbits", 1}};
    QVERIFY(m->validate(bad).find("outside") != std::string::npos);
    nlohmann::json choice = {{"w_granularity", "per-row"}};
    QVERIFY(m->validate(choice).find("not one of") != std::string::npos);
    nlohmann::json unknown = {{"wbitz", 4}};
    QVERIFY(m->validate(unknown).find("no parameter") != std::string::npos);
    nlohmann::json frac = {{"wbits", 4.5}};
    QVERIFY(m->validate(frac).find("integer") != std::string::npos);
    auto r = Recipe::fromJson({{"method", "rtn"}, {"calibration", {{"samples", 0}}}});
    QVERIFY(!r.ok());
  }
};

QTEST_GUILESS_MAIN(TestQuantizer)
#include "test_quantizer.moc"
