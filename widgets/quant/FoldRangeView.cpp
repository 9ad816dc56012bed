#include "widgets/quant/FoldRangeView.h"

#include <QLabel>
#include <QVBoxLayout>

#include <algorithm>

#include "widgets/QCustomPlotInclude.h"

namespace cs::widgets {
namespace {
const QColor kBefore(70, 130, 200);
const QColor kAfter(230, 110, 20);
}  // namespace

FoldRangeView::FoldRangeView(QWidget* parent) : QWidget(parent) {
  plot_ = new QCustomPlot(this);
  plot_->setMinimumSize(320, 200);
  plot_->setAutoAddPlottableToLegend(false);
  plot_->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  plot_->plotLayout()->insertRow(0);
  title_ = new QCPTextElement(plot_, QString(), QFont(font().family(), font().pointSize() + 1, QFont::Bold));
  plot_->plotLayout()->addElement(0, 0, title_);
  plot_->xAxis->setLabel(tr("channel of the LayerNorm output"));
  plot_->yAxis->setLabel(tr("quantizer range"));

  bandLow_ = plot_->addGraph();
  bandLow_->setPen(QPen(kAfter, 1.2, Qt::DashLine));
  band_ = plot_->addGraph();
  band_->setPen(QPen(kAfter, 1.2, Qt::DashLine));
  QColor fill = kAfter;
  fill.setAlpha(45);
  band_->setBrush(fill);
  band_->setChannelFillGraph(bandLow_);
  band_->setName(tr("after the fold: one per-tensor range"));

  auto bars = [this](QCPGraph*& mid, QCPErrorBars*& err, const QColor& c, double width) {
    mid = plot_->addGraph();
    mid->setLineStyle(QCPGraph::lsNone);
    mid->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssNone));
    err = new QCPErrorBars(plot_->xAxis, plot_->yAxis);
    err->setDataPlottable(mid);
    err->setErrorType(QCPErrorBars::etValueError);
    err->setWhiskerWidth(0);
    err->setPen(QPen(c, width));
  };
  bars(beforeMid_, before_, kBefore, 1.6);
  bars(afterMid_, after_, kAfter.darker(130), 0.8);
  before_->setName(tr("before the fold: per-channel ranges"));
  after_->setName(tr("after the fold: each channel mapped through r, b"));
  band_->addToLegend();
  before_->addToLegend();
  after_->addToLegend();
  plot_->legend->setVisible(true);
  plot_->legend->setFont(QFont(font().family(), std::max(7, font().pointSize() - 1)));
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);

  stats_ = new QLabel(this);
  stats_->setWordWrap(true);
  stats_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(plot_, 1);
  layout->addWidget(stats_);
  clear(tr("LayerNorm fold ranges appear for RepQ-ViT / RepQuant variants"));
}

QString FoldRangeView::statsText() const { return stats_->text(); }

void FoldRangeView::clear(const QString& placeholder) {
  data_ = FoldRangePlotData{};
  for (auto* g : {bandLow_, band_, beforeMid_, afterMid_}) g->data()->clear();
  before_->data()->clear();
  after_->data()->clear();
  plot_->legend->setVisible(false);
  title_->setText(placeholder);
  stats_->clear();
  plot_->xAxis->setRange(0, 1);
  plot_->yAxis->setRange(0, 1);
  plot_->replot();
}

void FoldRangeView::setData(const FoldRangePlotData& d) {
  if (d.isEmpty() || d.hi.size() != d.lo.size()) {
    clear(d.title);
    return;
  }
  data_ = d;
  const int n = d.lo.size();
  QVector<double> keys(n), mid(n), minus(n), plus(n);
  double lo = std::min(d.tensorLo, d.tensorHi), hi = std::max(d.tensorLo, d.tensorHi);
  for (int c = 0; c < n; ++c) {
    keys[c] = c;
    mid[c] = 0.5 * (d.lo[c] + d.hi[c]);
    minus[c] = mid[c] - d.lo[c];
    plus[c] = d.hi[c] - mid[c];
    lo = std::min(lo, d.lo[c]);
    hi = std::max(hi, d.hi[c]);
  }
  beforeMid_->setData(keys, mid, true);
  before_->setData(minus, plus);
  if (d.foldedLo.size() == n && d.foldedHi.size() == n) {
    QVector<double> fmid(n), fminus(n), fplus(n), fkeys(n);
    for (int c = 0; c < n; ++c) {
      fkeys[c] = c + 0.35;  // beside the "before" bar of the same channel
      fmid[c] = 0.5 * (d.foldedLo[c] + d.foldedHi[c]);
      fminus[c] = fmid[c] - d.foldedLo[c];
      fplus[c] = d.foldedHi[c] - fmid[c];
      lo = std::min(lo, d.foldedLo[c]);
      hi = std::max(hi, d.foldedHi[c]);
    }
    afterMid_->setData(fkeys, fmid, true);
    after_->setData(fminus, fplus);
  } else {
    afterMid_->data()->clear();
    after_->data()->clear();
  }
  const QVector<double> ends{-0.5, n - 0.5};
  bandLow_->setData(ends, {d.tensorLo, d.tensorLo}, true);
  band_->setData(ends, {d.tensorHi, d.tensorHi}, true);
  title_->setText(d.title);
  stats_->setText(d.stats);
  plot_->legend->setVisible(true);
  plot_->xAxis->setRange(-1, n);
  const double pad = 0.08 * (hi - lo > 0 ? hi - lo : 1.0);
  plot_->yAxis->setRange(lo - pad, hi + pad * 4);  // room for the legend
  plot_->replot();
}

}  // namespace cs::widgets
