// Pruning: N:M and unstructured masks, Wanda vs Magnitude, SparseGPT's reconstruction
// advantage, the scale invariance of Wanda, the SI fast refresh, SI fold exactness on
// lm-fortunes and the llama_tiny/opt_tiny fixtures, the prune() facade (source untouched,
// cancel, bad parameters, save/reopen) and `cstudio prune` end to end.
#include <torch/torch.h>
// Qt after torch (and QT_NO_KEYWORDS) so that Qt's macros never reach torch headers.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>

#include "compression/prune.h"
#include "compression/quantize.h"
#include "compression/torch/prune_ops.h"
#include "engine/llm.h"
#include "engine/torch/llm_impl.h"

namespace fs = std::filesystem;
using namespace cs;
namespace P = cs::detail::prune;

namespace {
const std::string kShared = CS_SHARED_DIR;
bool haveShared() { return fs::exists(kShared + "/fixtures/llama_tiny") && fs::exists(kShared + "/fixtures/opt_tiny"); }

torch::Tensor tokensFor(const cs::detail::DecoderLM& m, int64_t B, int64_t T, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randint(0, std::min<int64_t>(m.config().vocab, 250), {B, T}, torch::kLong);
}

double maxRel(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// Random positive SI factors folded into every block; returns the folded clone.
std::shared_ptr<cs::detail::DecoderLM> foldRandom(const cs::detail::DecoderLM& m, uint64_t seed) {
  torch::manual_seed(seed);
  auto c = std::static_pointer_cast<cs::detail::DecoderLM>(m.clone());
  const auto& cfg = c->config();
  for (int64_t i = 0; i < cfg.layers; ++i) {
    auto r = [](int64_t n) { return torch::exp(torch::randn({n}) * 0.7); };
    std::vector<torch::Tensor> s = {r(cfg.dim), r(cfg.kvHeads * cfg.headDim), r(cfg.dim), r(cfg.hidden)};
    auto half = torch::exp(torch::randn({cfg.kvHeads, cfg.headDim / 2}) * 0.7);
    auto sa = cfg.ropeInterleaved ? half.repeat_interleave(2, 1) : torch::cat({half, half}, 1);
    P::foldSi(*c, i, s, sa);
  }
  return c;
}
}  // namespace

#define NEED_SHARED() \
  if (!haveShared()) QSKIP("fixtures: ../shared absent");

class TestPrune : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void nmMasksExact() {
    torch::manual_seed(0);
    for (auto [n, m] : {std::pair{2, 4}, std::pair{4, 8}}) {
      auto s = torch::rand({16, 42});  // 42 = 10*4 + 2 and 5*8 + 2: a remainder stays dense
      P::Pattern p;
      p.n = n;
      p.m = m;
      auto keep = P::maskFromScores(s, p);
      const int64_t full = 42 / m * m;
      auto g = keep.narrow(1, 0, full).reshape({16, full / m, m}).to(torch::kLong).sum(-1);
      QVERIFY(g.eq(n).all().item<bool>());                           // N kept ...
      QVERIFY((m - g).eq(m - n).all().item<bool>());                 // ... and M - N zeros per group
      QVERIFY(keep.narrow(1, full, 42 - full).all().item<bool>());   // remainder dense
      // the kept ones are the largest of their group
      auto sg = s.narrow(1, 0, full).reshape({16, full / m, m});
      auto kg = keep.narrow(1, 0, full).reshape({16, full / m, m});
      auto minKept = sg.masked_fill(kg.logical_not(), 2.0).amin(-1);
      auto maxPruned = sg.masked_fill(kg, -1.0).amax(-1);
      QVERIFY((minKept >= maxPruned).all().item<bool>());
    }
  }

  void unstructuredHitsTarget() {
    torch::manual_seed(1);
    auto s = torch::rand({37, 100});
    for (double sp : {0.3, 0.5, 0.7}) {
      P::Pattern p;
      p.sparsity = sp;
      p.scope = P::Scope::Row;
      auto keep = P::maskFromScores(s, p);
      auto zerosPerRow = keep.logical_not().sum(1);
      QVERIFY(zerosPerRow.eq(static_cast<int64_t>(std::floor(sp * 100))).all().item<bool>());
      p.scope = P::Scope::Layer;
      keep = P::maskFromScores(s, p);
      QCOMPARE(keep.logical_not().sum().item<int64_t>(), static_cast<int64_t>(std::floor(sp * 3700)));
    }
  }

  void wandaVsMagnitude() {
    torch::manual_seed(2);
    auto w = torch::randn({32, 64});
    P::Pattern p;
    p.sparsity = 0.5;
    p.scope = P::Scope::Row;
    auto mag = P::maskFromScores(P::magnitudeScores(w), p);
    auto uniform = torch::full({64}, 3.0, torch::kFloat64);
    QVERIFY(P::maskFromScores(P::wandaScores(w, uniform), p).equal(mag));
    auto varied = torch::exp(torch::randn({64}, torch::kFloat64) * 2.0);
    QVERIFY(!P::maskFromScores(P::wandaScores(w, varied), p).equal(mag));
  }

  void wandaInvariantToPureScale() {
    // |W s| * ||x / s|| == |W| * ||x||: a per-input-channel scale alone leaves Wanda's mask unchanged.
    torch::manual_seed(3);
    auto w = torch::randn({24, 48});
    auto x = torch::randn({500, 48}) * torch::exp(torch::randn({48}));
    auto s = torch::exp(torch::randn({48}) * 1.5);
    P::InputStats a, b;
    a.add(x);
    b.add(x / s);
    P::Pattern p;
    p.scope = P::Scope::Row;
    for (auto pat : {std::pair{0, 0}, std::pair{2, 4}}) {
      p.n = pat.first;
      p.m = pat.second;
      QVERIFY(P::maskFromScores(P::wandaScores(w, a.sqNorm()), p).equal(P::maskFromScores(P::wandaScores(w * s, b.sqNorm()), p)));
    }
    // but magnitude's mask moves
    p.n = p.m = 0;
    QVERIFY(!P::maskFromScores(P::magnitudeScores(w), p).equal(P::maskFromScores(P::magnitudeScores(w * s), p)));
  }

  void fastRefreshMatchesFoldedRecompute() {
    // SI convention: X~ = S^-1 (X - delta). Refreshed score |W s| sqrt(E[(x - delta)^2] / s^2)
    // must equal Wanda recomputed on the folded layer's actual inputs (pitfall 2).
    torch::manual_seed(4);
    auto w = torch::randn({16, 32});
    auto x = torch::randn({400, 32}) * 2 + 1;
    auto s = torch::exp(torch::randn({32}));
    auto delta = torch::randn({32});
    P::InputStats st, folded;
    st.add(x);
    folded.add((x - delta) / s);
    auto refreshed = P::wandaScores(w * s, st.sqNorm(delta) / s.to(torch::kFloat64).pow(2));
    auto recomputed = P::wandaScores(w * s, folded.sqNorm());
    QVERIFY(maxRel(refreshed, recomputed) < 1e-4);
  }

  void sparseGptBeatsMagnitude() {
    // Strongly correlated inputs: OBS compensation must reconstruct the output far better.
    torch::manual_seed(5);
    const int64_t d = 64;
    auto base = torch::randn({2048, 8});
    auto x = torch::matmul(base, torch::randn({8, d})) + 0.05 * torch::randn({2048, d});
    auto w = torch::randn({32, d});
    P::InputStats st;
    st.add(x);
    auto H = st.hessian();
    for (auto pat : {std::pair{0, 0}, std::pair{2, 4}}) {
      P::Pattern p;
      p.n = pat.first;
      p.m = pat.second;
      p.sparsity = 0.5;
      p.scope = P::Scope::Row;
      auto mag = w * P::maskFromScores(P::magnitudeScores(w), p);
      auto sg = P::sparseGpt(w, H, p, 16, 0.01);
      const double eMag = P::relOutputError(w, mag, H, st.gram), eSg = P::relOutputError(w, sg.weight, H, st.gram);
      qInfo("pattern %d:%d  magnitude %.4f  sparsegpt %.4f", p.n, p.m, eMag, eSg);
      QVERIFY(eSg < 0.5 * eMag);
      QCOMPARE(sg.weight.eq(0).sum().item<int64_t>(), static_cast<int64_t>(32 * d / 2));
      QVERIFY(sg.weight.masked_select(sg.keep.logical_not()).abs().max().item<float>() == 0.f);
    }
  }

  void siFoldExactFixtures() {
    NEED_SHARED();
    for (const char* name : {"llama_tiny", "opt_tiny"}) {
      auto m = cs::detail::loadDecoderLM(kShared + "/fixtures/" + name);
      auto folded = foldRandom(*m, 7);
      torch::NoGradGuard ng;
      auto tok = tokensFor(*m, 2, 24, 1);
      auto a = m->forwardTokens(tok, {}), b = folded->forwardTokens(tok, {});
      const double e = maxRel(b, a);
      qInfo("%s: folded dense logits max rel. diff %.2e", name, e);
      QVERIFY(e < 1e-4);
      // and the weights really changed
      QVERIFY(!m->weight(m->layerPrefix(0) + "self_attn.q_proj.weight").equal(folded->weight(m->layerPrefix(0) + "self_attn.q_proj.weight")));
    }
  }

  void siTrainedFoldExactLmFortunes() {
    // SI trained for real, then "pruned" at sparsity 0: the variant must equal the dense model.
    auto model = openModel("lm-fortunes");
    QVERIFY2(model.ok(), model ? "" : model.error().message.c_str());  // committed zoo weights: must open
    Recipe r;
    r.method = "magnitude";
    r.calibSamples = 8;
    r.params = {{"sparsity", 0.0}, {"si", true}, {"si_epochs", 1}};
    PruneOptions o;
    o.calibLength = 64;
    o.evaluate = false;
    auto res = prune(*model, r, o, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    const auto& src = static_cast<const cs::detail::DecoderLM&>(*model->impl());
    const auto& var = static_cast<const cs::detail::DecoderLM&>(*res->variant.impl());
    torch::NoGradGuard ng;
    auto tok = tokensFor(src, 2, 64, 3);
    const double e = maxRel(var.forwardTokens(tok, {}), src.forwardTokens(tok, {}));
    qInfo("lm-fortunes: SI-folded dense logits max rel. diff %.2e (SI loss %s)", e, res->metrics["si"]["loss_end"].dump().c_str());
    QVERIFY(e < 1e-4);
    // the scales moved: some norm weight differs from the source
    QVERIFY(!src.weight("model.layers.0.input_layernorm.weight").equal(var.weight("model.layers.0.input_layernorm.weight")));
  }

  void siInitAutoNeverStartsWorse() {
    // si_init auto starts each site at s = 1 and switches it to the rms start only when the
    // block loss (masks ranked on the weights as they will be after the fold) goes down.
    auto model = openModel("lm-fortunes");
    QVERIFY2(model.ok(), "lm-fortunes must open (zoo weights are committed)");
    auto run = [&](const char* init) {
      Recipe r;
      r.method = "magnitude";
      r.calibSamples = 16;
      r.params = {{"sparsity", 0.5}, {"si", true}, {"si_epochs", 0}, {"si_init", init}};
      PruneOptions o;
      o.calibLength = 64;
      o.evaluate = false;
      auto res = prune(*model, r, o, nullJob());
      if (!res.ok()) qFatal("prune failed: %s", res.error().message.c_str());
      return res->metrics["si"];
    };
    auto ones = run("ones"), rms = run("rms"), autoInit = run("auto");
    const auto& a = autoInit["loss_start"];
    QCOMPARE(a.size(), ones["loss_start"].size());
    double sa = 0, so = 0, sr = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      QVERIFY(a[i].get<double>() <= ones["loss_start"][i].get<double>() * (1 + 1e-6));
      sa += a[i].get<double>();
      so += ones["loss_start"][i].get<double>();
      sr += rms["loss_start"][i].get<double>();
    }
    qInfo("magnitude 50%%, mean block loss at the start: ones %.4f, rms %.4f, auto %.4f (rms sites: %zu)", so / a.size(),
          sr / a.size(), sa / a.size(), autoInit["rms_sites"].size());
    QVERIFY(sa <= sr * (1 + 1e-6));  // on lm-fortunes the all-rms start is worse than the greedy mix
  }

  void pruneFacade() {
    auto model = openModel("lm-fortunes");
    QVERIFY2(model.ok(), model ? "" : model.error().message.c_str());  // committed zoo weights: must open
    const auto& src = static_cast<const cs::detail::DecoderLM&>(*model->impl());
    auto before = src.weight("model.layers.1.mlp.down_proj.weight").clone();
    const size_t tensorsBefore = src.namedTensors().size();
    Recipe r;
    r.method = "wanda";
    r.calibSamples = 16;
    r.params = {{"pattern", "2:4"}, {"si", true}, {"si_epochs", 1}};
    PruneOptions o;
    o.calibLength = 64;
    o.evaluate = false;
    o.siView = true;
    auto res = prune(*model, r, o, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    // source untouched
    QVERIFY(src.weight("model.layers.1.mlp.down_proj.weight").equal(before));
    QCOMPARE(src.namedTensors().size(), tensorsBefore);
    QVERIFY(!src.hasWeight("model.layers.0.self_attn.q_proj.bias"));
    // 28 Linear layers of 4 blocks, 50 % each, embeddings and head dense
    QCOMPARE(static_cast<int>(res->layers.size()), 28);
    QVERIFY(std::abs(res->sparsity - 0.5) < 1e-9);
    const auto& var = static_cast<const cs::detail::DecoderLM&>(*res->variant.impl());
    QVERIFY(var.weight("lm_head.weight").ne(0).all().item<bool>());
    QVERIFY(!res->siView.scoresBefore.empty() && res->siView.scoresBefore.size() == res->siView.scoresAfter.size());
    QCOMPARE(res->metrics["calibration"]["sequences"].get<int>(), 16);
    QVERIFY(res->metrics["calibration"]["source"] == "fortunes-train");
    // save and reopen: same logits, masks beside
    QTemporaryDir tmp;
    const std::string path = tmp.path().toStdString() + "/v.safetensors";
    QVERIFY(savePruned(*res, path).ok());
    QVERIFY(fs::exists(tmp.path().toStdString() + "/v.masks.safetensors"));
    auto re = cs::detail::loadDecoderLM(path);
    torch::NoGradGuard ng;
    auto tok = tokensFor(src, 1, 32, 9);
    QVERIFY(maxRel(re->forwardTokens(tok, {}), var.forwardTokens(tok, {})) < 1e-5);
    QVERIFY(re->properties.count("meta.pruning_recipe"));
  }

  void badParamsAndCancel() {
    auto model = openModel("lm-fortunes");
    QVERIFY2(model.ok(), model ? "" : model.error().message.c_str());  // committed zoo weights: must open
    auto tryRecipe = [&](const std::string& method, nlohmann::json params) {
      Recipe r;
      r.method = method;
      r.calibSamples = 2;
      r.params = std::move(params);
      PruneOptions o;
      o.calibLength = 16;
      o.evaluate = false;
      return prune(*model, r, o, nullJob());
    };
    auto e1 = tryRecipe("wanda", {{"sparsity", 1.5}});
    QVERIFY(!e1.ok() && e1.error().message.find("sparsity") != std::string::npos);
    auto e2 = tryRecipe("wanda", {{"pattern", "3:4"}});
    QVERIFY(!e2.ok() && e2.error().message.find("pattern") != std::string::npos);
    auto e3 = tryRecipe("wanda", {{"wbits", 4}});
    QVERIFY(!e3.ok() && e3.error().message.find("wbits") != std::string::npos);
    auto e4 = tryRecipe("obs", {});
    QVERIFY(!e4.ok() && e4.error().message.find("obs") != std::string::npos);
    // a pruning method through quantize() is refused with a clear message
    Recipe rq;
    rq.method = "wanda";
    auto q = quantize(*model, rq, {}, nullJob());
    QVERIFY(!q.ok() && q.error().message.find("pruning") != std::string::npos);
    // cancel at the first progress report
    JobContext job;
    job.setProgress([&job](double, const std::string&) { job.cancel(); });
    Recipe r;
    r.method = "sparsegpt";
    r.calibSamples = 4;
    PruneOptions o;
    o.calibLength = 32;
    o.evaluate = false;
    auto c = prune(*model, r, o, job);
    QVERIFY(!c.ok());
    QVERIFY(c.error().isCancelled());
  }

  void cliEndToEnd() {
    QVERIFY2(fs::exists(std::string(CS_BINARY_DIR) + "/app/cli/cstudio"), "cstudio is not built (the test depends on it)");
    auto model = openModel("lm-fortunes");
    QVERIFY2(model.ok(), model ? "" : model.error().message.c_str());  // committed zoo weights: must open
    QTemporaryDir tmp;
    const QString out = tmp.path() + "/w24.safetensors";
    QProcess p;
    p.start(QString(CS_BINARY_DIR) + "/app/cli/cstudio",
            {"prune", "lm-fortunes", "--method", "sparsegpt", "--pattern", "2:4", "--calib", "8", "--calib-len", "64",
             "--seed", "1", "--max-bytes", "4096", "--out", out, "--json"});
    QVERIFY(p.waitForFinished(120000));
    const auto err = p.readAllStandardError();
    QVERIFY2(p.exitCode() == 0, err.constData());
    auto j = nlohmann::json::parse(p.readAllStandardOutput().toStdString());
    const double dense = j["metrics"]["ppl"]["fortunes-heldout"]["dense"], pruned = j["metrics"]["ppl"]["fortunes-heldout"]["pruned"];
    qInfo("cstudio prune lm-fortunes sparsegpt 2:4: ppl dense %.3f pruned %.3f", dense, pruned);
    QVERIFY(dense > 1 && pruned > dense);
    QVERIFY(std::abs(j["metrics"]["sparsity"].get<double>() - 0.5) < 1e-9);
    QVERIFY(fs::exists(out.toStdString()));
    // bad input: error line names the problem, non-zero exit
    QProcess q;
    q.start(QString(CS_BINARY_DIR) + "/app/cli/cstudio", {"prune", tmp.path() + "/missing.safetensors", "--method", "wanda"});
    QVERIFY(q.waitForFinished(60000));
    QVERIFY(q.exitCode() != 0);
    QVERIFY(q.readAllStandardError().contains("missing.safetensors"));
  }
};

QTEST_GUILESS_MAIN(TestPrune)
#include "test_prune.moc"
