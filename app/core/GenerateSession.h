// GenerateSession: the state behind the Generate tab. Lists the models it can drive (the
// StudioSession's current model when it is an image generator or a language model, then
// the zoo's), runs sampling, text generation and metrics as JobRunner jobs on the
// StudioSession's runner (so the status bar follows them and its Cancel stops them), keeps
// the last results as plain data, and records metric runs in the open workspace.
// Channels: "generate" (samples, text) and "generate-metric" (metrics); a new job on a
// channel replaces the previous one there.
// Threading: GUI thread only; the work runs on JobRunner workers.
#pragma once
#include <functional>
#include <QImage>
#include <QObject>
#include <QString>
#include <QStringList>
#include <QVector>

#include <map>
#include <memory>
#include <mutex>

#include "core/GenerateJobs.h"
#include "core/StudioSession.h"

namespace cs::qt {

struct GeneratorChoice {
  QString key;     // "session" or the zoo name
  QString label;   // shown in the picker
  QString zooName; // empty for the session's model
  Task task = Task::Unknown;
  int classes = 0; // image generators: conditioning classes (when known)
};

class GenerateSession : public QObject {
  Q_OBJECT
 public:
  explicit GenerateSession(StudioSession* studio, QObject* parent = nullptr);
  ~GenerateSession() override;

  JobRunner* jobs() { return studio_->jobs(); }
  StudioSession* studio() { return studio_; }

  // The session model (when it fits) first, then zoo image generators and language models.
  QVector<GeneratorChoice> choices() const;
  // Opens (cached) the model of a choice on the calling thread: for the GUI's class list
  // and default settings (ddpm-fmnist, lm-fortunes open in well under a second).
  Result<Model> resolve(const QString& key);

  void sampleImages(const QString& key, const gen::ImageSampleRequest& req);
  void generateText(const QString& key, const GenerateOptions& opt);
  void runImageMetric(const QString& key, const gen::ImageMetricRequest& req);
  void runTextMetric(const QString& key, const gen::TextMetricRequest& req);
  void cancel();  // both channels
  bool isGenerating() const { return studio_->jobs()->isRunning(QStringLiteral("generate")); }
  bool isMeasuring() const { return studio_->jobs()->isRunning(QStringLiteral("generate-metric")); }
  quint64 generateJobId() const { return generateJob_; }
  quint64 metricJobId() const { return metricJob_; }

  // Last results.
  const GeneratedImages& images() const { return images_; }
  QVector<QImage> imageTiles() const;   // one QImage (Grayscale8/RGB888) per sample
  QStringList imageLabels() const { return labels_; }
  QString imagesModel() const { return imagesModel_; }
  const GenerateResult& text() const { return text_; }
  const gen::MetricFigure& metric() const { return metric_; }
  qint64 lastMetricRunId() const { return metricRunId_; }

  // Writes the last samples as one PNG grid (engine writePngGrid); `error` names the file.
  bool saveGrid(const QString& path, int cols, QString* error = nullptr) const;

 Q_SIGNALS:
  void imagesReady();
  void textReady();
  void metricReady();
  void failed(const QString& what, const QString& message, bool cancelled);

 private:
  // Thread-safe cache of opened models, shared with the workers.
  struct Cache {
    std::mutex mu;
    std::map<std::string, Model> models;
  };
  static Result<Model> open(const std::shared_ptr<Cache>& cache, const std::string& name, JobContext& job);
  // Inside a job: `given` when `zoo` is empty, else the zoo model opened through the cache
  // (using the first `share` of the job's progress).
  static Result<Model> modelForJob(const std::shared_ptr<Cache>& cache, const Model& given, const std::string& zoo,
                                   JobContext& job, double share);
  // The model handle a job uses: the session's current model, or the zoo name (opened in the job).
  bool prepare(const QString& key, Model* model, std::string* zooName, QString* what);
  // Shared by the image and text metrics: opens the model in the job, runs `compute`, records the run.
  void runMetric(const QString& key, const std::string& metric,
                 std::function<Result<gen::MetricFigure>(const Model&, JobContext&)> compute);

  StudioSession* studio_;
  std::shared_ptr<Cache> cache_ = std::make_shared<Cache>();
  quint64 generateJob_ = 0, metricJob_ = 0;
  GeneratedImages images_;
  QStringList labels_;
  QString imagesModel_;
  GenerateResult text_;
  gen::MetricFigure metric_;
  qint64 metricRunId_ = -1;
};

}  // namespace cs::qt
