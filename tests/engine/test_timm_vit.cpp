// timm ViT and DeiT-distilled checkpoints (../shared/fixtures/vit_mini, deit_distilled_mini):
// the architecture is inferred from the state dict (+ config.json for the head count), and
// the patch embedding, every block's input and output, the final norm and the logits match
// the timm references within the fixture README's tolerance (max|out-ref|/max|ref| <= 1e-4).
#include <torch/torch.h>

#include <QtTest/QtTest>
#include <filesystem>

#include "engine/model.h"
#include "engine/torch/tensors.h"
#include "engine/torch/vit.h"

using namespace cs;
using namespace cs::detail;
namespace fs = std::filesystem;

namespace {
std::string fixture(const std::string& name) { return std::string(CS_SHARED_DIR) + "/fixtures/" + name; }

double relErr(const torch::Tensor& out, const torch::Tensor& ref) {
  return ((out - ref).abs().max() / ref.abs().max()).item<double>();
}
}  // namespace

class TestTimmVit : public QObject {
  Q_OBJECT
  QTemporaryDir tmp;

  void parity(const std::string& name, bool distilled) {
    const std::string dir = fixture(name);
    if (!fs::exists(dir)) QSKIP(qPrintable(QString::fromStdString(dir + " absent")));
    auto model = openModel(dir + "/" + name + ".safetensors");
    QVERIFY2(model.ok(), model ? "" : model.error().message.c_str());
    QCOMPARE(model->family(), std::string("vit"));
    QCOMPARE(model->task(), Task::ImageClassification);
    auto vit = std::dynamic_pointer_cast<const VitModel>(model->impl());
    QVERIFY(vit);
    const auto& c = vit->config();
    QCOMPARE(c.imgSize, 32);
    QCOMPARE(c.patch, 4);
    QCOMPARE(c.inChans, 3);
    QCOMPARE(c.dim, 64);
    QCOMPARE(c.depth, 2);
    QCOMPARE(c.heads, 2);  // from config.json kwargs.num_heads
    QCOMPARE(c.mlpDim, 256);
    QCOMPARE(c.distilled, distilled);
    auto ref = readSafeTensors(dir + "/reference.safetensors");
    QVERIFY(ref.ok());

    torch::InferenceMode g;
    std::map<std::string, torch::Tensor> seen;
    TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) {
      if (k == TapKind::LayerOutput || k == TapKind::BlockOutput || (k == TapKind::NormOutput && p == "norm"))
        seen[p] = x.clone();
      return x;
    };
    auto logits = vit->run(ref->get("input"), &obs);
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {"patch_embed", "patch_embed"}, {"pos_embed", "block0.input"}, {"blocks.0", "block0.output"},
        {"blocks.0", "block1.input"},   {"blocks.1", "block1.output"}, {"norm", "norm"}};
    double worst = 0;
    for (auto& [tap, key] : pairs) {
      QVERIFY2(seen.count(tap), tap.c_str());
      const double e = relErr(seen[tap], ref->get(key));
      worst = std::max(worst, e);
      QVERIFY2(e <= 1e-4, qPrintable(QString("%1 vs %2: %3").arg(tap.c_str(), key.c_str()).arg(e)));
    }
    const double e = relErr(logits, ref->get("logits"));
    QVERIFY2(e <= 1e-4, qPrintable(QString("logits: %1").arg(e)));
    qInfo("%s: worst relative error %.3g over the taps, %.3g on the logits", name.c_str(), worst, e);
    // Sanity of the metric: a perturbed logit tensor would fail it.
    QVERIFY(relErr(logits + 1e-2, ref->get("logits")) > 1e-4);
  }

 private Q_SLOTS:
  void vitMiniMatchesTimm() { parity("vit_mini", false); }
  void deitDistilledMiniMatchesTimm() { parity("deit_distilled_mini", true); }

  void headCountFallsBackWithoutConfig() {
    const std::string dir = fixture("vit_mini");
    if (!fs::exists(dir)) QSKIP("vit_mini fixture absent");
    const auto copy = tmp.filePath("alone.safetensors").toStdString();
    fs::copy_file(dir + "/vit_mini.safetensors", copy, fs::copy_options::overwrite_existing);
    auto model = openModel(copy);
    QVERIFY(model.ok());
    auto vit = std::dynamic_pointer_cast<const VitModel>(model->impl());
    QCOMPARE(vit->config().heads, 1);  // dim 64 / 64
    QVERIFY(model->properties().at("heads_from").find("dim/64") != std::string::npos);
  }

  void inconsistentCheckpointNamesTheFile() {
    const std::string dir = fixture("vit_mini");
    if (!fs::exists(dir)) QSKIP("vit_mini fixture absent");
    auto st = readSafeTensors(dir + "/vit_mini.safetensors");
    QVERIFY(st.ok());
    std::vector<std::pair<std::string, torch::Tensor>> ts;
    for (auto& [n, t] : st->tensors) ts.emplace_back(n, n == "pos_embed" ? t.slice(1, 0, 60).contiguous() : t);
    const auto bad = tmp.filePath("bad.safetensors").toStdString();
    QVERIFY(writeSafeTensors(bad, ts).ok());
    auto model = openModel(bad);
    QVERIFY(!model.ok());
    QVERIFY2(model.error().message.find("bad.safetensors") != std::string::npos, model.error().message.c_str());
    QVERIFY2(model.error().message.find("pos_embed") != std::string::npos, model.error().message.c_str());
    // A missing block tensor is named too.
    ts.clear();
    for (auto& [n, t] : st->tensors)
      if (n != "blocks.1.mlp.fc2.bias") ts.emplace_back(n, t);
    QVERIFY(writeSafeTensors(bad, ts).ok());
    model = openModel(bad);
    QVERIFY(!model.ok());
    QVERIFY2(model.error().message.find("blocks.1.mlp.fc2.bias") != std::string::npos, model.error().message.c_str());
  }
};

QTEST_GUILESS_MAIN(TestTimmVit)
#include "test_timm_vit.moc"
