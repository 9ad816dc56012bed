// `cstudio segment` end to end on the sam2_mini fixture: masks written per frame, J/F
// against ground truth (its own masks: 1.0 on the DAVIS-scored frames), errors.
#include <QtTest/QtTest>

#include "cli_process.h"
#include <nlohmann/json.hpp>

class TestCliSegment : public QObject {
  Q_OBJECT
  QString exe = QString(CS_BINARY_DIR) + "/app/cli/cstudio";
  QString mini = QString(CS_SHARED_DIR) + "/fixtures/sam2_mini";
  QTemporaryDir dir;

  using Out = cs_test::CliOut;
  Out run(const QStringList& args) { return cs_test::runProcess(exe, args, 300000); }

 private Q_SLOTS:
  void segmentsWritesMasksAndScores() {
    if (!QFile::exists(mini + "/sam2_mini.pt")) QSKIP("../shared/fixtures/sam2_mini absent");
    const QString out = dir.filePath("masks");
    auto r = run({"segment", mini + "/sam2_mini.pt", "--video", mini + "/frames", "--point", "70,117", "--out", out,
                  "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    auto j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["size"].get<std::string>(), std::string("mini"));
    QCOMPARE(j["frames"].get<int>(), 8);
    QVERIFY(j["mean_mask_area"].get<double>() > 0.0);
    for (int i = 0; i < 8; ++i) QVERIFY(QFile::exists(out + QString("/%1.png").arg(i, 5, 10, QChar('0'))));
    QVERIFY(r.err.contains("frame"));  // progress on stderr
    // Scoring against its own masks: perfect, on frames 1..6 (DAVIS skips first and last).
    r = run({"segment", mini + "/sam2_mini.pt", "--video", mini + "/frames", "--point", "70,117", "--gt", out,
             "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    j = nlohmann::json::parse(r.out.toStdString());
    QCOMPARE(j["scored_frames"].get<int>(), 6);
    QCOMPARE(j["J"].get<double>(), 1.0);
    QCOMPARE(j["F"].get<double>(), 1.0);
  }

  void badInputIsOneClearLine() {
    auto r = run({"segment", dir.filePath("none.pt"), "--video", mini + "/frames", "--point", "1,2"});
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains("none.pt"), r.err.constData());
    r = run({"segment", mini + "/sam2_mini.pt", "--video", mini + "/frames", "--point", "1,x"});
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains("--point"), r.err.constData());
    r = run({"segment", mini + "/sam2_mini.pt", "--video", mini + "/frames"});
    QVERIFY(r.code != 0);
    QVERIFY2(r.err.contains("--point"), r.err.constData());
  }
  // No checkpoint: the zoo's sam2-micro, on a held-out synthetic clip (test split, seed
  // 1000001, exact masks from `cstudio synth-video`), one click on object 1's deepest pixel.
  void defaultModelTracksHeldOutClip() {
    const QString zoo = QString(CS_SOURCE_DIR) + "/resources/zoo/sam2-micro/model.safetensors";
    if (!QFile::exists(zoo)) QSKIP("the zoo's sam2-micro is absent");
    if (!QFile::exists("/usr/share/datasets/fashion-mnist") && qEnvironmentVariableIsEmpty("CSTUDIO_FMNIST"))
      QSKIP("Fashion-MNIST absent (Debian dataset-fashion-mnist)");
    const QString clip = dir.filePath("clip");
    auto g = run({"synth-video", "--seed", "1000001", "--frames", "8", "--split", "test", "--out", clip, "--json"});
    QVERIFY2(g.code == 0, g.err.constData());
    const auto gj = nlohmann::json::parse(g.out.toStdString());
    const auto& o1 = gj["objects"][0];
    QCOMPARE(o1["id"].get<int>(), 1);
    const QString click = QString("%1,%2").arg(o1["click"][0].get<int>()).arg(o1["click"][1].get<int>());
    auto r = run({"segment", "--video", clip + "/frames", "--point", click, "--gt", clip + "/obj1", "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    const auto j = nlohmann::json::parse(r.out.toStdString());
    QVERIFY(QString::fromStdString(j["checkpoint"].get<std::string>()).endsWith("sam2-micro/model.safetensors"));
    QCOMPARE(j["size"].get<std::string>(), std::string("micro"));
    const double J = j["J"].get<double>(), F = j["F"].get<double>();
    qInfo("sam2-micro by default, held-out clip 1000001, object 1: J %.3f F %.3f", J, F);
    QVERIFY2(J >= 0.7 && F >= 0.7, qPrintable(QString("J %1 F %2").arg(J).arg(F)));
  }
};

QTEST_GUILESS_MAIN(TestCliSegment)
#include "test_cli_segment.moc"
