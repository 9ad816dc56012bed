// `cstudio sensitivity` and `cstudio explore` end to end: JSON fields, exit codes, errors
// that name the file.
#include <QtTest/QtTest>

#include "cli_process.h"
#include <nlohmann/json.hpp>

class TestExploreCli : public QObject {
  Q_OBJECT
  QString exe = QString(CS_BINARY_DIR) + "/app/cli/cstudio";
  QString models = QString(CS_SOURCE_DIR) + "/tests/models/";

  using Out = cs_test::CliOut;
  Out run(const QStringList& args) { return cs_test::runProcess(exe, args, 170000); }

 private Q_SLOTS:
  void sensitivityJson() {
    if (!QFile::exists(QString(CS_SOURCE_DIR) + "/resources/zoo/vit-fmnist/model.safetensors"))
      QSKIP("zoo weights of vit-fmnist absent");
    auto r = run({"sensitivity", "vit-fmnist", "--wbits", "4", "--abits", "8", "--samples", "32", "--calib", "32",
                  "--layers", "patch_embed.proj,blocks.0.attn.qkv,head", "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["layers"].size(), size_t(3));
    QCOMPARE(j["layers"][2]["layer"].get<std::string>(), std::string("head"));
    QVERIFY(j["layers"][0]["isolated_sqnr_db"].is_number());
    QVERIFY(j["layers"][2]["cumulative_metric"].is_number());
    QCOMPARE(j["compressor"].get<std::string>(), std::string("RTN W4A8"));
    QCOMPARE(j["ranking"].size(), size_t(3));
    auto bad = run({"sensitivity", "vit-fmnist", "--mode", "sideways"});
    QCOMPARE(bad.code, 2);
  }

  void exploreTorchScript() {
    auto l = run({"explore", models + "transformer_block.pt", "--list", "--json"});
    QVERIFY2(l.code == 0, l.err.constData());
    auto j = nlohmann::json::parse(l.out.toStdString());
    bool softmax = false;
    for (auto& t : j["taps"]) softmax |= t["kind"] == "softmax";
    QVERIFY(softmax);
    auto c = run({"explore", models + "transformer_block.pt", "--point", "fc2", "--samples", "8", "--json"});
    QVERIFY2(c.code == 0, c.err.constData());
    auto cj = nlohmann::json::parse(c.out.toStdString());
    QCOMPARE(cj["points"][0]["point"].get<std::string>(), std::string("fc2"));
    QCOMPARE(cj["points"][0]["per_channel"]["mean"].size(), size_t(128));
    QVERIFY(cj["points"][0]["magnitude"]["mean_abs"].size() == 128);
    auto w = run({"explore", models + "cnn.pt", "--weight", "fc", "--json"});
    QVERIFY2(w.code == 0, w.err.constData());
    auto wj = nlohmann::json::parse(w.out.toStdString());
    QCOMPARE(wj["singular_values"].size(), size_t(10));
    QVERIFY(wj["stable_rank"].get<double>() >= 1.0);
    QCOMPARE(wj["n_m"].get<std::string>(), std::string("dense"));
    // What-if on the weight and on a captured activation sample: 8 bit beats 4 bit.
    auto w4 = run({"explore", models + "cnn.pt", "--weight", "fc", "--bits", "4", "--json"});
    auto w8 = run({"explore", models + "cnn.pt", "--weight", "fc", "--bits", "8", "--json"});
    QVERIFY2(w4.code == 0 && w8.code == 0, w4.err.constData());
    const double s4 = nlohmann::json::parse(w4.out.toStdString())["what_if"]["sqnr_db"].get<double>();
    const double s8 = nlohmann::json::parse(w8.out.toStdString())["what_if"]["sqnr_db"].get<double>();
    QVERIFY(s8 > s4 + 10);
    auto a = run({"explore", models + "transformer_block.pt", "--point", "fc2", "--samples", "4", "--bits", "4",
                  "--granularity", "token", "--json"});
    QVERIFY2(a.code == 0, a.err.constData());
    auto aj = nlohmann::json::parse(a.out.toStdString())["points"][0]["what_if"];
    QCOMPARE(aj["cols"].get<int>(), 128);
    QVERIFY(aj["sqnr_db"].get<double>() > 5);
    QCOMPARE(run({"explore", models + "cnn.pt", "--weight", "fc", "--bits", "1"}).code, 2);
  }

  void exploreArImageModel() {
    // ar-fmnist: activations captured teacher-forced over the VQ codes of real images.
    auto c = run({"explore", "ar-fmnist", "--point", "blocks.0.attn.qkv", "--samples", "2", "--json"});
    QVERIFY2(c.code == 0, c.err.constData());
    auto cj = nlohmann::json::parse(c.out.toStdString());
    QCOMPARE(cj["points"][0]["point"].get<std::string>(), std::string("blocks.0.attn.qkv"));
    QCOMPARE(cj["points"][0]["per_channel"]["mean"].size(), size_t(192));
    QVERIFY(cj["data"].get<std::string>().find("teacher-forced") != std::string::npos);
  }

  void errorsNameTheFile() {
    QTemporaryDir dir;
    const QString junk = dir.path() + "/junk.pt";
    QFile f(junk);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("not a model");
    f.close();
    auto r = run({"explore", junk, "--list"});
    QVERIFY(r.code != 0);
    QVERIFY(r.err.contains("junk.pt"));
    auto s = run({"sensitivity", junk});
    QVERIFY(s.code != 0);
    QVERIFY(s.err.contains("junk.pt"));
  }
};

QTEST_GUILESS_MAIN(TestExploreCli)
#include "test_explore_cli.moc"
