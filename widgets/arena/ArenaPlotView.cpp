#include "widgets/arena/ArenaPlotView.h"

#include "widgets/QCustomPlotInclude.h"

#include <QVBoxLayout>

namespace cs::widgets {

namespace {
QColor seriesColor(int i) {
  static const QColor palette[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                   QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75),
                                   QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                   QColor(23, 190, 207)};
  return palette[i % 10];
}
}  // namespace

ArenaPlotView::ArenaPlotView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  plot_ = new QCustomPlot(this);
  plot_->setMinimumHeight(240);
  plot_->plotLayout()->insertRow(0);
  plot_->plotLayout()->addElement(0, 0, new QCPTextElement(plot_, QString(), QFont("sans", 9, QFont::Bold)));
  // The legend sits in its own row under the axes (many simulator arms would hide the curves otherwise).
  plot_->legend->setVisible(true);
  plot_->legend->setFont(QFont("sans", 7));
  plot_->axisRect()->insetLayout()->take(plot_->legend);
  plot_->plotLayout()->addElement(2, 0, plot_->legend);
  plot_->plotLayout()->setRowStretchFactor(2, 0.001);
  plot_->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  plot_->legend->setWrap(2);
  plot_->legend->setRowSpacing(0);
  plot_->legend->setMargins(QMargins(2, 1, 2, 1));
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  layout->addWidget(plot_);
}

void ArenaPlotView::clear() { setSeries(QString(), QString(), QString(), {}); }

void ArenaPlotView::setSeries(const QString& title, const QString& xLabel, const QString& yLabel,
                              const QVector<ArenaPlotSeries>& series, bool logX) {
  series_ = series;
  title_ = title;
  plot_->clearGraphs();
  if (auto* t = qobject_cast<QCPTextElement*>(plot_->plotLayout()->element(0, 0))) t->setText(title);
  plot_->xAxis->setLabel(xLabel);
  plot_->yAxis->setLabel(yLabel);
  if (logX) {
    plot_->xAxis->setScaleType(QCPAxis::stLogarithmic);
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  } else {
    plot_->xAxis->setScaleType(QCPAxis::stLinear);
    plot_->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  }
  for (int i = 0; i < series.size(); ++i) {
    auto* g = plot_->addGraph();
    g->setName(series[i].name);
    QPen pen(seriesColor(i), 1.6);
    if (series[i].dashed) pen.setStyle(Qt::DashLine);
    g->setPen(pen);
    g->setData(series[i].x, series[i].y, true);
  }
  plot_->rescaleAxes();
  plot_->legend->setVisible(!series.isEmpty());
  plot_->replot();
}

}  // namespace cs::widgets
