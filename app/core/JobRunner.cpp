#include "core/JobRunner.h"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QMutex>
#include <QPointer>
#include <QRunnable>
#include <QThread>

#include <atomic>
#include <exception>

namespace cs::qt {

struct JobRunner::Job {
  quint64 id = 0;
  QString channel, title;
  Done done;
  cs::JobContext ctx;
  // Throttling state, touched only by the worker thread running the job.
  QElapsedTimer sinceLast;
  bool reported = false;
};

JobRunner::JobRunner(QObject* parent) : QObject(parent) {
  pool_.setMaxThreadCount(qMax(2, QThread::idealThreadCount()));
}

JobRunner::~JobRunner() {
  for (auto& job : running_) job->ctx.cancel();
  pool_.waitForDone();
}

quint64 JobRunner::start(const QString& channel, const QString& title, Work work, Done done) {
  const quint64 id = nextId_++;
  if (auto it = current_.find(channel); it != current_.end()) {
    if (auto old = running_.value(it.value())) old->ctx.cancel();
  }
  current_[channel] = id;

  auto job = std::make_shared<Job>();
  job->id = id;
  job->channel = channel;
  job->title = title;
  job->done = std::move(done);
  running_.insert(id, job);

  // The worker only holds a weak view of `this`: the destructor waits for the pool, so the
  // pointer stays valid while a job runs; queued calls to a deleted runner are discarded.
  JobRunner* self = this;
  const int interval = intervalMs_;
  Job* raw = job.get();
  job->ctx.setProgress([self, raw, interval](double fraction, const std::string& stage) {
    const bool last = fraction >= 1.0;
    if (raw->reported && !last && raw->sinceLast.isValid() && raw->sinceLast.elapsed() < interval) return;
    raw->reported = true;
    raw->sinceLast.restart();
    const quint64 jid = raw->id;
    const QString text = QString::fromStdString(stage);
    QMetaObject::invokeMethod(
        self, [self, jid, fraction, text] { Q_EMIT self->jobProgress(jid, fraction, text); }, Qt::QueuedConnection);
  });

  Q_EMIT jobStarted(id, title);
  pool_.start(QRunnable::create([self, job, work = std::move(work)]() mutable {
    QString error;
    try {
      work(job->ctx);
    } catch (const std::exception& e) {
      error = QString::fromUtf8(e.what());
    } catch (...) {
      error = QStringLiteral("unknown error");
    }
    const bool cancelled = job->ctx.cancelled();
    const quint64 jid = job->id;
    job.reset();  // the runner keeps its own reference until finish()
    QMetaObject::invokeMethod(
        self, [self, jid, cancelled, error] { self->finish(jid, cancelled, error); }, Qt::QueuedConnection);
  }));
  return id;
}

void JobRunner::finish(quint64 id, bool cancelled, const QString& error) {
  auto job = running_.take(id);
  if (!job) return;
  const bool stale = current_.value(job->channel) != id;
  if (!stale) current_.remove(job->channel);
  if (!stale && job->done) job->done(cancelled, error);
  Q_EMIT jobFinished(id, cancelled, error, stale);
  if (running_.isEmpty()) Q_EMIT idle();
}

void JobRunner::cancel(const QString& channel) {
  for (auto& job : running_) {
    if (channel.isEmpty() || job->channel == channel) job->ctx.cancel();
  }
}

QString JobRunner::jobTitle(quint64 id) const {
  const auto job = running_.value(id);
  return job ? job->title : QString();
}

bool JobRunner::isRunning(const QString& channel) const {
  if (channel.isEmpty()) return !running_.isEmpty();
  for (const auto& job : running_)
    if (job->channel == channel) return true;
  return false;
}

bool JobRunner::waitForIdle(int timeoutMs) {
  QDeadlineTimer deadline(timeoutMs);
  while (!running_.isEmpty() && !deadline.hasExpired()) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    QThread::msleep(2);
  }
  QCoreApplication::processEvents();
  return running_.isEmpty();
}

}  // namespace cs::qt
