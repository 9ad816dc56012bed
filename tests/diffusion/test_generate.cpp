// Tests of engine/diffusion.h on the zoo's ddpm-fmnist, and of `cstudio generate`.
#include <zlib.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <fstream>

#include "engine/diffusion.h"
#include "engine/model.h"
#include "engine/train.h"

using namespace cs;

namespace cs {
// engine/src/diffusion/train_ddpm.cpp (plain C++ signature).
Result<TrainReport> trainDdpmFmnist(const TrainOptions& o, JobContext& job);
}  // namespace cs

namespace {
std::string readFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
uint32_t be32(const std::string& s, size_t o) {
  return uint32_t(uint8_t(s[o])) << 24 | uint32_t(uint8_t(s[o + 1])) << 16 | uint32_t(uint8_t(s[o + 2])) << 8 |
         uint32_t(uint8_t(s[o + 3]));
}
}  // namespace

class TestGenerate : public QObject {
  Q_OBJECT
 private:
  Model model_;

 private Q_SLOTS:
  void initTestCase() {
    auto m = openModel("ddpm-fmnist");
    QVERIFY2(m.ok(), m.ok() ? "" : m.error().message.c_str());
    model_ = *m;
  }

  void opensWithLayerTree() {
    QCOMPARE(int(model_.task()), int(Task::Diffusion));
    QCOMPARE(model_.family(), std::string("unet2d"));
    QCOMPARE(model_.parameterCount(), int64_t(1114209));
    QCOMPARE(diffusionClassCount(model_), 10);
    bool attn = false, convIn = false;
    for (auto& l : model_.layers()) {
      attn |= l.name == "down_blocks.1.attentions.0.to_q" && l.type == "Linear";
      convIn |= l.name == "conv_in" && l.quantizable;
    }
    QVERIFY(attn);
    QVERIFY(convIn);
    auto w = model_.weight("conv_in");
    QVERIFY(w.ok());
  }

  void deterministicPerSeed() {
    ImageGenOptions o;
    o.steps = 4;
    o.batch = 8;
    auto a = generateImages(model_, {1, 7, 7}, {3, 5, 9}, o);
    QVERIFY2(a.ok(), a.ok() ? "" : a.error().message.c_str());
    QCOMPARE(a->n, 3);
    QCOMPARE(a->h, 32);
    QCOMPARE(a->pixels.size(), size_t(3 * 32 * 32));
    for (float v : a->pixels) QVERIFY(v >= 0.0f && v <= 1.0f);
    auto b = generateImages(model_, {1, 7, 7}, {3, 5, 9}, o);
    QVERIFY(b.ok());
    QVERIFY(a->pixels == b->pixels);
    // Image (7, seed 5) alone, in a batch of one, is the same as in the batch above.
    o.batch = 1;
    auto c = generateImages(model_, {7}, {5}, o);
    QVERIFY(c.ok());
    float worst = 0;
    for (size_t i = 0; i < c->pixels.size(); ++i) worst = std::max(worst, std::abs(c->pixels[i] - a->pixels[1024 + i]));
    QVERIFY2(worst < 1e-4f, std::to_string(worst).c_str());
    // Another seed gives another image; DDPM runs too.
    float diff = 0;
    for (size_t i = 0; i < 1024; ++i) diff = std::max(diff, std::abs(a->pixels[1024 + i] - a->pixels[2048 + i]));
    QVERIFY(diff > 0.1f);
    o.sampler = "ddpm";
    QVERIFY(generateImages(model_, {2}, {0}, o).ok());
    o.sampler = "euler";
    QVERIFY(!generateImages(model_, {2}, {0}, o).ok());
    o.sampler = "ddim";
    auto bad = generateImages(model_, {10}, {0}, o);  // 10 is the null class, not a class
    QVERIFY(!bad.ok());
  }

  void cancels() {
    JobContext job;
    job.cancel();
    ImageGenOptions o;
    o.steps = 4;
    auto r = generateImages(model_, {0}, {0}, o, job);
    QVERIFY(!r.ok());
    QVERIFY(r.error().isCancelled());
  }

  void trainingDeterministicOnCpu() {
    QTemporaryDir dir;
    std::string bytes[2];
    for (int run = 0; run < 2; ++run) {
      TrainOptions o;
      o.epochs = 1;
      o.batch = 32;
      o.maxTrainSamples = 64;  // two optimizer steps
      o.seed = 7;
      o.outDir = dir.filePath(QString::number(run)).toStdString();
      auto r = trainDdpmFmnist(o, nullJob());
      if (!r && r.error().code == Error::Code::NotFound) QSKIP("Fashion-MNIST absent");
      QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
      QCOMPARE(r->parameters, int64_t(1114209));
      bytes[run] = readFile(r->weightsPath);
      QVERIFY(QFileInfo::exists(QString::fromStdString(o.outDir + "/zoo.json")));
      // The trained file opens as a diffusion model.
      auto m = openModel(r->weightsPath);
      QVERIFY2(m.ok(), m.ok() ? "" : m.error().message.c_str());
      QCOMPARE(int(m->task()), int(Task::Diffusion));
    }
    QVERIFY(!bytes[0].empty());
    QVERIFY(bytes[0] == bytes[1]);
  }

  void cliGenerateEndToEnd() {
    const QString exe = QString(CS_BINARY_DIR) + "/app/cli/cstudio";
    QVERIFY2(QFileInfo::exists(exe), "cstudio is not built (the test depends on it)");
    QTemporaryDir dir;
    const QString png = dir.filePath("grid.png");
    QProcess p;
    p.start(exe, {"generate", "ddpm-fmnist", "--class", "1,8", "--seeds", "0-2", "--steps", "3", "--out", png, "--json"});
    QVERIFY(p.waitForFinished(120000));
    QCOMPARE(p.exitCode(), 0);
    auto j = QJsonDocument::fromJson(p.readAllStandardOutput()).object();
    QCOMPARE(j["images"].toInt(), 6);
    QCOMPARE(j["steps"].toInt(), 3);
    QVERIFY(j["images_per_second"].toDouble() > 0);
    const auto bytes = readFile(png.toStdString());
    QVERIFY(bytes.size() > 33);
    QCOMPARE(bytes.substr(1, 3), std::string("PNG"));
    // IHDR: 3 columns x 2 rows of 32x32 with 2-pixel gaps, 8-bit grey; its CRC is right.
    QCOMPARE(be32(bytes, 16), uint32_t(3 * 32 + 4 * 2));
    QCOMPARE(be32(bytes, 20), uint32_t(2 * 32 + 3 * 2));
    QCOMPARE(be32(bytes, 29), uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(bytes.data() + 12), 17)));
    // A class out of range fails with a one-line error and a non-zero exit code.
    QProcess q;
    q.start(exe, {"generate", "ddpm-fmnist", "--class", "12", "--seeds", "0", "--steps", "2"});
    QVERIFY(q.waitForFinished(60000));
    QVERIFY(q.exitCode() != 0);
    QVERIFY(q.readAllStandardError().contains("out of range"));
  }
};

QTEST_GUILESS_MAIN(TestGenerate)
#include "test_generate.moc"
