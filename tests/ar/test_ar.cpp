// Tests of the autoregressive image family (engine/torch/ar.h): VQ-VAE shapes and code
// indexing, KV-cache sampling equals full recompute, CFG at guidance 1 equals the
// conditional logits, seeded sampling (batch-independent), the zoo's ar-fmnist (layer
// tree, taps, short generation), corrupt/missing weights, and `cstudio generate`.
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/diffusion.h"
#include "engine/model.h"
#include "engine/torch/ar.h"

using namespace cs;
using namespace cs::detail;

namespace {
// A tiny transformer with every weight random (adaLN and head included, which
// initRandom zeroes), so that conditioning, cache and guidance all matter.
ArTransformer tinyAr() {
  ArConfig c;
  c.vocab = 16;
  c.seqLen = 9;
  c.dim = 32;
  c.depth = 2;
  c.heads = 4;
  c.condDim = 8;
  c.classes = 3;
  ArTransformer m(c);
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(7);
  for (auto& n : m.table().order)
    if (!m.table().buffers.count(n)) m.table().p[n].normal_(0.0, 0.3, gen);
  return m;
}

double maxDiff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  if (a.size() != b.size()) return 1e9;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, (a[i] - b[i]).abs().max().item<double>());
  return d;
}

std::string readFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
}  // namespace

class TestAr : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void vqShapesAndCodes() {
    VqVae vq(VqConfig{});
    vq.initRandom(3);
    torch::NoGradGuard ng;
    auto x = torch::rand({2, 1, 28, 28}) * 2 - 1;
    auto ze = vq.encode(x, {});
    QCOMPARE(ze.sizes().vec(), (std::vector<int64_t>{2, 32, 7, 7}));
    auto codes = vq.nearestCodes(ze);
    QCOMPARE(codes.sizes().vec(), (std::vector<int64_t>{2, 7, 7}));
    QVERIFY(codes.min().item<int64_t>() >= 0 && codes.max().item<int64_t>() < 256);
    // Each code is the nearest codebook row of its latent vector, and codeVectors reads that row.
    const auto& E = vq.table().at("codebook.embed");
    auto z = ze[1].select(1, 4).select(1, 2);  // latent at (4, 2) of image 1
    const int64_t c = codes[1][4][2].item<int64_t>();
    QCOMPARE((E - z.unsqueeze(0)).pow(2).sum(1).argmin().item<int64_t>(), c);
    auto zq = vq.codeVectors(codes);
    QVERIFY(torch::equal(zq[1].select(1, 4).select(1, 2), E[c]));
    auto rec = vq.decodeCodes(codes, {});
    QCOMPARE(rec.sizes().vec(), (std::vector<int64_t>{2, 1, 28, 28}));
    QVERIFY(torch::allclose(vq.forward(x, {}), rec));
  }

  void kvCacheEqualsFullRecompute() {
    auto m = tinyAr();
    torch::InferenceMode im;
    ArSampleOptions o;
    o.guidance = 2.5;
    o.temperature = 1.0;
    o.sampleSeeds = {1, 2, 3};
    std::vector<torch::Tensor> a, b;
    o.logitsTrace = &a;
    auto labels = torch::tensor(std::vector<int64_t>{0, 2, 3}, torch::kLong);  // 3: the null class
    auto c1 = sampleArCodes(m, labels, o);
    o.useCache = false;
    o.logitsTrace = &b;
    auto c2 = sampleArCodes(m, labels, o);
    QCOMPARE(int(a.size()), 9);
    const double d = maxDiff(a, b);
    QVERIFY2(d < 1e-4, std::to_string(d).c_str());
    QVERIFY(torch::equal(c1, c2));
    // The teacher-forced logits of the sampled sequence are the ones the sampler saw
    // (conditional pass only: guidance 1).
    ArSampleOptions g1;
    g1.guidance = 1.0;
    g1.sampleSeeds = {4, 5, 6};
    std::vector<torch::Tensor> tr;
    g1.logitsTrace = &tr;
    auto codes = sampleArCodes(m, labels, g1);
    auto full = m.logits(labels, codes.slice(1, 0, 8), {});
    double worst = 0;
    for (int t = 0; t < 9; ++t) worst = std::max(worst, (full.select(1, t) - tr[size_t(t)]).abs().max().item<double>());
    QVERIFY2(worst < 1e-4, std::to_string(worst).c_str());
  }

  void guidanceOneIsConditional() {
    auto m = tinyAr();
    torch::InferenceMode im;
    auto labels = torch::tensor(std::vector<int64_t>{1, 0}, torch::kLong);
    ArSampleOptions o;
    o.guidance = 1.0;
    o.sampleSeeds = {10, 11};
    std::vector<torch::Tensor> cond, batched, guided;
    o.logitsTrace = &cond;
    auto c1 = sampleArCodes(m, labels, o);
    o.alwaysBatchUncond = true;  // conditional and unconditional passes batched together
    o.logitsTrace = &batched;
    auto c2 = sampleArCodes(m, labels, o);
    const double d = maxDiff(cond, batched);
    QVERIFY2(d < 1e-5, std::to_string(d).c_str());
    QVERIFY(torch::equal(c1, c2));
    // Guidance really changes the logits (the unconditional pass differs).
    o.guidance = 3.0;
    o.logitsTrace = &guided;
    sampleArCodes(m, labels, o);
    QVERIFY(maxDiff(cond, guided) > 1e-3);
  }

  void seededAndBatchIndependent() {
    auto m = tinyAr();
    torch::InferenceMode im;
    ArSampleOptions o;
    o.guidance = 2.0;
    o.topK = 5;
    o.temperature = 0.9;
    o.sampleSeeds = {21, 22, 23, 24};
    auto labels = torch::tensor(std::vector<int64_t>{0, 1, 2, 1}, torch::kLong);
    auto a = sampleArCodes(m, labels, o), b = sampleArCodes(m, labels, o);
    QVERIFY(torch::equal(a, b));
    o.sampleSeeds = {23};
    auto one = sampleArCodes(m, labels.slice(0, 2, 3), o);
    QVERIFY(torch::equal(one[0], a[2]));
    o.sampleSeeds = {99, 22, 23, 24};
    auto c = sampleArCodes(m, labels, o);
    QVERIFY(!torch::equal(c[0], a[0]));
    QVERIFY(torch::equal(c.slice(0, 1, 4), a.slice(0, 1, 4)));
    // Top-k 1 is greedy.
    o.topK = 1;
    o.sampleSeeds = {1, 2, 3, 4};
    auto k1 = sampleArCodes(m, labels, o);
    o.temperature = 0;
    o.topK = 0;
    QVERIFY(torch::equal(k1, sampleArCodes(m, labels, o)));
  }

  void zooModelOpensAndGenerates() {
    auto m = openModel("ar-fmnist");
    QVERIFY2(m.ok(), m.ok() ? "" : m.error().message.c_str());
    QCOMPARE(int(m->task()), int(Task::ImageGeneration));
    QCOMPARE(m->family(), std::string("ar-image"));
    QCOMPARE(diffusionClassCount(*m), 10);
    std::set<std::string> quantizable;
    bool adaLN = false, vqConv = false;
    for (auto& l : m->layers()) {
      if (l.quantizable) quantizable.insert(l.name);
      adaLN |= l.name == "blocks.0.adaLN.linear" && l.type == "Linear" && l.quantizable &&
               l.weightShape == std::vector<int64_t>{6 * 192, 96};
      vqConv |= l.name == "vq.enc.conv_in" && l.type == "Conv2d";
    }
    QVERIFY(adaLN);
    QVERIFY(vqConv);
    QVERIFY(m->weight("blocks.5.mlp.fc2").ok());
    QVERIFY(m->weight("vq.dec.up1").ok());
    // Every Linear/Conv input goes through a tap: transformer and VQ encoder via forward(),
    // the VQ decoder via decodeCodes.
    const auto* impl = dynamic_cast<const ArImageModel*>(m->impl().get());
    QVERIFY(impl);
    std::set<std::string> seen;
    TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) {
      if (k == TapKind::LayerInput) seen.insert(p);
      return x;
    };
    {
      torch::InferenceMode im;
      auto logits = impl->forward(torch::zeros({2, 1, 28, 28}), ForwardCtx{nullptr, &obs});
      QCOMPARE(logits.sizes().vec(), (std::vector<int64_t>{2, 49, 256}));
      TapObserver vqObs = [&](const std::string& p, TapKind k, const torch::Tensor& x) { return obs("vq." + p, k, x); };
      impl->vq->decodeCodes(torch::zeros({1, 49}, torch::kLong), ForwardCtx{nullptr, &vqObs});
    }
    for (auto& q : quantizable) QVERIFY2(seen.count(q), ("no tap for " + q).c_str());
    // A variant's input transform changes the output (transforms reach the layers).
    auto variant = std::dynamic_pointer_cast<ArImageModel>(impl->clone());
    variant->inputTransforms["blocks.2.attn.qkv"] = [](const torch::Tensor& x) { return x * 0; };
    {
      torch::InferenceMode im;
      auto codes = torch::randint(0, 256, {1, 48}, torch::kLong);
      QVERIFY(!torch::allclose(impl->run(codes), variant->run(codes)));
    }
    // Short generation through the facade: deterministic and batch-independent.
    ImageGenOptions o = defaultImageGenOptions(*m);
    QCOMPARE(o.guidance, 2.0);
    o.batch = 3;
    auto a = generateImages(*m, {3, 8, 3}, {0, 1, 2}, o);
    QVERIFY2(a.ok(), a.ok() ? "" : a.error().message.c_str());
    QCOMPARE(a->n, 3);
    QCOMPARE(a->h, 28);
    QCOMPARE(a->pixels.size(), size_t(3 * 28 * 28));
    for (float v : a->pixels) QVERIFY(v >= 0.0f && v <= 1.0f);
    o.batch = 1;
    auto b = generateImages(*m, {8}, {1}, o);
    QVERIFY(b.ok());
    float worst = 0;
    for (size_t i = 0; i < b->pixels.size(); ++i) worst = std::max(worst, std::abs(b->pixels[i] - a->pixels[784 + i]));
    QVERIFY2(worst < 1e-4f, std::to_string(worst).c_str());
    auto bad = generateImages(*m, {10}, {0}, o);
    QVERIFY(!bad.ok());
  }

  void corruptOrMissingWeights() {
    QTemporaryDir tmp;
    const std::string dir = tmp.path().toStdString();
    const std::string missing = dir + "/nothing.safetensors";
    auto r = openModel(missing);
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find("nothing.safetensors") != std::string::npos, r.error().message.c_str());
    // Truncated file.
    auto zoo = openModel("ar-fmnist");
    QVERIFY(zoo.ok());
    const std::string bytes = readFile(zoo->source());
    const std::string cut = dir + "/cut.safetensors";
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    r = openModel(cut);
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find("cut.safetensors") != std::string::npos, r.error().message.c_str());
    // A tensor missing (the rest intact): the error names the file and the tensor.
    auto st = readSafeTensors(zoo->source());
    QVERIFY(st.ok());
    std::vector<std::pair<std::string, torch::Tensor>> kept;
    for (auto& t : st->tensors)
      if (t.first != "blocks.3.attn.proj.weight") kept.push_back(t);
    const std::string partial = dir + "/partial.safetensors";
    QVERIFY(writeSafeTensors(partial, kept, st->metadata).ok());
    r = openModel(partial);
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find("partial.safetensors") != std::string::npos &&
                 r.error().message.find("blocks.3.attn.proj.weight") != std::string::npos,
             r.error().message.c_str());
    // A VQ-VAE with a wrong shape.
    auto vst = readSafeTensors((std::filesystem::path(zooDirectory()) / "vq-fmnist" / "model.safetensors").string());
    QVERIFY(vst.ok());
    for (auto& t : vst->tensors)
      if (t.first == "codebook.embed") t.second = t.second.slice(0, 0, 100);
    const std::string wrong = dir + "/wrong.safetensors";
    QVERIFY(writeSafeTensors(wrong, vst->tensors, vst->metadata).ok());
    r = openModel(wrong);
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find("wrong.safetensors") != std::string::npos &&
                 r.error().message.find("codebook.embed") != std::string::npos,
             r.error().message.c_str());
  }

  void cliGenerateEndToEnd() {
    const QString exe = QStringLiteral(CS_BINARY_DIR "/app/cli/cstudio");
    QVERIFY2(QFileInfo::exists(exe), "cstudio was not built");
    QTemporaryDir tmp;
    const QString png = tmp.filePath("grid.png");
    QProcess p;
    p.start(exe, {"generate", "ar-fmnist", "--class", "3", "--seeds", "0-1", "--out", png, "--json"});
    QVERIFY(p.waitForFinished(120000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
    auto j = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
    QCOMPARE(j.value("images").toInt(), 2);
    QCOMPARE(j.value("sampler").toString(), QStringLiteral("autoregressive"));
    QCOMPARE(j.value("guidance").toDouble(), 2.0);
    const std::string bytes = readFile(png.toStdString());
    QVERIFY(bytes.size() > 8 && bytes.substr(1, 3) == "PNG");
    // Bad arguments fail with a message.
    QProcess q;
    q.start(exe, {"generate", "ar-fmnist", "--class", "12", "--seeds", "0"});
    QVERIFY(q.waitForFinished(60000));
    QVERIFY(q.exitCode() != 0);
    QVERIFY(q.readAllStandardError().contains("out of range"));
  }
};

QTEST_GUILESS_MAIN(TestAr)
#include "test_ar.moc"
