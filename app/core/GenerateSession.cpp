#include "core/GenerateSession.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/Conversions.h"

namespace cs::qt {

namespace {
const QString kGen = QStringLiteral("generate");
const QString kMetric = QStringLiteral("generate-metric");

// The task a zoo entry declares in its zoo.json (without opening the weights).
Task zooTask(const ZooEntry& e) {
  const auto dir = std::filesystem::path(e.weights).parent_path();
  std::ifstream in(dir / "zoo.json");
  std::string task;
  if (in) {
    try {
      auto j = nlohmann::json::parse(in);
      task = j.value("task", std::string());
    } catch (const std::exception&) {
    }
  }
  if (task == "diffusion") return Task::Diffusion;
  if (task == "language-model") return Task::LanguageModel;
  if (task == "image-generation" || task == "autoregressive-image") return Task::ImageGeneration;
  if (e.family == "unet2d") return Task::Diffusion;
  if (e.family == "llama" || e.family == "opt") return Task::LanguageModel;
  return Task::Unknown;
}

QString taskText(Task t) {
  switch (t) {
    case Task::Diffusion: return QStringLiteral("diffusion");
    case Task::ImageGeneration: return QStringLiteral("autoregressive images");
    case Task::LanguageModel: return QStringLiteral("language model");
    default: return QStringLiteral("?");
  }
}
}  // namespace

GenerateSession::GenerateSession(StudioSession* studio, QObject* parent) : QObject(parent), studio_(studio) {}
GenerateSession::~GenerateSession() = default;

QVector<GeneratorChoice> GenerateSession::choices() const {
  QVector<GeneratorChoice> out;
  if (studio_->hasModel()) {
    const Task t = studio_->model().task();
    if (gen::isImageGenerator(t) || gen::isLanguageModel(t)) {
      GeneratorChoice c;
      c.key = QStringLiteral("session");
      c.label = tr("Current model: %1 (%2)").arg(studio_->modelName(), taskText(t));
      c.task = t;
      c.classes = gen::isImageGenerator(t) ? diffusionClassCount(studio_->model()) : 0;
      out.push_back(c);
    }
  }
  for (const auto& e : zooModels()) {
    if (!e.available) continue;
    const Task t = zooTask(e);
    if (!gen::isImageGenerator(t) && !gen::isLanguageModel(t)) continue;
    GeneratorChoice c;
    c.key = toQString(e.name);
    c.zooName = c.key;
    c.label = tr("Zoo: %1 (%2)").arg(c.key, taskText(t));
    c.task = t;
    out.push_back(c);
  }
  return out;
}

Result<Model> GenerateSession::open(const std::shared_ptr<Cache>& cache, const std::string& name, JobContext& job) {
  {
    std::lock_guard<std::mutex> lock(cache->mu);
    auto it = cache->models.find(name);
    if (it != cache->models.end()) return it->second;
  }
  auto m = openModel(name, job);
  if (!m) return m.error();
  std::lock_guard<std::mutex> lock(cache->mu);
  cache->models[name] = *m;
  return *m;
}

Result<Model> GenerateSession::modelForJob(const std::shared_ptr<Cache>& cache, const Model& given,
                                           const std::string& zoo, JobContext& job, double share) {
  if (zoo.empty()) return given;
  auto sub = job.sub(0, share);
  return open(cache, zoo, sub);
}

Result<Model> GenerateSession::resolve(const QString& key) {
  if (key == QLatin1String("session")) {
    if (!studio_->hasModel()) return Error::notFound("no model is open");
    return studio_->model();
  }
  return open(cache_, toStd(key), nullJob());
}

bool GenerateSession::prepare(const QString& key, Model* model, std::string* zooName, QString* what) {
  if (key == QLatin1String("session")) {
    if (!studio_->hasModel()) {
      Q_EMIT failed(*what, tr("no model is open"), false);
      return false;
    }
    *model = studio_->model();
    *what += QStringLiteral(" (%1)").arg(studio_->modelName());
  } else {
    *zooName = toStd(key);
    *what += QStringLiteral(" (%1)").arg(key);
  }
  return true;
}

void GenerateSession::sampleImages(const QString& key, const gen::ImageSampleRequest& req) {
  QString what = tr("Generate images");
  Model model;
  std::string zoo;
  if (!prepare(key, &model, &zoo, &what)) return;
  struct Out {
    Result<GeneratedImages> r = Error::failed("not run");
    std::vector<std::string> labels;
    std::string name;
  };
  auto out = std::make_shared<Out>();
  auto cache = cache_;
  generateJob_ = studio_->jobs()->start(
      kGen, what,
      [out, cache, model, zoo, req](JobContext& job) {
        auto opened = modelForJob(cache, model, zoo, job, 0.02);
        if (!opened) {
          out->r = opened.error();
          return;
        }
        const Model& m = *opened;
        out->name = m.name();
        auto sub = job.sub(0.02, 1.0);
        out->r = gen::sampleImages(m, req, sub);
        if (out->r) out->labels = gen::sampleLabels(*out->r, diffusionClassCount(m));
      },
      [this, out, what](bool cancelled, const QString& error) {
        if (cancelled || !error.isEmpty() || !out->r) {
          const bool c = cancelled || (!out->r && out->r.error().isCancelled());
          Q_EMIT failed(what, !error.isEmpty() ? error : out->r ? tr("cancelled") : toQString(out->r.error().message), c);
          return;
        }
        images_ = std::move(out->r.value());
        labels_.clear();
        for (const auto& l : out->labels) labels_ << toQString(l);
        imagesModel_ = toQString(out->name);
        Q_EMIT imagesReady();
      });
}

void GenerateSession::generateText(const QString& key, const GenerateOptions& opt) {
  QString what = tr("Generate text");
  Model model;
  std::string zoo;
  if (!prepare(key, &model, &zoo, &what)) return;
  auto out = std::make_shared<Result<GenerateResult>>(Error::failed("not run"));
  auto cache = cache_;
  generateJob_ = studio_->jobs()->start(
      kGen, what,
      [out, cache, model, zoo, opt](JobContext& job) {
        auto opened = modelForJob(cache, model, zoo, job, 0.02);
        if (!opened) {
          *out = opened.error();
          return;
        }
        const Model& m = *opened;
        auto lm = LanguageModel::fromModel(m);
        if (!lm) {
          *out = lm.error();
          return;
        }
        auto sub = job.sub(0.02, 1.0);
        *out = lm->generate(opt, sub);
      },
      [this, out, what](bool cancelled, const QString& error) {
        if (cancelled || !error.isEmpty() || !*out) {
          const bool c = cancelled || (!*out && out->error().isCancelled());
          Q_EMIT failed(what, !error.isEmpty() ? error : *out ? tr("cancelled") : toQString(out->error().message), c);
          return;
        }
        text_ = std::move(out->value());
        Q_EMIT textReady();
      });
}

void GenerateSession::runImageMetric(const QString& key, const gen::ImageMetricRequest& req) {
  runMetric(key, req.metric, [req](const Model& m, JobContext& job) { return gen::imageMetric(m, req, job); });
}

void GenerateSession::runTextMetric(const QString& key, const gen::TextMetricRequest& req) {
  runMetric(key, req.metric, [req](const Model& m, JobContext& job) { return gen::textMetric(m, req, job); });
}

void GenerateSession::runMetric(const QString& key, const std::string& metric,
                                std::function<Result<gen::MetricFigure>(const Model&, JobContext&)> compute) {
  QString what = tr("Metric %1").arg(toQString(metric));
  Model model;
  std::string zoo;
  if (!prepare(key, &model, &zoo, &what)) return;
  auto out = std::make_shared<Result<gen::MetricFigure>>(Error::failed("not run"));
  auto cache = cache_;
  const QString modelLabel = zoo.empty() ? studio_->modelName() : key;
  metricJob_ = studio_->jobs()->start(
      kMetric, what,
      [out, cache, model, zoo, compute](JobContext& job) {
        auto opened = modelForJob(cache, model, zoo, job, 0.01);
        if (!opened) {
          *out = opened.error();
          return;
        }
        const Model& m = *opened;
        auto sub = job.sub(0.01, 1.0);
        *out = compute(m, sub);
      },
      [this, out, what, modelLabel](bool cancelled, const QString& error) {
        if (cancelled || !error.isEmpty() || !*out) {
          const bool c = cancelled || (!*out && out->error().isCancelled());
          Q_EMIT failed(what, !error.isEmpty() ? error : *out ? tr("cancelled") : toQString(out->error().message), c);
          return;
        }
        metric_ = std::move(out->value());
        metricRunId_ = -1;
        if (studio_->workspace()->isOpen()) {
          RunRecord run;
          run.model = toStd(modelLabel);
          run.method = "eval:" + metric_.metric;
          run.recipeJson = metric_.json;
          run.metricsJson = metric_.json;
          run.layersJson = "[]";
          run.seconds = metric_.seconds;
          metricRunId_ = studio_->workspace()->addRun(run);
        }
        Q_EMIT metricReady();
      });
}

void GenerateSession::cancel() {
  studio_->jobs()->cancel(kGen);
  studio_->jobs()->cancel(kMetric);
}

QVector<QImage> GenerateSession::imageTiles() const {
  QVector<QImage> out;
  const auto& g = images_;
  const size_t plane = size_t(g.h) * size_t(g.w);
  for (int i = 0; i < g.n; ++i) {
    const float* px = g.pixels.data() + size_t(i) * size_t(g.channels) * plane;
    QImage img(g.w, g.h, g.channels == 3 ? QImage::Format_RGB888 : QImage::Format_Grayscale8);
    for (int y = 0; y < g.h; ++y) {
      uchar* line = img.scanLine(y);
      for (int x = 0; x < g.w; ++x) {
        if (g.channels == 3) {
          for (int c = 0; c < 3; ++c)
            line[x * 3 + c] = uchar(std::lround(std::clamp(px[size_t(c) * plane + size_t(y) * g.w + x], 0.f, 1.f) * 255));
        } else {
          line[x] = uchar(std::lround(std::clamp(px[size_t(y) * g.w + x], 0.f, 1.f) * 255));
        }
      }
    }
    out.push_back(img);
  }
  return out;
}

bool GenerateSession::saveGrid(const QString& path, int cols, QString* error) const {
  if (images_.n == 0) {
    if (error) *error = tr("no samples to save");
    return false;
  }
  auto s = writePngGrid(toStd(path), images_, std::max(1, cols));
  if (!s) {
    if (error) *error = toQString(s.error().message);
    return false;
  }
  return true;
}

}  // namespace cs::qt
