#include "widgets/explore/WhatIfView.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QTextStream>
#include <QVBoxLayout>
#include <cmath>
#include <limits>

#include "widgets/QCustomPlotInclude.h"

namespace cs::widgets {
namespace {
const QColor kFp(31, 119, 180);
const QColor kQuant(255, 127, 14);
const QColor kClip(214, 39, 40);
}  // namespace

WhatIfView::WhatIfView(QWidget* parent) : PlotPanel(parent) {
  source_ = new QComboBox(this);
  source_->addItems({tr("weight"), tr("activation (captured sample)")});
  source_->setToolTip(tr("Weight tensor of the layer, or the bounded sample of its input kept by the last capture"));
  bits_ = new QSpinBox(this);
  bits_->setRange(2, 16);
  bits_->setValue(4);
  bits_->setSuffix(tr(" bit"));
  gran_ = new QComboBox(this);
  gran_->addItems({QStringLiteral("tensor"), QStringLiteral("channel"), QStringLiteral("group"), QStringLiteral("token")});
  gran_->setCurrentIndex(1);
  gran_->setToolTip(tr("Weights: channel = per output channel, group = groups along the input, token = per input "
                       "column. Activations: channel = per channel, token = per token, group = groups of channels "
                       "within a token."));
  group_ = new QSpinBox(this);
  group_->setRange(1, 4096);
  group_->setValue(32);
  group_->setPrefix(tr("group "));
  sym_ = new QCheckBox(tr("symmetric"), this);
  sym_->setChecked(true);
  clip_ = new QDoubleSpinBox(this);
  clip_->setRange(90.0, 100.0);
  clip_->setDecimals(3);
  clip_->setSingleStep(0.1);
  clip_->setValue(100.0);
  clip_->setPrefix(tr("clip p"));
  clip_->setToolTip(tr("Range per group = this percentile of |x| (symmetric) or of both tails; 100 = min/max"));
  log_ = new QCheckBox(tr("log count"), this);

  auto* row = new QHBoxLayout;
  row->setContentsMargins(4, 2, 4, 2);
  row->addWidget(source_);
  row->addWidget(bits_);
  row->addWidget(gran_);
  row->addWidget(group_);
  row->addWidget(sym_);
  row->addWidget(clip_);
  row->addWidget(log_);
  row->addStretch(1);
  static_cast<QVBoxLayout*>(layout())->insertLayout(0, row);

  auto emitChanged = [this] {
    group_->setEnabled(gran_->currentText() == QLatin1String("group"));
    Q_EMIT settingsChanged(settings());
  };
  connect(source_, &QComboBox::currentIndexChanged, this, emitChanged);
  connect(bits_, &QSpinBox::valueChanged, this, emitChanged);
  connect(gran_, &QComboBox::currentIndexChanged, this, emitChanged);
  connect(group_, &QSpinBox::valueChanged, this, emitChanged);
  connect(sym_, &QCheckBox::toggled, this, emitChanged);
  connect(clip_, &QDoubleSpinBox::valueChanged, this, emitChanged);
  connect(log_, &QCheckBox::toggled, this, [this] { redraw(); });
  group_->setEnabled(false);
  setActivationAvailable(false);
  clear(tr("Select a layer"));
}

WhatIfSettings WhatIfView::settings() const {
  WhatIfSettings s;
  s.activation = source_->currentIndex() == 1;
  s.bits = bits_->value();
  s.granularity = gran_->currentText();
  s.groupSize = group_->value();
  s.symmetric = sym_->isChecked();
  s.clipPercentile = clip_->value();
  return s;
}

void WhatIfView::setSettings(const WhatIfSettings& s) {
  const QSignalBlocker b1(source_), b2(bits_), b3(gran_), b4(group_), b5(sym_), b6(clip_);
  source_->setCurrentIndex(s.activation ? 1 : 0);
  bits_->setValue(s.bits);
  gran_->setCurrentText(s.granularity);
  group_->setValue(s.groupSize);
  sym_->setChecked(s.symmetric);
  clip_->setValue(s.clipPercentile);
  group_->setEnabled(s.granularity == QLatin1String("group"));
}

void WhatIfView::setActivationAvailable(bool on) {
  auto* m = qobject_cast<QStandardItemModel*>(source_->model());
  if (m && m->item(1)) m->item(1)->setEnabled(on);
  if (!on && source_->currentIndex() == 1) {
    const QSignalBlocker b(source_);
    source_->setCurrentIndex(0);
  }
}

bool WhatIfView::logScale() const { return log_->isChecked(); }
void WhatIfView::setLogScale(bool on) { log_->setChecked(on); }

void WhatIfView::resetPlot() {
  plot_->clearGraphs();
  plot_->clearItems();
  plot_->legend->setVisible(false);
}

void WhatIfView::setData(const WhatIfData& d) {
  d_ = d;
  redraw();
}

void WhatIfView::redraw() {
  if (d_.centers.isEmpty()) return;
  resetPlot();
  setTitle(d_.title);
  const bool lg = log_->isChecked();
  auto shown = [lg](const QVector<double>& c) {
    if (!lg) return c;
    QVector<double> o(c);
    for (double& v : o)
      if (v <= 0) v = std::numeric_limits<double>::quiet_NaN();
    return o;
  };
  auto* ref = plot_->addGraph();
  ref->setName(tr("full precision"));
  ref->setLineStyle(QCPGraph::lsStepCenter);
  ref->setPen(QPen(kFp, 1));
  ref->setBrush(QColor(31, 119, 180, 80));
  ref->setData(d_.centers, shown(d_.reference), true);
  auto* q = plot_->addGraph();
  q->setName(tr("quantized (%1)").arg(d_.config));
  q->setLineStyle(QCPGraph::lsStepCenter);
  q->setPen(QPen(kQuant, 1.6));
  q->setData(d_.centers, shown(d_.quantized), true);
  for (double x : {d_.clipLo, d_.clipHi}) {
    auto* line = new QCPItemStraightLine(plot_);
    line->setPen(QPen(kClip, 1.2, Qt::DashLine));
    line->point1->setCoords(x, 0);
    line->point2->setCoords(x, 1);
  }
  // Legend entry for the clip lines (a dummy graph with the same pen).
  auto* clipKey = plot_->addGraph();
  clipKey->setName(tr("clipping range [%1, %2]").arg(d_.clipLo, 0, 'g', 4).arg(d_.clipHi, 0, 'g', 4));
  clipKey->setPen(QPen(kClip, 1.2, Qt::DashLine));

  double lo = d_.centers.first() - d_.binWidth / 2, hi = d_.centers.last() + d_.binWidth / 2;
  lo = std::min(lo, d_.clipLo);
  hi = std::max(hi, d_.clipHi);
  const double pad = (hi - lo) * 0.03;
  plot_->xAxis->setRange(lo - pad, hi + pad);
  double top = 1;
  for (double c : d_.reference) top = std::max(top, c);
  for (double c : d_.quantized) top = std::max(top, c);
  if (lg) {
    plot_->yAxis->setScaleType(QCPAxis::stLogarithmic);
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    plot_->yAxis->setRange(0.5, top * 3);
  } else {
    plot_->yAxis->setScaleType(QCPAxis::stLinear);
    plot_->yAxis->setTicker(QSharedPointer<QCPAxisTicker>::create());
    plot_->yAxis->setRange(0, top * 1.08);
  }
  plot_->xAxis->setLabel(d_.xLabel);
  plot_->yAxis->setLabel(lg ? tr("count (values per bin, log)") : tr("count (values per bin)"));
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
  refresh(true);
  setNote(tr("%1: SQNR %2 dB, MSE %3, clipped %4 % of %5 values, %6 group(s); updated in %7 ms")
              .arg(d_.config)
              .arg(std::isinf(d_.sqnrDb) ? QStringLiteral("inf") : QString::number(d_.sqnrDb, 'f', 2))
              .arg(d_.mse, 0, 'g', 4)
              .arg(100.0 * d_.clippedFraction, 0, 'f', 3)
              .arg(d_.values)
              .arg(d_.groups)
              .arg(d_.milliseconds, 0, 'f', 1));
}

QString WhatIfView::csv() const {
  QString s;
  QTextStream o(&s);
  o << "bin_center,fp_count,quantized_count\n";
  for (int i = 0; i < d_.centers.size(); ++i)
    o << QString::number(d_.centers[i], 'g', 9) << ',' << d_.reference.value(i) << ',' << d_.quantized.value(i) << '\n';
  return s;
}

}  // namespace cs::widgets
