// The `cstudio arena` verbs through the dev executable: JSON on stdout, one-line errors, exit codes.
#include <QtTest/QtTest>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QRandomGenerator>
#include <fstream>

#ifndef CS_ARENA_CLI
#error "CS_ARENA_CLI must name the dev CLI"
#endif

class TestArenaCli : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void sessionMatchVoteLeaderboard();
    void errorsAreOneLine();
    void evalWorkspaceModelWithScores();

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
    r = run({"new-session", "-w", ws, "--models", "a,b", "--k", "2"});
    QCOMPARE(r.code, 0);
    r = run({"match", "-w", ws, "--session", "1"});
    QCOMPARE(r.code, 0);
    r = run({"vote", "-w", ws, "--match", "1", "--ranks", "1,x"});
    QVERIFY(r.code != 0);
    QVERIFY(r.err.startsWith("cstudio: error: --ranks takes comma-separated integers"));
    r = run({"vote", "-w", ws, "--match", "1", "--ranks", "1,2,3"});
    QVERIFY(r.err.startsWith("cstudio: error: expected 2 ranks"));
    r = run({"new-session", "-w", ws, "--models", "a,b", "--k", "3"});
    QVERIFY(r.err.startsWith("cstudio: error: a session with K=3 needs at least 3 models"));
    r = run({"import", "-w", ws, "-f", dir.filePath("missing.json")});
    QVERIFY(r.code != 0);
    QVERIFY(r.err.startsWith("cstudio: error: cannot read"));
}

void TestArenaCli::evalWorkspaceModelWithScores() {
    // An output set of 8 models x 60 prompts, human K=4 votes that rank by a latent quality, and a judge
    // whose scores file agrees with the humans. The held-out model must land near its arena rank.
    const QString root = dir.filePath("evalset");
    QDir().mkpath(root);
    QRandomGenerator rng(7);
    const int nm = 8, np = 60;
    double q[nm][np];
    {
        std::ofstream prompts(QString(root + "/prompts.jsonl").toStdString());
        for (int p = 0; p < np; ++p) prompts << "{\"id\": \"p" << p << "\", \"class\": " << p % 10 << "}\n";
    }
    QJsonObject scores;
    for (int m = 0; m < nm; ++m) {
        QDir().mkpath(root + QString("/m%1").arg(m));
        for (int p = 0; p < np; ++p) {
            q[m][p] = 18.0 + 2.0 * m + 3.0 * (rng.generateDouble() - 0.5);
            std::ofstream(QString(root + "/m%1/p%2.txt").arg(m).arg(p).toStdString()) << "out";
            scores[QString("m%1/p%2.txt").arg(m).arg(p)] = q[m][p];
        }
    }
    const QString scoresFile = dir.filePath("scores.json");
    QFile sf(scoresFile);
    QVERIFY(sf.open(QIODevice::WriteOnly));
    sf.write(QJsonDocument(scores).toJson());
    sf.close();
    const QString ws = dir.filePath("evalws.db");
    auto r = run({"new-session", "-w", ws, "--output-set", root, "--k", "4"});
    QCOMPARE(r.code, 0);
    QByteArray log;
    for (int v = 0; v < 600; ++v) {
        int pick[4];
        for (int i = 0; i < 4; ++i) {
            bool dup;
            do {
                pick[i] = rng.bounded(nm);
                dup = false;
                for (int j = 0; j < i; ++j) dup = dup || pick[j] == pick[i];
            } while (dup);
        }
        const int p = rng.bounded(np);
        QJsonArray models, ranks;
        for (int i = 0; i < 4; ++i) {
            int rank = 1;
            for (int j = 0; j < 4; ++j) rank += q[pick[j]][p] > q[pick[i]][p];
            models.append(QString("m%1").arg(pick[i]));
            ranks.append(rank);
        }
        QJsonObject o{{"models", models}, {"ranks", ranks}, {"mode", "rank"}, {"prompt", QString("p%1").arg(p)},
                      {"tstamp", v}};
        log += QJsonDocument(o).toJson(QJsonDocument::Compact) + "\n";
    }
    r = run({"import", "-w", ws, "-f", "-", "--session", "1"}, log);
    QCOMPARE(r.code, 0);
    r = run({"eval", "-w", ws, "--session", "1", "--model", "m5", "--scores", scoresFile, "--json"});
    QVERIFY2(r.code == 0, r.err.constData());
    const auto j = QJsonDocument::fromJson(r.out).object();
    QVERIFY(j["instances"].toInt() > 50);
    QVERIFY(j["runs"].toInt() >= 1 && j["runs"].toInt() <= 150);
    QVERIFY2(std::abs(j["rank"].toInt() - j["arena_rank"].toInt()) <= 1, r.out.constData());
    r = run({"eval", "-w", ws, "--session", "1", "--model", "m5"});
    QVERIFY(r.code != 0);
    QVERIFY(r.err.startsWith("cstudio: error: evaluating a workspace model needs"));
}

QTEST_APPLESS_MAIN(TestArenaCli)
#include "test_cli.moc"
