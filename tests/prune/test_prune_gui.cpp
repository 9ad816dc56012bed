// Prune tab offscreen on lm-fortunes: magnitude 2:4 with a tiny calibration set shows
// dense vs pruned perplexity and a per-layer table of exactly 50 % sparse layers; a run
// cancels cleanly and keeps the previous result; magnitude 2:4 + SI fills the SI views with
// real data (asserted on the plotted data) and the with/without-SI error comparison; the
// variant is saved with its masks and reopens through the normal model-open path.
// With CS_SCREENSHOTS=<dir> it saves prune.png, prune_si.png and prune_si_error.png there.
#include <QtTest>

#include <QCheckBox>
#include <QComboBox>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableWidget>
#include <cmath>
#include <filesystem>

#include "app/gui/PruneTab.h"
#include "engine/model.h"
#include "widgets/ParamForm.h"
#include "widgets/prune/PruneReportView.h"
#include "widgets/prune/SiViews.h"

using namespace cs::widgets;

namespace {
void shot(QWidget* w, const QString& name) {
  const QString dir = qEnvironmentVariable("CS_SCREENSHOTS");
  if (dir.isEmpty()) return;
  QDir().mkpath(dir);
  QTest::qWait(100);  // let the layouts settle (word-wrapped labels)
  QVERIFY(w->grab().save(dir + QLatin1Char('/') + name + QStringLiteral(".png")));
}
}  // namespace

class TestPruneGui : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  std::unique_ptr<cs::gui::PruneTab> tab_;

 private Q_SLOTS:
  void initTestCase() {
    auto probe = cs::openModel("lm-fortunes");
    QVERIFY2(probe.ok(), probe ? "" : probe.error().message.c_str());  // committed zoo weights: must open
    tab_ = std::make_unique<cs::gui::PruneTab>();
    tab_->resize(1400, 900);
    tab_->show();
    QSignalSpy ready(tab_.get(), &cs::gui::PruneTab::modelReady);
    QSignalSpy failed(tab_.get(), &cs::gui::PruneTab::failed);
    tab_->openModel("lm-fortunes");
    QVERIFY(ready.wait(30000) || !failed.isEmpty());
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().at(1).toString()));
    QVERIFY(tab_->model().valid());
    QVERIFY(tab_->siLayerBox()->count() > 0);
    // the method picker lists the three pruners and the form comes from their schema
    QCOMPARE(tab_->methodBox()->count(), 3);
    for (auto id : {"magnitude", "wanda", "sparsegpt"}) QVERIFY(tab_->methodBox()->findData(QString(id)) >= 0);
  }

  void magnitude24ShowsPerplexityAndTable() {
    QVERIFY(tab_->setMethod("magnitude"));
    QVERIFY(tab_->form()->presetNames().contains("2:4"));
    QVERIFY(tab_->form()->applyPreset("2:4"));
    QVERIFY(tab_->form()->editor("si") != nullptr);  // SI is a check box of the form
    tab_->form()->setValues({{"si", false}});
    tab_->calibBox()->setValue(4);
    tab_->calibLengthBox()->setValue(64);
    tab_->seedBox()->setValue(0);
    tab_->evaluateBox()->setChecked(true);
    tab_->evalKiBBox()->setValue(4);
    QSignalSpy done(tab_.get(), &cs::gui::PruneTab::pruneFinished);
    QSignalSpy failed(tab_.get(), &cs::gui::PruneTab::failed);
    QElapsedTimer t;
    t.start();
    tab_->runPrune();
    QVERIFY(tab_->isRunning());
    // the GUI thread keeps processing events while the job runs
    QVERIFY(done.wait(60000) || !failed.isEmpty());
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().at(1).toString()));
    qInfo("magnitude 2:4 (4 x 64 calibration tokens, 4 KiB eval) took %.1f s", t.elapsed() / 1000.0);
    const auto* r = tab_->lastResult();
    QVERIFY(r && r->variant.valid());
    const auto& d = tab_->report()->data();
    QCOMPARE(d.ppl.size(), 1);
    QCOMPARE(d.ppl[0].label, QString("fortunes-heldout"));
    QVERIFY(d.ppl[0].dense > 1 && d.ppl[0].dense < 50);
    QVERIFY(d.ppl[0].pruned > d.ppl[0].dense);  // 2:4 magnitude costs perplexity
    const QString shown = tab_->report()->perplexityText();
    QVERIFY2(shown.contains(QString::number(d.ppl[0].dense, 'f', 3)), qPrintable(shown));
    QVERIFY2(shown.contains(QString::number(d.ppl[0].pruned, 'f', 3)), qPrintable(shown));
    auto* table = tab_->report()->table();
    QCOMPARE(table->rowCount(), static_cast<int>(r->layers.size()));
    QVERIFY(table->rowCount() >= 7);
    for (int i = 0; i < table->rowCount(); ++i) {
      QCOMPARE(table->item(i, 0)->text(), QString::fromStdString(r->layers[i].layer));
      QCOMPARE(table->item(i, 2)->text(), QString("50.00"));  // 2:4: exactly half of every row
      QVERIFY(table->item(i, 3)->text().toDouble() > 0);
    }
    QVERIFY(tab_->report()->summaryText().contains("MiB"));
    QVERIFY(std::abs(r->sparsity - 0.5) < 1e-9);
    shot(tab_.get(), "prune");
  }

  void cancelKeepsPreviousResult() {
    const auto before = tab_->lastResult()->variant.name();
    QVERIFY(tab_->setMethod("sparsegpt"));
    tab_->form()->setValues({{"si", true}});
    tab_->calibBox()->setValue(32);
    QSignalSpy cancelled(tab_.get(), &cs::gui::PruneTab::pruneCancelled);
    QSignalSpy done(tab_.get(), &cs::gui::PruneTab::pruneFinished);
    tab_->runPrune();
    QTest::qWait(300);
    tab_->cancel();
    QElapsedTimer t;
    t.start();
    QVERIFY(cancelled.wait(30000));
    qInfo("cancel took effect after %lld ms", static_cast<long long>(t.elapsed()));
    QVERIFY(done.isEmpty());
    QVERIFY(!tab_->isRunning());
    QCOMPARE(tab_->lastResult()->variant.name(), before);
    QVERIFY(tab_->status().contains("Cancelled"));
  }

  void magnitudeSiFillsViews() {
    // Magnitude + SI: the scores |W| become |W s| (the paper's Figure 1 case; Wanda's score
    // is invariant to a pure scale, so for it only the shift moves the scores)
    QVERIFY(tab_->setMethod("magnitude"));
    QVERIFY(tab_->form()->applyPreset("2:4"));
    tab_->form()->setValues({{"si", true}, {"si_epochs", 1}, {"si_init", "rms"}});
    tab_->calibBox()->setValue(8);
    tab_->calibLengthBox()->setValue(64);
    tab_->evaluateBox()->setChecked(false);
    tab_->compareBox()->setChecked(true);
    const QString layer = tab_->siLayerBox()->itemText(0);
    tab_->siLayerBox()->setCurrentIndex(0);
    QSignalSpy done(tab_.get(), &cs::gui::PruneTab::pruneFinished);
    QSignalSpy failed(tab_.get(), &cs::gui::PruneTab::failed);
    QElapsedTimer t;
    t.start();
    tab_->runPrune();
    QVERIFY(done.wait(90000) || !failed.isEmpty());
    QVERIFY2(failed.isEmpty(), failed.isEmpty() ? "" : qPrintable(failed.first().at(1).toString()));
    qInfo("magnitude 2:4 + SI and the SI-free comparison took %.1f s", t.elapsed() / 1000.0);
    const auto* r = tab_->lastResult();
    QVERIFY(r->metrics["si"].value("enabled", false));
    QCOMPARE(QString::fromStdString(r->siView.layer), layer);
    const cs::LayerPruneReport* lr = nullptr;
    for (auto& l : r->layers)
      if (QString::fromStdString(l.layer) == layer) lr = &l;
    QVERIFY(lr != nullptr);
    // scales: one per input channel, positive, what SI learned (not all ones)
    const auto& sd = tab_->siScales()->data();
    QCOMPARE(sd.layer, layer);
    QCOMPARE(sd.scale.size(), static_cast<int>(lr->cols));
    QCOMPARE(sd.shift.size(), sd.scale.size());
    double smin = 1e300, smax = 0;
    for (double s : sd.scale) smin = std::min(smin, s), smax = std::max(smax, s);
    QVERIFY(smin > 0);
    QVERIFY(smax / smin > 1.05);
    // score distributions: one score per weight, histograms normalised
    const auto& sc = tab_->siScores()->data();
    QCOMPARE(sc.before.size(), static_cast<int>(lr->rows * lr->cols));
    QCOMPARE(sc.after.size(), sc.before.size());
    double hb = 0, ha = 0;
    for (double v : sc.histBefore) hb += v;
    for (double v : sc.histAfter) ha += v;
    QVERIFY(std::abs(hb - 1) < 1e-6 && std::abs(ha - 1) < 1e-6);
    QVERIFY(sc.before != sc.after);
    QVERIFY(sc.changedFraction > 0 && sc.changedFraction < 1);
    // error with and without SI, per layer, from the two runs
    const auto& ed = tab_->siErrors()->data();
    QVERIFY(tab_->lastComparison() != nullptr);
    QCOMPARE(ed.layers.size(), static_cast<int>(r->layers.size()));
    for (int i = 0; i < ed.layers.size(); ++i) {
      QCOMPARE(ed.withSi[i], r->layers[i].outputError);
      QCOMPARE(ed.withoutSi[i], tab_->lastComparison()->layers[i].outputError);
      QVERIFY(ed.withoutSi[i] > 0 && ed.withSi[i] > 0);
    }
    // exports like the explorer views
    for (PlotPanel* v : std::initializer_list<PlotPanel*>{tab_->siScales(), tab_->siScores(), tab_->siErrors()})
      for (const char* ext : {"png", "svg", "pdf", "csv"}) {
        const QString p = dir_.filePath(QString("%1.%2").arg(v->metaObject()->className()).arg(ext).remove("cs::widgets::"));
        QVERIFY2(v->exportTo(p), qPrintable(p));
        QVERIFY(QFileInfo(p).size() > 0);
      }
    QFile csv(dir_.filePath("SiErrorView.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    QCOMPARE(csv.readAll().count('\n'), ed.layers.size() + 1);
    tab_->views()->setCurrentIndex(1);
    shot(tab_.get(), "prune_si");
    tab_->views()->setCurrentIndex(2);
    shot(tab_.get(), "prune_si_error");
    tab_->views()->setCurrentIndex(0);
  }

  void saveVariantReopens() {
    const QString path = dir_.filePath("variant.safetensors");
    QVERIFY(tab_->saveVariant(path));
    QVERIFY(QFileInfo::exists(dir_.filePath("variant.masks.safetensors")));
    auto m = cs::openModel(path.toStdString());
    QVERIFY2(m.ok(), m.ok() ? "" : m.error().message.c_str());
    QCOMPARE(m->task(), cs::Task::LanguageModel);
    const auto& l = tab_->lastResult()->layers.front();
    auto w = m->weight(l.layer);
    QVERIFY2(w.ok(), w.ok() ? "" : w.error().message.c_str());
    int64_t zeros = 0;
    for (float v : w->values) zeros += v == 0.f;
    QCOMPARE(static_cast<double>(zeros) / static_cast<double>(w->values.size()), l.sparsity);
    QVERIFY(!tab_->saveVariant("/nonexistent-dir/x.safetensors"));
    QVERIFY(tab_->status().contains("nonexistent-dir"));
  }

  void cleanupTestCase() { tab_.reset(); }
};

QTEST_MAIN(TestPruneGui)
#include "test_prune_gui.moc"
