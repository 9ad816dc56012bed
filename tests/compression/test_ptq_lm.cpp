// PTQ of the LLaMA-style zoo decoder lm-fortunes (compression/ptq_lm.h): the RMSNorm
// fold with its added beta and consumer biases is exact in FP; with the integer zero
// point the folded per-tensor quantizer reproduces the per-channel A4 codes; SmoothQuant
// migration is exact in FP; the LM softmax tap takes a quantizer; quantizing never
// mutates the source; RepQuant's weight reconstruction lowers the per-layer output
// error and can be cancelled; W8A8 RTN perplexity stays within a few % of FP; quantize()
// routes LMs. The zoo weights are committed, so failing to open them fails the test.
#include <torch/torch.h>

#include <algorithm>

#include <QtTest/QtTest>

#include "compression/ptq_lm.h"
#include "compression/torch/ptq_lm.h"
#include "engine/llm.h"

using namespace cs;
using namespace cs::detail;

namespace {

double maxRel(const torch::Tensor& a, const torch::Tensor& ref) {
  return (a - ref).abs().max().item<double>() / ref.abs().max().item<double>();
}

// Held-out fortunes as [n, L] byte-token windows (fixed, deterministic).
torch::Tensor fortuneTokens(const DecoderLM& m, int n, int L) {
  auto corpus = loadFortunesCorpus();
  std::vector<int64_t> stream;
  if (corpus)
    for (const auto& f : corpus->heldOut) {
      for (int id : m.tokenizer()->encode(f, true)) stream.push_back(id);
      if (static_cast<int64_t>(stream.size()) >= int64_t(n) * L) break;
    }
  if (static_cast<int64_t>(stream.size()) < int64_t(n) * L) {  // no fortunes: seeded random bytes
    torch::manual_seed(3);
    return torch::randint(32, 127, {n, L}, torch::kLong);
  }
  stream.resize(static_cast<size_t>(n) * L);
  return torch::tensor(stream, torch::kLong).reshape({n, L});
}

torch::Tensor inputOf(const DecoderLM& m, const torch::Tensor& tok, const std::string& layer) {
  torch::Tensor got;
  TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) {
    if (k == TapKind::LayerInput && p == layer) got = x.reshape({-1, x.size(-1)}).clone();
    return x;
  };
  torch::InferenceMode g;
  (void)m.run(tok, &obs);
  return got;
}

torch::Tensor logitsOf(const DecoderLM& m, const torch::Tensor& tok) {
  torch::InferenceMode g;
  return m.run(tok).clone();
}

}  // namespace

class TestPtqLm : public QObject {
  Q_OBJECT
  Model model;
  std::shared_ptr<const DecoderLM> lm;
  torch::Tensor tok;

 private Q_SLOTS:
  void initTestCase() {
    torch::set_num_threads(1);  // shared CPU: no oversubscription
    auto m = openModel("lm-fortunes");
    QVERIFY2(m.ok(), m.ok() ? "" : m.error().message.c_str());
    model = *m;
    lm = std::dynamic_pointer_cast<const DecoderLM>(model.impl());
    QVERIFY(lm);
    QCOMPARE(lm->config().arch, std::string("llama"));
    tok = fortuneTokens(*lm, 8, 128);
  }

  void rmsNormFoldExactInFp() {
    auto ref = logitsOf(*lm, tok);
    for (bool roundZero : {false, true}) {
      auto c = std::static_pointer_cast<DecoderLM>(lm->clone());
      int folds = 0;
      for (auto& [norm, consumers] : lmNormConsumers(*c)) {
        auto X = inputOf(*c, tok, consumers.front());
        auto pc = searchUniform(X, 4, false, 1, RangeSearch::PercentileMse);
        auto f = foldRmsNorm(*c, norm, consumers, pc, roundZero);
        QVERIFY(f.r.max().item<double>() > 1.5 * f.r.min().item<double>());  // a real per-channel spread
        ++folds;
      }
      QCOMPARE(folds, 2 * int(lm->config().layers));
      // the norm got a beta and every consumer a bias
      QVERIFY(c->hasWeight("model.layers.0.input_layernorm.bias"));
      for (auto l : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj", "mlp.up_proj"})
        QVERIFY(c->hasWeight(std::string("model.layers.1.") + l + ".bias"));
      const double e = maxRel(logitsOf(*c, tok), ref);
      qInfo("RMSNorm fold (round_zero=%d): max rel. logit diff %.2e", int(roundZero), e);
      QVERIFY(e < 1e-5);
    }
  }

  void integerFoldReproducesPerChannelCodes() {
    // A4: per-channel codes of the original norm output vs per-tensor codes of the folded one.
    auto c = std::static_pointer_cast<DecoderLM>(lm->clone());
    int64_t mismatch = 0, total = 0;
    for (auto& [norm, consumers] : lmNormConsumers(*lm)) {
      auto X = inputOf(*lm, tok, consumers.front());
      auto pc = searchUniform(X, 4, false, 1, RangeSearch::PercentileMse);
      pc.axis = -1;
      auto f = foldRmsNorm(*c, norm, consumers, pc, /*roundZero=*/true);
      QCOMPARE(f.zero, std::round(f.zero));
      auto Xf = inputOf(*c, tok, consumers.front());
      for (auto& other : consumers) QVERIFY(torch::equal(inputOf(*c, tok, other), Xf));  // one shared input
      auto codesC = torch::clamp(torch::round(X / pc.scale) + pc.zero, 0, 15);
      auto codesT = torch::clamp(torch::round(Xf / f.delta) + f.zero, 0, 15);
      mismatch += codesC.ne(codesT).sum().item<int64_t>();
      total += X.numel();
    }
    const double frac = double(mismatch) / double(total);
    qInfo("integer fold at A4: %lld of %lld codes differ (%.2e, rounding-boundary ties)", (long long)mismatch,
          (long long)total, frac);
    QVERIFY(frac < 1e-3);
  }

  void smoothQuantExactInFp() {
    auto c = std::static_pointer_cast<DecoderLM>(lm->clone());
    for (auto& [norm, consumers] : lmNormConsumers(*c))
      smoothRmsNorm(*c, norm, consumers, inputOf(*c, tok, consumers.front()), 0.5);
    const double e = maxRel(logitsOf(*c, tok), logitsOf(*lm, tok));
    qInfo("SmoothQuant migration: max rel. logit diff %.2e", e);
    QVERIFY(e < 1e-5);
  }

  void dualClipLowersTheConsumerError() {
    const std::string q = "model.layers.0.self_attn.q_proj";
    auto X = inputOf(*lm, tok, q);
    auto init = searchUniform(X, 4, false, 1, RangeSearch::PercentileMse);
    init.axis = -1;
    std::vector<torch::Tensor> ws;
    for (auto l : {"q_proj", "k_proj", "v_proj"}) ws.push_back(lm->weight(std::string("model.layers.0.self_attn.") + l + ".weight"));
    auto r = learnDualClip(X, ws, init, 60, 0.01);
    qInfo("dual clipping, layer 0 qkv at A4: output MSE %.4g -> %.4g", r.lossBefore, r.lossAfter);
    QVERIFY(r.lossAfter < r.lossBefore);
    QCOMPARE(r.q.scale.numel(), X.size(1));
  }

  void sourceUntouchedAndSoftmaxQuantized() {
    std::map<std::string, torch::Tensor> before;
    for (auto& [n, t] : lm->namedTensors()) before[n] = t.clone();
    Recipe r;
    r.method = "repq-vit";
    r.calibSamples = 8;
    r.params = {{"wbits", 4}, {"abits", 4}};
    LmQuantOptions o;
    o.calibLength = 64;
    o.evaluate = false;
    auto res = quantizeLm(model, r, o, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    auto after = lm->namedTensors();
    QCOMPARE(after.size(), before.size());
    for (auto& [n, t] : after) QVERIFY2(torch::equal(t, before.at(n)), n.c_str());
    QVERIFY(lm->inputTransforms.empty());
    const auto& v = static_cast<const DecoderLM&>(*res->variant.impl());
    QVERIFY(v.inputTransforms.count("model.layers.0.self_attn.self_attn"));  // log-sqrt2 softmax quantizer
    QVERIFY(v.inputTransforms.count("model.layers.0.mlp.down_proj"));
    QVERIFY(!v.inputTransforms.count("lm_head"));  // head excluded by default
    if (!lm->config().tiedHead) QVERIFY(v.weight("lm_head.weight").equal(lm->weight("lm_head.weight")));
    QVERIFY(v.weight("model.embed_tokens.weight").equal(lm->weight("model.embed_tokens.weight")));
    QCOMPARE(res->metrics["folds"].size(), size_t(2 * lm->config().layers));
    QVERIFY(maxRel(logitsOf(v, tok), logitsOf(*lm, tok)) > 0);
  }

  void twinUniformSoftmaxOnLms() {
    // The baselines' softmax choice reaches the LM path: PTQ4ViT's twin-uniform quantizer
    // maps 1 to the coarse range's last code, (2^3 - 1) / 2^3 at 4 bits.
    Recipe r;
    r.method = "omse";
    r.calibSamples = 4;
    r.params = {{"wbits", 4}, {"abits", 4}, {"softmax", "twin-uniform"}};
    LmQuantOptions o;
    o.calibLength = 64;
    o.evaluate = false;
    auto res = quantizeLm(model, r, o, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    const auto& v = static_cast<const DecoderLM&>(*res->variant.impl());
    auto it = v.inputTransforms.find("model.layers.0.self_attn.self_attn");
    QVERIFY(it != v.inputTransforms.end());
    QCOMPARE(it->second(torch::tensor({1.0f})).item<float>(), 0.875f);
    QCOMPARE(it->second(torch::tensor({0.0f})).item<float>(), 0.0f);
  }

  void repquantReconstructionLowersLayerErrors() {
    // RepQuant at W4A4 with the AdaRound/LSQ reconstruction after dual clipping + fold:
    // every quantized Linear is reconstructed, in execution order, and its output MSE
    // against the folded FP layer drops for most layers.
    Recipe r;
    r.method = "repquant";
    r.calibSamples = 4;
    r.params = {{"wbits", 4}, {"abits", 4}, {"recon_iters", 80}, {"clip_iters", 10}};
    LmQuantOptions o;
    o.calibLength = 64;
    o.evaluate = false;
    std::vector<std::string> stages;
    JobContext job([&](double, const std::string& s) { stages.push_back(s); });
    auto res = quantizeLm(model, r, o, job);
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    QVERIFY(res->metrics.contains("reconstruction"));
    const auto& rec = res->metrics["reconstruction"];
    QCOMPARE(rec.size(), size_t(7 * lm->config().layers));
    QCOMPARE(rec[0]["layer"].get<std::string>(), std::string("model.layers.0.self_attn.q_proj"));
    QCOMPARE(res->metrics["reconstruction_settings"]["iters"].get<int>(), 80);
    int lower = 0;
    double sumNear = 0, sumRec = 0, flipped = 0;
    for (auto& l : rec) {
      const double a = l["output_mse_nearest"], b = l["output_mse_reconstructed"];
      QVERIFY(b <= a);  // the engine keeps nearest rounding when it does not help
      lower += b < a;
      sumNear += 1.0, sumRec += b / std::max(a, 1e-30);  // relative to nearest rounding
      flipped += l["flipped_fraction"].get<double>();
    }
    qInfo("repquant W4A4 reconstruction: %d of %d layers lower, mean relative output MSE %.3f, mean flipped %.3f",
          lower, int(rec.size()), sumRec / sumNear, flipped / rec.size());
    QVERIFY(lower * 4 >= int(rec.size()) * 3);
    QVERIFY(sumRec < 0.98 * sumNear);
    QVERIFY(flipped > 0);
    QVERIFY(std::any_of(stages.begin(), stages.end(),
                        [](const std::string& s) { return s.rfind("reconstruction step", 0) == 0; }));
    // the learned input steps are in the variant's quantizers
    const auto& v = static_cast<const DecoderLM&>(*res->variant.impl());
    QVERIFY(v.inputTransforms.count("model.layers.0.mlp.down_proj"));
  }

  void repquantTakesClipStepsFromRecipe() {
    // The recipe's clip_iters (the same schema parameter as on the ViT) drives the LM
    // dual clipping: 0 steps keep the initial bounds (loss unchanged), 25 steps lower it.
    Recipe r;
    r.method = "repquant";
    r.calibSamples = 2;
    r.params = {{"wbits", 4}, {"abits", 4}, {"recon_iters", 0}, {"clip_iters", 0}};
    LmQuantOptions o;
    o.calibLength = 32;
    o.evaluate = false;
    JobContext job;
    auto res = quantizeLm(model, r, o, job);
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    QCOMPARE(res->metrics["dual_clipping_settings"]["steps"].get<int>(), 0);
    QVERIFY(!res->metrics["folds"].empty());
    for (auto& f : res->metrics["folds"])
      QCOMPARE(f["clip_loss"]["after"].get<double>(), f["clip_loss"]["before"].get<double>());
    r.params["clip_iters"] = 25;
    auto res2 = quantizeLm(model, r, o, job);
    QVERIFY2(res2.ok(), res2.ok() ? "" : res2.error().message.c_str());
    QCOMPARE(res2->metrics["dual_clipping_settings"]["steps"].get<int>(), 25);
    int lower = 0;
    for (auto& f : res2->metrics["folds"])
      lower += f["clip_loss"]["after"].get<double>() < f["clip_loss"]["before"].get<double>();
    QVERIFY(lower > 0);  // 25 Adam steps lower at least one fold's consumer loss
  }

  void repquantReconstructionCancels() {
    Recipe r;
    r.method = "repquant";
    r.calibSamples = 4;
    r.params = {{"wbits", 4}, {"abits", 4}, {"recon_iters", 200}, {"clip_iters", 0}};
    LmQuantOptions o;
    o.calibLength = 32;
    o.evaluate = false;
    JobContext job;
    job.setProgress([&](double, const std::string& s) {
      if (s.rfind("reconstruction step", 0) == 0) job.cancel();
    });
    auto res = quantizeLm(model, r, o, job);
    QVERIFY(!res.ok());
    QVERIFY2(res.error().isCancelled(), res.error().message.c_str());
  }

  void w8a8RtnPerplexityCloseToFp() {
    Recipe r;
    r.method = "rtn";
    r.calibSamples = 16;
    r.params = {{"wbits", 8}, {"abits", 8}};
    LmQuantOptions o;
    o.calibLength = 128;
    o.evalMaxBytes = 16384;
    auto res = quantizeLm(model, r, o, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    const double fp = res->metrics["fp_ppl"], q = res->metrics["q_ppl"];
    qInfo("lm-fortunes W8A8 RTN: ppl FP %.4f, quantized %.4f (%s)", fp, q, res->metrics["eval_text"].dump().c_str());
    QVERIFY(fp > 1.5 && fp < 20);
    QVERIFY(std::abs(q / fp - 1.0) < 0.03);
    QCOMPARE(res->layers.size(), size_t(7 * lm->config().layers));
    for (auto& l : res->layers) QVERIFY(l.abits == 8 && l.wbits == 8);
  }

  void quantizeFacadeRoutesLanguageModels() {
    Recipe r;
    r.method = "smoothquant";
    r.calibSamples = 8;
    r.params = {{"wbits", 8}, {"abits", 8}};
    QuantizeOptions qo;
    qo.evaluate = false;  // LMs still report perplexity, on the first 16 KB
    auto res = quantize(model, r, qo, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    QVERIFY(res->metrics.contains("q_ppl") && res->metrics.contains("fp_ppl"));
    QVERIFY(std::abs(res->metrics["q_ppl"].get<double>() / res->metrics["fp_ppl"].get<double>() - 1) < 0.05);
  }
};

QTEST_GUILESS_MAIN(TestPtqLm)
#include "test_ptq_lm.moc"
