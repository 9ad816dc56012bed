// TorchScript graph instrumentation: taps fire with the right names, kinds, shapes and
// counts (inside loops and branches), outputs are unchanged without transforms,
// activation fake-quant through the taps equals a hand-computed reference, statistics
// and RTN W/A quantization work on TorchScript files, and ops that cannot be tapped are
// reported instead of crashing.
#include <torch/script.h>
#include <torch/torch.h>

#include <QtTest>

#include "compression/diagnose.h"
#include "compression/quantize.h"
#include "compression/torch/quantizer.h"
#include "engine/torch/model_impl.h"

using namespace cs;

namespace {
const std::string kModels = std::string(CS_SOURCE_DIR) + "/tests/models/";

Model open(const std::string& f) {
  auto m = openModel(kModels + f);
  if (!m) qFatal("%s", m.error().message.c_str());
  return *m;
}

std::map<std::string, TapPointInfo> tapsOf(const Model& m) {
  auto t = listTapPoints(m);
  if (!t) qFatal("%s", t.error().message.c_str());
  std::map<std::string, TapPointInfo> out;
  for (auto& p : *t) out[p.point + "@" + p.kind] = p;
  return out;
}
}  // namespace

class TestExploreTorchScript : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void cnnTaps() {
    auto m = open("cnn.pt");
    QVERIFY(m.impl()->supportsTaps());
    QCOMPARE(int(m.task()), int(Task::ImageClassification));  // probed: [N,1,28,28] -> 10
    auto t = tapsOf(m);
    QVERIFY(t.count("conv1@input"));
    QCOMPARE(t["conv1@input"].shape, (std::vector<int64_t>{1, 1, 28, 28}));
    QCOMPARE(t["conv2@output"].shape, (std::vector<int64_t>{1, 16, 14, 14}));
    QCOMPARE(t["fc@input"].shape, (std::vector<int64_t>{1, 16 * 14 * 14}));
    QCOMPARE(t["fc@output"].calls, 1);
    QVERIFY(QString::fromStdString(m.properties().at("taps.uninstrumented")).contains(QStringLiteral("aten::batch_norm")));
  }

  void transformerTaps() {
    auto m = open("transformer_block.pt");
    auto t = tapsOf(m);
    for (auto n : {"qkv@input", "proj@input", "fc1@input", "fc2@input", "norm1@norm", "norm2@norm", "softmax.0@softmax",
                   "matmul.0@output", "matmul.1@output"})
      QVERIFY2(t.count(n), n);
    QCOMPARE(t["qkv@input"].shape, (std::vector<int64_t>{1, 16, 32}));  // guessed input [N, 16, 32]
    QCOMPARE(t["softmax.0@softmax"].shape, (std::vector<int64_t>{1, 4, 16, 16}));
  }

  // The loop runs self.a three times and the branch once more (a or b).
  void branchLoopCounts() {
    auto m = open("branch_loop.pt");
    int aCalls = 0, bCalls = 0;
    cs::detail::TapObserver obs = [&](const std::string& p, cs::detail::TapKind k, const torch::Tensor& x) {
      if (k == cs::detail::TapKind::LayerInput && p == "a") ++aCalls;
      if (k == cs::detail::TapKind::LayerInput && p == "b") ++bCalls;
      return x;
    };
    torch::InferenceMode g;
    (void)m.impl()->run(torch::ones({2, 16}), &obs);  // mean > 0: branch a
    QCOMPARE(aCalls, 4);
    QCOMPARE(bCalls, 0);
    aCalls = bCalls = 0;
    (void)m.impl()->run(-torch::ones({2, 16}), &obs);  // branch b
    QCOMPARE(aCalls, 3);
    QCOMPARE(bCalls, 1);
    // Instrumented forward equals the plain scripted forward.
    auto mod = torch::jit::load(kModels + "branch_loop.pt");
    auto x = torch::randn({3, 16});
    auto ref = mod.forward({x}).toTensor();
    QVERIFY(torch::allclose(m.impl()->run(x), ref, 0, 0));
  }

  void captureStatsOnTorchScript() {
    auto m = open("branch_loop.pt");
    CaptureOptions o;
    o.samples = 20;
    o.batch = 8;
    o.points = {"a", "out@output"};
    auto r = captureActivations(m, o, nullJob());
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    QCOMPARE(int(r->points.size()), 2);
    const auto& a = r->points[0].point == "a" ? r->points[0] : r->points[1];
    // 3 batches x (3 loop calls + 1 more when the branch takes a)
    QVERIFY(a.calls >= 9 && a.calls <= 12);
    QCOMPARE(int(a.perChannel.mean.size()), 16);
    QCOMPARE(a.perChannel.count[0], a.values / 16);
    QVERIFY(a.range.min < a.range.max);
  }

  // Fake-quant of fc's input through the tap equals W * fq(x) + b computed here.
  void activationFakeQuantByHand() {
    auto m = open("tiny_linear.pt");
    auto impl = m.impl()->clone();
    auto w = impl->layerWeight("fc").detach().clone();
    torch::Tensor b;
    for (auto& [n, t] : impl->namedTensors())
      if (n == "fc.bias") b = t.detach().clone();
    const double scale = 0.25;
    impl->inputTransforms["fc"] = [scale](const torch::Tensor& x) {
      return torch::clamp(torch::round(x / scale), -8, 7) * scale;  // 4-bit symmetric, step 0.25
    };
    auto x = torch::tensor({{0.1f, -0.3f, 0.9f, 5.0f}, {-2.6f, 0.12f, 0.38f, -0.2f}});
    torch::InferenceMode g;
    auto y = impl->run(x);
    auto xq = torch::tensor({{0.0f, -0.25f, 1.0f, 1.75f}, {-2.0f, 0.0f, 0.5f, -0.25f}});
    auto ref = torch::matmul(xq, w.t()) + b;
    QVERIFY2(torch::allclose(y, ref, 1e-6, 1e-6), "fake-quant through the TorchScript tap differs");
    QVERIFY(!torch::allclose(y, m.impl()->run(x), 1e-3, 1e-3));
  }

  // RTN W8A4 on a TorchScript CNN: activations quantized (no "skipped" note) and outputs change.
  void rtnActivationQuantOnTorchScript() {
    auto m = open("cnn.pt");
    Recipe r;
    r.params = {{"wbits", 8}, {"abits", 4}};
    r.calibSamples = 32;
    QuantizeOptions qo;
    qo.evaluate = false;
    auto res = quantize(m, r, qo, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    QVERIFY(!res->metrics.contains("note"));
    QCOMPARE(res->layers.at(0).abits, 4);
    torch::InferenceMode g;
    auto x = torch::rand({4, 1, 28, 28});
    auto d = (res->variant.impl()->run(x) - m.impl()->run(x)).abs().max().item<float>();
    QVERIFY(d > 1e-4);
  }

  void uninstrumentedOpsReported() {
    auto m = open("uninstrumented.pt");
    const auto props = m.properties();
    QVERIFY(props.count("taps.uninstrumented"));
    const QString un = QString::fromStdString(props.at("taps.uninstrumented"));
    QVERIFY2(un.contains(QStringLiteral("aten::bmm x1")) && un.contains(QStringLiteral("aten::einsum x1")), qPrintable(un));
    QVERIFY(m.impl()->supportsTaps());
    CaptureOptions o;
    o.samples = 4;
    o.inputShape = {8, 8};
    auto r = captureActivations(m, o, nullJob());
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    QCOMPARE(r->points.at(0).point, std::string("fc"));
  }
};

QTEST_GUILESS_MAIN(TestExploreTorchScript)
#include "test_explore_torchscript.moc"
