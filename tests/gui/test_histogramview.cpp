// HistogramView: plotted data, overlay on shared bins, clip lines, log toggle, exports.
#include <QCheckBox>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

#include "widgets/HistogramView.h"
#include "widgets/QCustomPlotInclude.h"

using cs::widgets::HistogramPlotData;
using cs::widgets::HistogramSeries;
using cs::widgets::HistogramView;

namespace {
HistogramPlotData gaussianData() {
  HistogramPlotData d;
  d.title = QStringLiteral("Weights of test");
  d.xLabel = QStringLiteral("weight value");
  const int bins = 64;
  for (int i = 0; i < bins; ++i) {
    const double x = -1.0 + (i + 0.5) * 2.0 / bins;
    d.reference.centers << x;
    d.reference.counts << std::round(1000 * std::exp(-x * x * 8));
    d.overlay.centers << x;
    d.overlay.counts << (i % 2 == 0 ? 2 * d.reference.counts.last() : 0);  // quantized: every other bin
  }
  d.reference.binWidth = d.overlay.binWidth = 2.0 / bins;
  d.reference.name = QStringLiteral("FP32");
  d.overlay.name = QStringLiteral("W4");
  d.showClip = true;
  d.clipLo = -0.8;
  d.clipHi = 0.9;
  d.stats = QStringLiteral("MSE 1e-3");
  return d;
}

double sum(QCPGraph* g) {
  double s = 0;
  for (auto it = g->data()->constBegin(); it != g->data()->constEnd(); ++it)
    if (std::isfinite(it->value)) s += it->value;
  return s;
}
}  // namespace

class TestHistogramView : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void plotsWhatItIsGiven() {
    HistogramView view;
    view.resize(600, 400);
    QVERIFY(!view.hasData());
    const HistogramPlotData d = gaussianData();
    view.setData(d);
    QVERIFY(view.hasData());
    QCOMPARE(view.plot()->graph(0)->dataCount(), 64);
    QCOMPARE(sum(view.plot()->graph(0)), d.reference.sum());
    QCOMPARE(sum(view.plot()->graph(1)), d.overlay.sum());
    QVERIFY(view.plot()->graph(1)->visible());
    QCOMPARE(view.statsText(), QStringLiteral("MSE 1e-3"));
    QVERIFY(view.plot()->xAxis->range().contains(-0.8));
    QCOMPARE(view.plot()->xAxis->label(), QStringLiteral("weight value"));

    view.clear(QStringLiteral("nothing"));
    QVERIFY(!view.hasData());
    QCOMPARE(view.plot()->graph(0)->dataCount(), 0);
    QVERIFY(!view.plot()->graph(1)->visible());
  }

  void logToggleKeepsData() {
    HistogramView view;
    QSignalSpy toggled(&view, &HistogramView::logScaleChanged);
    view.setData(gaussianData());
    view.findChild<QCheckBox*>()->click();
    QVERIFY(view.logScale());
    QCOMPARE(toggled.count(), 1);
    QCOMPARE(view.plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
    // Empty bins become gaps on a log axis; the data itself is unchanged.
    QCOMPARE(view.data().overlay.sum(), gaussianData().overlay.sum());
    QCOMPARE(sum(view.plot()->graph(1)), gaussianData().overlay.sum());
    view.setLogScale(false);
    QCOMPARE(view.plot()->yAxis->scaleType(), QCPAxis::stLinear);
  }

  void exports() {
    QTemporaryDir dir;
    HistogramView view;
    view.resize(600, 400);
    view.setData(gaussianData());
    QVERIFY(view.exportTo(dir.filePath(QStringLiteral("h.png"))));
    QVERIFY(view.exportTo(dir.filePath(QStringLiteral("h.pdf"))));
    QVERIFY(view.exportTo(dir.filePath(QStringLiteral("h.csv"))));
    QVERIFY(!view.exportTo(dir.filePath(QStringLiteral("h.xyz"))));
    QFile csv(dir.filePath(QStringLiteral("h.csv")));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(csv.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 65);
    QCOMPARE(lines.first(), QStringLiteral("bin_center,reference_count,overlay_count"));
    QVERIFY(QFile(dir.filePath(QStringLiteral("h.png"))).size() > 1000);
  }
};

QTEST_MAIN(TestHistogramView)
#include "test_histogramview.moc"
