// Decoder LMs: HF fixtures reproduce reference logits and hidden states, stories260K
// reproduces its greedy text and NLL, tokenizers round-trip, the KV cache changes
// nothing, and corrupt inputs give errors naming the file.
#include <torch/torch.h>
// Qt after torch (and QT_NO_KEYWORDS) so that Qt's macros never reach torch headers.
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "engine/llm.h"
#include "engine/torch/llm_impl.h"
#include "engine/torch/tensors.h"

namespace fs = std::filesystem;
using namespace cs;

namespace {
const std::string kShared = CS_SHARED_DIR;
bool haveShared() { return fs::exists(kShared + "/fixtures") && fs::exists(kShared + "/data"); }

double relErr(const torch::Tensor& out, const torch::Tensor& ref) {
  return (out - ref).abs().max().item<double>() / ref.abs().max().item<double>();
}

std::string readAll(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeAll(const std::string& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
}  // namespace

#define NEED_SHARED()                                                    \
  if (!haveShared()) QSKIP("fixtures/data: ../shared absent");

class TestLlm : public QObject {
  Q_OBJECT
 private:
  void parity(const std::string& name, const std::string& family) {
    NEED_SHARED();
    const auto dir = kShared + "/fixtures/" + name;
    auto lm = cs::detail::loadDecoderLM(dir);
    QCOMPARE(lm->family(), family);
    auto ref = cs::detail::readSafeTensors(dir + "/reference.safetensors");
    QVERIFY2(ref.ok(), ref.ok() ? "" : ref.error().message.c_str());
    c10::InferenceMode g;
    std::vector<torch::Tensor> hidden;
    cs::detail::ForwardCtx ctx;
    auto logits = lm->forwardTokens(ref->get("input_ids"), ctx, nullptr, &hidden);
    QCOMPARE(static_cast<int>(hidden.size()), 4);
    const char* names[] = {"hidden.embeddings", "hidden.layer0", "hidden.layer1", "hidden.final_norm"};
    for (int i = 0; i < 4; ++i) {
      double e = relErr(hidden[i], ref->get(names[i]));
      qInfo("%s %s: %.3g", name.c_str(), names[i], e);
      QVERIFY2(e <= 1e-4, names[i]);
    }
    double e = relErr(logits, ref->get("logits"));
    qInfo("%s logits: %.3g", name.c_str(), e);
    QVERIFY(e <= 1e-4);
    // KV cache: token-by-token logits equal the full forward.
    cs::detail::KvCache cache;
    auto ids = ref->get("input_ids");
    std::vector<torch::Tensor> steps;
    for (int64_t t = 0; t < ids.size(1); ++t) steps.push_back(lm->forwardTokens(ids.narrow(1, t, 1), ctx, &cache));
    QVERIFY(relErr(torch::cat(steps, 1), logits) <= 1e-5);
  }

 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(2); }

  void llamaTiny() { parity("llama_tiny", "llama"); }
  void optTiny() { parity("opt_tiny", "opt"); }

  void llamaOlderConfigKeys() {
    NEED_SHARED();
    QTemporaryDir tmp;
    const std::string d = tmp.path().toStdString();
    auto cfg = readAll(kShared + "/fixtures/llama_tiny/config.json");
    auto rp = cfg.find("\"rope_parameters\"");
    auto close = cfg.find('}', rp);
    cfg.replace(rp, close - rp + 1, "\"rope_theta\": 10000.0, \"rope_scaling\": null");
    cfg.replace(cfg.find("\"dtype\""), 7, "\"torch_dtype\"");
    writeAll(d + "/config.json", cfg);
    fs::copy_file(kShared + "/fixtures/llama_tiny/model.safetensors", d + "/model.safetensors");
    auto lm = cs::detail::loadDecoderLM(d);
    auto ref = cs::detail::readSafeTensors(kShared + "/fixtures/llama_tiny/reference.safetensors");
    c10::InferenceMode g;
    QVERIFY(relErr(lm->forwardTokens(ref->get("input_ids"), {}), ref->get("logits")) <= 1e-4);
    // A non-default rope type is refused with the file named.
    auto bad = cfg;
    bad.replace(bad.find("\"rope_scaling\": null"), 20, "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 2}");
    writeAll(d + "/config.json", bad);
    auto r = LanguageModel::open(d);
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find("config.json") != std::string::npos, r.error().message.c_str());
  }

  void optBareAndShardedCheckpoint() {
    NEED_SHARED();
    QTemporaryDir tmp;
    const std::string d = tmp.path().toStdString();
    fs::copy_file(kShared + "/fixtures/opt_tiny/config.json", d + "/config.json");
    auto st = cs::detail::readSafeTensors(kShared + "/fixtures/opt_tiny/model.safetensors");
    QVERIFY(st.ok());
    // Two shards, names without the leading "model." (as saved from the bare OPTModel).
    std::vector<std::pair<std::string, torch::Tensor>> a, b;
    std::string map;
    for (size_t i = 0; i < st->tensors.size(); ++i) {
      auto n = st->tensors[i].first;
      if (n.rfind("model.", 0) == 0) n = n.substr(6);
      const char* shard = i % 2 ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
      (i % 2 ? b : a).emplace_back(n, st->tensors[i].second);
      map += std::string(map.empty() ? "" : ",") + "\"" + n + "\":\"" + shard + "\"";
    }
    QVERIFY(cs::detail::writeSafeTensors(d + "/model-00001-of-00002.safetensors", a).ok());
    QVERIFY(cs::detail::writeSafeTensors(d + "/model-00002-of-00002.safetensors", b).ok());
    writeAll(d + "/model.safetensors.index.json", "{\"metadata\":{},\"weight_map\":{" + map + "}}");
    auto lm = cs::detail::loadDecoderLM(d);
    auto ref = cs::detail::readSafeTensors(kShared + "/fixtures/opt_tiny/reference.safetensors");
    c10::InferenceMode g;
    QVERIFY(relErr(lm->forwardTokens(ref->get("input_ids"), {}), ref->get("logits")) <= 1e-4);
  }

  void layersAndTaps() {
    NEED_SHARED();
    auto r = LanguageModel::open(kShared + "/fixtures/llama_tiny");
    QVERIFY(r.ok());
    const auto layers = r->model().layers();
    int quantizable = 0;
    bool sawQ = false;
    for (const auto& l : layers) {
      quantizable += l.quantizable;
      if (l.name == "model.layers.0.self_attn.q_proj") {
        sawQ = true;
        QCOMPARE(l.type, std::string("Linear"));
        QCOMPARE(l.weightShape, (std::vector<int64_t>{64, 64}));
      }
    }
    QVERIFY(sawQ);
    QCOMPARE(quantizable, 2 * 7 + 1);
    QCOMPARE(r->model().task(), Task::LanguageModel);
    std::set<std::string> seen;
    cs::detail::TapObserver obs = [&](const std::string& p, cs::detail::TapKind k, const torch::Tensor& x) {
      if (k == cs::detail::TapKind::LayerInput) seen.insert(p);
      return x;
    };
    c10::InferenceMode g;
    r->model().impl()->run(torch::tensor({1, 2, 3}, torch::kLong), &obs);
    QCOMPARE(static_cast<int>(seen.size()), quantizable);
    QVERIFY(seen.count("model.layers.1.mlp.down_proj"));
    // Clones are deep.
    auto c = r->model().impl()->clone();
    QVERIFY(c->namedTensors()[0].second.data_ptr() != r->model().impl()->namedTensors()[0].second.data_ptr());
  }

  void stories260kGreedy() {
    NEED_SHARED();
    const auto dir = kShared + "/data/weights/stories260K";
    auto lm = LanguageModel::open(dir + "/stories260K.bin");
    QVERIFY2(lm.ok(), lm.ok() ? "" : lm.error().message.c_str());
    GenerateOptions o;
    o.steps = 200;
    auto r = lm->generate(o);
    QVERIFY(r.ok());
    auto expected = readAll(dir + "/expected_greedy_200.txt");
    if (!expected.empty() && expected.back() == '\n') expected.pop_back();
    QCOMPARE(r->text, expected);
  }

  void stories260kNll() {
    NEED_SHARED();
    auto lm = LanguageModel::open(kShared + "/data/weights/stories260K/stories260K.bin");
    QVERIFY(lm.ok());
    PerplexityOptions o;
    o.separator = "<|endoftext|>";
    o.truncate = true;
    o.context = 512;
    auto r = lm->perplexityFile(kShared + "/data/text/tinystories_sample.txt", o);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    qInfo("stories260K: mean NLL %.4f nats/token over %lld tokens, %d documents", r->meanNll,
          static_cast<long long>(r->tokens), r->documents);
    QCOMPARE(r->documents, 5);
    QVERIFY(std::abs(r->meanNll - 1.266) < 0.005);
  }

  void kvCacheSamplingEqualsNoCache() {
    NEED_SHARED();
    auto lm = LanguageModel::open(kShared + "/data/weights/stories260K/stories260K.bin");
    QVERIFY(lm.ok());
    GenerateOptions o;
    o.prompt = "Once upon a time";
    o.steps = 80;
    o.temperature = 0.9;
    o.topK = 40;
    o.seed = 3;
    auto a = lm->generate(o);
    o.useCache = false;
    auto b = lm->generate(o);
    QVERIFY(a.ok() && b.ok());
    QCOMPARE(a->tokens, b->tokens);
    QVERIFY(a->generatedTokens > 20);
  }

  void agreementWithReference() {
    NEED_SHARED();
    auto lm = LanguageModel::open(kShared + "/data/weights/stories260K/stories260K.bin");
    QVERIFY(lm.ok());
    const std::string text = "Once upon a time, there was a little girl named Lily. She loved to play outside.";
    auto same = lm->agreement(*lm, text, {});
    QVERIFY(same.ok());
    QCOMPARE(same->top1, 1.0);
    QVERIFY(std::abs(same->meanKl) < 1e-6);
    // A perturbed clone (as compression would make) agrees less.
    auto c = lm->model().impl()->clone();
    {
      torch::NoGradGuard ng;
      for (auto& [n, t] : c->namedTensors())
        if (n.find("q_proj") != std::string::npos || n.find("down_proj") != std::string::npos)
          t.add_(torch::randn(t.sizes()) * t.abs().mean() * 2);
    }
    auto variant = LanguageModel::fromModel(Model(std::shared_ptr<const cs::detail::ModelImpl>(c)));
    QVERIFY(variant.ok());
    auto diff = variant->agreement(*lm, text, {});
    QVERIFY(diff.ok());
    QVERIFY(diff->top1 < 1.0);
    QVERIFY(diff->meanKl > 1e-3);
  }

  void tokenizers() {
    auto bt = makeByteTokenizer(256, 257, 258);
    const std::string s = "caf\xc3\xa9 \xe2\x82\xac\n%";
    auto ids = bt->encode(s, true);
    QCOMPARE(ids.front(), 256);
    QCOMPARE(bt->decode(ids), s);
    NEED_SHARED();
    auto tok = loadLlama2cTokenizer(kShared + "/data/weights/stories260K/tok512.bin", 512);
    QVERIFY(tok.ok());
    auto text = readAll(kShared + "/data/text/tinystories_sample.txt");
    text = text.substr(1, 600);
    auto t = tok.value()->encode(text, true);
    QCOMPARE(t[0], 1);
    QVERIFY(t.size() < text.size());
    QCOMPARE(tok.value()->decode(t), text);
    // Bytes outside the vocabulary use byte fallback (id = byte + 3).
    auto u = tok.value()->encode("\xe2\x82\xac", false);
    QCOMPARE(tok.value()->decode(u), std::string(" \xe2\x82\xac"));
  }

  void bpeEncodeMatchesNaiveMerges() {
    // The heap-based merge loop must give exactly llama2.c's naive result (rescan all
    // pairs, merge the best score, leftmost on ties). Reference written here from tok512.bin.
    NEED_SHARED();
    const std::string tokPath = kShared + "/data/weights/stories260K/tok512.bin";
    std::ifstream f(tokPath, std::ios::binary);
    QVERIFY(f.good());
    int maxLen = 0;
    f.read(reinterpret_cast<char*>(&maxLen), 4);
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::unordered_map<std::string, int> lookup;
    for (int i = 0; i < 512; ++i) {
      float sc = 0;
      int len = 0;
      f.read(reinterpret_cast<char*>(&sc), 4);
      f.read(reinterpret_cast<char*>(&len), 4);
      std::string p(static_cast<size_t>(len), '\0');
      f.read(p.data(), len);
      pieces.push_back(p);
      scores.push_back(sc);
      lookup.emplace(p, i);
    }
    QVERIFY(f.good());
    auto find = [&](const std::string& p) {
      auto it = lookup.find(p);
      return it == lookup.end() ? -1 : it->second;
    };
    auto naive = [&](const std::string& text) {
      std::vector<int> t{1};
      if (!text.empty()) t.push_back(find(" "));
      std::string cp;
      auto flush = [&] {
        if (cp.empty()) return;
        const int id = find(cp);
        if (id >= 0) t.push_back(id);
        else
          for (unsigned char c : cp) t.push_back(c + 3);
        cp.clear();
      };
      for (unsigned char c : text) {
        if ((c & 0xC0) != 0x80) flush();
        cp.push_back(static_cast<char>(c));
        if (cp.size() >= 4) flush();
      }
      flush();
      while (true) {
        float best = -1e10f;
        int bestId = -1;
        size_t at = 0;
        for (size_t i = 0; i + 1 < t.size(); ++i) {
          const int id = find(pieces[t[i]] + pieces[t[i + 1]]);
          if (id >= 0 && scores[id] > best) {
            best = scores[id];
            bestId = id;
            at = i;
          }
        }
        if (bestId < 0) break;
        t[at] = bestId;
        t.erase(t.begin() + static_cast<long>(at) + 1);
      }
      return t;
    };
    auto tok = loadLlama2cTokenizer(tokPath, 512);
    QVERIFY(tok.ok());
    const std::vector<std::string> texts = {readAll(kShared + "/data/text/tinystories_sample.txt").substr(0, 3000),
                                            readAll(kShared + "/data/text/tinyshakespeare.txt").substr(0, 3000),
                                            "caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac 3.14 aaaa    bbbb\n\n\tx", " ", "a"};
    for (const auto& text : texts) QCOMPARE(tok.value()->encode(text, true), naive(text));
  }

  void corruptInputsNameTheFile() {
    QTemporaryDir tmp;
    const std::string d = tmp.path().toStdString();
    // Broken config.json
    fs::create_directories(d + "/hf");
    writeAll(d + "/hf/config.json", "{\"model_type\": \"llama\", \"hidden_size\": ");
    auto r = LanguageModel::open(d + "/hf");
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find("hf/config.json") != std::string::npos, r.error().message.c_str());
    // Unsupported architecture
    writeAll(d + "/hf/config.json", "{\"model_type\": \"gpt2\"}");
    r = LanguageModel::open(d + "/hf");
    QVERIFY(!r.ok() && r.error().message.find("gpt2") != std::string::npos);
    // Truncated llama2.c checkpoint
    fs::create_directories(d + "/l2c");
    int32_t h[7] = {64, 172, 5, 8, 4, 512, 512};
    std::string bin(reinterpret_cast<char*>(h), sizeof h);
    bin += std::string(1000, '\0');
    writeAll(d + "/l2c/model.bin", bin);
    r = LanguageModel::open(d + "/l2c/model.bin");
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find("l2c/model.bin") != std::string::npos, r.error().message.c_str());
    if (!haveShared()) return;
    // Valid config, truncated weights.
    fs::copy_file(kShared + "/fixtures/llama_tiny/config.json", d + "/hf/config.json",
                  fs::copy_options::overwrite_existing);
    auto w = readAll(kShared + "/fixtures/llama_tiny/model.safetensors");
    writeAll(d + "/hf/model.safetensors", w.substr(0, w.size() / 2));
    r = LanguageModel::open(d + "/hf");
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find("model.safetensors") != std::string::npos, r.error().message.c_str());
    // A tensor missing: the error names it.
    auto st = cs::detail::readSafeTensors(kShared + "/fixtures/llama_tiny/model.safetensors");
    auto ts = st->tensors;
    ts.erase(ts.begin() + 3);
    QVERIFY(cs::detail::writeSafeTensors(d + "/hf/model.safetensors", ts).ok());
    r = LanguageModel::open(d + "/hf");
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find(st->tensors[3].first) != std::string::npos, r.error().message.c_str());
  }

  void trainingIsDeterministic() {
    if (!fs::exists("/usr/share/games/fortunes/fortunes")) QSKIP("Debian's fortunes package is not installed");
    QTemporaryDir tmp;
    TrainLmOptions o;
    o.dim = 32;
    o.layers = 1;
    o.heads = 2;
    o.hidden = 64;
    o.context = 32;
    o.batch = 2;
    o.steps = 3;
    o.warmup = 1;
    o.seed = 5;
    o.evaluate = false;
    std::string w[2];
    for (int i = 0; i < 2; ++i) {
      o.outDir = tmp.path().toStdString() + "/run" + std::to_string(i);
      auto r = trainLmFortunes(o, nullJob());
      QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
      w[i] = readAll(r.value());
    }
    QVERIFY(!w[0].empty());
    QVERIFY(w[0] == w[1]);
    auto corpus = loadFortunesCorpus();
    QVERIFY(corpus.ok());
    QVERIFY(corpus->heldOut.size() * 19 <= corpus->train.size() + 19 && !corpus->heldOut.empty());
  }

  void zooModelThroughOpenModel() {
    auto m = openModel("lm-fortunes");
    if (!m.ok()) QSKIP("lm-fortunes not in the zoo");
    auto lm = LanguageModel::fromModel(m.value());
    QVERIFY(lm.ok());
    QCOMPARE(m->task(), Task::LanguageModel);
    QCOMPARE(m->parameterCount(), static_cast<int64_t>(870016));
  }

  void zooModelIfTrained() {
    const std::string w = std::string(CS_SOURCE_DIR) + "/resources/zoo/lm-fortunes/model.safetensors";
    if (!fs::exists(w)) QSKIP("lm-fortunes not trained yet");
    auto lm = LanguageModel::open(w);
    QVERIFY2(lm.ok(), lm.ok() ? "" : lm.error().message.c_str());
    QCOMPARE(lm->tokenizer().kind(), std::string("bytes"));
    GenerateOptions o;
    o.prompt = "The";
    o.steps = 40;
    auto r = lm->generate(o);
    QVERIFY(r.ok());
    QVERIFY(!r->text.empty());
    PerplexityOptions p;
    auto ppl = lm->perplexity("Q: Why did the chicken cross the road?\nA: To get to the other side.", p);
    QVERIFY(ppl.ok() && ppl->ppl < 20);
  }
};

QTEST_GUILESS_MAIN(TestLlm)
#include "test_llm.moc"
