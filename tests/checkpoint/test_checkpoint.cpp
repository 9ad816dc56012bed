// torch.save state-dict reader: real archives from ../shared, synthetic archives
// (zip64, nested dicts, shared storages), and corrupt or hostile inputs.
#include <torch/torch.h>

#include <QtTest/QtTest>
#include <filesystem>

#include "archive_builder.h"
#include "engine/torch/checkpoint.h"
#include "engine/torch/tensors.h"

using namespace cs;
using namespace cs::detail;
using namespace csx;

namespace {
const std::string kShared = CS_SHARED_DIR;
const std::vector<float> k4 = {1, 2, 3, 4};

std::string simpleDict(const std::string& body) { return std::string("\x80\x02}(", 4) + body + "u."; }

void expectError(const Result<NamedTensorList>& r, const std::string& fragment) {
  QVERIFY(!r.ok());
  QVERIFY2(r.error().message.find("mem.pt") != std::string::npos, r.error().message.c_str());
  QVERIFY2(r.error().message.find(fragment) != std::string::npos, r.error().message.c_str());
}
}  // namespace

class TestCheckpoint : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void synthetic() {
    for (bool z64 : {false, true}) {
      const auto a = makeArchive(simpleDict(pUni("w") + pTensor("0", 4, {2, 2}) + pUni("b") + pTensor("0", 4, {2}, 2)),
                                 {{"0", floats(k4)}}, z64);
      auto r = readTorchCheckpointBytes(a, "mem.pt");
      QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
      QCOMPARE(int(r->size()), 2);
      QCOMPARE((*r)[0].first, std::string("w"));
      QVERIFY(torch::equal((*r)[0].second, torch::tensor({1.f, 2.f, 3.f, 4.f}).view({2, 2})));
      QCOMPARE((*r)[1].first, std::string("b"));
      QVERIFY(torch::equal((*r)[1].second, torch::tensor({3.f, 4.f})));
      // Views of a shared storage are independent copies.
      (*r)[1].second.fill_(0);
      QCOMPARE((*r)[0].second[1][0].item<float>(), 3.f);
    }
  }
  void nestedAndKey() {
    const std::string inner = std::string("}(") + pUni("a") + pTensor("0", 4, {4}) + "u";
    const std::string pk = std::string("\x80\x02}(", 4) + pUni("model") + inner + pUni("epoch") + pInt(3) + "u.";
    const auto a = makeArchive(pk, {{"0", floats(k4)}});
    auto r = readTorchCheckpointBytes(a, "mem.pt");
    QVERIFY(r.ok());
    QCOMPARE(int(r->size()), 1);
    QCOMPARE((*r)[0].first, std::string("model.a"));
    CheckpointOptions o;
    o.key = "model";
    r = readTorchCheckpointBytes(a, "mem.pt", o);
    QVERIFY(r.ok());
    QCOMPARE((*r)[0].first, std::string("a"));
    o.key = "nope";
    expectError(readTorchCheckpointBytes(a, "mem.pt", o), "no top-level key 'nope'");
    o.key.clear();
    o.floatDtype = torch::kHalf;
    r = readTorchCheckpointBytes(a, "mem.pt", o);
    QVERIFY(r.ok());
    QCOMPARE((*r)[0].second.scalar_type(), torch::kHalf);
  }
  void hostile() {
    const auto good = simpleDict(pUni("w") + pTensor("0", 4, {2, 2}));
    // os.system is refused at the GLOBAL, before anything could call it.
    expectError(readTorchCheckpointBytes(
                    makeArchive(std::string("\x80\x02", 2) + pGlobal("os", "system") + pUni("echo pwned") + "\x85R.", {}),
                    "mem.pt"),
                "refusing pickle global 'os.system'");
    expectError(readTorchCheckpointBytes(makeArchive(std::string("\x80\x02", 2) + pUni("builtins") + pUni("eval") +
                                                         "\x93" + pUni("1") + "\x85R.", {}),
                                         "mem.pt"),
                "refusing pickle global 'builtins.eval'");
    // REDUCE on an allow-listed storage type is not a call we make.
    expectError(readTorchCheckpointBytes(
                    makeArchive(std::string("\x80\x02", 2) + pGlobal("torch", "FloatStorage") + ")R.", {}), "mem.pt"),
                "REDUCE on 'torch.FloatStorage' is not allowed");
    // Unknown opcode.
    expectError(readTorchCheckpointBytes(makeArchive(std::string("\x80\x02}\xff.", 5), {}), "mem.pt"),
                "unsupported pickle opcode 0xff");
    // Storage smaller than declared; view past the storage; missing storage.
    expectError(readTorchCheckpointBytes(makeArchive(good, {{"0", floats({1, 2})}}), "mem.pt"), "declares 4 elements");
    expectError(readTorchCheckpointBytes(
                    makeArchive(simpleDict(pUni("w") + pTensor("0", 4, {2, 2}, 1)), {{"0", floats(k4)}}), "mem.pt"),
                "exceeds its storage");
    expectError(readTorchCheckpointBytes(makeArchive(good, {}), "mem.pt"), "storage '0' missing");
    // Pickle without STOP; stack underflow; memo miss.
    expectError(readTorchCheckpointBytes(makeArchive(std::string("\x80\x02}", 3), {}), "mem.pt"), "without STOP");
    expectError(readTorchCheckpointBytes(makeArchive(std::string("\x80\x02s.", 4), {}), "mem.pt"), "underflow");
    expectError(readTorchCheckpointBytes(makeArchive(std::string("\x80\x02h\x07.", 5), {}), "mem.pt"), "memo key 7");
    // Self-referencing list.
    expectError(readTorchCheckpointBytes(makeArchive(std::string("\x80\x02]q\x00h\x00", 7) + "a.", {}), "mem.pt"),
                "self-referencing");
    // Truncated zip (every prefix must fail cleanly, never crash).
    const auto a = makeArchive(good, {{"0", floats(k4)}});
    for (size_t n = 0; n < a.size(); n += 7) {
      auto r = readTorchCheckpointBytes(a.substr(0, n), "mem.pt");
      QVERIFY(!r.ok());
    }
    expectError(readTorchCheckpointBytes(a.substr(0, a.size() / 2), "mem.pt"), "zip");
    expectError(readTorchCheckpointBytes(std::string("\x80\x02}.", 4), "mem.pt"), "legacy");
    expectError(readTorchCheckpointBytes(makeZip({{"x/constants.pkl", "."}}), "mem.pt"), "TorchScript");
  }
  void missingFile() {
    auto r = readTorchCheckpoint("/nonexistent/x.pt");
    QVERIFY(!r.ok());
    QVERIFY(r.error().message.find("/nonexistent/x.pt") != std::string::npos);
  }
  void ddpmMnist() {
    const auto p = kShared + "/data/weights/ddpm_mnist/ddpm_mnist_starter.pth";
    if (!std::filesystem::exists(p)) QSKIP("../shared/data/weights/ddpm_mnist absent");
    auto r = readTorchCheckpoint(p);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    // The archive holds 29 storages (data/0..28) and its state dict 29 tensors (the
    // README's "31" does not match the file): 3 buffers, 4 x 4 block tensors, the final
    // conv's 2 and the time MLP's 8.
    QCOMPARE(int(r->size()), 29);
    std::map<std::string, torch::Tensor> m(r->begin(), r->end());
    QVERIFY(m.count("beta_t") && m.count("alpha_t"));
    QCOMPARE(m["beta_t"].numel(), int64_t(1001));
    QCOMPARE(m["beta_t"].device().type(), torch::kCPU);
    QVERIFY(std::abs(m["beta_t"][1].item<double>() - (1e-4 + (0.02 - 1e-4) / 1000)) < 1e-6 ||
            std::abs(m["beta_t"][0].item<double>() - 1e-4) < 1e-6);
    for (auto& [n, t] : *r) {
      QCOMPARE(t.scalar_type(), torch::kFloat);
      QVERIFY2(torch::isfinite(t).all().item<bool>(), n.c_str());
    }
  }
  void sam2MatchesSafetensors() {
    const auto p = kShared + "/fixtures/sam2_mini/sam2_mini.pt";
    if (!std::filesystem::exists(p)) QSKIP("../shared/fixtures/sam2_mini absent");
    CheckpointOptions o;
    o.key = "model";
    auto r = readTorchCheckpoint(p, o);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    auto st = readSafeTensors(kShared + "/fixtures/sam2_mini/sam2_mini.safetensors");
    QVERIFY(st.ok());
    QCOMPARE(r->size(), st->tensors.size());
    for (auto& [n, t] : *r) {
      QVERIFY2(st->has(n), n.c_str());
      auto ref = st->get(n);
      QVERIFY2(t.sizes() == ref.sizes(), n.c_str());
      QVERIFY2(torch::equal(t, ref.to(t.scalar_type())), n.c_str());
    }
  }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "test_checkpoint.moc"
