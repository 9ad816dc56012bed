// IDX reader on generated files (plain and gzip) and on the real Fashion-MNIST.
#include <zlib.h>

#include <QtTest/QtTest>
#include <fstream>

#include "engine/data.h"

using namespace cs;

class TestIdx : public QObject {
  Q_OBJECT
  QTemporaryDir dir;
  std::string p(const char* n) { return (dir.path() + "/" + n).toStdString(); }
  static std::string header(uint8_t dims, std::vector<uint32_t> sizes) {
    std::string h = {0, 0, 8, static_cast<char>(dims)};
    for (auto s : sizes)
      for (int i = 3; i >= 0; --i) h.push_back(static_cast<char>((s >> (8 * i)) & 0xff));
    return h;
  }

 private Q_SLOTS:
  void plainImages() {
    std::string data = header(3, {2, 2, 3});
    for (int i = 0; i < 12; ++i) data.push_back(static_cast<char>(i * 10));
    std::ofstream(p("img.idx"), std::ios::binary) << data;
    auto r = readIdxImages(p("img.idx"));
    QVERIFY(r.ok());
    QCOMPARE(r->count, 2);
    QCOMPARE(r->rows, 2);
    QCOMPARE(r->cols, 3);
    QCOMPARE(int(r->pixels[11]), 110);
  }
  void gzipLabels() {
    std::string data = header(1, {4}) + std::string("\x01\x02\x03\x09", 4);
    gzFile g = gzopen(p("lab.gz").c_str(), "wb");
    gzwrite(g, data.data(), static_cast<unsigned>(data.size()));
    gzclose(g);
    auto r = readIdxLabels(p("lab.gz"));
    QVERIFY(r.ok());
    QCOMPARE(r->size(), size_t(4));
    QCOMPARE(int((*r)[3]), 9);
  }
  void rejectsBadFiles() {
    std::ofstream(p("magic.idx"), std::ios::binary) << std::string("\x00\x00\x0d\x03", 4);
    auto r = readIdxImages(p("magic.idx"));
    QVERIFY(!r.ok());
    QVERIFY(r.error().message.find("magic.idx") != std::string::npos);
    std::string data = header(3, {5, 28, 28}) + std::string(100, 'x');
    std::ofstream(p("trunc.idx"), std::ios::binary) << data;
    auto t = readIdxImages(p("trunc.idx"));
    QVERIFY(!t.ok());
    QVERIFY(t.error().message.find("truncated") != std::string::npos);
    std::ofstream(p("dims.idx"), std::ios::binary) << header(1, {3}) << "abc";
    QVERIFY(!readIdxImages(p("dims.idx")).ok());
    QVERIFY(!readIdxLabels(p("nonexistent")).ok());
  }
  void realFashionMnist() {
    auto test = loadFashionMnist("test");
    if (!test.ok()) QSKIP("Fashion-MNIST not installed (Debian dataset-fashion-mnist)");
    QCOMPARE(test->count, 10000);
    QCOMPARE(test->rows, 28);
    QCOMPARE(test->labels.size(), size_t(10000));
    std::vector<int> hist(10);
    for (auto l : test->labels) {
      QVERIFY(l < 10);
      hist[l]++;
    }
    for (int c : hist) QCOMPARE(c, 1000);  // the test split is balanced
  }
};

QTEST_GUILESS_MAIN(TestIdx)
#include "test_idx.moc"
