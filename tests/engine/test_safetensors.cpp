// safetensors: round trip of every dtype, metadata, atomic write, rejection of corrupt files.
#include <torch/torch.h>

#include <QtTest/QtTest>
#include <fstream>

#include "engine/torch/tensors.h"

using namespace cs;
using namespace cs::detail;

class TestSafetensors : public QObject {
  Q_OBJECT
  QTemporaryDir dir;
  std::string path(const char* n) { return (dir.path() + "/" + n).toStdString(); }
  void writeRaw(const std::string& p, const std::string& header, const std::string& data) {
    std::ofstream f(p, std::ios::binary);
    uint64_t n = header.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << header << data;
  }
  void expectBad(const std::string& p, const char* fragment) {
    auto r = readSafeTensors(p);
    QVERIFY(!r.ok());
    QVERIFY2(r.error().message.find(p) != std::string::npos, r.error().message.c_str());
    QVERIFY2(r.error().message.find(fragment) != std::string::npos, r.error().message.c_str());
  }

 private Q_SLOTS:
  void roundTrip() {
    std::vector<std::pair<std::string, torch::Tensor>> t = {
        {"f32", torch::randn({3, 4})},
        {"f16", torch::randn({5}).to(torch::kHalf)},
        {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
        {"i64", torch::arange(7)},
        {"u8", torch::arange(10).to(torch::kUInt8)},
        {"empty", torch::zeros({0, 3})},
        {"scalar", torch::tensor(3.5)},
    };
    auto p = path("a.safetensors");
    QVERIFY(writeSafeTensors(p, t, {{"family", "vit"}, {"note", "x"}}).ok());
    auto r = readSafeTensors(p);
    QVERIFY2(r.ok(), r.ok() ? "" : r.error().message.c_str());
    QCOMPARE(r->tensors.size(), t.size());
    for (auto& [n, x] : t) {
      auto y = r->get(n);
      QCOMPARE(y.scalar_type(), x.scalar_type());
      QCOMPARE(y.sizes().vec(), x.sizes().vec());
      QVERIFY(torch::equal(y, x));
    }
    QCOMPARE(r->metadata.at("family"), std::string("vit"));
    QVERIFY(!QFile::exists(QString::fromStdString(p + ".tmp")));
  }
  void rejectsCorrupt() {
    expectBad(path("missing.safetensors").c_str(), "cannot open");
    {
      std::ofstream f(path("short.safetensors"));
      f << "abc";
    }
    expectBad(path("short.safetensors"), "shorter than");
    writeRaw(path("len.safetensors"), "{}", "");
    {  // header length larger than the file
      std::ofstream f(path("hugelen.safetensors"), std::ios::binary);
      uint64_t n = 1 << 20;
      f.write(reinterpret_cast<const char*>(&n), 8);
      f << "{}";
    }
    expectBad(path("hugelen.safetensors"), "header length");
    writeRaw(path("json.safetensors"), "{not json", "");
    expectBad(path("json.safetensors"), "not a JSON object");
    writeRaw(path("dtype.safetensors"), R"({"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", "x");
    expectBad(path("dtype.safetensors"), "unsupported dtype");
    writeRaw(path("bounds.safetensors"), R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "12345678");
    expectBad(path("bounds.safetensors"), "outside the data section");
    writeRaw(path("shape.safetensors"), R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", "12345678");
    expectBad(path("shape.safetensors"), "needs 12");
    writeRaw(path("overlap.safetensors"),
             R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
             "12345678");
    expectBad(path("overlap.safetensors"), "overlap");
    writeRaw(path("neg.safetensors"), R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "1234");
    expectBad(path("neg.safetensors"), "bad shape");
  }
  void truncatedFileLosesNothing() {
    // A failed write (unwritable directory) leaves an existing file untouched.
    auto p = path("keep.safetensors");
    QVERIFY(writeSafeTensors(p, {{"x", torch::ones({2})}}).ok());
    auto bad = writeSafeTensors(path("no/such/dir/x.safetensors"), {{"x", torch::ones({2})}});
    QVERIFY(!bad.ok());
    QVERIFY(readSafeTensors(p).ok());
  }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "test_safetensors.moc"
