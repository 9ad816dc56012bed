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
};

QTEST_GUILESS_MAIN(TestCliSegment)
#include "test_cli_segment.moc"
