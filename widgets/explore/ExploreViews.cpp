#include "widgets/explore/ExploreViews.h"

#include <QTextStream>
#include <cmath>

#include "widgets/QCustomPlotInclude.h"

namespace cs::widgets {
namespace {

const QColor kFp(31, 119, 180);       // full precision / main series: blue
const QColor kQuant(255, 127, 14);    // compressed / second series: orange
const QColor kOutlier(214, 39, 40);   // highlights: red
const QColor kGrey(127, 127, 127);

QString num(double v) { return std::isnan(v) ? QString() : QString::number(v, 'g', 7); }

void clearAll(QCustomPlot* p) {
  p->clearGraphs();
  p->clearPlottables();
  p->clearItems();
  p->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  p->yAxis->setScaleType(QCPAxis::stLinear);
  p->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  p->yAxis2->setVisible(false);
  p->legend->setVisible(false);
}

QCPGraph* addLine(QCustomPlot* p, const QString& name, const QVector<double>& x, const QVector<double>& y, QColor c,
                  QCPAxis* valueAxis = nullptr) {
  auto* g = valueAxis ? p->addGraph(p->xAxis, valueAxis) : p->addGraph();
  g->setName(name);
  g->setPen(QPen(c, 1.6));
  QVector<double> xs, ys;  // NaN points are skipped
  for (int i = 0; i < x.size() && i < y.size(); ++i)
    if (!std::isnan(y[i]) && !std::isinf(y[i])) {
      xs.push_back(x[i]);
      ys.push_back(y[i]);
    }
  g->setData(xs, ys, true);
  return g;
}

void setupColorMap(QCustomPlot* p, QCPColorMap*& map, QCPColorScale*& scale, const QString& valueLabel,
                   QCPColorGradient::GradientPreset preset) {
  if (!scale) {
    scale = new QCPColorScale(p);
    p->plotLayout()->addElement(1, 1, scale);
    scale->setType(QCPAxis::atRight);
    auto* group = new QCPMarginGroup(p);
    p->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);
  }
  map = new QCPColorMap(p->xAxis, p->yAxis);
  map->setColorScale(scale);
  map->setGradient(QCPColorGradient(preset));
  map->setInterpolate(false);
  scale->axis()->setLabel(valueLabel);
  scale->setVisible(true);
}

}  // namespace

// ------------------------------------------------------------------ per-channel ranges
ChannelRangeView::ChannelRangeView(QWidget* parent) : PlotPanel(parent) { clear(tr("Select a layer")); }

void ChannelRangeView::resetPlot() { clearAll(plot_); }

void ChannelRangeView::setData(const ChannelRangeData& d) {
  d_ = d;
  resetPlot();
  setTitle(d.title);
  const int n = d.min.size();
  QVector<double> x(n);
  for (int i = 0; i < n; ++i) x[i] = i;
  auto* lo = addLine(plot_, tr("min"), x, d.min, kFp);
  auto* hi = addLine(plot_, tr("max"), x, d.max, kFp);
  hi->setBrush(QBrush(QColor(31, 119, 180, 70)));
  hi->setChannelFillGraph(lo);
  if (!d.mean.isEmpty()) addLine(plot_, tr("mean"), x, d.mean, kGrey);
  if (!d.outliers.isEmpty()) {
    QVector<double> ox, oy;
    for (int c : d.outliers) {
      if (c < 0 || c >= n) continue;
      ox << c << c;
      oy << d.min[c] << d.max[c];
    }
    auto* g = plot_->addGraph();
    g->setName(tr("outlier channels (|x| > 6x median)"));
    g->setLineStyle(QCPGraph::lsNone);
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, kOutlier, kOutlier, 6));
    g->setData(ox, oy);
  }
  plot_->xAxis->setLabel(tr("channel index"));
  plot_->yAxis->setLabel(d.yLabel);
  plot_->legend->setVisible(true);
  plot_->rescaleAxes();
  plot_->xAxis->setRange(-0.5, std::max(0.5, n - 0.5));
  refresh();
  setNote(tr("%1 channels, %2 outlier channel(s)%3")
              .arg(n)
              .arg(d.outliers.size())
              .arg(d.outliers.isEmpty() ? QString()
                                        : tr(": %1").arg([&] {
                                            QStringList s;
                                            for (int i = 0; i < d.outliers.size() && i < 12; ++i)
                                              s << QString::number(d.outliers[i]);
                                            return s.join(QStringLiteral(", "));
                                          }())));
}

QString ChannelRangeView::csv() const {
  QString s;
  QTextStream o(&s);
  o << "channel,min,max,mean,outlier\n";
  for (int i = 0; i < d_.min.size(); ++i)
    o << i << ',' << num(d_.min[i]) << ',' << num(d_.max[i]) << ',' << (i < d_.mean.size() ? num(d_.mean[i]) : QString())
      << ',' << (d_.outliers.contains(i) ? 1 : 0) << '\n';
  return s;
}

// ------------------------------------------------------------------ heatmap
HeatmapView::HeatmapView(QWidget* parent) : PlotPanel(parent) { clear(tr("Select a layer")); }

void HeatmapView::resetPlot() {
  clearAll(plot_);
  map_ = nullptr;
  if (scale_) scale_->setVisible(false);
}

void HeatmapView::setData(const HeatmapData& d) {
  d_ = d;
  resetPlot();
  setTitle(d.title);
  if (d.rows <= 0 || d.cols <= 0) return;
  setupColorMap(plot_, map_, scale_, d.valueLabel, QCPColorGradient::gpThermal);
  // Cell centres in token / channel units.
  map_->data()->setSize(d.cols, d.rows);
  map_->data()->setRange(QCPRange((0.5) * d.xPerCell - 0.5, (d.cols - 0.5) * d.xPerCell - 0.5),
                         QCPRange((0.5) * d.yPerCell - 0.5, (d.rows - 0.5) * d.yPerCell - 0.5));
  double mx = 0;
  for (int r = 0; r < d.rows; ++r)
    for (int c = 0; c < d.cols; ++c) {
      const double v = d.values.value(r * d.cols + c);
      mx = std::max(mx, v);
      map_->data()->setCell(c, r, d.logColor ? std::log10(std::max(v, 1e-6)) : v);
    }
  map_->rescaleDataRange(true);
  if (d.logColor) scale_->axis()->setLabel(d.valueLabel + tr(" (log10)"));
  plot_->xAxis->setLabel(d.xLabel);
  plot_->yAxis->setLabel(d.yLabel);
  plot_->rescaleAxes();
  refresh();
  setNote(tr("%1 x %2 cells (%3 %4 x %5 %6 per cell), max %7")
              .arg(d.rows)
              .arg(d.cols)
              .arg(d.yPerCell)
              .arg(d.yLabel)
              .arg(d.xPerCell)
              .arg(d.xLabel)
              .arg(mx, 0, 'g', 4));
}

QString HeatmapView::csv() const {
  QString s;
  QTextStream o(&s);
  o << "row_" << d_.yLabel << "," << "col_" << d_.xLabel << "," << d_.valueLabel << "\n";
  for (int r = 0; r < d_.rows; ++r)
    for (int c = 0; c < d_.cols; ++c) o << r * d_.yPerCell << ',' << c * d_.xPerCell << ',' << num(d_.values.value(r * d_.cols + c)) << '\n';
  return s;
}

// ------------------------------------------------------------------ per-timestep ranges
TimestepRangeView::TimestepRangeView(QWidget* parent) : PlotPanel(parent) { clear(tr("Diffusion models only")); }

void TimestepRangeView::resetPlot() { clearAll(plot_); }

void TimestepRangeView::setData(const TimestepRangeData& d) {
  d_ = d;
  resetPlot();
  setTitle(d.title);
  auto* lo = addLine(plot_, tr("min"), d.step, d.min, kFp);
  auto* hi = addLine(plot_, tr("max"), d.step, d.max, kFp);
  hi->setBrush(QBrush(QColor(31, 119, 180, 60)));
  hi->setChannelFillGraph(lo);
  addLine(plot_, tr("p99.9 |x|"), d.step, d.p999Abs, kQuant);
  addLine(plot_, tr("mean |x|"), d.step, d.meanAbs, kGrey);
  plot_->xAxis->setLabel(tr("sampling step (0 = first, noisiest)"));
  plot_->yAxis->setLabel(tr("activation value"));
  plot_->legend->setVisible(true);
  plot_->rescaleAxes();
  refresh();
  if (!d.step.isEmpty())
    setNote(tr("%1 steps, t = %2 ... %3; max |x| ranges from %4 to %5 across steps")
                .arg(d.step.size())
                .arg(d.timestep.value(0))
                .arg(d.timestep.value(d.timestep.size() - 1))
                .arg([&] {
                  double m = 1e300;
                  for (int i = 0; i < d.min.size(); ++i) m = std::min(m, std::max(-d.min[i], d.max[i]));
                  return m;
                }(), 0, 'g', 4)
                .arg([&] {
                  double m = 0;
                  for (int i = 0; i < d.min.size(); ++i) m = std::max(m, std::max(-d.min[i], d.max[i]));
                  return m;
                }(), 0, 'g', 4));
}

QString TimestepRangeView::csv() const {
  QString s;
  QTextStream o(&s);
  o << "step,timestep,min,max,p999_abs,mean_abs\n";
  for (int i = 0; i < d_.step.size(); ++i)
    o << d_.step[i] << ',' << d_.timestep.value(i) << ',' << num(d_.min.value(i)) << ',' << num(d_.max.value(i)) << ','
      << num(d_.p999Abs.value(i)) << ',' << num(d_.meanAbs.value(i)) << '\n';
  return s;
}

// ------------------------------------------------------------------ spectrum
SpectrumView::SpectrumView(QWidget* parent) : PlotPanel(parent) { clear(tr("Select a layer with a weight")); }

void SpectrumView::resetPlot() { clearAll(plot_); }

void SpectrumView::setData(const SpectrumData& d) {
  d_ = d;
  resetPlot();
  setTitle(d.title);
  QVector<double> x(d.singular.size()), y(d.singular.size());
  for (int i = 0; i < d.singular.size(); ++i) {
    x[i] = i + 1;
    y[i] = std::max(d.singular[i], 1e-12);
  }
  auto* g = addLine(plot_, tr("singular value"), x, y, kFp);
  g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 3));
  plot_->yAxis->setScaleType(QCPAxis::stLogarithmic);
  plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  auto* line = new QCPItemStraightLine(plot_);
  line->point1->setCoords(d.stableRank, 1);
  line->point2->setCoords(d.stableRank, 2);
  line->setPen(QPen(kQuant, 1.4, Qt::DashLine));
  auto* label = new QCPItemText(plot_);
  label->position->setType(QCPItemPosition::ptAxisRectRatio);
  label->position->setCoords(0.98, 0.05);
  label->setPositionAlignment(Qt::AlignRight | Qt::AlignTop);
  label->setText(tr("stable rank %1 (dashed)\neffective rank %2\n99%% energy in %3 of %4")
                     .arg(d.stableRank, 0, 'f', 2)
                     .arg(d.effectiveRank, 0, 'f', 1)
                     .arg(d.rank99)
                     .arg(d.singular.size()));
  plot_->xAxis->setLabel(tr("index (descending)"));
  plot_->yAxis->setLabel(tr("singular value (log scale)"));
  plot_->rescaleAxes();
  plot_->xAxis->setRange(0, d.singular.size() + 1);
  refresh();
  setNote(tr("sigma_max %1, sigma_min %2; stable rank = ||W||_F^2 / sigma_max^2")
              .arg(d.singular.value(0), 0, 'g', 4)
              .arg(d.singular.isEmpty() ? 0.0 : d.singular.last(), 0, 'g', 4));
}

QString SpectrumView::csv() const {
  QString s;
  QTextStream o(&s);
  o << "index,singular_value\n";
  for (int i = 0; i < d_.singular.size(); ++i) o << i + 1 << ',' << num(d_.singular[i]) << '\n';
  o << "# stable_rank," << d_.stableRank << "\n# effective_rank," << d_.effectiveRank << '\n';
  return s;
}

// ------------------------------------------------------------------ sparsity
SparsityView::SparsityView(QWidget* parent) : PlotPanel(parent) { clear(tr("Select a layer with a weight")); }

void SparsityView::resetPlot() {
  clearAll(plot_);
  map_ = nullptr;
}

void SparsityView::setData(const SparsityData& d) {
  d_ = d;
  resetPlot();
  setTitle(d.title);
  if (d.gridRows <= 0 || d.gridCols <= 0) return;
  QCPColorScale* scale = nullptr;
  for (int i = 0; i < plot_->plotLayout()->elementCount(); ++i)
    if (auto* s = qobject_cast<QCPColorScale*>(plot_->plotLayout()->elementAt(i))) scale = s;
  setupColorMap(plot_, map_, scale, tr("nonzero fraction"), QCPColorGradient::gpGrayscale);
  map_->data()->setSize(d.gridCols, d.gridRows);
  map_->data()->setRange(QCPRange(0.5 * d.blockCols - 0.5, (d.gridCols - 0.5) * d.blockCols - 0.5),
                         QCPRange(0.5 * d.blockRows - 0.5, (d.gridRows - 0.5) * d.blockRows - 0.5));
  for (int r = 0; r < d.gridRows; ++r)
    for (int c = 0; c < d.gridCols; ++c) map_->data()->setCell(c, r, d.blockDensity.value(r * d.gridCols + c));
  map_->setDataRange(QCPRange(0, 1));
  plot_->xAxis->setLabel(tr("input index (column)"));
  plot_->yAxis->setLabel(tr("output index (row)"));
  plot_->yAxis->setRangeReversed(true);
  plot_->rescaleAxes();
  refresh();
  double mn = 1, mx = 0;
  for (double v : d.rowDensity) {
    mn = std::min(mn, v);
    mx = std::max(mx, v);
  }
  setNote(tr("[%1 x %2], sparsity %3 %, pattern %4; row density %5 ... %6; blocks of %7 x %8")
              .arg(d.rows)
              .arg(d.cols)
              .arg(100 * d.sparsity, 0, 'f', 2)
              .arg(d.nm)
              .arg(mn, 0, 'f', 3)
              .arg(mx, 0, 'f', 3)
              .arg(d.blockRows)
              .arg(d.blockCols));
}

QString SparsityView::csv() const {
  QString s;
  QTextStream o(&s);
  o << "row,density\n";
  for (int i = 0; i < d_.rowDensity.size(); ++i) o << i << ',' << num(d_.rowDensity[i]) << '\n';
  o << "# sparsity," << d_.sparsity << "\n# pattern," << d_.nm << '\n';
  return s;
}

// ------------------------------------------------------------------ sensitivity
SensitivityView::SensitivityView(QWidget* parent) : PlotPanel(parent) {
  clear(tr("Run a sensitivity analysis"));
  connect(plot_, &QCustomPlot::plottableClick, this, [this](QCPAbstractPlottable*, int index, QMouseEvent*) {
    if (index >= 0 && index < d_.layers.size()) Q_EMIT layerClicked(d_.layers[index]);
  });
}

void SensitivityView::resetPlot() { clearAll(plot_); }

void SensitivityView::setData(const SensitivityData& d) {
  d_ = d;
  resetPlot();
  setTitle(d.title);
  const int n = d.layers.size();
  QVector<double> x(n);
  for (int i = 0; i < n; ++i) x[i] = i;
  auto* iso = addLine(plot_, tr("isolated SQNR (dB)"), x, d.isolatedSqnr, kFp);
  iso->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
  auto* cum = addLine(plot_, tr("cumulative SQNR (dB)"), x, d.cumulativeSqnr, kQuant);
  cum->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, 5));
  if (!d.metricName.isEmpty()) {
    plot_->yAxis2->setVisible(true);
    plot_->yAxis2->setLabel(d.metricName);
    auto* im = addLine(plot_, tr("isolated %1").arg(d.metricName), x, d.isolatedMetric, QColor(44, 160, 44), plot_->yAxis2);
    im->setPen(QPen(QColor(44, 160, 44), 1.2, Qt::DashLine));
    auto* cm = addLine(plot_, tr("cumulative %1").arg(d.metricName), x, d.cumulativeMetric, QColor(148, 103, 189),
                       plot_->yAxis2);
    cm->setPen(QPen(QColor(148, 103, 189), 1.2, Qt::DashLine));
    double lo = d.fpMetric, hi = d.fpMetric;
    for (auto* v : {&d.isolatedMetric, &d.cumulativeMetric})
      for (double m : *v)
        if (!std::isnan(m)) {
          lo = std::min(lo, m);
          hi = std::max(hi, m);
        }
    plot_->yAxis2->setRange(std::isnan(lo) ? 0 : lo - 0.02, std::isnan(hi) ? 1 : hi + 0.02);
  }
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  for (int i = 0; i < n; ++i) ticker->addTick(i, d.layers[i]);
  plot_->xAxis->setTicker(ticker);
  plot_->xAxis->setTickLabelRotation(60);
  plot_->xAxis->setLabel(tr("layer (execution order)"));
  plot_->yAxis->setLabel(tr("output SQNR vs FP (dB)"));
  double ylo = 1e300, yhi = -1e300;
  for (auto* v : {&d.isolatedSqnr, &d.cumulativeSqnr})
    for (double q : *v)
      if (!std::isnan(q) && !std::isinf(q)) {
        ylo = std::min(ylo, q);
        yhi = std::max(yhi, q);
      }
  if (ylo > yhi) ylo = 0, yhi = 1;
  const double pad = std::max(1.0, 0.08 * (yhi - ylo));
  plot_->yAxis->setRange(ylo - pad, yhi + pad);
  if (d.jump >= 0 && d.jump < n) {
    auto* line = new QCPItemStraightLine(plot_);
    line->point1->setCoords(d.jump, 0);
    line->point2->setCoords(d.jump, 1);
    line->setPen(QPen(kOutlier, 1.5, Qt::DashLine));
    auto* t = new QCPItemText(plot_);
    t->position->setType(QCPItemPosition::ptPlotCoords);
    t->position->setAxes(plot_->xAxis, plot_->yAxis);
    // Text on the side of the line with more room, so it never runs past the axis rect.
    const bool right = d.jump > 0.5 * (std::max(d.total, n) - 1);
    t->setPositionAlignment((right ? Qt::AlignRight : Qt::AlignLeft) | Qt::AlignTop);
    t->setColor(kOutlier);
    t->setText(right ? tr("cumulative jump: %1 ").arg(d.layers[d.jump]) : tr(" cumulative jump: %1").arg(d.layers[d.jump]));
    t->position->setCoords(d.jump, yhi + pad);
  }
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignLeft);
  plot_->xAxis->setRange(-0.5, std::max(d.total, n) - 0.5);
  refresh();
  setNote(tr("%1 of %2 layers%3%4")
              .arg(n)
              .arg(std::max(d.total, n))
              .arg(d.metricName.isEmpty() ? QString() : tr("; FP %1 %2").arg(d.metricName).arg(d.fpMetric, 0, 'f', 4))
              .arg(d.jump >= 0 ? tr("; cumulative error jumps at %1").arg(d.layers.value(d.jump)) : QString()));
}

QString SensitivityView::csv() const {
  QString s;
  QTextStream o(&s);
  o << "index,layer,isolated_sqnr_db,cumulative_sqnr_db,isolated_metric,cumulative_metric,jump\n";
  for (int i = 0; i < d_.layers.size(); ++i)
    o << i << ',' << d_.layers[i] << ',' << num(d_.isolatedSqnr.value(i)) << ',' << num(d_.cumulativeSqnr.value(i)) << ','
      << num(d_.isolatedMetric.value(i)) << ',' << num(d_.cumulativeMetric.value(i)) << ',' << (i == d_.jump ? 1 : 0)
      << '\n';
  return s;
}

}  // namespace cs::widgets
