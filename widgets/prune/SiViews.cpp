#include "widgets/prune/SiViews.h"

#include <QTextStream>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "widgets/QCustomPlotInclude.h"

namespace cs::widgets {
namespace {

const QColor kBefore(31, 119, 180);  // before SI / without SI: blue
const QColor kAfter(255, 127, 14);   // after SI / with SI: orange
const QColor kShift(44, 160, 44);

QString num(double v) { return std::isnan(v) ? QString() : QString::number(v, 'g', 7); }

void clearAll(QCustomPlot* p) {
  p->clearGraphs();
  p->clearPlottables();
  p->clearItems();
  p->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  p->xAxis->setTickLabelRotation(0);
  p->yAxis->setScaleType(QCPAxis::stLinear);
  p->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  p->yAxis2->setVisible(false);
  p->legend->setVisible(false);
}

QCPGraph* addLine(QCustomPlot* p, const QString& name, const QVector<double>& x, const QVector<double>& y, QColor c,
                  QCPAxis* valueAxis = nullptr) {
  auto* g = valueAxis ? p->addGraph(p->xAxis, valueAxis) : p->addGraph();
  g->setName(name);
  g->setPen(QPen(c, 1.4));
  g->setData(x, y, true);
  return g;
}

// Indices of the weights kept at `sparsity` when ranking by `s` (ties by index).
std::vector<char> keptAt(const QVector<double>& s, double sparsity) {
  std::vector<int> idx(static_cast<size_t>(s.size()));
  std::iota(idx.begin(), idx.end(), 0);
  const auto drop = static_cast<size_t>(std::llround(sparsity * s.size()));
  std::vector<char> keep(idx.size(), 1);
  if (drop == 0) return keep;
  std::nth_element(idx.begin(), idx.begin() + static_cast<long>(drop - 1), idx.end(),
                   [&](int a, int b) { return s[a] < s[b] || (s[a] == s[b] && a < b); });
  for (size_t i = 0; i < drop; ++i) keep[static_cast<size_t>(idx[i])] = 0;
  return keep;
}

}  // namespace

// ------------------------------------------------------------------ scales and shifts
SiScaleView::SiScaleView(QWidget* parent) : PlotPanel(parent) { clear(tr("Run a prune with SI")); }

void SiScaleView::resetPlot() { clearAll(plot_); }

void SiScaleView::setData(const SiScaleData& d) {
  d_ = d;
  resetPlot();
  setTitle(tr("SI per-channel scale s and shift of %1").arg(d.layer));
  const int n = d.scale.size();
  QVector<double> x(n);
  for (int i = 0; i < n; ++i) x[i] = i;
  auto* g = addLine(plot_, tr("scale s (left, log)"), x, d.scale, kAfter);
  g->setLineStyle(QCPGraph::lsImpulse);
  g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 3));
  plot_->yAxis->setScaleType(QCPAxis::stLogarithmic);
  plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  plot_->yAxis->setLabel(tr("scale s (log scale, geometric mean 1)"));
  double lo = 1, hi = 1;
  for (double s : d.scale)
    if (s > 0) lo = std::min(lo, s), hi = std::max(hi, s);
  plot_->yAxis->setRange(lo / 1.5, hi * 1.5);
  bool anyShift = false;
  for (double v : d.shift) anyShift = anyShift || v != 0;
  if (anyShift) {
    plot_->yAxis2->setVisible(true);
    plot_->yAxis2->setLabel(tr("shift delta (input units)"));
    auto* sg = addLine(plot_, tr("shift delta (right)"), x, d.shift, kShift, plot_->yAxis2);
    sg->setLineStyle(QCPGraph::lsNone);
    sg->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, 4));
    sg->rescaleValueAxis();
  }
  plot_->xAxis->setLabel(tr("input channel"));
  plot_->xAxis->setRange(-1, n);
  plot_->legend->setVisible(true);
  plot_->replot();
  const double maxRatio = lo > 0 ? hi / lo : 0;
  setNote(tr("%1 channels; s from %2 to %3 (ratio %4)%5")
              .arg(n)
              .arg(lo, 0, 'g', 3)
              .arg(hi, 0, 'g', 3)
              .arg(maxRatio, 0, 'g', 3)
              .arg(anyShift ? tr("; shifts fold into the layer's bias") : tr("; no shift")));
}

QString SiScaleView::csv() const {
  QString s;
  QTextStream o(&s);
  o << "channel,scale,shift\n";
  for (int i = 0; i < d_.scale.size(); ++i) o << i << ',' << num(d_.scale[i]) << ',' << num(d_.shift.value(i)) << '\n';
  return s;
}

// ------------------------------------------------------------------ importance scores
SiScoreView::SiScoreView(QWidget* parent) : PlotPanel(parent) { clear(tr("Run a prune with SI")); }

void SiScoreView::resetPlot() { clearAll(plot_); }

void SiScoreView::setData(const SiScoreData& in, int bins) {
  d_ = in;
  d_.binCenters.clear();
  d_.histBefore.clear();
  d_.histAfter.clear();
  resetPlot();
  setTitle(tr("%1 importance scores of %2 before and after SI").arg(d_.metric, d_.layer));
  const double floorV = 1e-12;
  auto lg = [&](double v) { return std::log10(std::max(v, floorV)); };
  double lo = 1e300, hi = -1e300;
  for (auto* v : {&d_.before, &d_.after})
    for (double s : *v) {
      const double l = lg(s);
      lo = std::min(lo, l);
      hi = std::max(hi, l);
    }
  if (lo > hi) return;
  if (hi - lo < 1e-9) hi = lo + 1;
  bins = std::max(bins, 2);
  const double w = (hi - lo) / bins;
  d_.histBefore.fill(0, bins);
  d_.histAfter.fill(0, bins);
  for (int b = 0; b < bins; ++b) d_.binCenters.push_back(lo + (b + 0.5) * w);
  auto fill = [&](const QVector<double>& v, QVector<double>& h) {
    for (double s : v) h[std::clamp(static_cast<int>((lg(s) - lo) / w), 0, bins - 1)] += 1.0 / v.size();
  };
  fill(d_.before, d_.histBefore);
  fill(d_.after, d_.histAfter);
  if (d_.before.size() == d_.after.size()) {
    auto kb = keptAt(d_.before, d_.sparsity), ka = keptAt(d_.after, d_.sparsity);
    size_t diff = 0;
    for (size_t i = 0; i < kb.size(); ++i) diff += kb[i] != ka[i];
    d_.changedFraction = kb.empty() ? 0 : static_cast<double>(diff) / kb.size();
  }
  auto* gb = addLine(plot_, tr("before SI"), d_.binCenters, d_.histBefore, kBefore);
  gb->setLineStyle(QCPGraph::lsStepCenter);
  gb->setBrush(QBrush(QColor(31, 119, 180, 60)));
  auto* ga = addLine(plot_, tr("after SI"), d_.binCenters, d_.histAfter, kAfter);
  ga->setLineStyle(QCPGraph::lsStepCenter);
  ga->setBrush(QBrush(QColor(255, 127, 14, 60)));
  plot_->xAxis->setLabel(tr("log10 importance score (%1)").arg(d_.metric));
  plot_->yAxis->setLabel(tr("fraction of weights per bin"));
  plot_->rescaleAxes();
  plot_->xAxis->setRange(lo - w, hi + w);
  plot_->yAxis->setRangeLower(0);
  plot_->yAxis->setRangeUpper(plot_->yAxis->range().upper * 1.1);
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  plot_->replot();
  setNote(tr("%1 weights; at %2% sparsity (ranked over the layer) the transform changes the keep/prune decision of "
             "%3% of them")
              .arg(d_.before.size())
              .arg(100 * d_.sparsity, 0, 'f', 0)
              .arg(100 * d_.changedFraction, 0, 'f', 2));
}

QString SiScoreView::csv() const {
  QString s;
  QTextStream o(&s);
  o << "log10_score_bin_center,fraction_before,fraction_after\n";
  for (int i = 0; i < d_.binCenters.size(); ++i)
    o << num(d_.binCenters[i]) << ',' << num(d_.histBefore[i]) << ',' << num(d_.histAfter[i]) << '\n';
  return s;
}

// ------------------------------------------------------------------ output error with/without SI
SiErrorView::SiErrorView(QWidget* parent) : PlotPanel(parent) { clear(tr("Run a prune with SI and the comparison")); }

void SiErrorView::resetPlot() { clearAll(plot_); }

void SiErrorView::setData(const SiErrorData& d) {
  d_ = d;
  resetPlot();
  setTitle(tr("Per-layer output error of pruning, with and without SI"));
  const int n = d.layers.size();
  QVector<double> x0(n), x1(n);
  for (int i = 0; i < n; ++i) x0[i] = i - 0.2, x1[i] = i + 0.2;
  auto* b0 = new QCPBars(plot_->xAxis, plot_->yAxis);
  b0->setName(tr("without SI"));
  b0->setWidth(0.38);
  b0->setBrush(kBefore);
  b0->setPen(Qt::NoPen);
  b0->setData(x0, d.withoutSi, true);
  auto* b1 = new QCPBars(plot_->xAxis, plot_->yAxis);
  b1->setName(tr("with SI"));
  b1->setWidth(0.38);
  b1->setBrush(kAfter);
  b1->setPen(Qt::NoPen);
  b1->setData(x1, d.withSi, true);
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  // Long names ("model.layers.0.self_attn.q_proj") shortened to block.linear.
  for (int i = 0; i < n; ++i) {
    QString s = d.layers[i];
    s.remove(QStringLiteral("model.")).remove(QStringLiteral("decoder."));
    s.replace(QStringLiteral("layers."), QString());
    s.remove(QStringLiteral("self_attn.")).remove(QStringLiteral("mlp."));
    ticker->addTick(i, s);
  }
  plot_->xAxis->setTicker(ticker);
  plot_->xAxis->setTickLabelRotation(60);
  plot_->xAxis->setLabel(tr("layer (execution order)"));
  plot_->yAxis->setLabel(tr("relative output error ||(W-W')X||^2 / ||WX||^2"));
  double hi = 0;
  int better = 0;
  double sum0 = 0, sum1 = 0;
  for (int i = 0; i < n; ++i) {
    hi = std::max({hi, d.withoutSi.value(i), d.withSi.value(i)});
    better += d.withSi.value(i) < d.withoutSi.value(i);
    sum0 += d.withoutSi.value(i);
    sum1 += d.withSi.value(i);
  }
  plot_->xAxis->setRange(-0.6, n - 0.4);
  plot_->yAxis->setRange(0, hi > 0 ? hi * 1.3 : 1);  // room for the legend
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  plot_->replot();
  setNote(tr("SI lowers the error in %1 of %2 layers; mean error %3 without, %4 with SI (each on its own "
             "calibration inputs)")
              .arg(better)
              .arg(n)
              .arg(n ? sum0 / n : 0, 0, 'g', 4)
              .arg(n ? sum1 / n : 0, 0, 'g', 4));
}

QString SiErrorView::csv() const {
  QString s;
  QTextStream o(&s);
  o << "layer,error_without_si,error_with_si\n";
  for (int i = 0; i < d_.layers.size(); ++i)
    o << d_.layers[i] << ',' << num(d_.withoutSi.value(i)) << ',' << num(d_.withSi.value(i)) << '\n';
  return s;
}

}  // namespace cs::widgets
