#include "app/gui/ExploreTab.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QPointer>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QThreadPool>
#include <QVBoxLayout>

#include <QElapsedTimer>

#include <chrono>
#include <cmath>

#include "engine/explore.h"
#include "widgets/LayerTreeView.h"
#include "widgets/explore/ExploreViews.h"
#include "widgets/explore/WhatIfView.h"

namespace cs::gui {
using namespace cs::widgets;

namespace {
QVector<double> toQ(const std::vector<double>& v) { return QVector<double>(v.begin(), v.end()); }
QVector<double> toQ(const std::vector<float>& v) { return QVector<double>(v.begin(), v.end()); }
QString shapeText(const std::vector<int64_t>& s) {
  QStringList p;
  for (auto d : s) p << QString::number(d);
  return QStringLiteral("[%1]").arg(p.join(QStringLiteral(", ")));
}

struct WeightViews {
  std::shared_ptr<std::vector<float>> values;
  int64_t rows = 0, cols = 0;
  ChannelRangeData ranges;
  SpectrumData spectrum;
  SparsityData sparsity;
};
}  // namespace

ExploreTab::ExploreTab(cs::qt::StudioSession* session, QWidget* parent) : QWidget(parent), session_(session) {
  tree_ = new LayerTreeView(this);
  tree_->setModel(&layers_, cs::qt::LayerTreeModel::FullNameRole);

  samples_ = new QSpinBox(this);
  samples_->setRange(1, 10000);
  samples_->setValue(64);
  samples_->setToolTip(tr("Calibration inputs for the activation statistics and evaluation inputs for sensitivity"));
  wbits_ = new QSpinBox(this);
  wbits_->setRange(0, 16);
  wbits_->setValue(4);
  abits_ = new QSpinBox(this);
  abits_->setRange(0, 16);
  abits_->setValue(8);
  mode_ = new QComboBox(this);
  mode_->addItems({tr("both"), tr("isolated"), tr("cumulative")});
  logColor_ = new QCheckBox(tr("log colour"), this);
  captureBtn_ = new QPushButton(tr("Capture activations"), this);
  sensBtn_ = new QPushButton(tr("Run sensitivity"), this);
  auto* cancelBtn = new QPushButton(tr("Cancel"), this);
  status_ = new QLabel(tr("Open a model (Zoo or File > Open)"), this);
  status_->setWordWrap(true);
  status_->setMinimumHeight(status_->fontMetrics().lineSpacing() * 4);  // long status lines wrap, not clip
  status_->setAlignment(Qt::AlignLeft | Qt::AlignTop);

  auto* form = new QFormLayout;
  form->addRow(tr("Samples"), samples_);
  auto* bits = new QHBoxLayout;
  bits->addWidget(new QLabel(tr("W"), this));
  bits->addWidget(wbits_);
  bits->addWidget(new QLabel(tr("A"), this));
  bits->addWidget(abits_);
  bits->addWidget(mode_);
  form->addRow(tr("RTN bits"), bits);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(captureBtn_);
  buttons->addWidget(sensBtn_);
  buttons->addWidget(cancelBtn);
  buttons->addWidget(logColor_);

  auto* left = new QWidget(this);
  auto* ll = new QVBoxLayout(left);
  ll->setContentsMargins(0, 0, 0, 0);
  ll->addWidget(tree_, 1);
  ll->addLayout(form);
  ll->addLayout(buttons);
  ll->addWidget(status_);

  tabs_ = new QTabWidget(this);
  wranges_ = new ChannelRangeView(this);
  aranges_ = new ChannelRangeView(this);
  aranges_->clear(tr("Capture activations to see per-channel input ranges"));
  heatmap_ = new HeatmapView(this);
  heatmap_->clear(tr("Capture activations to see the channel x token map"));
  timesteps_ = new TimestepRangeView(this);
  spectrum_ = new SpectrumView(this);
  sparsity_ = new SparsityView(this);
  sens_ = new SensitivityView(this);
  tabs_->addTab(wranges_, tr("Weight ranges"));
  tabs_->addTab(aranges_, tr("Activation ranges"));
  tabs_->addTab(heatmap_, tr("Channel x token"));
  tabs_->addTab(timesteps_, tr("Per timestep"));
  tabs_->addTab(spectrum_, tr("Spectrum"));
  tabs_->addTab(sparsity_, tr("Sparsity"));
  tabs_->addTab(sens_, tr("Sensitivity"));
  whatIf_ = new WhatIfView(this);
  tabs_->addTab(whatIf_, tr("What-if quantizer"));

  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(left);
  split->addWidget(tabs_);
  split->setStretchFactor(1, 3);
  split->setSizes({300, 900});
  auto* lay = new QVBoxLayout(this);
  lay->addWidget(split);

  connect(tree_, &LayerTreeView::layerSelected, this, &ExploreTab::onLayer);
  connect(sens_, &SensitivityView::layerClicked, this, [this](const QString& l) { selectLayer(l); });
  connect(captureBtn_, &QPushButton::clicked, this, &ExploreTab::captureActivations);
  connect(sensBtn_, &QPushButton::clicked, this, &ExploreTab::runSensitivity);
  connect(cancelBtn, &QPushButton::clicked, this, &ExploreTab::cancel);
  connect(whatIf_, &WhatIfView::settingsChanged, this, [this] { updateWhatIf(); });
  connect(logColor_, &QCheckBox::toggled, this, [this] { updateActivationViews(layer_); });
  connect(session_, &cs::qt::StudioSession::modelOpened, this, [this] { setModel(session_->model()); });
}

void ExploreTab::setStatus(const QString& s) { status_->setText(s); }

void ExploreTab::setModel(const cs::Model& m) {
  session_->jobs()->cancel(QStringLiteral("explore-capture"));
  session_->jobs()->cancel(QStringLiteral("explore-sensitivity"));
  model_ = m;
  capture_.reset();
  layer_.clear();
  weightCache_ = {};
  whatIf_->setActivationAvailable(false);
  whatIf_->clear(tr("Select a layer"));
  layers_.setLayers(m.layers());
  for (auto* v : std::initializer_list<PlotPanel*>{wranges_, spectrum_, sparsity_}) v->clear(tr("Select a layer"));
  aranges_->clear(tr("Capture activations to see per-channel input ranges"));
  heatmap_->clear(tr("Capture activations to see the channel x token map"));
  timesteps_->clear(m.task() == cs::Task::Diffusion ? tr("Capture activations (samples the diffusion model)")
                                                    : tr("Per-timestep ranges: diffusion models only"));
  sens_->clear(tr("Run a sensitivity analysis"));
  const auto props = m.properties();
  QString taps = m.impl() ? QString() : QString();
  auto it = props.find("taps.uninstrumented");
  if (it != props.end()) taps = tr("; TorchScript taps: %1 points, not instrumented: %2")
                                    .arg(QString::fromStdString(props.count("taps.points") ? props.at("taps.points") : "?"),
                                         QString::fromStdString(it->second));
  setStatus(tr("%1 (%2)%3").arg(QString::fromStdString(m.name()), QString::fromStdString(m.family()), taps));
  for (auto& l : m.layers())
    if (l.quantizable) {
      selectLayer(QString::fromStdString(l.name));
      break;
    }
  if (m.task() == cs::Task::ImageClassification) {
    // Warms the per-process Fashion-MNIST cache (the first decode of the train split is
    // most of a first capture's time) with a one-image capture whose result is dropped.
    // On Qt's global pool, not a session job: invisible in the status bar, nothing to cancel.
    QThreadPool::globalInstance()->start([m] {
      cs::CaptureOptions o;
      o.samples = 1;
      o.magnitude = false;
      o.sampleValues = 0;
      cs::JobContext job;
      (void)cs::captureActivations(m, o, job);
    });
  }
  Q_EMIT modelReady(QString::fromStdString(m.name()));
}

void ExploreTab::openModel(const QString& nameOrPath) {
  auto result = std::make_shared<cs::Result<cs::Model>>(cs::Error::failed("not run"));
  setStatus(tr("Opening %1 ...").arg(nameOrPath));
  session_->jobs()->start(
      QStringLiteral("explore-model"), tr("Opening %1").arg(QFileInfo(nameOrPath).fileName()),
      [result, p = nameOrPath.toStdString()](cs::JobContext& job) { *result = cs::openExploreModel(p, job); },
      [this, result](bool cancelled, const QString& error) {
        if (cancelled || !error.isEmpty() || !*result) {
          const QString msg = !error.isEmpty() ? error
                              : cancelled      ? tr("cancelled")
                                               : QString::fromStdString(result->error().message);
          setStatus(msg);
          Q_EMIT failed(tr("open"), msg);
          return;
        }
        setModel(**result);
      });
}

bool ExploreTab::selectLayer(const QString& fullName) { return tree_->selectLayer(fullName); }

void ExploreTab::onLayer(const QString& layer) {
  layer_ = layer;
  updateWeightViews(layer);
  updateActivationViews(layer);
  if (whatIf_->settings().activation) updateWhatIf();
}

void ExploreTab::updateWeightViews(const QString& layer) {
  if (!model_.valid()) return;
  auto out = std::make_shared<WeightViews>();
  auto err = std::make_shared<QString>();
  const cs::Model m = model_;
  session_->jobs()->start(
      QStringLiteral("explore-weight"), tr("Weight diagnostics of %1").arg(layer),
      [m, out, err, name = layer.toStdString()](cs::JobContext& job) {
        auto w = m.weight(name);
        if (!w) {
          *err = QString::fromStdString(w.error().message);
          return;
        }
        if (w->shape.size() < 2) {
          *err = QStringLiteral("%1: weight %2 is not a matrix").arg(QString::fromStdString(name), shapeText(w->shape));
          return;
        }
        const int64_t rows = w->shape[0], cols = int64_t(w->values.size()) / rows;
        const QString title = QString::fromStdString(name);
        out->rows = rows;
        out->cols = cols;
        // Per output channel range.
        auto& r = out->ranges;
        r.title = QStringLiteral("%1: weight range per output channel %2").arg(title, shapeText(w->shape));
        r.yLabel = QStringLiteral("weight value");
        cs::GroupMoments gm;
        gm.add(w->values.data(), {rows, cols}, 0);
        auto s = cs::summarize(gm);
        r.min = toQ(s.min);
        r.max = toQ(s.max);
        r.mean = toQ(s.mean);
        r.outliers = QVector<int>(s.outliers().begin(), s.outliers().end());
        job.progress(0.3, "spectrum");
        if (job.cancelled()) return;
        auto sp = cs::weightSpectrum(w->values.data(), rows, cols);
        out->spectrum.title = QStringLiteral("%1: singular values of W [%2 x %3]").arg(title).arg(rows).arg(cols);
        out->spectrum.singular = toQ(sp.singular);
        out->spectrum.stableRank = sp.stableRank;
        out->spectrum.effectiveRank = sp.effectiveRank;
        out->spectrum.rank99 = sp.rankForEnergy(0.99);
        auto pat = cs::sparsityPattern(w->values.data(), rows, cols, 96);
        auto& q = out->sparsity;
        q.title = QStringLiteral("%1: nonzero pattern (%2 % zeros, %3)")
                      .arg(title)
                      .arg(100 * pat.sparsity, 0, 'f', 2)
                      .arg(QString::fromStdString(pat.nmLabel()));
        q.rows = int(rows);
        q.cols = int(cols);
        q.gridRows = pat.gridRows;
        q.gridCols = pat.gridCols;
        q.blockRows = pat.blockRows;
        q.blockCols = pat.blockCols;
        q.blockDensity = toQ(pat.blockDensity);
        q.rowDensity = toQ(pat.rowDensity);
        q.sparsity = pat.sparsity;
        q.nm = QString::fromStdString(pat.nmLabel());
        out->values = std::make_shared<std::vector<float>>(std::move(w->values));
        job.progress(1.0, "done");
      },
      [this, out, err, layer](bool cancelled, const QString& error) {
        if (cancelled || layer != layer_) return;
        const QString e = !error.isEmpty() ? error : *err;
        if (!e.isEmpty()) {
          for (auto* v : std::initializer_list<PlotPanel*>{wranges_, spectrum_, sparsity_}) v->clear(e);
          return;
        }
        wranges_->setData(out->ranges);
        spectrum_->setData(out->spectrum);
        sparsity_->setData(out->sparsity);
        weightCache_ = {layer, out->rows, out->cols, out->values};
        updateWhatIf();
        Q_EMIT weightViewsUpdated(layer);
      });
}

void ExploreTab::updateActivationViews(const QString& layer) {
  if (!capture_) return;
  const cs::PointStats* p = nullptr;
  for (auto& s : capture_->points)
    if (QString::fromStdString(s.point) == layer && (!p || s.kind == "input")) p = &s;
  if (!p) {
    aranges_->clear(tr("%1: no activation captured at this layer").arg(layer));
    heatmap_->clear(tr("%1: no activation captured at this layer").arg(layer));
    return;
  }
  const QString where = QStringLiteral("%1 (%2)").arg(layer, QString::fromStdString(p->kind));
  ChannelRangeData r;
  r.title = tr("%1: per-channel activation range, %2 calls").arg(where).arg(p->calls);
  r.yLabel = tr("activation value");
  r.min = toQ(p->perChannel.min);
  r.max = toQ(p->perChannel.max);
  r.mean = toQ(p->perChannel.mean);
  auto o = p->perChannel.outliers();
  r.outliers = QVector<int>(o.begin(), o.end());
  aranges_->setData(r);
  if (p->magnitude && p->magnitude->rows() > 0) {
    const auto& m = *p->magnitude;
    HeatmapData h;
    const bool image = p->shape.size() == 4;
    h.title = tr("%1: mean |x| per channel and %2").arg(where, image ? tr("spatial position") : tr("token"));
    h.xLabel = image ? tr("spatial position (row-major)") : tr("token position");
    h.yLabel = tr("channel");
    h.valueLabel = tr("mean |x|");
    h.rows = m.rows();
    h.cols = m.cols();
    h.xPerCell = m.tokensPerCol();
    h.yPerCell = m.channelsPerRow();
    h.logColor = logColor_->isChecked();
    for (int i = 0; i < h.rows; ++i)
      for (int j = 0; j < h.cols; ++j) h.values.push_back(m.meanAbs(i, j));
    heatmap_->setData(h);
  } else {
    heatmap_->clear(tr("%1: activation of shape %2 has no token axis").arg(where, shapeText(p->shape)));
  }
  if (!p->perStep.empty()) {
    TimestepRangeData t;
    t.title = tr("%1: activation range per sampling step").arg(where);
    for (auto& s : p->perStep) {
      t.step << s.step;
      t.timestep << double(s.timestep);
      t.min << s.min;
      t.max << s.max;
      t.p999Abs << s.p999Abs;
      t.meanAbs << s.meanAbs;
    }
    timesteps_->setData(t);
  }
}

bool ExploreTab::updateWhatIf() {
  QElapsedTimer clock;
  clock.start();
  const auto st = whatIf_->settings();
  const float* data = nullptr;
  int64_t rows = 0, cols = 0;
  QString what;
  if (st.activation) {
    const cs::PointStats* p = nullptr;
    if (capture_)
      for (auto& s : capture_->points)
        if (QString::fromStdString(s.point) == layer_ && (!p || s.kind == "input")) p = &s;
    if (!p || p->sample.empty() || p->sampleCols <= 0) {
      whatIf_->clear(tr("%1: no captured activation sample at this layer (capture activations first)").arg(layer_));
      return false;
    }
    data = p->sample.data();
    cols = p->sampleCols;
    rows = int64_t(p->sample.size()) / cols;
    what = tr("%1 (%2): captured sample of %3 rows x %4 channels").arg(layer_, QString::fromStdString(p->kind)).arg(rows).arg(cols);
  } else {
    if (weightCache_.layer != layer_ || !weightCache_.values || weightCache_.values->empty()) {
      whatIf_->clear(tr("%1: weight not loaded").arg(layer_));
      return false;
    }
    data = weightCache_.values->data();
    rows = weightCache_.rows;
    cols = weightCache_.cols;
    what = tr("%1: weight [%2 x %3]").arg(layer_).arg(rows).arg(cols);
  }
  cs::WhatIfOptions o;
  o.bits = st.bits;
  o.symmetric = st.symmetric;
  o.clipPercentile = st.clipPercentile;
  o.groupSize = st.groupSize;
  o.bins = 200;
  const QString g = st.granularity;
  QString gLabel;
  if (g == QLatin1String("tensor")) {
    o.granularity = cs::QuantGranularity::Tensor;
    gLabel = tr("per-tensor");
  } else if (g == QLatin1String("group")) {
    o.granularity = cs::QuantGranularity::Group;
    gLabel = tr("group %1").arg(st.groupSize);
  } else if (g == QLatin1String("token")) {
    o.granularity = st.activation ? cs::QuantGranularity::Row : cs::QuantGranularity::Column;
    gLabel = st.activation ? tr("per-token") : tr("per-input-column");
  } else {
    o.granularity = st.activation ? cs::QuantGranularity::Column : cs::QuantGranularity::Row;
    gLabel = st.activation ? tr("per-channel") : tr("per-output-channel");
  }
  cs::WhatIfResult r;
  try {
    r = cs::whatIfQuantize(data, rows, cols, o);
  } catch (const std::exception& e) {
    whatIf_->clear(QString::fromUtf8(e.what()));
    return false;
  }
  WhatIfData d;
  d.title = what;
  d.xLabel = st.activation ? tr("activation value") : tr("weight value");
  const int nb = int(r.reference.counts.size());
  const double bw = r.reference.binWidth();
  d.binWidth = bw;
  d.centers.resize(nb);
  for (int i = 0; i < nb; ++i) d.centers[i] = r.reference.binCenter(size_t(i));
  d.reference = toQ(r.reference.counts);
  d.quantized = toQ(r.quantized.counts);
  d.clipLo = r.clipLo;
  d.clipHi = r.clipHi;
  d.clippedFraction = r.clippedFraction;
  d.mse = r.mse;
  d.sqnrDb = r.sqnrDb;
  d.values = r.values;
  d.groups = r.groups;
  d.config = tr("%1%2 %3 %4%5")
                 .arg(st.activation ? QStringLiteral("A") : QStringLiteral("W"))
                 .arg(st.bits)
                 .arg(gLabel, st.symmetric ? tr("symmetric") : tr("asymmetric"))
                 .arg(st.clipPercentile < 100 ? tr(", clip p%1").arg(st.clipPercentile) : QString());
  d.milliseconds = clock.nsecsElapsed() / 1e6;
  whatIf_->setData(d);
  const double ms = clock.nsecsElapsed() / 1e6;
  Q_EMIT whatIfUpdated(ms);
  return true;
}

void ExploreTab::captureActivations() {
  if (!model_.valid()) return;
  auto out = std::make_shared<cs::Result<cs::CaptureResult>>(cs::Error::failed("not run"));
  cs::CaptureOptions opt;
  opt.samples = samples_->value();
  opt.diffusionSteps = 20;
  if (model_.task() == cs::Task::Diffusion) opt.samples = std::min(opt.samples, 8);
  const cs::Model m = model_;
  setStatus(tr("Capturing activations on %1 samples ...").arg(opt.samples));
  session_->jobs()->start(
      QStringLiteral("explore-capture"), tr("Capturing activations"),
      [m, opt, out](cs::JobContext& job) { *out = cs::captureActivations(m, opt, job); },
      [this, out](bool cancelled, const QString& error) {
        if (cancelled || !error.isEmpty() || !*out) {
          const QString msg = cancelled ? tr("capture cancelled")
                              : !error.isEmpty() ? error
                                                 : QString::fromStdString(out->error().message);
          setStatus(msg);
          if (!cancelled) Q_EMIT failed(tr("capture"), msg);
          return;
        }
        capture_ = std::make_shared<const cs::CaptureResult>(std::move(**out));
        whatIf_->setActivationAvailable(true);
        setStatus(tr("%1 points from %2 in %3 s (%4 M values)")
                      .arg(capture_->points.size())
                      .arg(QString::fromStdString(capture_->data))
                      .arg(capture_->seconds, 0, 'f', 2)
                      .arg(capture_->valuesSeen / 1e6, 0, 'f', 1));
        updateActivationViews(layer_);
        Q_EMIT captureFinished();
      });
}

void ExploreTab::runSensitivity() {
  if (!model_.valid()) return;
  cs::RtnLayerOptions ro;
  ro.wbits = wbits_->value();
  ro.abits = abits_->value();
  ro.calibSamples = std::max(32, samples_->value());
  cs::SensitivityOptions so;
  so.samples = samples_->value();
  so.isolated = mode_->currentIndex() != 2;
  so.cumulative = mode_->currentIndex() != 1;
  auto comp = cs::rtnLayerCompressor(ro);
  SensitivityData base;
  base.title = tr("%1: per-layer sensitivity, %2").arg(QString::fromStdString(model_.name()),
                                                        QString::fromStdString(comp.label));
  for (auto& l : model_.layers()) base.total += l.quantizable ? 1 : 0;
  auto live = std::make_shared<SensitivityData>(base);
  sens_->setData(*live);
  tabs_->setCurrentWidget(sens_);
  auto out = std::make_shared<cs::Result<cs::SensitivityResult>>(cs::Error::failed("not run"));
  const cs::Model m = model_;
  QPointer<ExploreTab> self(this);
  setStatus(tr("Sensitivity: %1 ...").arg(QString::fromStdString(comp.label)));
  session_->jobs()->start(
      QStringLiteral("explore-sensitivity"), tr("Per-layer sensitivity"),
      [m, comp, so, out, self](cs::JobContext& job) {
        *out = cs::layerSensitivity(m, comp, so, job, [self](const cs::LayerSensitivity& l) {
          // Stream each layer to the view (queued to the GUI thread).
          QMetaObject::invokeMethod(
              self.data(),
              [self, l] {
                if (!self) return;
                auto d = self->sens_->data();
                d.layers << QString::fromStdString(l.layer);
                d.isolatedSqnr << l.isolatedSqnrDb;
                d.cumulativeSqnr << l.cumulativeSqnrDb;
                d.isolatedMetric << l.isolatedMetric;
                d.cumulativeMetric << l.cumulativeMetric;
                self->sens_->setData(d);
              },
              Qt::QueuedConnection);
        });
      },
      [this, out, base](bool cancelled, const QString& error) {
        if (cancelled || !error.isEmpty() || !*out) {
          const QString msg = cancelled ? tr("sensitivity cancelled")
                              : !error.isEmpty() ? error
                                                 : QString::fromStdString(out->error().message);
          setStatus(msg);
          if (!cancelled) Q_EMIT failed(tr("sensitivity"), msg);
          return;
        }
        const auto& r = **out;
        SensitivityData d = base;
        d.metricName = QString::fromStdString(r.metricName);
        d.fpMetric = r.fpMetric;
        d.jump = r.jumpIndex;
        for (auto& l : r.layers) {
          d.layers << QString::fromStdString(l.layer);
          d.isolatedSqnr << l.isolatedSqnrDb;
          d.cumulativeSqnr << l.cumulativeSqnrDb;
          d.isolatedMetric << l.isolatedMetric;
          d.cumulativeMetric << l.cumulativeMetric;
        }
        sens_->setData(d);
        setStatus(tr("Sensitivity done in %1 s on %2; most sensitive: %3%4")
                      .arg(r.seconds, 0, 'f', 1)
                      .arg(QString::fromStdString(r.data))
                      .arg(r.ranking.empty() ? QString() : QString::fromStdString(r.layers[r.ranking[0]].layer))
                      .arg(r.jumpIndex >= 0 ? tr("; cumulative jump at %1").arg(QString::fromStdString(
                                                  r.layers[r.jumpIndex].layer))
                                            : QString()));
        Q_EMIT sensitivityFinished();
      });
}

void ExploreTab::cancel() {
  session_->jobs()->cancel(QStringLiteral("explore-capture"));
  session_->jobs()->cancel(QStringLiteral("explore-sensitivity"));
  session_->jobs()->cancel(QStringLiteral("explore-weight"));
}

}  // namespace cs::gui
