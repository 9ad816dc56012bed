#include "app/gui/CompressTab.h"

#include <QDialog>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QPushButton>
#include <QRegularExpression>
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
#include "widgets/quant/FoldRangeView.h"
#include "widgets/quant/PlanView.h"

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

QString quantizerText(const QuantizerSpec& q) {
  QString t = QStringLiteral("%1-bit %2 %3").arg(q.bits).arg(q.symmetric ? QStringLiteral("sym") : QStringLiteral("asym"),
                                                           toQString(q.granularity));
  if (q.granularity == "per-group" && q.groupSize > 0) t += QStringLiteral(" (%1)").arg(q.groupSize);
  return t + QLatin1Char(' ') + toQString(q.range);
}

bool isPtq(const QString& id) {
  return id == QLatin1String("percentile") || id == QLatin1String("omse") || id == QLatin1String("smoothquant") ||
         id == QLatin1String("repq-vit") || id == QLatin1String("repquant");
}

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
  fold_ = new widgets::FoldRangeView(this);
  fold_->setObjectName(QStringLiteral("foldRanges"));
  planDialog_ = new QDialog(this);
  planDialog_->setWindowTitle(tr("Quantization plan"));
  planDialog_->resize(900, 600);
  planView_ = new widgets::PlanView(planDialog_);
  auto* close = new QDialogButtonBox(QDialogButtonBox::Close, planDialog_);
  connect(close, &QDialogButtonBox::rejected, planDialog_, &QDialog::hide);
  auto* planLayout = new QVBoxLayout(planDialog_);
  planLayout->addWidget(planView_, 1);
  planLayout->addWidget(close);
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
  plots->addWidget(fold_);
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
            nlohmann::json p = params;
            if (planFile_ && method == QLatin1String("rtn")) p["plan"] = planFile_->toJson();  // rtn honours plans
            session_->quantize(method, p, calib, eval);
          });
  connect(runs_, &widgets::RunTable::runSelected, this, &CompressTab::showRun);
  connect(panel_, &widgets::CompressPanel::planRequested, this, &CompressTab::showPlan);
  connect(panel_->form(), &widgets::ParamForm::valuesChanged, this, [this] {
    if (planDialog_->isVisible()) refreshPlan();
  });
  connect(panel_, &widgets::CompressPanel::methodChanged, this, [this] {
    refreshPlan();
  });
  connect(planView_, &widgets::PlanView::loadFileRequested, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Load quantization plan"), QString(),
                                                      tr("Plan (*.json);;All files (*)"));
    if (!path.isEmpty()) loadPlanFile(path);
  });
  connect(planView_, &widgets::PlanView::defaultPlanRequested, this, &CompressTab::useDefaultPlan);
  connect(panel_, &widgets::CompressPanel::saveVariantRequested, this, [this] {
    const QuantizeResult* q = session_->lastQuantization();
    if (!q) return;
    QString name = toQString(q->variant.name());
    name.replace(QRegularExpression(QStringLiteral("[^A-Za-z0-9_.-]+")), QStringLiteral("_"));
    const QString path = QFileDialog::getSaveFileName(this, tr("Save quantized variant"), name + QStringLiteral(".safetensors"),
                                                      tr("Quantized variant (*.safetensors)"));
    if (!path.isEmpty()) saveVariantTo(path);
  });
  connect(panel_, &widgets::CompressPanel::openVariantRequested, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open quantized variant"), QString(),
                                                      tr("Quantized variant (*.safetensors);;All files (*)"));
    if (!path.isEmpty()) session_->openModel(path);
  });
  connect(session_, &StudioSession::variantChanged, this, [this](qint64, bool) {
    const QuantizeResult* q = session_->lastQuantization();
    panel_->setVariant(q ? toQString(q->variant.name()) : QString());
    refreshAccuracy();
    refreshFold();
  });
  connect(session_, &StudioSession::variantSaved, this, [this](const QString& file) {
    const QuantizeResult* q = session_->lastQuantization();
    panel_->setVariant(tr("%1\nsaved to %2").arg(q ? toQString(q->variant.name()) : tr("variant"), file));
  });

  // Results from the session to views.
  connect(session_, &StudioSession::modelOpened, this, &CompressTab::onModelOpened);
  connect(session_, &StudioSession::plotsChanged, this, &CompressTab::refreshPlots);
  connect(session_, &StudioSession::plotsChanged, this, &CompressTab::refreshFold);
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
  panel_->setVariant(QString());
  refreshAccuracy();
  refreshPlots();
  refreshFold();
  metrics_->setField(tr("Model"), QStringLiteral("model"), tr("Name"), QString());
}

bool CompressTab::selectLayer(const QString& fullName) { return tree_->selectLayer(fullName); }

void CompressTab::onModelOpened() {
  panel_->setModelReady(true);
  panel_->setVariant(QString());
  refreshPlan();
  refreshFold();
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
    d.reference = series(p.weightFolded ? tr("FP32 weights × fold factor r (%1)").arg(groupedNumber(p.weightNumel))
                                        : tr("FP32 weights (%1)").arg(groupedNumber(p.weightNumel)),
                         p.weightFp);
    QStringList stats{tr("%1 weights in [%2, %3]").arg(groupedNumber(p.weightNumel), num(p.weightFp.lo),
                                                       num(p.weightFp.hi))};
    if (p.weightQ) {
      d.overlay = series(tr("W%1 %2, dequantized (%3)").arg(p.wbits).arg(p.weightGranularity, p.method), *p.weightQ);
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
    if (p.activationQ && p.activationFromVariant) {
      d.overlay = series(tr("quantized input of the variant (after the LayerNorm fold)"), *p.activationQ);
      if (p.activationParams) {
        const QuantParams& q = *p.activationParams;
        d.showClip = true;
        d.clipLo = q.lo;
        d.clipHi = q.hi;
        stats << tr("A%1 per-tensor range [%2, %3] (dashed), scale %4; the variant's input is the folded LayerNorm "
                    "output X/r - b, so it is narrower per channel than the FP input")
                     .arg(q.bits)
                     .arg(num(q.lo), num(q.hi), num(q.scale));
      }
    } else if (p.activationQ && p.activationParams) {
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
  // Language models report perplexity on held-out text instead.
  const double fpPpl = metric("fp_ppl"), qPpl = metric("q_ppl");
  const QString P = tr("Perplexity (held-out text)");
  metrics_->setField(P, QStringLiteral("fp_ppl"), tr("Full precision"), std::isfinite(fpPpl) ? num(fpPpl) : QString());
  metrics_->setField(P, QStringLiteral("q_ppl"), tr("Quantized"), std::isfinite(qPpl) ? num(qPpl) : QString());
  const double calibSeconds = metric("calib_seconds");
  metrics_->setField(A, QStringLiteral("calib_seconds"), tr("Calibration time"),
                     std::isfinite(calibSeconds) ? QStringLiteral("%1 s").arg(calibSeconds, 0, 'f', 1) : QString());
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
  session_->selectVariant(id);
  auto run = session_->workspace()->run(id);
  if (!run) {
    runs_->setDetails(tr("Run %1 is no longer in the workspace").arg(id));
    return;
  }
  QString text = tr("Run %1 · %2 · %3 · %4 s%7\n\nRecipe:\n%5\n\nMetrics:\n%6")
                     .arg(id)
                     .arg(toQString(run->createdAt), toQString(run->model))
                     .arg(run->seconds, 0, 'f', 1)
                     .arg(prettyJson(run->recipeJson), prettyJson(run->metricsJson),
                          session_->hasVariant(id) ? tr(" · variant in memory (plots, Save variant…)")
                                                   : tr(" · variant not in memory (from an earlier session): "
                                                        "re-run the recipe or open a saved variant"));
  runs_->setDetails(text);
}

QuantPlan CompressTab::currentPlan() const {
  if (planFile_) return *planFile_;
  // The default plan with the form's bit-widths (and, for the PTQ methods, their fixed
  // extras: softmax at the activation bits, attention operands, an 8-bit first input).
  QuantPlan plan;
  const nlohmann::json v = panel_->form()->values();
  const QString method = panel_->methodId();
  const int wbits = v.value("wbits", 8), abits = v.value("abits", 8);
  plan.defaults["weight"]["bits"] = wbits;
  if (v.contains("w_granularity")) plan.defaults["weight"]["granularity"] = v["w_granularity"];
  if (v.contains("w_symmetric")) plan.defaults["weight"]["symmetric"] = v["w_symmetric"];
  if (v.contains("w_search")) plan.defaults["weight"]["range"] = v["w_search"];
  if (abits > 0) {
    plan.defaults["input"]["bits"] = abits;
    if (v.contains("a_symmetric")) plan.defaults["input"]["symmetric"] = v["a_symmetric"];
  } else {
    plan.defaults["input"] = nullptr;
  }
  if (v.value("skip_first_last", false)) plan.excludeFirst = plan.excludeLast = true;
  if (isPtq(method) && abits > 0) {
    plan.excludeHead = false;  // the PTQ pipeline quantizes every Linear/Conv
    if (v.value("quant_softmax", false)) {
      const std::string sm = v.value("softmax", std::string(method == QLatin1String("repquant") ? "log-sqrt2" : "minmax"));
      plan.defaults["softmax"] = {{"bits", abits}, {"range", sm == "uniform" ? "minmax" : sm}};
    }
    plan.defaults["matmul"] = {{"bits", abits}, {"granularity", "per-tensor"}};
    if (method == QLatin1String("percentile")) plan.defaults["input"]["range"] = "percentile";
    if (method == QLatin1String("omse")) plan.defaults["input"]["range"] = "mse";
    if (method == QLatin1String("repq-vit") || method == QLatin1String("repquant"))
      plan.defaults["input"]["range"] = "percentile-mse";
    if (v.value("first_layer_a8", false) && abits < 8 && session_->hasModel()) {
      for (const auto& l : session_->model().layers())
        if (l.quantizable) {
          PlanRule r;
          r.name = "first layer input at 8 bits";
          r.glob = l.name;
          r.targets = {"input"};
          r.quantizer = {{"bits", 8}};
          plan.rules.push_back(r);
          break;
        }
    }
    if (method == QLatin1String("repq-vit") || method == QLatin1String("repquant")) {
      PlanRule r;  // post-LayerNorm inputs: per-channel calibration folded into per-tensor
      r.name = "post-LayerNorm input (per-channel, folded)";
      r.regex = R"(.*\.(attn\.qkv|mlp\.fc1))";
      r.targets = {"input"};
      plan.rules.push_back(r);
    }
  }
  return plan;
}

bool CompressTab::loadPlanFile(const QString& path) {
  auto plan = QuantPlan::fromFile(toStd(path));
  if (!plan) {
    planView_->setError(toQString(plan.error().message));
    return false;
  }
  planFile_ = std::move(plan.value());
  planPath_ = path;
  refreshPlan();
  return true;
}

void CompressTab::useDefaultPlan() {
  planFile_.reset();
  planPath_.clear();
  refreshPlan();
}

void CompressTab::showPlan() {
  refreshPlan();
  planDialog_->show();
  planDialog_->raise();
}

void CompressTab::refreshPlan() {
  const QString method = panel_->methodId();
  if (planFile_)
    panel_->setPlanSource(method == QLatin1String("rtn")
                              ? tr("Plan: %1 (used by the next run)").arg(QFileInfo(planPath_).fileName())
                              : tr("Plan: %1 loaded; only rtn honours plan files, %2 uses its own scheme")
                                    .arg(QFileInfo(planPath_).fileName(), method));
  else
    panel_->setPlanSource(QString());
  if (!session_->hasModel()) {
    planView_->setError(tr("open a model first"));
    return;
  }
  auto resolved = session_->previewPlan(currentPlan());
  if (!resolved) {
    planView_->setError(toQString(resolved.error().message));
    return;
  }
  QVector<widgets::PlanRow> rows;
  for (const auto& d : resolved->decisions) {
    widgets::PlanRow r;
    r.tensor = toQString(d.tensor);
    r.target = toQString(d.target);
    r.op = toQString(d.op);
    r.quantized = d.quantize;
    if (d.quantize) r.quantizer = quantizerText(d.q);
    r.decidedBy = toQString(d.decidedBy);
    rows.push_back(r);
  }
  const QString source = planFile_ ? QFileInfo(planPath_).fileName() : tr("Default plan for %1").arg(method);
  QString note;
  if (planFile_ && method != QLatin1String("rtn"))
    note = tr("Only rtn honours plan files; %1 applies its own fixed scheme.").arg(method);
  else if (!planFile_ && isPtq(method))
    note = tr("%1 applies a fixed scheme; this is its plan with the form's bit-widths (rules mark its extras).").arg(method);
  planView_->setPlan(rows, source, note);
}

void CompressTab::refreshFold() {
  const LayerPlots& p = session_->plots();
  const QuantizeResult* q = session_->lastQuantization();
  if (!p.fold) {
    if (!q) {
      fold_->clear(tr("LayerNorm fold ranges appear for RepQ-ViT / RepQuant variants"));
      return;
    }
    QStringList consumers;
    for (const auto& f : session_->folds()) consumers << toQString(f.consumer);
    fold_->clear(consumers.isEmpty()
                     ? tr("This variant has no LayerNorm folds (RepQ-ViT / RepQuant fold them)")
                     : tr("Select a fold consumer (%1 … %2) to see its LayerNorm ranges before and after the fold")
                           .arg(consumers.first(), consumers.last()));
    return;
  }
  const NormFoldRanges& f = *p.fold;
  widgets::FoldRangePlotData d;
  d.title = tr("%1 → %2: ranges before / after the fold").arg(toQString(f.norm), toQString(f.consumer));
  double maxDev = 0, widest = 0, narrowest = 1e300;
  for (size_t c = 0; c < f.channelLo.size(); ++c) {
    d.lo << f.channelLo[c];
    d.hi << f.channelHi[c];
    const double w = f.channelHi[c] - f.channelLo[c];
    widest = std::max(widest, w);
    narrowest = std::min(narrowest, w);
  }
  for (size_t c = 0; c < f.foldedLo.size(); ++c) {
    d.foldedLo << f.foldedLo[c];
    d.foldedHi << f.foldedHi[c];
    maxDev = std::max({maxDev, std::abs(f.foldedLo[c] - f.tensorLo), std::abs(f.foldedHi[c] - f.tensorHi)});
  }
  d.tensorLo = f.tensorLo;
  d.tensorHi = f.tensorHi;
  d.stats = tr("A%1 · %2 channels, ranges %3 to %4 wide before the fold · after: one range [%5, %6], step %7, zero point "
               "%8 · r in [%9, %10] · largest distance of a mapped channel range from it: %11")
                .arg(f.bits)
                .arg(d.lo.size())
                .arg(num(narrowest), num(widest), num(f.tensorLo), num(f.tensorHi), num(f.delta), num(f.zeroPoint),
                     num(f.rMin))
                .arg(num(f.rMax), num(maxDev));
  fold_->setData(d);
}

void CompressTab::saveVariantTo(const QString& path) { session_->saveVariant(path); }

}  // namespace cs::gui
