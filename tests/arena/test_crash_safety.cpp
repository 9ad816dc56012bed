// Reliability: kill writer processes with SIGKILL at random moments, then check the file's
// integrity and that every vote reported committed is present exactly once.
#include "arena/store.h"

#include <QtTest/QtTest>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <set>

#ifndef CS_VOTE_WRITER
#error "CS_VOTE_WRITER must name the writer helper"
#endif

using namespace arena;

class TestCrashSafety : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void killWritersInALoop();
};

static void collect(QProcess& p, std::set<std::string>& committed) {
    const QStringList lines = QString::fromUtf8(p.readAllStandardOutput()).split('\n');
    for (const QString& l : lines)
        if (l.startsWith("committed ")) committed.insert(l.mid(10).trimmed().toStdString());
}

void TestCrashSafety::killWritersInALoop() {
    QTemporaryDir dir;
    const QString db = dir.filePath("crash.db");
    { Store s(db.toStdString()); }
    std::set<std::string> committed;
    QRandomGenerator rng(42);
    const int rounds = 20;
    for (int r = 0; r < rounds; ++r) {
        // Two writers at once (like the GUI and the CLI), each killed at a random moment.
        QProcess a, b;
        a.start(CS_VOTE_WRITER, {db, QString("a%1").arg(r), "100000"});
        b.start(CS_VOTE_WRITER, {db, QString("b%1").arg(r), "100000"});
        QVERIFY(a.waitForStarted(5000) && b.waitForStarted(5000));
        QThread::msleep(40 + rng.bounded(160));
        a.kill();  // SIGKILL
        QThread::msleep(rng.bounded(30));
        b.kill();
        QVERIFY(a.waitForFinished(5000) && b.waitForFinished(5000));
        QCOMPARE(a.exitStatus(), QProcess::CrashExit);
        collect(a, committed);
        collect(b, committed);
    }
    QVERIFY2(committed.size() > 20, "the writers should have committed votes before being killed");
    Store s(db.toStdString());
    QCOMPARE(s.integrityCheck(), std::string("ok"));
    std::multiset<std::string> stored;
    for (const auto& v : s.votes()) stored.insert(v.prompt);
    for (const auto& c : committed) QCOMPARE(stored.count(c), size_t(1));
    QVERIFY(stored.size() >= committed.size());
    QVERIFY(stored.size() <= committed.size() + 2 * rounds);  // at most the vote in flight per kill
    qInfo("%zu votes reported committed, %zu stored", committed.size(), stored.size());
}

QTEST_APPLESS_MAIN(TestCrashSafety)
#include "test_crash_safety.moc"
