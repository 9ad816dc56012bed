// The Generate tab, offscreen, on the zoo's ddpm-fmnist and lm-fortunes: a 2 classes x
// 2 seeds grid at 5 DDIM steps holds 4 non-blank images with the right labels and saves
// as a PNG grid; lm-fortunes writes text; Cancel stops a long job (the old grid stays); a
// class-consistency job returns a figure in [0, 1] with its sample count and records a
// run in the workspace; a held-out perplexity job on a few fortunes returns a finite figure.
// Asserts on the data the views hold, not on pixels of the window or on timing.
#include <QDir>
#include <QComboBox>
#include <QImage>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "app/gui/GenerateTab.h"
#include "core/GenerateJobs.h"
#include "engine/model.h"
#include "widgets/generate/SampleGrid.h"

using cs::gui::GenerateTab;
using cs::qt::GenerateSession;

namespace {
bool zooHas(const std::string& name) {
  for (const auto& e : cs::zooModels())
    if (e.name == name && e.available) return true;
  return false;
}

double imageStd(const QImage& img) {
  const QImage g = img.convertToFormat(QImage::Format_Grayscale8);
  double s = 0, s2 = 0;
  const int n = g.width() * g.height();
  for (int y = 0; y < g.height(); ++y)
    for (int x = 0; x < g.width(); ++x) {
      const double v = g.constScanLine(y)[x] / 255.0;
      s += v;
      s2 += v * v;
    }
  const double m = s / n;
  return std::sqrt(std::max(0.0, s2 / n - m * m));
}
}  // namespace

class TestGenerateTab : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  cs::qt::StudioSession* session_ = nullptr;
  GenerateTab* tab_ = nullptr;

  void requireZoo(const char* name) {
    if (!zooHas(name)) QSKIP(qPrintable(QStringLiteral("zoo weights for %1 are absent (cstudio train %1)").arg(name)));
  }

 private Q_SLOTS:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    session_ = new cs::qt::StudioSession(this);
    QString err;
    QVERIFY2(session_->workspace()->open(dir_.filePath(QStringLiteral("ws.csw")), &err), qPrintable(err));
    tab_ = new GenerateTab(session_);
    tab_->resize(1100, 800);
    tab_->show();
  }
  void cleanupTestCase() {
    session_->jobs()->cancel();
    session_->jobs()->waitForIdle(30000);
    delete tab_;
  }

  void parsesSeedRanges() {
    std::string err;
    QCOMPARE(cs::gen::parseIndexRange("0-3, 7", -1, &err), (std::vector<int64_t>{0, 1, 2, 3, 7}));
    QVERIFY(cs::gen::parseIndexRange("3-1", -1, &err).empty());
    QVERIFY(!err.empty());
    QVERIFY(cs::gen::parseIndexRange("x", -1, &err).empty());
    QVERIFY(cs::gen::parseIndexRange("12", 9, &err).empty());
  }

  void imageGrid() {
    requireZoo("ddpm-fmnist");
    QVERIFY(tab_->selectModel(QStringLiteral("ddpm-fmnist")));
    QCOMPARE(tab_->currentTask(), cs::Task::Diffusion);
    QCOMPARE(tab_->classList()->count(), 10);
    QVERIFY(tab_->classList()->item(7)->text().contains(QStringLiteral("Sneaker")));
    tab_->setClasses({1, 7});
    tab_->seedsEdit()->setText(QStringLiteral("3-4"));
    tab_->stepsSpin()->setValue(5);
    QSignalSpy ready(tab_->generator(), &GenerateSession::imagesReady);
    QSignalSpy failed(tab_->generator(), &GenerateSession::failed);
    tab_->generateButton()->click();
    QVERIFY(tab_->generator()->isGenerating());
    QVERIFY2(ready.wait(60000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().at(1).toString()));
    auto* grid = tab_->grid();
    QCOMPARE(grid->count(), 4);
    const QStringList want = {QStringLiteral("Trouser \u00b7 seed 3"), QStringLiteral("Trouser \u00b7 seed 4"),
                              QStringLiteral("Sneaker \u00b7 seed 3"), QStringLiteral("Sneaker \u00b7 seed 4")};
    for (int i = 0; i < 4; ++i) {
      QCOMPARE(grid->tile(i).label, want[i]);
      QCOMPARE(grid->tile(i).image.size(), QSize(32, 32));
      QVERIFY2(imageStd(grid->tile(i).image) > 0.05, qPrintable(QStringLiteral("tile %1 is blank").arg(i)));
    }
    QCOMPARE(grid->columns(), 2);  // one column per seed
    const auto& data = tab_->generator()->images();
    QCOMPARE(data.labels, (std::vector<int>{1, 1, 7, 7}));
    QCOMPARE(data.seeds, (std::vector<uint64_t>{3, 4, 3, 4}));
    // Different seeds give different samples.
    QVERIFY(grid->tile(0).image != grid->tile(1).image);
    QVERIFY(tab_->saveButton()->isEnabled());
    const QString png = dir_.filePath(QStringLiteral("grid.png"));
    QString err;
    QVERIFY2(tab_->saveGrid(png, &err), qPrintable(err));
    QImage saved(png);
    QVERIFY(!saved.isNull());
    QVERIFY(saved.width() >= 2 * 32 && saved.height() >= 2 * 32);
    QVERIFY(saved.width() < 3 * 32);  // two columns
  }

  void cancelStopsJob() {
    requireZoo("ddpm-fmnist");
    QVERIFY(tab_->selectModel(QStringLiteral("ddpm-fmnist")));
    const int before = tab_->grid()->count();
    tab_->setClasses({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    tab_->seedsEdit()->setText(QStringLiteral("0-15"));
    tab_->stepsSpin()->setValue(500);
    QSignalSpy ready(tab_->generator(), &GenerateSession::imagesReady);
    QSignalSpy failed(tab_->generator(), &GenerateSession::failed);
    QSignalSpy progress(session_->jobs(), &cs::qt::JobRunner::jobProgress);
    tab_->generate();
    QVERIFY(tab_->cancelButton()->isEnabled());
    QVERIFY(progress.wait(30000));
    tab_->cancelButton()->click();
    QVERIFY(failed.wait(30000) || !failed.isEmpty());
    QCOMPARE(failed.first().at(2).toBool(), true);  // cancelled, not an error
    QVERIFY(ready.isEmpty());
    QVERIFY(session_->jobs()->waitForIdle(30000));
    QVERIFY(!tab_->generator()->isGenerating());
    QCOMPARE(tab_->grid()->count(), before);  // the previous grid stays
    QVERIFY(tab_->generateButton()->isEnabled());
  }

  void classConsistencyJob() {
    requireZoo("ddpm-fmnist");
    requireZoo("vit-fmnist");
    QVERIFY(tab_->selectModel(QStringLiteral("ddpm-fmnist")));
    tab_->stepsSpin()->setValue(5);
    const int idx = tab_->metricCombo()->findData(QStringLiteral("class-consistency"));
    QVERIFY(idx >= 0);
    tab_->metricCombo()->setCurrentIndex(idx);
    tab_->metricSamplesSpin()->setValue(10);
    QSignalSpy ready(tab_->generator(), &GenerateSession::metricReady);
    QSignalSpy failed(tab_->generator(), &GenerateSession::failed);
    const int runsBefore = session_->workspace()->runs()->rowCount();
    tab_->metricButton()->click();
    QVERIFY2(ready.wait(60000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().at(1).toString()));
    const auto& m = tab_->generator()->metric();
    QCOMPARE(QString::fromStdString(m.metric), QStringLiteral("class-consistency"));
    QCOMPARE(m.samples, 10);
    QVERIFY(m.value >= 0.0 && m.value <= 1.0);
    // A multiple of 1/10: a fraction of the 10 samples.
    QVERIFY(std::fabs(m.value * 10 - std::round(m.value * 10)) < 1e-9);
    QVERIFY(tab_->metricResult()->text().contains(QStringLiteral("10 samples")));
    QVERIFY(tab_->generator()->lastMetricRunId() >= 0);
    QCOMPARE(session_->workspace()->runs()->rowCount(), runsBefore + 1);
  }

  void languageModelText() {
    requireZoo("lm-fortunes");
    QVERIFY(tab_->selectModel(QStringLiteral("lm-fortunes")));
    QCOMPARE(tab_->currentTask(), cs::Task::LanguageModel);
    tab_->promptEdit()->setText(QStringLiteral("The "));
    tab_->maxTokensSpin()->setValue(16);
    tab_->temperatureSpin()->setValue(0.8);
    tab_->topKSpin()->setValue(40);
    tab_->seedSpin()->setValue(7);
    QSignalSpy ready(tab_->generator(), &GenerateSession::textReady);
    QSignalSpy failed(tab_->generator(), &GenerateSession::failed);
    tab_->generate();
    QVERIFY2(ready.wait(60000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().at(1).toString()));
    const auto& r = tab_->generator()->text();
    QVERIFY(r.generatedTokens > 0);
    QVERIFY(!r.text.empty());
    const QString shown = tab_->textView()->toPlainText();
    QVERIFY(shown.startsWith(QStringLiteral("The ")));
    QVERIFY(shown.size() > 4);
    QVERIFY(tab_->resultInfo()->text().contains(QStringLiteral("tokens/s")));
  }

  void perplexityJob() {
    requireZoo("lm-fortunes");
    if (!QDir(QStringLiteral("/usr/share/games/fortunes")).exists() && qEnvironmentVariableIsEmpty("CSTUDIO_FORTUNES"))
      QSKIP("the fortunes corpus (Debian package fortunes) is absent");
    QVERIFY(tab_->selectModel(QStringLiteral("lm-fortunes")));
    tab_->metricCombo()->setCurrentIndex(tab_->metricCombo()->findData(QStringLiteral("ppl")));
    tab_->metricSamplesSpin()->setValue(8);
    QSignalSpy ready(tab_->generator(), &GenerateSession::metricReady);
    QSignalSpy failed(tab_->generator(), &GenerateSession::failed);
    tab_->runMetric();
    QVERIFY2(ready.wait(60000), failed.isEmpty() ? "timeout" : qPrintable(failed.first().at(1).toString()));
    const auto& m = tab_->generator()->metric();
    QCOMPARE(QString::fromStdString(m.metric), QStringLiteral("ppl"));
    QCOMPARE(m.samples, 8);
    QVERIFY(m.tokens > 0);
    QVERIFY(std::isfinite(m.value) && m.value > 1.0 && m.value < 256.0);  // byte-level: below uniform
  }
};

QTEST_MAIN(TestGenerateTab)
#include "test_generate_tab.moc"
