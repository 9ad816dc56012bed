// Quantizer building blocks (log2/log-sqrt2 with underflow and parity split, per-group,
// per-token, range searches, straight-through gradients) and the RepQ-ViT fold on the
// native ViT: FP identity before quantization, code-exactness of the integer fold, the
// Q/K/V matmul-operand taps, RepQuant's learned dual clipping (better than the
// percentile-MSE start, still an exact fold), and the registered methods through the
// quantize() facade.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <QtTest/QtTest>

#include "compression/quantize.h"
#include "compression/torch/quantizers.h"
#include "engine/torch/tensors.h"
#include "engine/torch/vit.h"

using namespace cs;
using namespace cs::detail;

namespace {

std::shared_ptr<const VitModel> vitOf(const Model& m) { return std::dynamic_pointer_cast<const VitModel>(m.impl()); }

// Input of `layer` over `images` (flattened to [rows, C]).
torch::Tensor layerInput(const ModelImpl& m, const torch::Tensor& images, const std::string& layer) {
  torch::Tensor got;
  TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) {
    if (k == TapKind::LayerInput && p == layer) got = x.reshape({-1, x.size(-1)}).clone();
    return x;
  };
  torch::InferenceMode g;
  (void)m.run(images, &obs);
  return got;
}

torch::Tensor logits(const ModelImpl& m, const torch::Tensor& images) {
  torch::InferenceMode g;
  return m.run(images).clone();
}

}  // namespace

class TestPtq : public QObject {
  Q_OBJECT
  Model model;
  torch::Tensor images;

 private Q_SLOTS:
  void initTestCase() {
    torch::manual_seed(0);
    auto zoo = openModel("vit-fmnist");
    if (zoo.ok()) {
      model = *zoo;
    } else {
      auto m = std::make_shared<VitModel>(VitConfig{});
      m->initRandom(7);
      model = Model(std::shared_ptr<const ModelImpl>(m));
    }
    auto test = fashionMnistTensors("test");
    images = test ? test->images.slice(0, 0, 64).clone() : torch::rand({64, 1, 28, 28});
  }

  void logSqrt2Values() {
    LogQuantizer q{4, true, 1.0};
    auto x = torch::tensor({1.0f, 0.5f, float(std::sqrt(0.5)), 0.0f, 1e-9f, 2.0f, -0.3f, 0.25f});
    auto y = fakeQuantLog(x, q);
    auto e = torch::tensor({1.0f, 0.5f, float(std::sqrt(0.5)), 0.0f, 0.0f, 1.0f, 0.0f, 0.25f});
    QVERIFY2(torch::allclose(y, e, 1e-6, 1e-7), "log-sqrt2 values, underflow to exactly 0, overflow to delta");
    QVERIFY(!torch::isnan(y).any().item<bool>());
    // Smallest level is delta * 2^(-15/2); just below half a level further down becomes 0.
    QCOMPARE(fakeQuantLog(torch::tensor({std::pow(2.0f, -7.5f)}), q).item<float>(), std::pow(2.0f, -7.5f));
    QCOMPARE(fakeQuantLog(torch::tensor({std::pow(2.0f, -8.3f)}), q).item<float>(), 0.0f);
    LogQuantizer l2{3, false, 0.5};
    QVERIFY(torch::allclose(fakeQuantLog(torch::tensor({0.5f, 0.125f, 0.1f, 1e-4f}), l2),
                            torch::tensor({0.5f, 0.125f, 0.125f, 0.0f})));
  }

  void twinUniformValuesAndSearch() {
    // 4 bits: two ranges of 8 codes; d2 = 1/8 on [0, 1), d1 = d2 / 4 = 1/32 on [0, 1/4).
    TwinUniformQuantizer q{4, 2};
    QCOMPARE(q.d2(), 0.125);
    QCOMPARE(q.d1(), 0.03125);
    auto x = torch::tensor({0.0f, 0.01f, 0.02f, 0.2f, 0.26f, 0.5f, 0.99f, 1.0f, -0.1f, 0.245f});
    auto e = torch::tensor({0.0f, 0.0f, 0.03125f, 0.1875f, 0.25f, 0.5f, 0.875f, 0.875f, 0.0f, 0.21875f});
    QVERIFY2(torch::equal(fakeQuantTwinUniform(x, q), e), "fine codes below 1/4, coarse above, clamped to the last code");
    // On attention-like probabilities the fine range pays off: the search picks m > 0 and
    // beats both m = 0 (one 3-bit range) and a 4-bit uniform min-max quantizer.
    auto gen = at::detail::createCPUGenerator(3);
    auto A = torch::softmax(torch::randn({512, 65}, gen) * 3.0, -1);
    auto t = searchTwinUniform(A, 4);
    QVERIFY(t.m > 0);
    auto mse = [&](const torch::Tensor& y) { return (y - A).pow(2).mean().item<double>(); };
    const double eTwin = mse(fakeQuantTwinUniform(A, t));
    const double eOne = mse(fakeQuantTwinUniform(A, TwinUniformQuantizer{4, 0}));
    const double eUni = mse(fakeQuant(A, searchUniform(A, 4, false, -1, RangeSearch::MinMax)));
    qInfo("softmax of randn*3 [512x65] at 4 bits: twin-uniform m=%d MSE %.3g, m=0 %.3g, uniform min-max %.3g", t.m,
          eTwin, eOne, eUni);
    QVERIFY(eTwin < eOne);
    QVERIFY(eTwin < eUni);
    // every value inside the fine range is within half a fine step
    const double d1 = t.d1(), L = 8;
    auto inFine = A < (L - 0.5) * d1;
    QVERIFY(((fakeQuantTwinUniform(A, t) - A).abs().masked_select(inFine) <= d1 / 2 + 1e-7).all().item<bool>());
  }

  void paritySplitMatchesLogSqrt2() {
    auto idx = torch::arange(0, 16).to(torch::kFloat);
    auto s = splitLogSqrt2(idx);
    auto a = log2SplitValue(s, 0.7);
    auto b = torch::pow(2.0, -idx / 2.0) * 0.7;
    QVERIFY(torch::allclose(a, b, 1e-6, 1e-7));
    QVERIFY(torch::equal(s.shift, torch::ceil(idx / 2)));
    QVERIFY(s.parity.eq(0).logical_or(s.parity.eq(1)).all().item<bool>());
  }

  void perGroupAndPerToken() {
    auto x = torch::randn({4, 16});
    x.slice(1, 0, 8).mul_(100.0);  // first group much wider
    auto g = fakeQuantPerGroup(x, 4, 8, false);
    auto t = fakeQuant(x, weightQuantizer(x, 4, false, false));
    QVERIFY((x - g).pow(2).slice(1, 8, 16).mean().item<double>() < (x - t).pow(2).slice(1, 8, 16).mean().item<double>());
    auto rows = torch::randn({3, 32}) * torch::tensor({0.01f, 1.0f, 100.0f}).view({3, 1});
    auto p = fakeQuantPerToken(rows, 8, false);
    auto range = std::get<0>(rows.max(1)) - std::get<0>(rows.min(1));
    auto err = std::get<0>((rows - p).abs().max(1));
    QVERIFY((err <= range / 255.0 * 0.5 * 1.01 + 1e-7).all().item<bool>());
  }

  void rangeSearches() {
    auto x = torch::randn({20000});
    x.index_put_({torch::tensor({0, 1, 2}, torch::kLong)}, torch::tensor({40.0f, -35.0f, 50.0f}));
    auto mm = searchUniform(x, 4, false, -1, RangeSearch::MinMax);
    auto pm = searchUniform(x, 4, false, -1, RangeSearch::PercentileMse);
    auto ms = searchUniform(x, 4, false, -1, RangeSearch::Mse);
    auto pc = searchUniform(x, 4, false, -1, RangeSearch::Percentile, 0.999);
    auto e = [&](const UniformQuantizer& q) { return (x - fakeQuant(x, q)).pow(2).mean().item<double>(); };
    QVERIFY(e(pm) <= e(mm));
    QVERIFY(e(ms) < e(mm));
    QVERIFY(e(pc) < e(mm));
    QCOMPARE(pm.scale.dim(), int64_t(0));
    auto sorted = std::get<0>(torch::arange(0, 101).to(torch::kFloat).sort());
    QCOMPARE(quantileRows(sorted, 0.9).item<float>(), 90.0f);
    auto w = torch::randn({6, 32}) * torch::arange(1, 7).to(torch::kFloat).view({6, 1});
    auto cw = searchUniform(w, 4, false, 0, RangeSearch::PercentileMse);
    QCOMPARE(cw.scale.size(0), int64_t(6));
    QVERIFY(cw.scale[5].item<float>() > cw.scale[0].item<float>());
    auto lq = searchLog(torch::softmax(torch::randn({64, 50}) * 3, -1), 4, true);
    QVERIFY(lq.delta > 0 && lq.delta <= 1.0);
  }

  void straightThroughGradients() {
    auto x = torch::randn({256}) * 3;
    auto s = torch::tensor(0.1f).set_requires_grad(true);
    auto z = torch::tensor(8.0f);
    auto y = lsqFakeQuant(x, s, z, 0, 15);
    (x - y).pow(2).sum().backward();
    QVERIFY(s.grad().defined() && std::isfinite(s.grad().item<float>()) && s.grad().item<float>() != 0.0f);
    auto lo = torch::full({4}, -1.0f).set_requires_grad(true);
    auto hi = torch::full({4}, 1.0f).set_requires_grad(true);
    auto a = torch::randn({128, 4}) * 2;
    (a - dualClipFakeQuant(a, lo, hi, 4)).pow(2).sum().backward();
    QVERIFY(lo.grad().defined() && hi.grad().defined());
    QVERIFY(lo.grad().abs().min().item<float>() > 0 && hi.grad().abs().min().item<float>() > 0);
    QVERIFY(torch::isfinite(lo.grad()).all().item<bool>());
    // Inside the range the gradient w.r.t. x passes straight through.
    auto xi = torch::tensor({0.33f}).set_requires_grad(true);
    lsqFakeQuant(xi, torch::tensor(0.1f), torch::tensor(8.0f), 0, 15).sum().backward();
    QCOMPARE(xi.grad().item<float>(), 1.0f);
  }

  void foldIsIdentityInFullPrecision() {
    auto src = vitOf(model);
    QVERIFY(src);
    auto copy = std::dynamic_pointer_cast<VitModel>(src->clone());
    // Arbitrary per-channel quantizers from the real inputs of each consumer.
    for (auto& [norm, consumer] : vitNormConsumers(*copy)) {
      auto X = layerInput(*src, images, consumer);
      auto pc = searchUniform(X, 4, false, 1, RangeSearch::PercentileMse);
      (void)foldNorm(*copy, norm, consumer, pc, false);
    }
    auto a = logits(*src, images), b = logits(*copy, images);
    const double rel = ((a - b).abs().max() / a.abs().max()).item<double>();
    qInfo("FP fold identity: max relative logit difference %.3g", rel);
    QVERIFY(rel < 1e-4);
    auto g0 = std::const_pointer_cast<VitModel>(src)->param("blocks.0.norm1.weight");
    QVERIFY(!torch::allclose(g0, copy->param("blocks.0.norm1.weight")));
  }

  void integerFoldReproducesPerChannelCodes() {
    PtqConfig base;
    base.abits = 4;
    base.quantWeights = false;
    base.aSearch = RangeSearch::PercentileMse;
    base.softmax = PtqConfig::Softmax::LogSqrt2;
    PtqConfig folded = base, perChannel = base;
    folded.fold = PtqConfig::Fold::RepQ;
    folded.roundZero = true;
    perChannel.fold = PtqConfig::Fold::PerChannelNoFold;
    auto calib = images.slice(0, 0, 32);
    auto F = runPtq(*model.impl(), calib, folded);
    auto P = runPtq(*model.impl(), calib, perChannel);
    QCOMPARE(int(F.folds.size()), 2 * vitOf(model)->config().depth);
    // Code level: per-tensor codes of the folded LayerNorm output versus per-channel codes.
    auto fpFolded = F.variant->clone();
    fpFolded->inputTransforms.clear();
    double worst = 0;
    for (auto& f : F.folds) {
      QCOMPARE(f.zero, std::round(f.zero));
      auto X = layerInput(*model.impl(), images, f.consumer);
      auto Xf = layerInput(*fpFolded, images, f.consumer);
      const double qmax = 15;
      auto cPc = torch::clamp(torch::round(X / f.deltaC) + f.zeroC, 0.0, qmax);
      auto cPt = torch::clamp(torch::round(Xf / f.delta) + f.zero, 0.0, qmax);
      const double mismatch = cPc.ne(cPt).to(torch::kDouble).mean().item<double>();
      worst = std::max(worst, mismatch);
    }
    qInfo("integer fold: worst per-layer code mismatch fraction %.2e (rounding-boundary ties)", worst);
    QVERIFY(worst < 1e-3);
    // Model level: folded per-tensor model versus unfolded per-channel model.
    auto a = logits(*P.variant, images), b = logits(*F.variant, images);
    const double agree = a.argmax(1).eq(b.argmax(1)).to(torch::kDouble).mean().item<double>();
    const double rel = ((a - b).abs().max() / a.abs().max()).item<double>();
    qInfo("integer fold vs per-channel model: top-1 agreement %.4f, max relative logit difference %.3g", agree, rel);
    QVERIFY(agree >= 0.98);
    // Fractional zero point (the paper's code): only approximately equal.
    PtqConfig frac = folded;
    frac.roundZero = false;
    auto R = runPtq(*model.impl(), calib, frac);
    auto c = logits(*R.variant, images);
    const double agreeFrac = a.argmax(1).eq(c.argmax(1)).to(torch::kDouble).mean().item<double>();
    qInfo("fractional-zero fold vs per-channel model: top-1 agreement %.4f", agreeFrac);
    QVERIFY(agreeFrac >= 0.8);
  }

  void matmulOperandTapsAndQuantizers() {
    auto src = vitOf(model);
    const int depth = src->config().depth, heads = src->config().heads, dim = src->config().dim;
    std::map<std::string, std::vector<int64_t>> seen;
    TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) {
      if (k == TapKind::LayerOutput && p.find(".attn.") != std::string::npos) seen[p] = x.sizes().vec();
      return x;
    };
    auto x = images.slice(0, 0, 4);
    auto ref = logits(*src, x);
    {
      torch::InferenceMode g;
      QVERIFY(torch::equal(src->run(x, &obs), ref));  // observing changes nothing
    }
    QCOMPARE(int(seen.size()), 3 * depth);
    const std::vector<int64_t> shape{4, heads, src->config().tokens(), dim / heads};
    QCOMPARE(seen["blocks.0.attn.q"], shape);
    QCOMPARE(seen["blocks.0.attn.v"], shape);
    auto copy = src->clone();
    copy->inputTransforms["blocks.1.attn.k"] = [](const torch::Tensor& t) { return t * 0; };
    QVERIFY(!torch::allclose(logits(*copy, x), ref));
    // Every PTQ method quantizes the operands; softmax log-sqrt2 as log2 + parity gives the same model.
    PtqConfig cfg;
    cfg.abits = 4;
    cfg.quantWeights = false;
    cfg.aSearch = RangeSearch::PercentileMse;
    cfg.softmax = PtqConfig::Softmax::LogSqrt2;
    auto a = runPtq(*src, images.slice(0, 0, 16), cfg);
    QCOMPARE(int(a.operandQuantizers.size()), 3 * depth);
    QCOMPARE(a.operandQuantizers.at("blocks.2.attn.q").bits, 4);
    cfg.log2Split = true;
    auto b = runPtq(*src, images.slice(0, 0, 16), cfg);
    QVERIFY(torch::allclose(logits(*a.variant, images), logits(*b.variant, images), 1e-5, 1e-6));
    cfg.quantMatmulOperands = false;
    auto c = runPtq(*src, images.slice(0, 0, 16), cfg);
    QVERIFY(c.operandQuantizers.empty());
    QVERIFY(!torch::allclose(logits(*a.variant, images), logits(*c.variant, images)));
  }

  // RepQuant's learned dual clipping (W4A4, a tiny calibration set) lowers the error that
  // post-LN quantization causes at each consumer's output below RepQ-ViT's
  // percentile-MSE initialization, on the same data; folding the learned quantizers is
  // still an identity in FP and code-exact with an integer zero point.
  void dualClippingBeatsPercentileMseAndFoldsExactly() {
    auto src = vitOf(model);
    auto calib = images.slice(0, 0, 8);
    auto copy = std::dynamic_pointer_cast<VitModel>(src->clone());
    std::vector<NormFold> folds;
    double sumBefore = 0, sumAfter = 0, actBefore = 0, actAfter = 0;
    for (auto& [norm, consumer] : vitNormConsumers(*copy)) {
      auto X = layerInput(*src, calib, consumer).clone();
      auto W = std::const_pointer_cast<VitModel>(src)->param(consumer + ".weight").clone();
      auto pc = searchUniform(X, 4, false, 1, RangeSearch::PercentileMse);
      auto dc = learnDualClipping(X, W, pc, 150, 0.01);
      pc.axis = -1;
      // Independent check of the reported losses (consumer output, FP weights).
      auto outErr = [&](const UniformQuantizer& q) {
        return (torch::matmul(fakeQuant(X, q) - X, W.t())).pow(2).mean().item<double>();
      };
      auto actErr = [&](const UniformQuantizer& q) { return (fakeQuant(X, q) - X).pow(2).mean().item<double>(); };
      const double e0 = outErr(pc), e1 = outErr(dc.q);
      QVERIFY(std::abs(e0 - dc.lossBefore) <= 1e-3 * e0);
      QVERIFY(std::abs(e1 - dc.lossAfter) <= 1e-3 * e1 + 1e-12);
      QVERIFY2(e1 < e0, qPrintable(QString("%1: %2 !< %3").arg(consumer.c_str()).arg(e1).arg(e0)));
      QVERIFY((dc.q.zero >= 0).all().item<bool>() && (dc.q.zero <= 15).all().item<bool>());
      sumBefore += e0, sumAfter += e1, actBefore += actErr(pc), actAfter += actErr(dc.q);
      folds.push_back(foldNorm(*copy, norm, consumer, dc.q, true));
    }
    qInfo("dual clipping (W4A4 post-LN, 8 images): consumer-output MSE summed over %d folds %.4g -> %.4g (%.1f %%); "
          "post-LN activation MSE %.4g -> %.4g",
          int(folds.size()), sumBefore, sumAfter, 100.0 * (sumAfter / sumBefore - 1), actBefore, actAfter);
    QVERIFY(sumAfter < 0.97 * sumBefore);
    auto a = logits(*src, images), b = logits(*copy, images);
    const double rel = ((a - b).abs().max() / a.abs().max()).item<double>();
    qInfo("FP identity after folding the learned quantizers: max relative logit difference %.3g", rel);
    QVERIFY(rel < 1e-4);
    double worst = 0;
    for (auto& f : folds) {
      auto X = layerInput(*src, images, f.consumer);
      auto Xf = layerInput(*copy, images, f.consumer);
      auto cPc = torch::clamp(torch::round(X / f.deltaC) + f.zeroC, 0.0, 15.0);
      auto cPt = torch::clamp(torch::round(Xf / f.delta) + f.zero, 0.0, 15.0);
      worst = std::max(worst, cPc.ne(cPt).to(torch::kDouble).mean().item<double>());
    }
    qInfo("learned-clip integer fold: worst code mismatch fraction %.2e", worst);
    QVERIFY(worst < 1e-3);
  }

  void repquantThroughFacade() {
    auto* m = findMethod("repquant");
    QVERIFY(m);
    auto d = m->defaults();
    QVERIFY(m->validate(d).empty());
    QCOMPARE(d["wbits"].get<int>(), 4);
    QCOMPARE(d["abits"].get<int>(), 4);
    if (!loadFashionMnist("train").ok()) QSKIP("Fashion-MNIST not installed (Debian dataset-fashion-mnist)");
    Recipe r;
    r.method = "repquant";
    r.params = {{"clip_iters", 20}, {"recon_iters", 30}};  // short schedules: the facade path, not the accuracy
    r.calibSamples = 4;
    QuantizeOptions o;
    o.evalSamples = 200;
    auto res = quantize(model, r, o, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    const auto& M = res->metrics;
    QVERIFY(M.contains("dual_clipping") && M.contains("reconstruction") && M.contains("folds"));
    QCOMPARE(int(M["dual_clipping"].size()), 2 * vitOf(model)->config().depth);
    for (auto& c : M["dual_clipping"]) QVERIFY(c["output_mse_after"].get<double>() <= c["output_mse_before"].get<double>());
    int improved = 0;
    for (auto& l : M["reconstruction"]) {
      QVERIFY(l["output_mse_reconstructed"].get<double>() <= l["output_mse_nearest"].get<double>());
      improved += l["output_mse_reconstructed"].get<double>() < l["output_mse_nearest"].get<double>();
    }
    QVERIFY(improved > 0);
    QCOMPARE(M["matmul_operands_quantized"].get<int>(), 3 * vitOf(model)->config().depth);
    for (auto& f : M["folds"]) QCOMPARE(f["zero_point"].get<double>(), std::round(f["zero_point"].get<double>()));
    const double fp = M["fp_accuracy"], q = M["q_accuracy"];
    qInfo("repquant W4A4 (4 calib images, short schedules): FP %.3f, quantized %.3f (200 images); %d/%d layers "
          "improved by reconstruction",
          fp, q, improved, int(M["reconstruction"].size()));
    QVERIFY(q > fp - 0.2);
    // Cancel is honoured.
    JobContext job;
    job.cancel();
    auto c = quantize(model, r, o, job);
    QVERIFY(!c.ok());
  }

  void methodsRegisteredAndRun() {
    for (auto id : {"percentile", "omse", "smoothquant", "repq-vit", "repquant"}) {
      auto* m = findMethod(id);
      QVERIFY2(m, id);
      QCOMPARE(int(m->presets.size()), 4);
      auto d = m->defaults();
      QVERIFY(m->validate(d).empty());
    }
    if (!loadFashionMnist("train").ok()) QSKIP("Fashion-MNIST not installed (Debian dataset-fashion-mnist)");
    for (auto id : {"repq-vit", "smoothquant", "omse", "percentile", "omse+twin"}) {
      Recipe r;
      r.method = std::string(id) == "omse+twin" ? "omse" : id;
      r.params = {{"wbits", 8}, {"abits", 8}};
      if (std::string(id) == "omse+twin") r.params["softmax"] = "twin-uniform";
      r.calibSamples = 32;
      QuantizeOptions o;
      o.evalSamples = 300;
      auto res = quantize(model, r, o, nullJob());
      QVERIFY2(res.ok(), res.ok() ? id : res.error().message.c_str());
      const double fp = res->metrics["fp_accuracy"], q = res->metrics["q_accuracy"];
      qInfo("%s W8A8: FP %.3f, quantized %.3f (300 images)", id, fp, q);
      QVERIFY(q > fp - 0.03);
      QVERIFY(res->variant.impl().get() != model.impl().get());
    }
  }
};

QTEST_GUILESS_MAIN(TestPtq)
#include "test_ptq.moc"
