// Quantization plan: glob / regex / op-type precedence and default exclusions on
// vit-fmnist's layer list, clear errors for a bad regex and bad fields, and RTN
// honouring a plan (per-layer bits, FP exclusions, log2 softmax).
#include <torch/torch.h>

#include <QtTest/QtTest>

#include "compression/quant_plan.h"
#include "compression/quantize.h"
#include "engine/torch/model_impl.h"
#include "engine/torch/tensors.h"

using namespace cs;

class TestPlan : public QObject {
  Q_OBJECT
  Model model;

  ResolvedPlan resolve(const nlohmann::json& j) {
    auto p = QuantPlan::fromJson(j);
    if (!p) qFatal("%s", p.error().message.c_str());
    auto r = resolvePlan(model, *p);
    if (!r) qFatal("%s", r.error().message.c_str());
    return *r;
  }

 private Q_SLOTS:
  void initTestCase() {
    auto zoo = openModel("vit-fmnist");
    QVERIFY2(zoo.ok(), zoo.ok() ? "" : zoo.error().message.c_str());
    model = *zoo;
  }
  void defaultsAndExclusions() {
    auto r = resolve(nlohmann::json::object());
    // Every quantizable layer has a weight and an input decision; attention has softmax/matmuls; norms an output.
    QVERIFY(r.find("blocks.0.attn.qkv.weight") && r.find("blocks.0.attn.qkv:input"));
    QVERIFY(r.find("blocks.0.attn.softmax") && r.find("blocks.0.attn.matmul_qk") && r.find("blocks.0.norm1:output"));
    auto* w = r.find("blocks.1.mlp.fc1.weight");
    QVERIFY(w->quantize && w->q.bits == 8 && w->q.symmetric && w->q.granularity == "per-channel");
    QCOMPARE(w->decidedBy, std::string("default"));
    auto* in = r.find("blocks.1.mlp.fc1:input");
    QVERIFY(in->quantize && !in->q.symmetric && in->q.granularity == "per-tensor");
    // Embedding (patch_embed.proj) and head are excluded by default; softmax/norm/matmul default to FP.
    QVERIFY(!r.find("patch_embed.proj.weight")->quantize);
    QCOMPARE(r.find("patch_embed.proj.weight")->decidedBy, std::string("exclusion: embeddings"));
    QVERIFY(!r.find("head.weight")->quantize);
    QCOMPARE(r.find("head:input")->decidedBy, std::string("exclusion: head"));
    QVERIFY(!r.find("blocks.0.attn.softmax")->quantize);
    // Exclusions are configurable; first/last apply to the first and last quantizable layer.
    auto r2 = resolve({{"exclude", {{"embeddings", false}, {"head", false}, {"first", true}, {"last", false}}}});
    QCOMPARE(r2.find("patch_embed.proj.weight")->decidedBy, std::string("exclusion: first layer"));
    QVERIFY(r2.find("head.weight")->quantize);
    auto r3 = resolve({{"exclude", {{"embeddings", false}, {"head", false}, {"last", true}}}});
    QVERIFY(r3.find("patch_embed.proj.weight")->quantize);
    QCOMPARE(r3.find("head.weight")->decidedBy, std::string("exclusion: last layer"));
  }
  void precedence() {
    nlohmann::json plan = {
        {"defaults", {{"softmax", {{"bits", 4}, {"range", "log-sqrt2"}}}}},
        {"rules",
         {
             {{"name", "linear-w6"}, {"op", "Linear"}, {"target", "weight"}, {"quantizer", {{"bits", 6}}}},
             {{"name", "attn-w4"}, {"match", "blocks.*.attn.*"}, {"target", "weight"}, {"quantizer", {{"bits", 4}}}},
             {{"name", "op-after-named"}, {"op", "Linear"}, {"target", "weight"}, {"quantizer", {{"bits", 5}}}},
             {{"name", "first-blocks-a6"}, {"regex", "blocks\\.[01]\\.mlp\\.fc[12]"}, {"target", "input"},
              {"quantizer", {{"bits", 6}, {"granularity", "per-token"}}}},
             {{"name", "keep-last-block"}, {"match", "blocks.3.*"}, {"fp", true}},
             {{"name", "head-back"}, {"match", "head"}, {"op", "Linear"}, {"target", "weight"}},
         }}};
    auto r = resolve(plan);
    // Named rules beat op-type rules even when the op-type rule comes later.
    QCOMPARE(r.find("blocks.0.attn.qkv.weight")->q.bits, 4);
    QCOMPARE(r.find("blocks.0.attn.qkv.weight")->decidedBy, std::string("rule 2 (attn-w4)"));
    // Among op-type rules, the later wins.
    QCOMPARE(r.find("blocks.0.mlp.fc1.weight")->q.bits, 5);
    QCOMPARE(r.find("blocks.0.mlp.fc1.weight")->decidedBy, std::string("rule 3 (op-after-named)"));
    // Op type must match: the conv is not a Linear (and is excluded anyway).
    QVERIFY(!r.find("patch_embed.proj.weight")->quantize);
    // Regex on the whole name, with fields merged over the target default.
    auto* in = r.find("blocks.1.mlp.fc2:input");
    QVERIFY(in->quantize && in->q.bits == 6 && in->q.granularity == "per-token" && !in->q.symmetric);
    QCOMPARE(r.find("blocks.2.mlp.fc2:input")->q.bits, 8);
    QCOMPARE(r.find("blocks.1.mlp.fc2.weight")->q.bits, 5);  // regex rule targets inputs only
    // A later named rule keeps a whole block FP, every target.
    for (auto t : {"blocks.3.attn.qkv.weight", "blocks.3.attn.qkv:input", "blocks.3.attn.softmax"})
      QVERIFY2(!r.find(t)->quantize && r.find(t)->decidedBy == "rule 5 (keep-last-block)", t);
    // Softmax default applies elsewhere.
    auto* sm = r.find("blocks.0.attn.softmax");
    QVERIFY(sm->quantize && sm->q.range == "log-sqrt2" && sm->q.bits == 4);
    // A named rule re-includes the excluded head (with the weight default); op-type rules did not.
    QVERIFY(r.find("head.weight")->quantize);
    QCOMPARE(r.find("head.weight")->q.bits, 8);
    QVERIFY(!r.find("head:input")->quantize);
  }
  void badInputsGiveClearErrors() {
    auto bad = QuantPlan::fromJson({{"rules", {{{"name", "oops"}, {"regex", "blocks\\.[0-"}, {"target", "weight"}}}}}, "p.json");
    QVERIFY(!bad.ok());
    QVERIFY2(bad.error().message.find("p.json") != std::string::npos &&
                 bad.error().message.find("bad regex 'blocks\\.[0-'") != std::string::npos &&
                 bad.error().message.find("oops") != std::string::npos,
             bad.error().message.c_str());
    auto bits = QuantPlan::fromJson({{"rules", {{{"op", "Linear"}, {"quantizer", {{"bits", 1}}}}}}});
    QVERIFY(!bits.ok() && bits.error().message.find("bits must be in [2, 16]") != std::string::npos);
    auto target = QuantPlan::fromJson({{"rules", {{{"op", "Linear"}, {"target", "weights"}}}}});
    QVERIFY(!target.ok() && target.error().message.find("unknown target 'weights'") != std::string::npos);
    auto none = QuantPlan::fromJson({{"rules", {{{"target", "weight"}}}}});
    QVERIFY(!none.ok() && none.error().message.find("selects nothing") != std::string::npos);
    auto key = QuantPlan::fromJson({{"rulez", nlohmann::json::array()}});
    QVERIFY(!key.ok() && key.error().message.find("unknown field 'rulez'") != std::string::npos);
    auto file = QuantPlan::fromFile("/nonexistent/plan.json");
    QVERIFY(!file.ok() && file.error().message.find("/nonexistent/plan.json") != std::string::npos);
  }
  void rtnHonoursPlan() {
    if (!cs::detail::fashionMnistTensors("test").ok()) QSKIP("Fashion-MNIST not installed (Debian dataset-fashion-mnist)");
    nlohmann::json plan = {
        {"defaults", {{"softmax", {{"bits", 4}, {"range", "log2"}}}}},
        {"rules", {{{"match", "blocks.0.*"}, {"target", "weight"}, {"quantizer", {{"bits", 4}}}},
                   {{"match", "blocks.3.mlp.*"}, {"fp", true}}}}};
    Recipe r;
    r.method = "rtn";
    r.params = {{"plan", plan}};
    r.calibSamples = 32;
    QuantizeOptions o;
    o.evaluate = false;
    auto res = quantize(model, r, o, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    std::map<std::string, LayerQuantReport> by;
    for (auto& l : res->layers) by[l.layer] = l;
    QCOMPARE(by["blocks.0.attn.qkv"].wbits, 4);
    QCOMPARE(by["blocks.1.attn.qkv"].wbits, 8);
    QCOMPARE(by["blocks.1.attn.qkv"].abits, 8);
    QCOMPARE(by["blocks.3.mlp.fc1"].wbits, 0);
    QCOMPARE(by["blocks.3.mlp.fc1"].abits, 0);
    QCOMPARE(by["head"].wbits, 0);  // default exclusion
    // Weights: 4-bit symmetric per channel in block 0 (<= 15 levels a row), untouched where FP.
    auto w0 = res->variant.weight("blocks.0.attn.qkv");
    std::set<float> row(w0->values.begin(), w0->values.begin() + w0->shape[1]);
    QVERIFY(row.size() <= 15);
    QCOMPARE(res->variant.weight("blocks.3.mlp.fc1")->values, model.weight("blocks.3.mlp.fc1")->values);
    QCOMPARE(res->variant.weight("head")->values, model.weight("head")->values);
    // log2 softmax and layer-input quantizers are attached; none for FP layers.
    const auto& tf = res->variant.impl()->inputTransforms;
    QVERIFY(tf.count("blocks.0.attn.softmax") && tf.count("blocks.1.attn.qkv") && !tf.count("blocks.3.mlp.fc1"));
    QVERIFY(res->recipe.params.contains("plan"));
    // Methods that do not honour a plan refuse one.
    Recipe p;
    p.method = "percentile";
    p.params = {{"plan", plan}};
    auto no = quantize(model, p, o, nullJob());
    QVERIFY(!no.ok() && no.error().message.find("does not honour a quantization plan") != std::string::npos);
  }
};

QTEST_GUILESS_MAIN(TestPlan)
#include "test_plan.moc"
