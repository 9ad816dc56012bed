// The CLI twin end to end: exit codes, JSON fields, progress on stderr, errors.
#include <QtTest/QtTest>

#include "cli_process.h"
#include <nlohmann/json.hpp>

class TestCli : public QObject {
  Q_OBJECT
  QString exe = QString(CS_BINARY_DIR) + "/app/cli/cstudio";
  QString models = QString(CS_SOURCE_DIR) + "/tests/models/";
  QTemporaryDir dir;

  using Out = cs_test::CliOut;
  Out run(const QStringList& args, int timeoutMs = 300000) { return cs_test::runProcess(exe, args, timeoutMs); }
  static bool zooPresent() {
    return QFile::exists(QString(CS_SOURCE_DIR) + "/resources/zoo/vit-fmnist/model.safetensors");
  }

 private Q_SLOTS:
  void infoJson() {
    auto r = run({"info", models + "cnn.pt", "--json"});
    QCOMPARE(r.code, 0);
    auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["family"].get<std::string>(), std::string("torchscript"));
    QCOMPARE(j["parameters"].get<int>(), 32650);
    bool fc = false;
    for (auto& l : j["layers"]) fc |= l["name"] == "fc" && l["shape"] == nlohmann::json({10, 3136});
    QVERIFY(fc);
  }
  void statsWeightsJson() {
    auto r = run({"stats", models + "cnn.pt", "--layer", "conv1", "--json", "--bins", "16"});
    QCOMPARE(r.code, 0);
    auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["weight"]["count"].get<int>(), 72);
    QCOMPARE(j["weight"]["histogram"]["counts"].size(), size_t(16));
    QVERIFY(j["weight"]["min"].get<double>() <= j["weight"]["p1"].get<double>());
  }
  void quantizeTorchScriptWeightOnly() {
    auto r = run({"quantize", models + "transformer_block.pt", "--method", "rtn", "--wbits", "4", "--json"});
    QCOMPARE(r.code, 0);
    auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["layers"].size(), size_t(4));
    QCOMPARE(j["layers"][0]["wbits"].get<int>(), 4);
  }
  void quantizeZooVitW8A8() {
    if (!zooPresent()) QSKIP("zoo weights resources/zoo/vit-fmnist/model.safetensors not present");
    const QString ws = dir.path() + "/ws.cstudio";
    auto r = run({"quantize", "vit-fmnist", "--method", "rtn", "--wbits", "8", "--abits", "8", "--calib", "128", "--eval",
                  "--eval-samples", "2000", "--json", "--workspace", ws});
    QVERIFY2(r.code == 0, r.err.constData());
    QVERIFY(r.err.contains("%]"));  // progress went to stderr
    auto j = nlohmann::json::parse(r.out.toStdString());
    double fp = j["metrics"]["fp_accuracy"], q = j["metrics"]["q_accuracy"];
    QVERIFY(fp >= 0.85);
    QVERIFY(std::abs(fp - q) <= 0.01);
    QCOMPARE(j["recipe"]["params"]["wbits"].get<int>(), 8);
    QVERIFY(j.contains("run_id"));
    QVERIFY(QFile::exists(ws));
  }
  void errors() {
    auto r = run({"info", "/no/such/model.pt"});
    QCOMPARE(r.code, 3);
    QVERIFY(r.err.startsWith("cstudio: error: "));
    QCOMPARE(r.err.count('\n'), 1);
    QVERIFY(r.out.isEmpty());
    QFile bad(dir.path() + "/bad.json");
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write("{ not json");
    bad.close();
    auto b = run({"quantize", models + "cnn.pt", "--recipe", dir.path() + "/bad.json"});
    QVERIFY(b.code != 0);
    QVERIFY(b.err.contains("bad.json"));
    auto u = run({"quantize", models + "cnn.pt", "--wbits", "99"});
    QVERIFY(u.code != 0);
    QVERIFY(u.err.contains("wbits"));
    auto t = run({"train", "no-such-model"});
    QVERIFY(t.code != 0);
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
