#include "arena/leaderboard.h"
#include "arena/store.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <QtTest/QtTest>
#include <QTemporaryDir>
#include <thread>

using namespace arena;

class TestStore : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void init() { QVERIFY(dir.isValid()); }
    void schemaBesideWorkspaceTables();
    void newerSchemaRefused();
    void sessionMatchVoteRoundTrip();
    void voteAfterRevealNotCounted();
    void votesImmutable();
    void batchInsertIsAtomic();
    void twoConnectionsShareTheFile();

private:
    std::string path(const char* name) { return dir.filePath(name).toStdString(); }
    QTemporaryDir dir;
};

static Vote rankVote(std::vector<std::string> models, std::vector<int> ranks) {
    Vote v;
    v.models = std::move(models);
    v.ranks = std::move(ranks);
    v.judge = "t";
    v.prompt = "p";
    return v;
}

void TestStore::schemaBesideWorkspaceTables() {
    const auto p = path("ws.db");
    {
        SQLite::Database db(p, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
        db.exec("CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT)");
        db.exec("INSERT INTO models(name) VALUES ('fp')");
        db.exec("PRAGMA user_version=7");
    }
    {
        Store s(p);
        QCOMPARE(s.schemaVersion(), Store::kSchemaVersion);
        QCOMPARE(s.journalMode(), std::string("wal"));
        QCOMPARE(s.integrityCheck(), std::string("ok"));
    }
    Store again(p);  // reopening is idempotent
    SQLite::Database db(p, SQLite::OPEN_READONLY);
    QCOMPARE(db.execAndGet("PRAGMA user_version").getInt(), 7);  // the workspace owns user_version
    QCOMPARE(db.execAndGet("SELECT name FROM models").getString(), std::string("fp"));
    QCOMPARE(db.execAndGet("SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'arena_%' AND type='table'").getInt(), 6);
}

void TestStore::newerSchemaRefused() {
    const auto p = path("new.db");
    { Store s(p); }
    {
        SQLite::Database db(p, SQLite::OPEN_READWRITE);
        db.exec("UPDATE arena_meta SET value='99' WHERE key='schema_version'");
    }
    bool threw = false;
    try {
        Store s(p);
    } catch (const StoreError& e) {
        threw = QString(e.what()).contains("newer");
    }
    QVERIFY(threw);
}

void TestStore::sessionMatchVoteRoundTrip() {
    Store s(path("rt.db"));
    Session sess;
    sess.name = "s";
    sess.k = 3;
    sess.models = {"a", "b", "c", "d"};
    sess.prompts = {"p1", "p2"};
    const auto sid = s.createSession(sess);
    const auto got = s.session(sid);
    QVERIFY(got);
    QCOMPARE(got->models, sess.models);
    QCOMPARE(got->prompts, sess.prompts);
    QCOMPARE(got->k, 3);
    Match m;
    m.sessionId = sid;
    m.prompt = "p2";
    m.candidates = {"c", "a", "d"};
    m.judge = "alice";
    const auto mid = s.createMatch(m);
    const Vote v = s.castVote(mid, {2, 1, 3}, VoteMode::Rank, "");
    QVERIFY(v.counted);
    QCOMPARE(v.judge, std::string("alice"));
    const auto all = s.votes(sid);
    QCOMPARE(all.size(), size_t(1));
    QCOMPARE(all[0].models, m.candidates);
    QCOMPARE(all[0].ranks, (std::vector<int>{2, 1, 3}));
    QCOMPARE(all[0].mode, VoteMode::Rank);
    QCOMPARE(all[0].matchId, mid);
    QCOMPARE(all[0].prompt, std::string("p2"));
    QVERIFY(s.match(mid)->revealed > 0);
    QCOMPARE(s.match(mid)->state, std::string("voted"));
    bool threw = false;
    try {
        s.castVote(mid, {1, 2, 3}, VoteMode::Rank, "");
    } catch (const StoreError&) {
        threw = true;
    }
    QVERIFY(threw);  // one vote per match
    threw = false;
    try {
        s.castVote(s.createMatch(m), {1, 1, 1}, VoteMode::Best, "");
    } catch (const StoreError&) {
        threw = true;
    }
    QVERIFY(threw);  // invalid best vote refused
    // Ratings recomputed from the stored votes equal those from the in-memory records.
    const auto a = computeLeaderboard(all, RatingModel::KSort);
    const auto b = computeLeaderboard({v}, RatingModel::KSort);
    QCOMPARE(a.front().model, b.front().model);
    QCOMPARE(a.front().mu, b.front().mu);
    QCOMPARE(a.front().model, std::string("a"));
}

void TestStore::voteAfterRevealNotCounted() {
    Store s(path("rev.db"));
    Match m;
    m.candidates = {"x", "y"};
    const auto mid = s.createMatch(m);
    s.reveal(mid);
    const Vote v = s.castVote(mid, {1, 2}, VoteMode::Best, "j");
    QVERIFY(!v.counted);
    QVERIFY(!s.votes()[0].counted);
    QVERIFY(computeLeaderboard(s.votes(), RatingModel::KSort).empty());  // ignored by every rating
    QVERIFY(votesToBattles(s.votes()).empty());
}

void TestStore::votesImmutable() {
    const auto p = path("imm.db");
    Store s(p);
    s.insertVote(rankVote({"a", "b"}, {1, 2}));
    SQLite::Database db(p, SQLite::OPEN_READWRITE);
    bool upd = false, del = false;
    try { db.exec("UPDATE arena_votes SET ranks='[2,1]'"); } catch (const SQLite::Exception&) { upd = true; }
    try { db.exec("DELETE FROM arena_votes"); } catch (const SQLite::Exception&) { del = true; }
    QVERIFY(upd && del);
    QCOMPARE(s.votes()[0].ranks, (std::vector<int>{1, 2}));
}

void TestStore::batchInsertIsAtomic() {
    Store s(path("batch.db"));
    std::vector<Vote> batch = {rankVote({"a", "b"}, {1, 2}), rankVote({"a", "a"}, {1, 2}), rankVote({"b", "c"}, {2, 1})};
    bool threw = false;
    try {
        s.insertVotes(batch);
    } catch (const std::exception&) {
        threw = true;
    }
    QVERIFY(threw);
    QCOMPARE(s.voteCount(), std::int64_t(0));  // rolled back as a whole
    batch.erase(batch.begin() + 1);
    QCOMPARE(s.insertVotes(batch).size(), size_t(2));
    QCOMPARE(s.voteCount(), std::int64_t(2));
}

void TestStore::twoConnectionsShareTheFile() {
    const auto p = path("shared.db");
    Store a(p), b(p);
    a.insertVote(rankVote({"a", "b"}, {1, 2}));
    QCOMPARE(b.voteCount(), std::int64_t(1));  // visible to the other connection
    auto writer = [&p](int n, const char* judge) {
        Store s(p);
        for (int i = 0; i < n; ++i) {
            Vote v = rankVote({"m" + std::to_string(i % 5), "m" + std::to_string(i % 5 + 1)}, {1, 2});
            v.judge = judge;
            s.insertVote(v);
        }
    };
    std::thread t1(writer, 100, "gui"), t2(writer, 100, "cli");
    t1.join();
    t2.join();
    QCOMPARE(a.voteCount(), std::int64_t(201));
    QCOMPARE(a.integrityCheck(), std::string("ok"));
}

QTEST_APPLESS_MAIN(TestStore)
#include "test_store.moc"
