#include "widgets/HistogramView.h"

#include <QCheckBox>
#include <QContextMenuEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QMenu>
#include <QSvgGenerator>
#include <QTextStream>
#include <QVBoxLayout>

#include <cmath>
#include <limits>

#include "widgets/QCustomPlotInclude.h"

namespace cs::widgets {

bool savePlotSvg(QCustomPlot* plot, const QString& path, int width, int height) {
  const int w = width > 0 ? width : plot->width();
  const int h = height > 0 ? height : plot->height();
  QSvgGenerator gen;
  gen.setFileName(path);
  gen.setSize(QSize(w, h));
  gen.setViewBox(QRect(0, 0, w, h));
  gen.setTitle(QStringLiteral("Compression Studio plot"));
  QCPPainter painter;
  if (!painter.begin(&gen)) return false;
  plot->toPainter(&painter, w, h);
  painter.end();
  return QFileInfo(path).size() > 0;
}

double HistogramSeries::sum() const {
  double s = 0;
  for (double c : counts) s += c;
  return s;
}

namespace {
const QColor kReference(70, 130, 200);
const QColor kOverlay(230, 110, 20);
const QColor kClip(200, 30, 30);
}  // namespace

HistogramView::HistogramView(QWidget* parent) : QWidget(parent) {
  plot_ = new QCustomPlot(this);
  plot_->setMinimumSize(320, 200);
  plot_->setContextMenuPolicy(Qt::NoContextMenu);  // the widget's own menu handles it
  plot_->setAttribute(Qt::WA_TransparentForMouseEvents, false);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->axisRect()->setRangeDrag(Qt::Horizontal);
  plot_->axisRect()->setRangeZoom(Qt::Horizontal);

  plot_->plotLayout()->insertRow(0);
  title_ = new QCPTextElement(plot_, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
  plot_->plotLayout()->addElement(0, 0, title_);

  refGraph_ = plot_->addGraph();
  refGraph_->setLineStyle(QCPGraph::lsStepCenter);
  refGraph_->setPen(QPen(kReference, 1));
  QColor fill = kReference;
  fill.setAlpha(90);
  refGraph_->setBrush(fill);

  overlayGraph_ = plot_->addGraph();
  overlayGraph_->setLineStyle(QCPGraph::lsStepCenter);
  overlayGraph_->setPen(QPen(kOverlay, 1.6));

  auto makeLine = [this] {
    auto* line = new QCPItemStraightLine(plot_);
    line->setPen(QPen(kClip, 1.2, Qt::DashLine));
    line->setVisible(false);
    return line;
  };
  clipLo_ = makeLine();
  clipHi_ = makeLine();

  plot_->yAxis->setLabel(tr("count"));
  plot_->legend->setVisible(true);
  QFont small = font();
  small.setPointSize(std::max(7, small.pointSize() - 1));
  plot_->legend->setFont(small);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

  logBox_ = new QCheckBox(tr("Log scale"), this);
  logBox_->setToolTip(tr("Logarithmic count axis (shows the tails)"));
  connect(logBox_, &QCheckBox::toggled, this, &HistogramView::setLogScale);

  stats_ = new QLabel(this);
  stats_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  stats_->setWordWrap(true);

  auto* bottom = new QHBoxLayout;
  bottom->addWidget(stats_, 1);
  bottom->addWidget(logBox_, 0, Qt::AlignTop);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(plot_, 1);
  layout->addLayout(bottom);
  clear(QString());
}

void HistogramView::clear(const QString& placeholder) {
  data_ = HistogramPlotData{};
  placeholder_ = placeholder;
  redraw();
}

void HistogramView::setData(const HistogramPlotData& data) {
  data_ = data;
  placeholder_.clear();
  redraw();
}

QString HistogramView::statsText() const { return stats_->text(); }

void HistogramView::setLogScale(bool on) {
  if (on == log_) return;
  log_ = on;
  {
    const QSignalBlocker block(logBox_);
    logBox_->setChecked(on);
  }
  redraw();
  Q_EMIT logScaleChanged(on);
}

QVector<double> HistogramView::shown(const QVector<double>& counts) const {
  if (!log_) return counts;
  QVector<double> out(counts);
  for (double& c : out)
    if (c <= 0) c = std::numeric_limits<double>::quiet_NaN();  // gaps on a log axis
  return out;
}

void HistogramView::redraw() {
  const bool empty = data_.reference.isEmpty();
  title_->setText(empty ? placeholder_ : data_.title);
  refGraph_->setName(data_.reference.name.isEmpty() ? tr("full precision") : data_.reference.name);
  refGraph_->setData(data_.reference.centers, shown(data_.reference.counts), true);
  overlayGraph_->setName(data_.overlay.name.isEmpty() ? tr("quantized") : data_.overlay.name);
  overlayGraph_->setData(data_.overlay.centers, shown(data_.overlay.counts), true);
  overlayGraph_->setVisible(!data_.overlay.isEmpty());
  if (data_.overlay.isEmpty())
    overlayGraph_->removeFromLegend();
  else
    overlayGraph_->addToLegend();
  if (empty)
    refGraph_->removeFromLegend();
  else
    refGraph_->addToLegend();
  plot_->legend->setVisible(!empty);

  const bool clip = !empty && data_.showClip;
  clipLo_->setVisible(clip);
  clipHi_->setVisible(clip);
  if (clip) {
    clipLo_->point1->setCoords(data_.clipLo, 0);
    clipLo_->point2->setCoords(data_.clipLo, 1);
    clipHi_->point1->setCoords(data_.clipHi, 0);
    clipHi_->point2->setCoords(data_.clipHi, 1);
  }

  plot_->xAxis->setLabel(data_.xLabel);
  plot_->yAxis->setLabel(log_ ? tr("count (log)") : tr("count"));
  if (log_) {
    plot_->yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    plot_->yAxis->setNumberFormat(QStringLiteral("eb"));
    plot_->yAxis->setNumberPrecision(0);
  } else {
    plot_->yAxis->setScaleType(QCPAxis::stLinear);
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    plot_->yAxis->setNumberFormat(QStringLiteral("gb"));
    plot_->yAxis->setNumberPrecision(6);
  }

  if (!empty) {
    double lo = data_.reference.centers.first() - data_.reference.binWidth / 2;
    double hi = data_.reference.centers.last() + data_.reference.binWidth / 2;
    if (clip) {
      lo = std::min(lo, data_.clipLo);
      hi = std::max(hi, data_.clipHi);
    }
    const double pad = (hi - lo) * 0.03;
    plot_->xAxis->setRange(lo - pad, hi + pad);
    double top = 1;
    for (double c : data_.reference.counts) top = std::max(top, c);
    for (double c : data_.overlay.counts) top = std::max(top, c);
    if (log_)
      plot_->yAxis->setRange(0.5, top * 2);
    else
      plot_->yAxis->setRange(0, top * 1.08);
  } else {
    plot_->xAxis->setRange(0, 1);
    plot_->yAxis->setRange(log_ ? 1 : 0, 10);
  }
  stats_->setText(empty ? QString() : data_.stats);
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

bool HistogramView::exportTo(const QString& path) const {
  const QString suffix = QFileInfo(path).suffix().toLower();
  if (suffix == QLatin1String("png")) return plot_->savePng(path, 0, 0, 2.0);
  if (suffix == QLatin1String("pdf")) return plot_->savePdf(path);
  if (suffix == QLatin1String("svg")) return savePlotSvg(plot_, path);
  if (suffix == QLatin1String("csv")) {
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) return false;
    QTextStream out(&f);
    const bool hasOverlay = !data_.overlay.isEmpty();
    out << "bin_center," << "reference_count" << (hasOverlay ? ",overlay_count" : "") << '\n';
    for (int i = 0; i < data_.reference.centers.size(); ++i) {
      out << QString::number(data_.reference.centers[i], 'g', 9) << ',' << data_.reference.counts.value(i);
      if (hasOverlay) out << ',' << data_.overlay.counts.value(i);
      out << '\n';
    }
    return out.status() == QTextStream::Ok;
  }
  return false;
}

void HistogramView::contextMenuEvent(QContextMenuEvent* event) {
  QMenu menu(this);
  QAction* log = menu.addAction(tr("Log scale"));
  log->setCheckable(true);
  log->setChecked(log_);
  connect(log, &QAction::toggled, this, &HistogramView::setLogScale);
  menu.addSeparator();
  const bool has = hasData();
  struct Format {
    QString label, filter, suffix;
  };
  const Format formats[] = {{tr("Export PNG…"), tr("PNG image (*.png)"), QStringLiteral("png")},
                            {tr("Export SVG…"), tr("SVG image (*.svg)"), QStringLiteral("svg")},
                            {tr("Export PDF…"), tr("PDF document (*.pdf)"), QStringLiteral("pdf")},
                            {tr("Export CSV…"), tr("CSV table (*.csv)"), QStringLiteral("csv")}};
  for (const Format& f : formats) {
    QAction* a = menu.addAction(f.label);
    a->setEnabled(has);
    connect(a, &QAction::triggered, this, [this, f] {
      QString base = data_.title;
      base.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9_.-]+")), QStringLiteral("_"));
      const QString path = QFileDialog::getSaveFileName(this, f.label, base + QLatin1Char('.') + f.suffix, f.filter);
      if (!path.isEmpty()) exportTo(path);
    });
  }
  menu.exec(event->globalPos());
}

}  // namespace cs::widgets
