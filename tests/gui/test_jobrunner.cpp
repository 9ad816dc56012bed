// JobRunner: completion on the GUI thread, throttled progress, cancel, stale results.
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/JobRunner.h"

using cs::qt::JobRunner;

class TestJobRunner : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void runsOffThreadAndCompletesOnOwner() {
    JobRunner runner;
    QThread* workerThread = nullptr;
    QThread* doneThread = nullptr;
    bool ok = false;
    runner.start(QStringLiteral("a"), QStringLiteral("job"),
                 [&](cs::JobContext&) { workerThread = QThread::currentThread(); },
                 [&](bool cancelled, const QString& error) {
                   doneThread = QThread::currentThread();
                   ok = !cancelled && error.isEmpty();
                 });
    QVERIFY(runner.waitForIdle(5000));
    QVERIFY(ok);
    QVERIFY(workerThread != nullptr);
    QVERIFY(workerThread != QThread::currentThread());
    QCOMPARE(doneThread, QThread::currentThread());
  }

  void progressIsThrottled() {
    JobRunner runner;
    QSignalSpy progress(&runner, &JobRunner::jobProgress);
    runner.start(QStringLiteral("a"), QStringLiteral("spin"), [](cs::JobContext& job) {
      // 400 ms of reports every 0.1 ms: at 20 Hz at most ~9 may pass (first, ~8 more, final).
      const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
      int i = 0;
      while (std::chrono::steady_clock::now() < end) {
        job.progress(0.5, "working " + std::to_string(i++));
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
      job.progress(1.0, "done");
    });
    QVERIFY(runner.waitForIdle(5000));
    QVERIFY2(progress.count() >= 2, qPrintable(QString::number(progress.count())));
    QVERIFY2(progress.count() <= 12, qPrintable(QString::number(progress.count())));
    QCOMPARE(progress.last().at(1).toDouble(), 1.0);  // the final report always passes
    QCOMPARE(progress.last().at(2).toString(), QStringLiteral("done"));
  }

  void cancelStopsTheJob() {
    JobRunner runner;
    std::atomic<bool> sawCancel{false};
    bool reportedCancelled = false;
    runner.start(
        QStringLiteral("a"), QStringLiteral("long"),
        [&](cs::JobContext& job) {
          for (int i = 0; i < 1000 && !job.cancelled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
          sawCancel = job.cancelled();
        },
        [&](bool cancelled, const QString&) { reportedCancelled = cancelled; });
    QTest::qWait(30);
    QVERIFY(runner.isRunning(QStringLiteral("a")));
    runner.cancel();
    QVERIFY(runner.waitForIdle(2000));  // far less than the 5 s the job would take
    QVERIFY(sawCancel);
    QVERIFY(reportedCancelled);
  }

  void staleResultsAreDropped() {
    JobRunner runner;
    QSignalSpy finished(&runner, &JobRunner::jobFinished);
    int firstDone = 0, secondDone = 0;
    // The first job ignores cancel and finishes after the second: its result must be dropped.
    runner.start(
        QStringLiteral("layer"), QStringLiteral("slow"),
        [](cs::JobContext&) { std::this_thread::sleep_for(std::chrono::milliseconds(200)); },
        [&](bool, const QString&) { ++firstDone; });
    runner.start(
        QStringLiteral("layer"), QStringLiteral("fast"), [](cs::JobContext&) {},
        [&](bool cancelled, const QString&) { secondDone += cancelled ? 100 : 1; });
    QVERIFY(runner.waitForIdle(5000));
    QCOMPARE(firstDone, 0);
    QCOMPARE(secondDone, 1);
    QCOMPARE(finished.count(), 2);
    int stale = 0;
    for (const auto& args : finished) stale += args.at(3).toBool() ? 1 : 0;
    QCOMPARE(stale, 1);
  }

  void otherChannelsAreIndependent() {
    JobRunner runner;
    int done = 0;
    runner.start(QStringLiteral("a"), QString(), [](cs::JobContext&) {}, [&](bool, const QString&) { ++done; });
    runner.start(QStringLiteral("b"), QString(), [](cs::JobContext&) {}, [&](bool, const QString&) { ++done; });
    QVERIFY(runner.waitForIdle(5000));
    QCOMPARE(done, 2);
  }

  void exceptionsBecomeErrors() {
    JobRunner runner;
    QString err;
    runner.start(QStringLiteral("a"), QString(), [](cs::JobContext&) { throw std::runtime_error("boom"); },
                 [&](bool, const QString& e) { err = e; });
    QVERIFY(runner.waitForIdle(5000));
    QCOMPARE(err, QStringLiteral("boom"));
  }

  void destructorWaitsForJobs() {
    std::atomic<bool> finished{false};
    {
      JobRunner runner;
      runner.start(QStringLiteral("a"), QString(), [&](cs::JobContext& job) {
        for (int i = 0; i < 200 && !job.cancelled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        finished = true;
      });
      QTest::qWait(10);
    }
    QVERIFY(finished);
  }
};

QTEST_GUILESS_MAIN(TestJobRunner)
#include "test_jobrunner.moc"
