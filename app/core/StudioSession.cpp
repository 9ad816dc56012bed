#include "core/StudioSession.h"

#include <algorithm>
#include <cmath>

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
  };
  auto out = std::make_shared<Out>();
  const LayerQuantReport* report = reportFor(layer_);
  Model variant = report && quant_ ? quant_->variant : Model();
  Model model = model_;
  const std::string layer = toStd(layer_);
  const QString granularity = report ? toQString(report->granularity) : QString();
  const int wbits = report ? report->wbits : 0;
  jobs_.start(
      QStringLiteral("weights"), tr("Weight histogram"),
      [out, model, variant, layer](JobContext&) {
        auto w = model.weight(layer);
        if (!w) {
          out->error = messageOf(w.error());
          return;
        }
        const std::vector<float>& v = w->values;
        if (v.empty()) {
          out->error = QStringLiteral("layer %1 has an empty weight").arg(toQString(layer));
          return;
        }
        std::optional<TensorData> qw;
        if (variant.valid()) {
          auto r = variant.weight(layer);
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
      [this, out, layerName = layer_, granularity, wbits](bool cancelled, const QString& error) {
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
        plots_.weightGranularity = out->q ? granularity : QString();
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
      [out, stats, params](JobContext&) {
        const std::vector<float>& s = stats->sample;
        if (s.empty()) {
          out->fp = stats->histogram;
          return;
        }
        std::vector<float> bounds;
        if (params) bounds = {static_cast<float>(params->lo), static_cast<float>(params->hi)};
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
      [this, out, stats, params](bool cancelled, const QString& error) {
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
  auto out = std::make_shared<std::optional<Result<ActivationStats>>>();
  Model model = model_;
  const std::string layer = toStd(layer_);
  const int n = calibImages_;
  jobs_.start(QStringLiteral("calibration"), tr("Calibrating %1 on %2 images").arg(layer_).arg(n),
              [out, model, layer, n](JobContext& job) { out->emplace(activationStats(model, layer, n, 0, job)); },
              [this, out, layerName = layer_](bool cancelled, const QString& error) {
                if (cancelled || !error.isEmpty() || !out->has_value()) {
                  fail(tr("Calibration"), error.isEmpty() ? tr("no result") : error, cancelled);
                  return;
                }
                auto& r = **out;
                if (!r) {
                  fail(tr("Calibration"), messageOf(r.error()), r.error().isCancelled());
                  return;
                }
                if (layerName != layer_) return;
                calib_ = std::make_shared<const ActivationStats>(std::move(r.value()));
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
                quant_ = std::make_shared<const QuantizeResult>(std::move(r.value()));
                RunRecord run;
                run.model = toStd(modelName_);
                run.method = quant_->recipe.method;
                run.recipeJson = quant_->recipe.toJson().dump(2);
                run.metricsJson = quant_->metrics.dump();
                run.layersJson = layersJson(quant_->layers).dump();
                run.seconds = quant_->seconds;
                run.status = "done";
                QString err;
                lastRunId_ = workspace_.addRun(run, &err);
                if (lastRunId_ < 0) fail(tr("Save run"), err, false);
                updateWeightPlots();
                // The activation overlay needs this layer's calibration: refresh it when the
                // user has calibrated before (calibration is explicit for the first time).
                if (calibImages_ > 0 && !layer_.isEmpty() && (!calib_ || toQString(calib_->layer) != layer_))
                  calibrate(calibImages_);
                else
                  updateActivationPlots();
                Q_EMIT quantizationFinished(lastRunId_);
              });
}

}  // namespace cs::qt
