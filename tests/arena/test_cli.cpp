// The `cstudio arena` verbs through the dev executable: JSON on stdout, one-line errors, exit codes.
#include <QtTest/QtTest>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

#ifndef CS_ARENA_CLI
#error "CS_ARENA_CLI must name the dev CLI"
#endif

class TestArenaCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sessionMatchVoteLeaderboard();
    void errorsAreOneLine();

private:
    struct Run {
        int code;
        QByteArray out, err;
    };
    Run run(const QStringList& args, const QByteArray& input = {}) {
        QProcess p;
        p.start(CS_ARENA_CLI, QStringList{"arena"} + args);
        p.waitForStarted();
        if (!input.isEmpty()) p.write(input);
        p.closeWriteChannel();
        p.waitForFinished(60000);
        return {p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
    }
    QTemporaryDir dir;
};

void TestArenaCli::sessionMatchVoteLeaderboard() {
    const QString ws = dir.filePath("ws.db");
    auto r = run({"new-session", "-w", ws, "--models", "fp,w8a8,w4a8,cache,eda", "--prompts", "c0,c1", "--k", "4", "--json"});
    QCOMPARE(r.code, 0);
    const auto session = QJsonDocument::fromJson(r.out).object();
    QCOMPARE(session["session"].toInt(), 1);
    for (int i = 0; i < 6; ++i) {
        r = run({"match", "-w", ws, "--session", "1", "--json", "--seed", QString::number(i + 1)});
        QCOMPARE(r.code, 0);
        const auto m = QJsonDocument::fromJson(r.out).object();
        QCOMPARE(m["slots"].toArray().size(), 4);
        QVERIFY(!r.out.contains("\"model\""));  // anonymous before the vote
        r = run({"vote", "-w", ws, "--match", QString::number(m["match"].toInt()), "--ranks", "1,2,3,4", "--json"});
        QCOMPARE(r.code, 0);
        const auto v = QJsonDocument::fromJson(r.out).object();
        QVERIFY(v["counted"].toBool());
        QVERIFY(v["slots"].toArray()[0].toObject().contains("model"));  // revealed after the vote
    }
    for (const char* rating : {"ksort", "trueskill", "elo", "bt"}) {
        r = run({"leaderboard", "-w", ws, "--rating", rating, "--json"});
        QCOMPARE(r.code, 0);
        QCOMPARE(QJsonDocument::fromJson(r.out).object()["rows"].toArray().size(), 5);
    }
    r = run({"export", "-w", ws, "--shape", "ktuple"});
    QCOMPARE(r.code, 0);
    QCOMPARE(r.out.count('\n'), 6);
    const QString ws2 = dir.filePath("ws2.db");
    QProcess exp;
    r = run({"import", "-w", ws2, "-f", "-", "--json"}, r.out);
    QCOMPARE(r.code, 0);
    QCOMPARE(QJsonDocument::fromJson(r.out).object()["imported"].toInt(), 6);
}

void TestArenaCli::errorsAreOneLine() {
    const QString ws = dir.filePath("err.db");
    auto r = run({"vote", "-w", ws, "--match", "99", "--best", "1"});
    QVERIFY(r.code != 0);
    QVERIFY(r.err.startsWith("cstudio: error: no match 99"));
    QCOMPARE(r.err.count('\n'), 1);
    QVERIFY(r.out.isEmpty());
    r = run({"import", "-w", ws, "-f", dir.filePath("missing.json")});
    QVERIFY(r.code != 0);
    QVERIFY(r.err.startsWith("cstudio: error: cannot read"));
}

QTEST_APPLESS_MAIN(TestArenaCli)
#include "test_cli.moc"
