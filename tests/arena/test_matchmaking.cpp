#include "arena/matchmaking.h"
#include "arena/session.h"

#include <QtTest/QtTest>
#include <QTemporaryDir>
#include <set>

using namespace arena;

class TestMatchmaking : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void ucbSign();
    void unplayedPairsFirst();
    void pivotIsFewest();
    void distinctAndRandomBaseline();
    void planMatchShufflesAndPlacesNewModel();
};

void TestMatchmaking::ucbSign() {
    MatchmakingParams close;
    MatchmakingParams printed;
    printed.preferClose = false;
    // Pivot S = 10; candidates at S = 11 (close) and S = 30 (far), equal counts.
    QVERIFY(ucbScore(10, 11, 100, 3, close) > ucbScore(10, 30, 100, 3, close));
    QVERIFY(ucbScore(10, 11, 100, 3, printed) < ucbScore(10, 30, 100, 3, printed));  // the printed formula's flaw
    // Exploration term: alpha sqrt(ln n / (n_iq + 1)).
    QVERIFY(std::fabs(ucbScore(0, 0, 100, 3, close) - std::sqrt(std::log(100.0) / 4.0)) < 1e-12);
    // pickParticipants follows the sign.
    std::vector<double> s = {10, 11, 30, 9.5, -20};
    PairCounts pc(5);
    pc.add(0, 1);
    pc.add(0, 2);
    pc.add(0, 3);
    pc.add(0, 4);  // every pair with the pivot played once
    pc.add(1, 2, 5);
    pc.add(3, 4, 5);  // totals: model 0 has 4, the others 6
    std::mt19937_64 rng(1);
    const auto near = pickParticipants(s, pc, 3, close, rng);
    QCOMPARE(near[0], 0);  // pivot = fewest comparisons
    QCOMPARE(std::set<int>(near.begin() + 1, near.end()), (std::set<int>{1, 3}));
    const auto far = pickParticipants(s, pc, 3, printed, rng);
    QCOMPARE(std::set<int>(far.begin() + 1, far.end()), (std::set<int>{2, 4}));
}

void TestMatchmaking::unplayedPairsFirst() {
    MatchmakingParams p;
    std::vector<double> s = {0, 1, -1, 5};
    PairCounts pc(4);
    for (int i = 0; i < 20; ++i) pc.add(1, 2);  // 1 and 2 played a lot (with each other)
    for (int i = 0; i < 30; ++i) pc.add(0, 1);
    std::mt19937_64 rng(3);
    // Pivot = 3 (0 comparisons). Its candidates: 0 (|dS| 5), 1 (4), 2 (6), all unplayed with 3.
    const auto pick = pickParticipants(s, pc, 2, p, rng);
    QCOMPARE(pick[0], 3);
    QCOMPARE(pick[1], 1);
    // With the pivot fixed at 0, the unplayed pair (0,2) beats the much-played (0,1) at equal |dS|.
    PairCounts pc2(3);
    for (int i = 0; i < 50; ++i) pc2.add(0, 1);
    for (int i = 0; i < 50; ++i) pc2.add(1, 2);
    std::vector<double> s2 = {0, 1, -1};
    for (int i = 0; i < 5; ++i) pc2.add(2, 1);
    QCOMPARE(pickParticipants(s2, pc2, 2, p, rng)[0], 0);
    QCOMPARE(pickParticipants(s2, pc2, 2, p, rng)[1], 2);
}

void TestMatchmaking::pivotIsFewest() {
    PairCounts pc(4);
    pc.add(0, 1, 5);
    pc.add(2, 3, 2);
    pc.add(1, 2, 1);
    QCOMPARE(pc.total(3), 2L);
    QCOMPARE(pc.all(), 8L);
    std::mt19937_64 rng(5);
    QCOMPARE(pickParticipants({0, 0, 0, 0}, pc, 2, MatchmakingParams{}, rng)[0], 3);
    pc.resize(5);  // a new model joins: it becomes the pivot
    QCOMPARE(pc.total(1), 6L);
    QCOMPARE(pickParticipants({0, 0, 0, 0, 0}, pc, 4, MatchmakingParams{}, rng)[0], 4);
}

void TestMatchmaking::distinctAndRandomBaseline() {
    MatchmakingParams rnd;
    rnd.pivot = PivotRule::Random;
    rnd.opponents = OpponentRule::Random;
    std::mt19937_64 rng(9);
    std::set<int> pivots;
    PairCounts pc(8);
    for (int t = 0; t < 200; ++t) {
        for (auto* p : {&rnd}) {
            const auto pick = pickParticipants(std::vector<double>(8, 0.0), pc, 6, *p, rng);
            QCOMPARE(std::set<int>(pick.begin(), pick.end()).size(), size_t(6));
            pivots.insert(pick[0]);
        }
    }
    QCOMPARE(pivots.size(), size_t(8));
}

void TestMatchmaking::planMatchShufflesAndPlacesNewModel() {
    QTemporaryDir dir;
    Store store(dir.filePath("mm.db").toStdString());
    Session s;
    s.k = 4;
    s.models = {"a", "b", "c", "d", "e", "f"};
    s.prompts = {"p1", "p2", "p3"};
    const auto sid = store.createSession(s);
    std::map<std::string, std::set<size_t>> slotsSeen;
    PlanOptions opt;
    for (int i = 0; i < 60; ++i) {
        opt.seed = 100 + i;
        const Match m = planMatch(store, sid, "j", opt);
        QCOMPARE(m.candidates.size(), size_t(4));
        QVERIFY(std::find(s.prompts.begin(), s.prompts.end(), m.prompt) != s.prompts.end());
        for (size_t k = 0; k < m.candidates.size(); ++k) slotsSeen[m.candidates[k]].insert(k);
        std::vector<int> ranks = {1, 2, 3, 4};
        store.castVote(m.id, ranks, VoteMode::Rank, "j");
    }
    for (const auto& kv : slotsSeen) QVERIFY(kv.second.size() >= 3);  // identities are not tied to a slot
    // Participation is balanced by the fewest-comparisons pivot.
    const auto pc = pairCountsFrom(store.votes(sid), s.models);
    long lo = 1 << 30, hi = 0;
    for (int i = 0; i < 6; ++i) {
        lo = std::min(lo, pc.total(i));
        hi = std::max(hi, pc.total(i));
    }
    qInfo("comparisons per model: %ld..%ld", lo, hi);
    QVERIFY(hi - lo <= 24);  // within 20% of the mean (120)
    // A model added later gets the pivot slot in the next matches.
    Session s2 = s;
    s2.models.push_back("new");
    const auto sid2 = store.createSession(s2);
    for (const auto& v : store.votes(sid)) {
        Vote c = v;
        c.sessionId = sid2;
        c.matchId = 0;
        store.insertVote(c);
    }
    for (int i = 0; i < 5; ++i) {
        opt.seed = 500 + i;
        const Match m = planMatch(store, sid2, "j", opt);
        QVERIFY(std::find(m.candidates.begin(), m.candidates.end(), "new") != m.candidates.end());
        store.castVote(m.id, {1, 2, 3, 4}, VoteMode::Rank, "j");
    }
}

QTEST_APPLESS_MAIN(TestMatchmaking)
#include "test_matchmaking.moc"
