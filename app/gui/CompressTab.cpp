#include "app/gui/CompressTab.h"

#include <QScrollArea>
#include <QScrollBar>
#include <QSplitter>
#include <QVBoxLayout>

#include <cmath>

#include "compression/quantize.h"
#include "core/Conversions.h"
#include "core/Settings.h"
#include "widgets/CompressPanel.h"
#include "widgets/HistogramView.h"
#include "widgets/LayerTreeView.h"
#include "widgets/MetricsPanel.h"
#include "widgets/RunTable.h"

namespace cs::gui {
using namespace cs::qt;
using widgets::HistogramPlotData;
using widgets::HistogramSeries;

namespace {

HistogramSeries series(const QString& name, const Histogram& h) {
  HistogramSeries s;
  s.name = name;
  s.centers = binCenters(h);
  s.counts = binCounts(h);
  s.binWidth = h.binWidth();
  return s;
}

QString num(double v) { return QString::number(v, 'g', 4); }

QString errorText(const ErrorStats& e) {
  return QStringLiteral("MSE %1 · SQNR %2").arg(num(e.mse), decibelText(e.sqnrDb));
}

}  // namespace

CompressTab::CompressTab(StudioSession* session, QWidget* parent) : QWidget(parent), session_(session) {
  tree_ = new widgets::LayerTreeView(this);
  tree_->setModel(session_->layerModel(), LayerTreeModel::FullNameRole);
  weights_ = new widgets::HistogramView(this);
  weights_->setObjectName(QStringLiteral("weightHistogram"));
  activations_ = new widgets::HistogramView(this);
  activations_->setObjectName(QStringLiteral("activationHistogram"));
  panel_ = new widgets::CompressPanel(this);
  std::vector<cs::MethodInfo> quantMethods;  // pruning methods have their own tab
  for (const auto& m : cs::methods())
    if (m.kind == "quantization") quantMethods.push_back(m);
  panel_->setMethods(quantMethods);
  panel_->setCalibrationImages(settings::calibrationSamples().value());
  panel_->setEvalImages(settings::evalSamples().value());
  metrics_ = new widgets::MetricsPanel(this);
  runs_ = new widgets::RunTable(this);
  runs_->setModel(session_->workspace()->runs(), RunListModel::RunIdRole);

  const bool log = settings::histogramLogScale().value();
  for (auto* h : {weights_, activations_}) {
    h->setLogScale(log);
    connect(h, &widgets::HistogramView::logScaleChanged, this, [this](bool on) {
      settings::histogramLogScale().setValue(on);
      weights_->setLogScale(on);
      activations_->setLogScale(on);
    });
  }

  // Layout: tree | plots | controls, with the run table below.
  auto* plots = new QSplitter(Qt::Vertical, this);
  plots->addWidget(weights_);
  plots->addWidget(activations_);
  auto* side = new QWidget(this);
  auto* sideLayout = new QVBoxLayout(side);
  sideLayout->addWidget(panel_);
  sideLayout->addWidget(metrics_, 1);
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(side);
  scroll->setWidgetResizable(true);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  scroll->setFrameShape(QFrame::NoFrame);
  // Wide enough for the side panel's content: only vertical scrolling.
  scroll->setMinimumWidth(side->minimumSizeHint().width() + scroll->verticalScrollBar()->sizeHint().width() + 8);
  auto* top = new QSplitter(Qt::Horizontal, this);
  top->addWidget(tree_);
  top->addWidget(plots);
  top->addWidget(scroll);
  top->setStretchFactor(0, 2);
  top->setStretchFactor(1, 4);
  top->setStretchFactor(2, 1);
  top->setSizes({440, 820, 420});
  auto* main = new QSplitter(Qt::Vertical, this);
  main->addWidget(top);
  main->addWidget(runs_);
  main->setStretchFactor(0, 4);
  main->setStretchFactor(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  layout->addWidget(main);

  // Intents from views to the session.
  connect(tree_, &widgets::LayerTreeView::layerSelected, session_, &StudioSession::selectLayer);
  connect(panel_, &widgets::CompressPanel::calibrateRequested, this, [this](int images) {
    settings::calibrationSamples().setValue(images);
    session_->calibrate(images);
  });
  connect(panel_, &widgets::CompressPanel::runRequested, this,
          [this](const QString& method, const nlohmann::json& params, int calib, int eval) {
            settings::evalSamples().setValue(eval);
            session_->quantize(method, params, calib, eval);
          });
  connect(runs_, &widgets::RunTable::runSelected, this, &CompressTab::showRun);

  // Results from the session to views.
  connect(session_, &StudioSession::modelOpened, this, &CompressTab::onModelOpened);
  connect(session_, &StudioSession::plotsChanged, this, &CompressTab::refreshPlots);
  connect(session_, &StudioSession::quantizationFinished, this, [this](qint64 id) {
    refreshAccuracy();
    if (id > 0) runs_->selectRun(id);
  });
  auto* jobs = session_->jobs();
  auto busy = [this, jobs] { panel_->setRunning(jobs->isRunning(QStringLiteral("quantize"))); };
  connect(jobs, &JobRunner::jobStarted, this, busy);
  connect(jobs, &JobRunner::jobFinished, this, busy);

  weights_->clear(tr("Open a model (Zoo or File menu) and select a layer"));
  activations_->clear(tr("Input activations appear after calibration"));
  // Sections in reading order: accuracy, selected layer, model.
  refreshAccuracy();
  refreshPlots();
  metrics_->setField(tr("Model"), QStringLiteral("model"), tr("Name"), QString());
}

bool CompressTab::selectLayer(const QString& fullName) { return tree_->selectLayer(fullName); }

void CompressTab::onModelOpened() {
  panel_->setModelReady(true);
  const Model& m = session_->model();
  metrics_->setField(tr("Model"), QStringLiteral("model"), tr("Name"), session_->modelName(),
                     toQString(m.source()));
  metrics_->setField(tr("Model"), QStringLiteral("family"), tr("Family"), toQString(m.family()));
  metrics_->setField(tr("Model"), QStringLiteral("parameters"), tr("Parameters"), groupedNumber(m.parameterCount()));
  metrics_->setField(tr("Model"), QStringLiteral("layers"), tr("Layers"),
                     QString::number(session_->layerModel()->layerCount()));
  refreshAccuracy();
  // Restore the last layer of this workspace, else the first quantizable one.
  QString layer = session_->workspace()->value(QStringLiteral("last_layer"));
  if (layer.isEmpty() || !session_->layerModel()->indexForLayer(layer).isValid()) {
    layer.clear();
    for (const auto& info : m.layers())
      if (info.quantizable) {
        layer = toQString(info.name);
        break;
      }
  }
  if (!layer.isEmpty()) selectLayer(layer);
}

void CompressTab::refreshPlots() {
  const LayerPlots& p = session_->plots();
  const QString layer = p.layer;

  if (!p.hasWeight) {
    weights_->clear(layer.isEmpty() ? tr("Select a layer") : tr("%1: no weight to plot").arg(layer));
  } else {
    HistogramPlotData d;
    const auto* info = session_->layerModel()->layer(session_->layerModel()->indexForLayer(layer));
    d.title = tr("Weights of %1 %2").arg(layer, info ? shapeToQString(info->weightShape) : QString());
    d.xLabel = tr("weight value");
    d.reference = series(tr("FP32 weights (%1)").arg(groupedNumber(p.weightNumel)), p.weightFp);
    QStringList stats{tr("%1 weights in [%2, %3]").arg(groupedNumber(p.weightNumel), num(p.weightFp.lo),
                                                       num(p.weightFp.hi))};
    if (p.weightQ) {
      d.overlay = series(tr("W%1 %2 (RTN)").arg(p.wbits).arg(p.weightGranularity), *p.weightQ);
      if (p.weightError) stats << tr("quantization error: %1").arg(errorText(*p.weightError));
    }
    d.stats = stats.join(QStringLiteral(" · "));
    weights_->setData(d);
  }

  if (!p.hasActivation) {
    const bool torchScript = session_->hasModel() && session_->model().family() == "torchscript";
    activations_->clear(layer.isEmpty()  ? tr("Input activations appear after calibration")
                        : torchScript    ? tr("Input activations of %1: press Calibrate (TorchScript graphs are instrumented; "
                                             "calibration here feeds Fashion-MNIST images, the Explore tab any input)")
                                              .arg(layer)
                                         : tr("Input activations of %1: press Calibrate").arg(layer));
  } else {
    HistogramPlotData d;
    d.title = tr("Input activations of %1 (%2 images)").arg(layer).arg(p.calibrationImages);
    d.xLabel = tr("activation value");
    d.reference = series(tr("FP32 activations"), p.activationFp);
    QStringList stats{tr("sample of %1 of %2 values, range [%3, %4]")
                          .arg(groupedNumber(p.activationSampled), groupedNumber(p.activationValues),
                               num(p.activationFp.lo), num(p.activationFp.hi))};
    if (p.activationQ && p.activationParams) {
      const QuantParams& q = *p.activationParams;
      d.overlay = series(tr("A%1 fake-quantized").arg(q.bits), *p.activationQ);
      d.showClip = true;
      d.clipLo = q.lo;
      d.clipHi = q.hi;
      stats << tr("clip range [%1, %2] (dashed), scale %3").arg(num(q.lo), num(q.hi), num(q.scale));
      if (p.activationError)
        stats << tr("%1 · clipped %2").arg(errorText(*p.activationError),
                                           percentText(p.activationError->clippedFraction, 3));
    }
    d.stats = stats.join(QStringLiteral("\n"));
    activations_->setData(d);
  }

  const QString L = tr("Selected layer");
  metrics_->setField(L, QStringLiteral("layer"), tr("Layer"), layer);
  metrics_->setField(L, QStringLiteral("weight_mse"), tr("Weight MSE"),
                     p.weightError ? num(p.weightError->mse) : QString());
  metrics_->setField(L, QStringLiteral("weight_sqnr"), tr("Weight SQNR"),
                     p.weightError ? decibelText(p.weightError->sqnrDb) : QString());
  metrics_->setField(L, QStringLiteral("act_mse"), tr("Activation MSE"),
                     p.activationError ? num(p.activationError->mse) : QString());
  metrics_->setField(L, QStringLiteral("act_sqnr"), tr("Activation SQNR"),
                     p.activationError ? decibelText(p.activationError->sqnrDb) : QString());
}

void CompressTab::refreshAccuracy() {
  const QString A = tr("Accuracy (Fashion-MNIST test)");
  const QuantizeResult* q = session_->lastQuantization();
  auto metric = [q](const char* key) {
    return q && q->metrics.is_object() && q->metrics.contains(key) && q->metrics[key].is_number()
               ? q->metrics[key].get<double>()
               : std::nan("");
  };
  const double fp = metric("fp_accuracy"), qa = metric("q_accuracy"), n = metric("eval_samples");
  metrics_->setField(A, QStringLiteral("fp_accuracy"), tr("Full precision"), percentText(fp));
  metrics_->setField(A, QStringLiteral("q_accuracy"), tr("Quantized"), percentText(qa));
  const double delta = (qa - fp) * 100.0;
  metrics_->setField(A, QStringLiteral("delta"), tr("Change"),
                     std::isfinite(delta) ? QStringLiteral("%1%2 points").arg(delta >= 0 ? QStringLiteral("+") : QString())
                                                .arg(delta, 0, 'f', 2)
                                          : QString());
  metrics_->setTone(QStringLiteral("delta"), !std::isfinite(delta) ? widgets::MetricsPanel::Tone::Neutral
                                             : delta > -1.0        ? widgets::MetricsPanel::Tone::Good
                                                                   : widgets::MetricsPanel::Tone::Bad);
  metrics_->setField(A, QStringLiteral("eval_samples"), tr("Test images"),
                     std::isfinite(n) ? groupedNumber(static_cast<qint64>(n)) : QString());
  metrics_->setField(A, QStringLiteral("seconds"), tr("Run time"),
                     q ? QStringLiteral("%1 s").arg(q->seconds, 0, 'f', 1) : QString());
}

void CompressTab::showRun(qint64 id) {
  auto run = session_->workspace()->run(id);
  if (!run) {
    runs_->setDetails(tr("Run %1 is no longer in the workspace").arg(id));
    return;
  }
  QString text = tr("Run %1 · %2 · %3 · %4 s\n\nRecipe:\n%5\n\nMetrics:\n%6")
                     .arg(id)
                     .arg(toQString(run->createdAt), toQString(run->model))
                     .arg(run->seconds, 0, 'f', 1)
                     .arg(prettyJson(run->recipeJson), prettyJson(run->metricsJson));
  runs_->setDetails(text);
}

}  // namespace cs::gui
