// JobRunner: runs long engine calls off the GUI thread.
//
// A job is a std::function<void(cs::JobContext&)> run on the runner's own QThreadPool.
// Each job belongs to a *channel* ("model", "calibration", "quantize", ...). Starting a
// job on a channel cancels the channel's previous job and makes it stale: a stale job's
// completion callback is never called (its results are dropped), so a slow old result can
// never overwrite a newer one.
//
// Progress reported by the engine on the worker thread is throttled to at most 20 Hz
// (the first and the final report always pass) and delivered to the GUI thread through
// queued signals. Completion callbacks run on the thread that owns the runner.
// Exceptions thrown by a job are caught and reported as failures; none reach Qt.
//
// Threading: every public method must be called from the runner's thread. The
// destructor cancels every job and waits for them.
#pragma once
#include <QElapsedTimer>
#include <QHash>
#include <QObject>
#include <QString>
#include <QThreadPool>

#include <functional>
#include <memory>

#include "engine/job.h"

namespace cs::qt {

class JobRunner : public QObject {
  Q_OBJECT
 public:
  using Work = std::function<void(cs::JobContext&)>;
  // Called on the runner's thread when a current (non-stale) job ends.
  // `error` is empty on success; cancelled jobs report cancelled == true.
  using Done = std::function<void(bool cancelled, const QString& error)>;

  explicit JobRunner(QObject* parent = nullptr);
  ~JobRunner() override;

  // Starts `work` on `channel` and returns the job id (> 0). `title` is shown to users.
  quint64 start(const QString& channel, const QString& title, Work work, Done done = {});

  // Cancels the channel's current job, or every running job when channel is empty.
  void cancel(const QString& channel = {});
  bool isRunning(const QString& channel = {}) const;
  int runningCount() const { return static_cast<int>(running_.size()); }
  bool isJobRunning(quint64 id) const { return running_.contains(id); }
  QString jobTitle(quint64 id) const;
  // Minimum interval between two progress signals of one job (default 50 ms = 20 Hz).
  void setProgressInterval(int ms) { intervalMs_ = ms; }
  // Blocks (processing events) until no job runs or timeoutMs passes; true when idle.
  bool waitForIdle(int timeoutMs);

 Q_SIGNALS:
  void jobStarted(quint64 id, const QString& title);
  void jobProgress(quint64 id, double fraction, const QString& stage);
  // Emitted for every job that ends, stale or not; stale == true means results were dropped.
  void jobFinished(quint64 id, bool cancelled, const QString& error, bool stale);
  void idle();

 private:
  struct Job;
  void finish(quint64 id, bool cancelled, const QString& error);

  QThreadPool pool_;
  quint64 nextId_ = 1;
  int intervalMs_ = 50;
  QHash<QString, quint64> current_;                   // channel -> current job id
  QHash<quint64, std::shared_ptr<Job>> running_;      // id -> job
};

}  // namespace cs::qt
