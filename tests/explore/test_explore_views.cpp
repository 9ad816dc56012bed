// Explorer views offscreen: each view plots the data it is given (asserted on the plot's
// own data, not pixels) and exports valid PNG/SVG/PDF/CSV; the Explore tab drives them
// with real data from vit-fmnist, lm-fortunes, a TorchScript file and the tiny diffusion
// UNet, in JobRunner jobs. With CS_SCREENSHOTS=<dir> it saves explore_*.png there.
#include <QtTest>

#include <QTabWidget>
#include <QTimer>
#include <cmath>

#include "app/gui/ExploreTab.h"
#include "widgets/QCustomPlotInclude.h"
#include "widgets/explore/ExploreViews.h"

using namespace cs::widgets;

namespace {
QByteArray head(const QString& path, int n) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return f.read(n);
}

void checkExports(PlotPanel* v, const QString& dir, const QString& stem, int csvLines) {
  for (const char* ext : {"png", "svg", "pdf", "csv"}) {
    const QString p = dir + QLatin1Char('/') + stem + QLatin1Char('.') + QLatin1String(ext);
    QVERIFY2(v->exportTo(p), qPrintable(p));
    QVERIFY(QFileInfo(p).size() > 0);
  }
  QCOMPARE(head(dir + "/" + stem + ".png", 8), QByteArray("\x89PNG\r\n\x1a\n", 8));
  QVERIFY(head(dir + "/" + stem + ".svg", 400).contains("<svg"));
  QCOMPARE(head(dir + "/" + stem + ".pdf", 5), QByteArray("%PDF-"));
  QFile csv(dir + "/" + stem + ".csv");
  QVERIFY(csv.open(QIODevice::ReadOnly));
  QCOMPARE(csv.readAll().count('\n'), csvLines);
}

void shot(QWidget* w, const QString& name) {
  const QString dir = qEnvironmentVariable("CS_SCREENSHOTS");
  if (dir.isEmpty()) return;
  QDir().mkpath(dir);
  QVERIFY(w->grab().save(dir + QStringLiteral("/explore_") + name + QStringLiteral(".png")));
}
}  // namespace

class TestExploreViews : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private Q_SLOTS:
  void channelRanges() {
    ChannelRangeView v;
    v.resize(700, 400);
    ChannelRangeData d;
    d.title = "t";
    d.yLabel = "activation value";
    d.min = {-1, -2, -30, -1};
    d.max = {1, 2, 40, 1};
    d.mean = {0, 0, 1, 0};
    d.outliers = {2};
    v.setData(d);
    QCOMPARE(v.plot()->graphCount(), 4);  // min, max (filled), mean, outliers
    QCOMPARE(v.plot()->graph(1)->data()->size(), 4);
    QCOMPARE(v.plot()->graph(3)->data()->size(), 2);  // the outlier channel min and max
    QCOMPARE(v.plot()->graph(1)->data()->at(2)->value, 40.0);
    QVERIFY(v.note().contains("1 outlier"));
    checkExports(&v, dir_.path(), "ranges", 5);
  }

  void heatmap() {
    HeatmapView v;
    v.resize(700, 400);
    HeatmapData d;
    d.title = "h";
    d.xLabel = "token";
    d.yLabel = "channel";
    d.valueLabel = "mean |x|";
    d.rows = 3;
    d.cols = 4;
    for (int i = 0; i < 12; ++i) d.values << i;
    v.setData(d);
    QVERIFY(v.colorMap());
    QCOMPARE(v.colorMap()->data()->keySize(), 4);
    QCOMPARE(v.colorMap()->data()->valueSize(), 3);
    QCOMPARE(v.colorMap()->data()->cell(3, 2), 11.0);
    checkExports(&v, dir_.path(), "heatmap", 13);
  }

  void timestepsSpectrumSparsitySensitivity() {
    TimestepRangeView t;
    TimestepRangeData td;
    td.step = {0, 1, 2};
    td.timestep = {950, 500, 0};
    td.min = {-5, -3, -1};
    td.max = {5, 3, 1};
    td.p999Abs = {4, 2, 1};
    td.meanAbs = {1, 0.5, 0.2};
    t.setData(td);
    QCOMPARE(t.plot()->graph(2)->data()->size(), 3);
    checkExports(&t, dir_.path(), "steps", 4);

    SpectrumView s;
    SpectrumData sd;
    sd.singular = {4, 3, 0.5};
    sd.stableRank = (16 + 9 + 0.25) / 16.0;
    s.setData(sd);
    QCOMPARE(s.plot()->graph(0)->data()->size(), 3);
    QCOMPARE(s.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
    checkExports(&s, dir_.path(), "spectrum", 6);

    SparsityView p;
    SparsityData pd;
    pd.rows = 4;
    pd.cols = 8;
    pd.gridRows = 2;
    pd.gridCols = 2;
    pd.blockRows = 2;
    pd.blockCols = 4;
    pd.blockDensity = {0.5, 0.5, 1, 0};
    pd.rowDensity = {0.5, 0.5, 0.5, 0.5};
    pd.sparsity = 0.5;
    pd.nm = "2:4";
    p.setData(pd);
    QVERIFY(p.note().contains("2:4"));
    checkExports(&p, dir_.path(), "sparsity", 7);

    SensitivityView v;
    SensitivityData vd;
    vd.layers = {"a", "b", "c"};
    vd.isolatedSqnr = {30, 10, 25};
    vd.cumulativeSqnr = {30, 9, 8.5};
    vd.isolatedMetric = {0.9, 0.5, 0.88};
    vd.cumulativeMetric = {0.9, 0.5, 0.45};
    vd.metricName = "top-1 accuracy";
    vd.fpMetric = 0.9;
    vd.jump = 1;
    v.setData(vd);
    QCOMPARE(v.plot()->graphCount(), 4);
    QCOMPARE(v.plot()->graph(1)->data()->at(2)->value, 8.5);
    QVERIFY(v.note().contains("jumps at b"));
    checkExports(&v, dir_.path(), "sensitivity", 4);
  }

  // The tab on real models; each computation is a job and the event loop keeps running.
  void exploreTabOnZooModels() {
    cs::qt::StudioSession session;
    cs::gui::ExploreTab tab(&session);
    tab.resize(1300, 760);
    tab.show();
    QSignalSpy ready(&tab, &cs::gui::ExploreTab::modelReady);
    QSignalSpy weights(&tab, &cs::gui::ExploreTab::weightViewsUpdated);
    QSignalSpy captured(&tab, &cs::gui::ExploreTab::captureFinished);
    QSignalSpy sens(&tab, &cs::gui::ExploreTab::sensitivityFinished);
    QSignalSpy failed(&tab, &cs::gui::ExploreTab::failed);

    // Longest event-loop stall while jobs run (printed; the GUI must stay responsive).
    QElapsedTimer clock;
    qint64 last = 0, worst = 0;
    QTimer ticker;
    ticker.setInterval(5);
    QObject::connect(&ticker, &QTimer::timeout, [&] {
      const qint64 now = clock.elapsed();
      worst = std::max(worst, now - last);
      last = now;
    });

    tab.openModel("vit-fmnist");
    if (!ready.wait(60000)) QSKIP("vit-fmnist not available");
    QVERIFY(weights.wait(30000) || weights.count() > 0);  // first quantizable layer selected
    QVERIFY(tab.selectLayer("blocks.0.mlp.fc1"));
    QVERIFY(weights.wait(30000));
    QCOMPARE(tab.spectrum()->data().singular.size(), 64);  // fc1: [128, 64]
    QCOMPARE(tab.weightRanges()->data().min.size(), 128);
    tab.samplesBox()->setValue(32);
    clock.start();
    ticker.start();
    tab.captureActivations();
    QVERIFY2(captured.wait(120000), failed.isEmpty() ? "" : qPrintable(failed.first().at(1).toString()));
    ticker.stop();
    qInfo("longest event-loop stall during the vit-fmnist capture job: %lld ms", worst);
    qInfo("vit-fmnist capture: %d points, %.1f M values in %.2f s (%.1f M values/s), %s",
          int(tab.capture()->points.size()), tab.capture()->valuesSeen / 1e6, tab.capture()->seconds,
          tab.capture()->valuesSeen / 1e6 / std::max(1e-9, tab.capture()->seconds), tab.capture()->data.c_str());
    QCOMPARE(tab.activationRanges()->data().min.size(), 64);  // fc1 input: 64 features
    QCOMPARE(tab.heatmap()->data().cols, 50);                // 49 patches + CLS
    QCOMPARE(tab.heatmap()->data().rows, 64);
    for (auto [i, name] : {std::pair{0, "weight_ranges"}, {1, "activation_ranges"}, {2, "heatmap"}, {4, "spectrum"},
                           {5, "sparsity"}}) {
      tab.views()->setCurrentIndex(i);
      QTest::qWait(50);
      shot(&tab, QString::fromLatin1(name));
    }
    tab.samplesBox()->setValue(64);
    tab.wbitsBox()->setValue(4);
    tab.abitsBox()->setValue(8);
    QElapsedTimer sensClock;
    sensClock.start();
    tab.runSensitivity();
    QVERIFY2(sens.wait(180000), failed.isEmpty() ? "" : qPrintable(failed.first().at(1).toString()));
    const auto& sd = tab.sensitivityView()->data();
    QCOMPARE(sd.layers.size(), 18);
    QVERIFY(!std::isnan(sd.isolatedSqnr[0]) && !std::isnan(sd.cumulativeSqnr[17]));
    QVERIFY(sd.cumulativeSqnr[17] < sd.isolatedSqnr[0]);
    qInfo("vit-fmnist sensitivity (18 layers, isolated + cumulative, RTN W4A8, 64 test images, 64 calibration images): "
          "%.1f s wall", sensClock.elapsed() / 1000.0);
    shot(&tab, "sensitivity");

    // TorchScript file the project did not write for the explorer.
    tab.openModel(QStringLiteral(CS_SOURCE_DIR "/tests/models/transformer_block.pt"));
    QVERIFY(ready.wait(30000));
    QVERIFY(tab.selectLayer("fc1"));
    tab.captureActivations();
    QVERIFY2(captured.wait(60000), failed.isEmpty() ? "" : qPrintable(failed.last().at(1).toString()));
    QCOMPARE(tab.activationRanges()->data().min.size(), 32);
    QCOMPARE(tab.heatmap()->data().cols, 16);
    tab.views()->setCurrentIndex(2);
    QTest::qWait(50);
    shot(&tab, "torchscript_heatmap");

    // Language model: channel x token map over 64-token windows.
    tab.openModel("lm-fortunes");
    if (ready.wait(60000)) {
      QVERIFY(tab.selectLayer("model.layers.0.mlp.down_proj"));
      tab.samplesBox()->setValue(8);
      tab.captureActivations();
      QVERIFY2(captured.wait(120000), failed.isEmpty() ? "" : qPrintable(failed.last().at(1).toString()));
      QCOMPARE(tab.heatmap()->data().cols, 64);
      tab.views()->setCurrentIndex(2);
      QTest::qWait(50);
      shot(&tab, "lm_heatmap");
    } else {
      qWarning("lm-fortunes not available; skipped its part");
    }

    // Diffusion UNet fixture: per-timestep ranges.
    const QString unet = QStringLiteral(CS_SHARED_DIR "/fixtures/ddpm_unet_tiny");
    if (QFileInfo(unet).isDir()) {
      tab.openModel(unet);
      QVERIFY(ready.wait(60000));
      tab.samplesBox()->setValue(2);
      tab.captureActivations();
      QVERIFY2(captured.wait(120000), failed.isEmpty() ? "" : qPrintable(failed.last().at(1).toString()));
      QCOMPARE(tab.timesteps()->data().step.size(), 20);
      QVERIFY(tab.timesteps()->data().timestep.first() > tab.timesteps()->data().timestep.last());
      tab.views()->setCurrentIndex(3);
      QTest::qWait(50);
      shot(&tab, "timesteps");
    } else {
      qWarning("../shared/fixtures/ddpm_unet_tiny absent; skipped the diffusion part");
    }
  }
};

QTEST_MAIN(TestExploreViews)
#include "test_explore_views.moc"
