#include "core/StudioSession.h"

#include <algorithm>
#include <cmath>

#include "compression/quant_variant.h"
#include "core/Conversions.h"

namespace cs::qt {
namespace {

// Range covering both arrays (a degenerate range is widened so bins have width).
std::pair<double, double> jointRange(const std::vector<float>& a, const std::vector<float>* b) {
  MinMax m = minMax(a.data(), a.size());
  double lo = m.min, hi = m.max;
  if (b && !b->empty()) {
    MinMax n = minMax(b->data(), b->size());
    lo = std::min<double>(lo, n.min);
    hi = std::max<double>(hi, n.max);
  }
  if (!(hi > lo)) {
    const double pad = std::max(1e-6, std::abs(lo) * 1e-3);
    lo -= pad;
    hi += pad;
  }
  return {lo, hi};
}

QString messageOf(const Error& e) { return toQString(e.message); }

}  // namespace

StudioSession::StudioSession(QObject* parent) : QObject(parent) {}
StudioSession::~StudioSession() = default;

void StudioSession::fail(const QString& what, const QString& message, bool cancelled) {
  Q_EMIT jobFailed(what, cancelled ? tr("cancelled") : message, cancelled);
}

nlohmann::json StudioSession::layersJson(const std::vector<LayerQuantReport>& layers) {
  auto arr = nlohmann::json::array();
  for (const auto& l : layers) {
    nlohmann::json j{{"layer", l.layer},
                     {"wbits", l.wbits},
                     {"abits", l.abits},
                     {"granularity", l.granularity},
                     {"weight_mse", l.weightError.mse},
                     {"weight_sqnr_db", std::isfinite(l.weightError.sqnrDb) ? nlohmann::json(l.weightError.sqnrDb)
                                                                             : nlohmann::json(nullptr)},
                     {"weight_cosine", l.weightError.cosine}};
    if (l.activation) {
      const auto& a = *l.activation;
      j["activation"] = {{"bits", a.bits}, {"symmetric", a.symmetric}, {"scale", a.scale},
                         {"zero_point", a.zeroPoint}, {"lo", a.lo}, {"hi", a.hi}};
    }
    arr.push_back(std::move(j));
  }
  return arr;
}

const LayerQuantReport* StudioSession::reportFor(const QString& layer) const {
  if (!quant_) return nullptr;
  const std::string name = toStd(layer);
  for (const auto& r : quant_->layers)
    if (r.layer == name) return &r;
  return nullptr;
}

std::vector<NormFoldRanges> StudioSession::folds() const {
  return quant_ ? normFoldRanges(*quant_) : std::vector<NormFoldRanges>{};
}

std::optional<NormFoldRanges> StudioSession::foldFor(const QString& layer) const {
  if (!quant_ || layer.isEmpty()) return std::nullopt;
  const std::string name = toStd(layer);
  for (auto& f : normFoldRanges(*quant_))
    if (f.consumer == name) return f;
  return std::nullopt;
}

Result<ResolvedPlan> StudioSession::previewPlan(const QuantPlan& plan) const {
  if (!model_.valid()) return Error::badArgument("open a model first");
  return resolvePlan(model_, plan);
}

void StudioSession::setVariant(std::shared_ptr<const QuantizeResult> q, qint64 runId) {
  quant_ = std::move(q);
  variantRun_ = quant_ ? runId : -1;
  calibVariant_.reset();
  calibVariantOf_ = nullptr;
  plots_.fold = foldFor(layer_);
  updateWeightPlots();
  // The activation overlay needs this layer's calibration: refresh it when the user has
  // calibrated before (calibration is explicit for the first time).
  if (calibImages_ > 0 && !layer_.isEmpty() && (!calib_ || toQString(calib_->layer) != layer_))
    calibrate(calibImages_);
  else
    updateActivationPlots();
  Q_EMIT plotsChanged();
}

void StudioSession::selectVariant(qint64 id) {
  if (id == variantRun_ && quant_) return;
  auto it = variants_.find(id);
  setVariant(it == variants_.end() ? nullptr : it->second, id);
  Q_EMIT variantChanged(it == variants_.end() ? -1 : id, it != variants_.end());
}

void StudioSession::saveVariant(const QString& path) {
  if (!quant_) {
    fail(tr("Save variant"), tr("no quantized variant in memory: run a method (or select a run of this session)"),
         false);
    return;
  }
  auto q = quant_;
  const std::string target = toStd(path);
  auto out = std::make_shared<std::optional<Result<std::string>>>();
  jobs_.start(QStringLiteral("save"), tr("Saving %1").arg(toQString(q->variant.name())),
              [out, q, target](JobContext&) { out->emplace(saveQuantizedVariant(*q, target)); },
              [this, out](bool cancelled, const QString& error) {
                if (cancelled || !error.isEmpty() || !out->has_value()) {
                  fail(tr("Save variant"), error.isEmpty() ? tr("no result") : error, cancelled);
                  return;
                }
                auto& r = **out;
                if (!r) {
                  fail(tr("Save variant"), messageOf(r.error()), false);
                  return;
                }
                Q_EMIT variantSaved(toQString(r.value()));
              });
}

void StudioSession::openModel(const QString& nameOrPath) {
  Q_EMIT modelOpening(nameOrPath);
  auto out = std::make_shared<std::optional<Result<Model>>>();
  const std::string arg = toStd(nameOrPath);
  jobs_.start(QStringLiteral("model"), tr("Opening %1").arg(nameOrPath),
              [out, arg](JobContext& job) { out->emplace(cs::openModel(arg, job)); },
              [this, out, nameOrPath](bool cancelled, const QString& error) {
                if (cancelled || !error.isEmpty() || !out->has_value()) {
                  fail(tr("Open model"), error.isEmpty() ? tr("no result") : error, cancelled);
                  return;
                }
                auto& r = **out;
                if (!r) {
                  fail(tr("Open model"), messageOf(r.error()), r.error().isCancelled());
                  return;
                }
                // Everything derived from the previous model is now meaningless.
                for (const char* ch : {"weights", "activations", "calibration", "quantize"})
                  jobs_.cancel(QLatin1String(ch));
                model_ = r.value();
                modelName_ = nameOrPath;
                layer_.clear();
                calib_.reset();
                quant_.reset();
                variants_.clear();
                variantRun_ = -1;
                calibVariant_.reset();
                calibVariantOf_ = nullptr;
                calibImages_ = 0;
                plots_ = LayerPlots{};
                layers_.setLayers(model_.layers());
                workspace_.addModel(nameOrPath, toQString(model_.source()));
                workspace_.setValue(QStringLiteral("last_model"), nameOrPath);
                Q_EMIT plotsChanged();
                Q_EMIT modelOpened(nameOrPath);
              });
}

void StudioSession::selectLayer(const QString& fullName) {
  if (!model_.valid() || fullName == layer_) return;
  layer_ = fullName;
  plots_ = LayerPlots{};
  plots_.layer = fullName;
  plots_.fold = foldFor(fullName);
  workspace_.setValue(QStringLiteral("last_layer"), fullName);
  Q_EMIT layerSelected(fullName);
  Q_EMIT plotsChanged();
  updateWeightPlots();
  if (calibImages_ > 0 && (!calib_ || toQString(calib_->layer) != fullName))
    calibrate(calibImages_);
  else
    updateActivationPlots();
}

void StudioSession::updateWeightPlots() {
  if (!model_.valid() || layer_.isEmpty()) return;
  const LayerInfo* info = layers_.layer(layers_.indexForLayer(layer_));
  if (!info || info->weightShape.empty()) {
    jobs_.cancel(QStringLiteral("weights"));
    plots_.hasWeight = false;
    Q_EMIT plotsChanged();
    return;
  }
  struct Out {
    QString error;
    Histogram fp;
    std::optional<Histogram> q;
    std::optional<ErrorStats> err;
    int64_t numel = 0;
    bool folded = false;
  };
  auto out = std::make_shared<Out>();
  const LayerQuantReport* report = reportFor(layer_);
  auto quant = report ? quant_ : nullptr;
  Model model = model_;
  const std::string layer = toStd(layer_);
  const QString granularity = report ? toQString(report->granularity) : QString();
  const QString method = quant ? toQString(quant->recipe.method) : QString();
  const int wbits = report ? report->wbits : 0;
  jobs_.start(
      QStringLiteral("weights"), tr("Weight histogram"),
      [out, model, quant, layer](JobContext&) {
        // The FP reference: the source weight, times the fold factors for a fold consumer.
        std::vector<float> v;
        if (quant) {
          auto ref = referenceWeight(*quant, model, layer);
          if (!ref) {
            out->error = messageOf(ref.error());
            return;
          }
          v = std::move(ref->values);
          out->folded = ref->folded;
        } else {
          auto w = model.weight(layer);
          if (!w) {
            out->error = messageOf(w.error());
            return;
          }
          v = std::move(w->values);
        }
        if (v.empty()) {
          out->error = QStringLiteral("layer %1 has an empty weight").arg(toQString(layer));
          return;
        }
        std::optional<TensorData> qw;
        if (quant) {
          auto r = quant->variant.weight(layer);
          if (r && r->values.size() == v.size()) qw = std::move(r.value());
        }
        auto [lo, hi] = jointRange(v, qw ? &qw->values : nullptr);
        out->numel = static_cast<int64_t>(v.size());
        out->fp = histogram(v.data(), v.size(), kBins, lo, hi);
        if (qw) {
          out->q = histogram(qw->values.data(), qw->values.size(), kBins, lo, hi);
          out->err = compareTensors(v.data(), qw->values.data(), v.size());
        }
      },
      [this, out, layerName = layer_, granularity, wbits, method](bool cancelled, const QString& error) {
        if (layerName != layer_ || cancelled) return;
        const QString msg = !error.isEmpty() ? error : out->error;
        if (!msg.isEmpty()) {
          plots_.hasWeight = false;
          Q_EMIT plotsChanged();
          fail(tr("Weight histogram"), msg, false);
          return;
        }
        plots_.layer = layerName;
        plots_.hasWeight = true;
        plots_.weightFp = out->fp;
        plots_.weightQ = out->q;
        plots_.weightError = out->err;
        plots_.weightNumel = out->numel;
        plots_.weightFolded = out->q && out->folded;
        plots_.weightGranularity = out->q ? granularity : QString();
        plots_.method = out->q ? method : QString();
        plots_.wbits = out->q ? wbits : 0;
        Q_EMIT plotsChanged();
      });
}

void StudioSession::updateActivationPlots() {
  if (!calib_ || toQString(calib_->layer) != layer_) {
    if (plots_.hasActivation) {
      plots_.hasActivation = false;
      Q_EMIT plotsChanged();
    }
    return;
  }
  // A fold consumer's quantizer works on the folded input: its overlay is the variant's
  // own input, observed by running the calibration images through the variant.
  const bool folded = quant_ && foldFor(layer_).has_value();
  std::shared_ptr<const ActivationStats> variantStats;
  if (folded) {
    if (calibVariant_ && calibVariantOf_ == quant_.get() && toQString(calibVariant_->layer) == layer_) {
      variantStats = calibVariant_;
    } else {
      calibrate(calibImages_ > 0 ? calibImages_ : std::max(1, calib_->samples));
      return;
    }
  }
  struct Out {
    Histogram fp;
    std::optional<Histogram> q;
    std::optional<ErrorStats> err;
  };
  auto out = std::make_shared<Out>();
  auto stats = calib_;
  std::optional<QuantParams> params;
  if (const LayerQuantReport* r = reportFor(layer_)) params = r->activation;
  jobs_.start(
      QStringLiteral("activations"), tr("Activation histogram"),
      [out, stats, params, variantStats](JobContext&) {
        const std::vector<float>& s = stats->sample;
        if (s.empty()) {
          out->fp = stats->histogram;
          return;
        }
        std::vector<float> bounds;
        if (params) bounds = {static_cast<float>(params->lo), static_cast<float>(params->hi)};
        if (variantStats && !variantStats->sample.empty()) {
          const std::vector<float>& v = variantStats->sample;
          bounds.insert(bounds.end(), v.begin(), v.end());
          auto [lo, hi] = jointRange(s, &bounds);
          out->fp = histogram(s.data(), s.size(), kBins, lo, hi);
          out->q = histogram(v.data(), v.size(), kBins, lo, hi);
          if (v.size() == s.size()) out->err = compareTensors(s.data(), v.data(), s.size());
          return;
        }
        auto [lo, hi] = jointRange(s, params ? &bounds : nullptr);
        out->fp = histogram(s.data(), s.size(), kBins, lo, hi);
        if (params) {
          const std::vector<float> fq = fakeQuantize(s, *params);
          out->q = histogram(fq.data(), fq.size(), kBins, lo, hi);
          ErrorStats e = compareTensors(s.data(), fq.data(), s.size());
          const auto clipped = std::count_if(s.begin(), s.end(),
                                             [&](float x) { return x < params->lo || x > params->hi; });
          e.clippedFraction = static_cast<double>(clipped) / static_cast<double>(s.size());
          out->err = e;
        }
      },
      [this, out, stats, params, fromVariant = variantStats != nullptr](bool cancelled, const QString& error) {
        if (cancelled || toQString(stats->layer) != layer_) return;
        if (!error.isEmpty()) {
          fail(tr("Activation histogram"), error, false);
          return;
        }
        plots_.hasActivation = true;
        plots_.activationFp = out->fp;
        plots_.activationQ = out->q;
        plots_.activationParams = out->q ? params : std::nullopt;
        plots_.activationError = out->err;
        plots_.activationFromVariant = out->q && fromVariant;
        plots_.activationValues = stats->values;
        plots_.activationSampled = static_cast<int64_t>(stats->sample.size());
        plots_.calibrationImages = stats->samples;
        Q_EMIT plotsChanged();
      });
}

void StudioSession::calibrate(int images) {
  if (!model_.valid() || layer_.isEmpty()) {
    fail(tr("Calibration"), tr("open a model and select a layer first"), false);
    return;
  }
  calibImages_ = std::max(1, images);
  struct Out {
    std::optional<Result<ActivationStats>> fp, variant;
  };
  auto out = std::make_shared<Out>();
  Model model = model_;
  const std::string layer = toStd(layer_);
  const int n = calibImages_;
  // Through the variant too when the layer consumes a LayerNorm fold (see updateActivationPlots).
  auto quant = quant_ && foldFor(layer_) ? quant_ : nullptr;
  jobs_.start(QStringLiteral("calibration"), tr("Calibrating %1 on %2 images").arg(layer_).arg(n),
              [out, model, quant, layer, n](JobContext& job) {
                JobContext first = quant ? job.sub(0.0, 0.5) : job.sub(0.0, 1.0);
                out->fp.emplace(activationStats(model, layer, n, 0, first));
                if (quant && *out->fp && !job.cancelled()) {
                  JobContext second = job.sub(0.5, 1.0);
                  out->variant.emplace(activationStats(quant->variant, layer, n, 0, second));
                }
              },
              [this, out, quant, layerName = layer_](bool cancelled, const QString& error) {
                if (cancelled || !error.isEmpty() || !out->fp.has_value()) {
                  fail(tr("Calibration"), error.isEmpty() ? tr("no result") : error, cancelled);
                  return;
                }
                auto& r = *out->fp;
                if (!r) {
                  fail(tr("Calibration"), messageOf(r.error()), r.error().isCancelled());
                  return;
                }
                if (layerName != layer_) return;
                calib_ = std::make_shared<const ActivationStats>(std::move(r.value()));
                if (quant && out->variant) {
                  auto& v = *out->variant;
                  if (!v) {
                    fail(tr("Calibration of the variant"), messageOf(v.error()), v.error().isCancelled());
                    return;
                  }
                  calibVariant_ = std::make_shared<const ActivationStats>(std::move(v.value()));
                  calibVariantOf_ = quant.get();
                }
                // Only when it still matches the shown variant (else updateActivationPlots recalibrates).
                if (quant && quant != quant_) return;
                updateActivationPlots();
                Q_EMIT calibrationFinished(layerName);
              });
}

void StudioSession::quantize(const QString& method, const nlohmann::json& params, int calibImages,
                             int evalSamples) {
  if (!model_.valid()) {
    fail(tr("Quantization"), tr("open a model first"), false);
    return;
  }
  Recipe recipe;
  recipe.method = toStd(method);
  recipe.params = params;
  recipe.calibSamples = calibImages;
  QuantizeOptions opts;
  opts.evaluate = evalSamples > 0;
  opts.evalSamples = std::max(1, evalSamples);
  auto out = std::make_shared<std::optional<Result<QuantizeResult>>>();
  Model model = model_;
  jobs_.start(QStringLiteral("quantize"), tr("Quantizing with %1").arg(method.toUpper()),
              [out, model, recipe, opts](JobContext& job) { out->emplace(cs::quantize(model, recipe, opts, job)); },
              [this, out, name = modelName_](bool cancelled, const QString& error) {
                if (cancelled || !error.isEmpty() || !out->has_value()) {
                  fail(tr("Quantization"), error.isEmpty() ? tr("no result") : error, cancelled);
                  return;
                }
                auto& r = **out;
                if (!r) {
                  fail(tr("Quantization"), messageOf(r.error()), r.error().isCancelled());
                  return;
                }
                if (name != modelName_) return;
                auto q = std::make_shared<const QuantizeResult>(std::move(r.value()));
                RunRecord run;
                run.model = toStd(modelName_);
                run.method = q->recipe.method;
                run.recipeJson = q->recipe.toJson().dump(2);
                run.metricsJson = q->metrics.dump();
                run.layersJson = layersJson(q->layers).dump();
                run.seconds = q->seconds;
                run.status = "done";
                QString err;
                lastRunId_ = workspace_.addRun(run, &err);
                if (lastRunId_ < 0) fail(tr("Save run"), err, false);
                // Keep the newest variants in memory (their weights are full copies of the model).
                variants_[lastRunId_] = q;
                while (variants_.size() > kMaxVariants) variants_.erase(variants_.begin());
                setVariant(q, lastRunId_);
                Q_EMIT variantChanged(lastRunId_, true);
                Q_EMIT quantizationFinished(lastRunId_);
              });
}

}  // namespace cs::qt
