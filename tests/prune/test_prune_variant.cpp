// Saved pruned variants reopen through the normal model-open path: a stories260K
// (llama2.c .bin + BPE tok512.bin) variant carries its tokenizer in the safetensors
// metadata, so it reopens from a folder without tok512.bin with the same tokenizer and
// the same logits. Skips (saying why) when ../shared/data/weights/stories260K is absent.
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "compression/prune.h"
#include "engine/llm.h"
#include "engine/model.h"

namespace fs = std::filesystem;

namespace {
std::string storiesPath() {
  for (auto base : {fs::path(CS_SHARED_DIR), fs::path(CS_SOURCE_DIR) / ".." / "shared"}) {
    if (base.empty()) continue;
    auto p = base / "data/weights/stories260K/stories260K.bin";
    if (fs::exists(p)) return fs::canonical(p).string();
  }
  return {};
}
}  // namespace

class TestPruneVariant : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void stories260KVariantRoundTrip() {
    const auto src = storiesPath();
    if (src.empty()) QSKIP("../shared/data/weights/stories260K/stories260K.bin absent: stories260K round trip not run");
    auto model = cs::openModel(src);
    QVERIFY2(model.ok(), model.ok() ? "" : model.error().message.c_str());
    cs::Recipe recipe;
    recipe.method = "magnitude";
    recipe.params = {{"pattern", "2:4"}};
    recipe.calibSamples = 2;
    recipe.calibSeed = 0;
    cs::PruneOptions o;
    o.calibLength = 32;
    o.evaluate = false;
    auto r = cs::prune(*model, recipe, o, cs::nullJob());
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    // a folder with no tokenizer file in it
    const std::string out = (fs::path(dir_.path().toStdString()) / "stories-2of4.safetensors").string();
    QVERIFY(!fs::exists(fs::path(out).parent_path() / "tok512.bin"));
    auto st = cs::savePruned(*r, out);
    QVERIFY2(st.ok(), st.ok() ? "" : st.error().message.c_str());
    auto re = cs::LanguageModel::open(out);
    QVERIFY2(re.ok(), re.ok() ? "" : re.error().message.c_str());
    auto orig = cs::LanguageModel::fromModel(r->variant);
    QVERIFY(orig.ok());
    QCOMPARE(QString::fromStdString(re->tokenizer().kind()), QString("llama2c-bpe"));
    QCOMPARE(re->tokenizer().vocabSize(), 512);
    const std::string text = "Once upon a time, there was a little girl named Lily. She loved to play outside.";
    const auto ids = orig->tokenizer().encode(text, true);
    QVERIFY(ids.size() > 5 && ids.size() < text.size());  // BPE merges, not bytes
    QCOMPARE(re->tokenizer().encode(text, true), ids);
    QCOMPARE(re->tokenizer().decode(ids), orig->tokenizer().decode(ids));
    // same function: perplexity of the reopened variant equals the in-memory variant's
    cs::PerplexityOptions po;
    auto p0 = orig->perplexity(text, po);
    auto p1 = re->perplexity(text, po);
    QVERIFY(p0.ok() && p1.ok());
    qInfo("stories260K magnitude 2:4 variant: ppl in memory %.5f, reopened %.5f", p0->ppl, p1->ppl);
    QVERIFY(std::abs(p0->ppl - p1->ppl) <= 1e-4 * p0->ppl);
    // the masks sit beside it and the zeros are the pruned weights
    QVERIFY(fs::exists(fs::path(dir_.path().toStdString()) / "stories-2of4.masks.safetensors"));
    auto w = re->model().weight(r->layers.front().layer);
    QVERIFY(w.ok());
    int64_t zeros = 0;
    for (float v : w->values) zeros += v == 0.f;
    QCOMPARE(static_cast<double>(zeros) / static_cast<double>(w->values.size()), r->layers.front().sparsity);
  }

  void corruptEmbeddedTokenizerNamesTheFile() {
    // a studio file that says llama2c-bpe but has no tokenizer anywhere: a clear error
    const std::string src = storiesPath();
    if (src.empty()) QSKIP("../shared/data/weights/stories260K absent");
    const std::string out = (fs::path(dir_.path().toStdString()) / "stories-2of4.safetensors").string();
    QVERIFY2(fs::exists(out), "stories260KVariantRoundTrip did not write the variant this test corrupts");
    // rewrite the metadata value in place with the same length but invalid base64
    std::string bytes;
    {
      std::ifstream in(out, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    const std::string key = "\"tokenizer_llama2c\":\"";
    auto pos = bytes.find(key);
    QVERIFY(pos != std::string::npos);
    bytes[pos + key.size()] = '!';
    const std::string bad = (fs::path(dir_.path().toStdString()) / "bad.safetensors").string();
    {
      std::ofstream o(bad, std::ios::binary);
      o << bytes;
    }
    auto re = cs::openModel(bad);
    QVERIFY(!re.ok());
    QVERIFY2(re.error().message.find("bad.safetensors") != std::string::npos, re.error().message.c_str());
    QVERIFY2(re.error().message.find("tokenizer_llama2c") != std::string::npos, re.error().message.c_str());
  }
};

QTEST_GUILESS_MAIN(TestPruneVariant)
#include "test_prune_variant.moc"
