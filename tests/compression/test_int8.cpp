// Integer execution: the W8A8 vit-fmnist converted to LibTorch's quantized CPU kernels
// agrees with the fake-quant W8A8 variant on 64 test images: top-1 agreement >= 97 %
// and logits within mean abs 0.05 x / max abs 0.5 x the logits' RMS (measured here: onednn
// 0.015 x / 0.23 x, qnnpack 0.016 x / 0.19 x; the int8 path also rounds
// every Linear's output to 8 bits, which fake-quant does not). No timing here.
#include <torch/torch.h>

#include <QtTest/QtTest>

#include "compression/int8_exec.h"
#include "compression/quantize.h"
#include "compression/torch/int8_exec.h"
#include "engine/torch/tensors.h"

using namespace cs;

class TestInt8 : public QObject {
  Q_OBJECT
  Model model;
  torch::Tensor images;

 private Q_SLOTS:
  void initTestCase() {
    auto test = cs::detail::fashionMnistTensors("test");
    if (!test) QSKIP("Fashion-MNIST not installed (Debian dataset-fashion-mnist)");
    images = test->images.slice(0, 0, 64);
    auto zoo = openModel("vit-fmnist");
    QVERIFY2(zoo.ok(), zoo.ok() ? "" : zoo.error().message.c_str());
    model = *zoo;
  }
  void enginesListed() {
    auto e = quantizedEngines();
    QVERIFY2(!e.empty(), "this LibTorch has no quantized CPU engine");
    for (auto& n : e) QVERIFY(n != "none");
  }
  void int8MatchesFakeQuant() {
    Recipe r;
    r.params = {{"wbits", 8}, {"abits", 8}};
    r.calibSamples = 64;
    QuantizeOptions o;
    o.evaluate = false;
    auto q = quantize(model, r, o, nullJob());
    QVERIFY2(q.ok(), q.ok() ? "" : q.error().message.c_str());
    auto calib = cs::detail::fashionMnistTensors("train");
    QVERIFY(calib.ok());
    for (auto& engine : quantizedEngines()) {
      std::unique_ptr<cs::detail::Int8Vit> iv;
      try {
        iv = std::make_unique<cs::detail::Int8Vit>(*q, engine, calib->images.slice(0, 0, 64));
      } catch (const std::exception& e) {
        QFAIL((engine + ": " + e.what()).c_str());
      }
      torch::InferenceMode g;
      auto lq = q->variant.impl()->run(images);
      auto li = iv->forward(images);
      QCOMPARE(li.sizes(), lq.sizes());
      const double agree = li.argmax(1).eq(lq.argmax(1)).to(torch::kFloat).mean().item<double>();
      const double rms = lq.pow(2).mean().sqrt().item<double>();
      const double maxd = (li - lq).abs().max().item<double>(), meand = (li - lq).abs().mean().item<double>();
      qInfo("%s: top-1 agreement %.4f, max |dlogit| %.4f, mean |dlogit| %.4f, logit RMS %.3f", engine.c_str(), agree, maxd,
            meand, rms);
      QVERIFY2(agree >= 0.97, engine.c_str());
      QVERIFY2(meand < 0.05 * rms, engine.c_str());
      QVERIFY2(maxd < 0.5 * rms, engine.c_str());
      // Not the FP32 model by accident: the int8 logits differ from FP32's.
      auto lf = model.impl()->run(images);
      QVERIFY(!torch::equal(li, lf));
    }
  }
  void nonVitRefused() {
    Int8Options o;
    o.time = false;
    auto lm = openModel("lm-fortunes");
    if (!lm.ok()) return;  // the LM is optional here; the ViT check above is the test
    auto r = benchInt8(*lm, o, nullJob());
    QVERIFY(!r.ok());
    QVERIFY(r.error().message.find("native ViT") != std::string::npos);
  }
};

QTEST_GUILESS_MAIN(TestInt8)
#include "test_int8.moc"
