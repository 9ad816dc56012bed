// Saved quantized variants: an RTN W4A8 and a RepQ-ViT W4A4 variant of vit-fmnist,
// written with saveQuantizedVariant() and reopened through cs::openModel(), give the
// same logits as the in-memory variant on 32 test images (bit-identical); truncated or
// corrupt files are refused with an error naming the file; the source is untouched.
#include <torch/torch.h>

#include <QtTest/QtTest>
#include <filesystem>
#include <fstream>

#include "compression/quant_variant.h"
#include "compression/quantize.h"
#include "engine/torch/model_impl.h"
#include "engine/torch/tensors.h"

using namespace cs;

class TestQuantVariant : public QObject {
  Q_OBJECT
  Model model;
  torch::Tensor images;
  QTemporaryDir dir;

  torch::Tensor logits(const Model& m) {
    torch::InferenceMode g;
    return m.impl()->run(images).clone();
  }

  // Quantizes, saves, reopens; checks logits and the source.
  void roundTrip(const Recipe& r, const std::string& file, int minPoints) {
    const auto src0 = logits(model);
    QuantizeOptions o;
    o.evaluate = false;
    auto res = quantize(model, r, o, nullJob());
    QVERIFY2(res.ok(), res.ok() ? "" : res.error().message.c_str());
    const auto inMemory = logits(res->variant);
    QVERIFY(!torch::equal(inMemory, src0));  // it is quantized
    const std::string path = (std::filesystem::path(dir.path().toStdString()) / file).string();
    auto saved = saveQuantizedVariant(*res, path);
    QVERIFY2(saved.ok(), saved.ok() ? "" : saved.error().message.c_str());
    QCOMPARE(*saved, path);
    auto back = openModel(path);
    QVERIFY2(back.ok(), back.ok() ? "" : back.error().message.c_str());
    QCOMPARE(back->impl()->inputTransforms.size(), res->variant.impl()->inputTransforms.size());
    QVERIFY(int(back->impl()->inputTransforms.size()) >= minPoints);
    const auto reopened = logits(*back);
    QVERIFY2(torch::equal(reopened, inMemory),
             ("max |diff| " + std::to_string((reopened - inMemory).abs().max().item<double>())).c_str());
    // The metadata records recipe, calibration and source.
    auto props = back->properties();
    QCOMPARE(props.at("requires_loader"), std::string("quantized-variant"));
    QVERIFY(nlohmann::json::parse(props.at("quant_recipe"))["method"] == r.method);
    QCOMPARE(props.at("quant_calib_hash"), res->metrics["calib_hash"].get<std::string>());
    QCOMPARE(props.at("quant_source_model"), model.name());
    QVERIFY(props.count("quantization"));
    // The weights and quantizer tensors are in the file.
    auto st = cs::detail::readSafeTensors(path);
    QVERIFY(st.ok());
    QVERIFY(st->has("quant.weight.blocks.0.attn.qkv.scale"));
    QVERIFY(st->has("quant.act.blocks.0.mlp.fc1.scale"));
    // The source model is untouched.
    QVERIFY(torch::equal(logits(model), src0));
  }

 private Q_SLOTS:
  void initTestCase() {
    auto test = cs::detail::fashionMnistTensors("test");
    if (!test) QSKIP("Fashion-MNIST not installed (Debian dataset-fashion-mnist)");
    images = test->images.slice(0, 0, 32);
    auto zoo = openModel("vit-fmnist");
    QVERIFY2(zoo.ok(), zoo.ok() ? "" : zoo.error().message.c_str());
    model = *zoo;
    QVERIFY(dir.isValid());
  }
  void rtnW4A8RoundTrip() {
    Recipe r;
    r.method = "rtn";
    r.params = {{"wbits", 4}, {"abits", 8}};
    r.calibSamples = 32;
    roundTrip(r, "rtn_w4a8.safetensors", 18);  // patch_embed.proj, 4 x (qkv, proj, fc1, fc2), head
  }
  void repqW4A4RoundTrip() {
    Recipe r;
    r.method = "repq-vit";
    r.params = {{"wbits", 4}, {"abits", 4}};
    r.calibSamples = 32;
    roundTrip(r, "repq_w4a4.safetensors", 24);  // layer inputs + log-sqrt2 softmax outputs
    auto back = openModel((std::filesystem::path(dir.path().toStdString()) / "repq_w4a4.safetensors").string());
    QVERIFY(back.ok());
    auto st = cs::detail::readSafeTensors(back->source());
    QVERIFY(st->has("quant.fold.blocks.0.attn.qkv.r"));  // the LayerNorm fold factors
    auto pts = nlohmann::json::parse(st->metadata.at("quant_points"));
    bool logSm = false;
    for (auto& p : pts) logSm |= p["kind"] == "log-sqrt2";
    QVERIFY(logSm);
  }
  void omseTwinUniformSoftmaxRoundTrip() {
    // PTQ4ViT's twin-uniform softmax quantizer is saved as such (probed from the
    // transform, verified bit-exact) and reopened with identical logits.
    Recipe r;
    r.method = "omse";
    r.params = {{"wbits", 4}, {"abits", 4}, {"softmax", "twin-uniform"}};
    r.calibSamples = 32;
    roundTrip(r, "omse_twin_w4a4.safetensors", 24);
    auto st = cs::detail::readSafeTensors((std::filesystem::path(dir.path().toStdString()) / "omse_twin_w4a4.safetensors").string());
    QVERIFY(st.ok());
    auto pts = nlohmann::json::parse(st->metadata.at("quant_points"));
    int twins = 0, fine = 0;
    for (auto& p : pts)
      if (p["kind"] == "twin-uniform") {
        ++twins;
        QCOMPARE(p["bits"].get<int>(), 4);
        fine += p["m"].get<int>() > 0;  // the fine range is finer than the coarse one
      }
    QCOMPARE(twins, 4);  // one softmax per block
    QVERIFY(fine > 0);
  }
  void directoryTargetNamesTheFile() {
    Recipe r;
    r.params = {{"wbits", 8}, {"abits", 0}};
    QuantizeOptions o;
    o.evaluate = false;
    auto res = quantize(model, r, o, nullJob());
    QVERIFY(res.ok());
    const std::string sub = (std::filesystem::path(dir.path().toStdString()) / "variants").string();
    auto saved = saveQuantizedVariant(*res, sub);
    QVERIFY2(saved.ok(), saved.ok() ? "" : saved.error().message.c_str());
    QVERIFY(saved->rfind(sub, 0) == 0 && std::filesystem::exists(*saved));
    QVERIFY(openModel(*saved).ok());
  }
  void truncatedOrCorruptRefused() {
    const std::string good = (std::filesystem::path(dir.path().toStdString()) / "rtn_w4a8.safetensors").string();
    QVERIFY(std::filesystem::exists(good));
    const std::string cut = (std::filesystem::path(dir.path().toStdString()) / "cut.safetensors").string();
    std::filesystem::copy_file(good, cut, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(cut, std::filesystem::file_size(good) / 2);
    auto r1 = openModel(cut);
    QVERIFY(!r1.ok());
    QVERIFY2(r1.error().message.find(cut) != std::string::npos, r1.error().message.c_str());
    // A well-formed file whose quantizer description is corrupt.
    auto st = cs::detail::readSafeTensors(good);
    QVERIFY(st.ok());
    auto meta = st->metadata;
    meta["quant_points"] = "[{\"point\": \"blocks.0.mlp.fc1\", \"kind\": \"uniform\", \"bits\": 8}";  // cut JSON
    const std::string bad = (std::filesystem::path(dir.path().toStdString()) / "bad_meta.safetensors").string();
    QVERIFY(cs::detail::writeSafeTensors(bad, st->tensors, meta).ok());
    auto r2 = openModel(bad);
    QVERIFY(!r2.ok());
    QVERIFY2(r2.error().message.find(bad) != std::string::npos, r2.error().message.c_str());
    // A quantizer tensor that the description names but the file lacks.
    meta = st->metadata;
    std::vector<std::pair<std::string, torch::Tensor>> fewer;
    for (auto& [n, t] : st->tensors)
      if (n != "quant.act.blocks.0.mlp.fc1.scale") fewer.emplace_back(n, t);
    const std::string miss = (std::filesystem::path(dir.path().toStdString()) / "missing.safetensors").string();
    QVERIFY(cs::detail::writeSafeTensors(miss, fewer, meta).ok());
    auto r3 = openModel(miss);
    QVERIFY(!r3.ok());
    QVERIFY2(r3.error().message.find(miss) != std::string::npos &&
                 r3.error().message.find("quant.act.blocks.0.mlp.fc1.scale") != std::string::npos,
             r3.error().message.c_str());
    // A loader this program does not have.
    meta = st->metadata;
    meta["requires_loader"] = "no-such-loader";
    const std::string unk = (std::filesystem::path(dir.path().toStdString()) / "unknown.safetensors").string();
    QVERIFY(cs::detail::writeSafeTensors(unk, st->tensors, meta).ok());
    auto r4 = openModel(unk);
    QVERIFY(!r4.ok());
    QVERIFY2(r4.error().message.find(unk) != std::string::npos, r4.error().message.c_str());
  }
};

QTEST_GUILESS_MAIN(TestQuantVariant)
#include "test_quant_variant.moc"
