// End to end, offscreen: the real main window on a temporary workspace runs the demo
// (vit-fmnist, layer blocks.0.mlp.fc1, calibration, RTN W8A8 on 1000 test images), then
// the test checks the DATA the views show, cancels a second run, and reopens the
// workspace. Skips only when the zoo's vit-fmnist weights are absent.
#include <QFile>
#include <QLabel>
#include <QMimeData>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "app/gui/CompressTab.h"
#include "app/gui/DemoScript.h"
#include "app/gui/MainWindow.h"
#include "engine/model.h"
#include "engine/runtime.h"
#include "widgets/HistogramView.h"
#include "widgets/JobStatusBar.h"
#include "widgets/LayerTreeView.h"
#include "widgets/MetricsPanel.h"
#include "widgets/QCustomPlotInclude.h"
#include "widgets/RunTable.h"

using namespace cs::gui;

namespace {
const QString kLayer = QStringLiteral("blocks.0.mlp.fc1");

double percentOf(const QString& text) {
  QString t = text;
  t.remove(QStringLiteral("%"));
  bool ok = false;
  const double v = t.trimmed().toDouble(&ok);
  return ok ? v : std::nan("");
}

double graphSum(QCPGraph* g) {
  double s = 0;
  for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
    if (std::isfinite(it->value)) s += it->value;
  return s;
}
}  // namespace

class TestGuiEndToEnd : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString ws_;
  bool zooAvailable_ = false;

  void requireZoo() {
    if (!zooAvailable_) QSKIP("zoo weights for vit-fmnist are absent (train them with `cstudio train vit-fmnist`)");
  }

 private Q_SLOTS:
  void initTestCase() {
    qputenv("CSTUDIO_NO_SETTINGS", "1");
    for (const auto& e : cs::zooModels())
      if (e.name == "vit-fmnist") zooAvailable_ = e.available;
    cs::initRuntime();
    QVERIFY(dir_.isValid());
    ws_ = dir_.filePath(QStringLiteral("e2e.cstudio"));
  }

  void demoQuantizesAndShowsData() {
    requireZoo();
    MainWindow w;
    w.setInteractive(false);
    QVERIFY(w.openWorkspace(ws_));
    w.resize(1400, 900);
    w.show();

    DemoOptions opt;
    opt.layer = kLayer;
    opt.calibrationImages = 128;
    opt.evalImages = 1000;
    DemoScript script(&w, opt);
    QSignalSpy finished(&script, &DemoScript::finished);
    script.start();
    QVERIFY(finished.wait(180000));
    QVERIFY2(finished.first().at(0).toInt() == 0, qPrintable(finished.first().at(1).toString()));

    CompressTab* tab = w.compressTab();
    QCOMPARE(tab->layerTree()->currentLayer(), kLayer);

    // Weight histogram: FP and quantized series on the same bins, each holding every weight.
    const auto* info = w.session()->layerModel()->layer(w.session()->layerModel()->indexForLayer(kLayer));
    QVERIFY(info);
    int64_t numel = 1;
    for (auto d : info->weightShape) numel *= d;
    QVERIFY(numel > 1);
    auto* weights = tab->weightHistogram();
    QVERIFY(!weights->data().reference.isEmpty());
    QVERIFY(!weights->data().overlay.isEmpty());
    QCOMPARE(weights->data().overlay.centers, weights->data().reference.centers);
    QCOMPARE(qint64(std::llround(weights->data().reference.sum())), qint64(numel));
    QCOMPARE(qint64(std::llround(weights->data().overlay.sum())), qint64(numel));
    QCPGraph* fpGraph = weights->plot()->graph(0);
    QCPGraph* qGraph = weights->plot()->graph(1);
    QCOMPARE(qint64(std::llround(graphSum(fpGraph))), qint64(numel));
    QCOMPARE(qint64(std::llround(graphSum(qGraph))), qint64(numel));
    QVERIFY(qGraph->visible());
    QVERIFY(weights->statsText().contains(QStringLiteral("SQNR")));

    // Activation histogram: FP and fake-quantized with the clipping range.
    auto* acts = tab->activationHistogram();
    QVERIFY(!acts->data().reference.isEmpty());
    QVERIFY(!acts->data().overlay.isEmpty());
    QVERIFY(acts->data().showClip);
    QVERIFY(acts->data().clipLo < acts->data().clipHi);
    QCOMPARE(std::llround(acts->data().overlay.sum()), std::llround(acts->data().reference.sum()));

    // Metrics: quantized accuracy within one point of full precision.
    const double fp = percentOf(tab->metrics()->value(QStringLiteral("fp_accuracy")));
    const double q = percentOf(tab->metrics()->value(QStringLiteral("q_accuracy")));
    QVERIFY2(std::isfinite(fp) && std::isfinite(q), qPrintable(tab->metrics()->value(QStringLiteral("q_accuracy"))));
    QVERIFY2(fp > 50.0, qPrintable(QString::number(fp)));
    QVERIFY2(std::abs(fp - q) <= 1.0, qPrintable(QStringLiteral("fp %1 q %2").arg(fp).arg(q)));
    QCOMPARE(tab->metrics()->value(QStringLiteral("eval_samples")), QStringLiteral("1,000"));

    // The run is in the table, selected, with its recipe.
    auto* table = tab->runTable()->table();
    QCOMPARE(table->model()->rowCount(), 1);
    QCOMPARE(table->model()->index(0, cs::qt::RunListModel::BitsColumn).data().toString(), QStringLiteral("W8A8"));
    QVERIFY(tab->runTable()->details().contains(QStringLiteral("\"wbits\": 8")));

    // A second run, cancelled from the status bar: no new run is stored.
    w.session()->quantize(QStringLiteral("rtn"), {{"wbits", 4}, {"abits", 8}}, 64, 1000);
    QTest::qWait(150);
    QVERIFY(w.session()->jobs()->isRunning(QStringLiteral("quantize")));
    QPushButton* cancel = w.jobStatus()->cancelButton();
    QVERIFY(cancel->isEnabled());
    QElapsedTimer t;
    t.start();
    cancel->click();
    QVERIFY(w.session()->jobs()->waitForIdle(30000));
    QVERIFY2(t.elapsed() < 30000, "cancel took too long");
    QCOMPARE(table->model()->rowCount(), 1);
    QVERIFY2(w.jobStatus()->text().contains(QStringLiteral("cancelled")), qPrintable(w.jobStatus()->text()));
  }

  void runsSurviveReopening() {
    requireZoo();
    MainWindow w;
    w.setInteractive(false);
    QVERIFY(w.openWorkspace(ws_));
    auto* table = w.compressTab()->runTable()->table();
    QCOMPARE(table->model()->rowCount(), 1);
    QVERIFY(w.compressTab()->runTable()->selectRun(table->model()->index(0, 0).data(Qt::UserRole + 1).toLongLong()));
    QVERIFY(w.compressTab()->runTable()->details().contains(QStringLiteral("\"method\": \"rtn\"")));
    QCOMPARE(table->model()->index(0, cs::qt::RunListModel::ModelColumn).data().toString(), QStringLiteral("vit-fmnist"));
  }

  // Dropping a TorchScript file opens it (layer tree filled); a broken file gives a clean error.
  void dropOpensModelFiles() {
    const QString ts = QStringLiteral(CS_SOURCE_DIR "/tests/models/cnn.pt");
    if (!QFile::exists(ts)) QSKIP("tests/models/cnn.pt is absent");
    MainWindow w;
    w.setInteractive(false);
    QVERIFY(w.openWorkspace(dir_.filePath(QStringLiteral("drop.cstudio"))));
    w.show();
    auto drop = [&w](const QString& path) {
      QMimeData mime;
      mime.setUrls({QUrl::fromLocalFile(path)});
      QDragEnterEvent enter(QPoint(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
      QCoreApplication::sendEvent(&w, &enter);
      if (!enter.isAccepted()) return false;
      QDropEvent dropEvent(QPointF(10, 10), Qt::CopyAction, &mime, Qt::LeftButton, Qt::NoModifier);
      QCoreApplication::sendEvent(&w, &dropEvent);
      return true;
    };
    QSignalSpy opened(w.session(), &cs::qt::StudioSession::modelOpened);
    QVERIFY(drop(ts));
    QVERIFY(opened.wait(60000));
    QVERIFY(w.session()->layerModel()->indexForLayer(QStringLiteral("conv1")).isValid());
    QVERIFY(w.session()->jobs()->waitForIdle(60000));
    QVERIFY(w.compressTab()->weightHistogram()->hasData());  // first quantizable layer selected

    const QString bad = dir_.filePath(QStringLiteral("broken.pt"));
    {
      QFile f(bad);
      QVERIFY(f.open(QIODevice::WriteOnly));
      f.write("this is not a model");
    }
    QSignalSpy failed(w.session(), &cs::qt::StudioSession::jobFailed);
    QVERIFY(drop(bad));
    QVERIFY(failed.wait(60000));
    QVERIFY2(failed.first().at(1).toString().contains(QStringLiteral("broken.pt")),
             qPrintable(failed.first().at(1).toString()));
    QVERIFY(w.session()->jobs()->waitForIdle(10000));
    QVERIFY2(w.jobStatus()->text().contains(QStringLiteral("failed")), qPrintable(w.jobStatus()->text()));
    QCOMPARE(w.session()->modelName(), ts);  // the open model stays
  }
};

QTEST_MAIN(TestGuiEndToEnd)
#include "test_gui_e2e.moc"
