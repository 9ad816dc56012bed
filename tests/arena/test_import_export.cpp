#include "arena/bradley_terry.h"
#include "arena/fastchat.h"
#include "arena/leaderboard.h"
#include "arena/outputset.h"

#include <QtTest/QtTest>
#include <QTemporaryDir>
#include <fstream>

using namespace arena;

class TestImportExport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void parseJsonList();
    void parseJsonLinesAndKTuples();
    void rejectGarbage();
    void exportPairwiseAndKTuples();
    void roundTripKeepsRatings();
    void outputSets();
};

void TestImportExport::parseJsonList() {
    const std::string text = R"JSON([
      {"model_a": "sdxl", "model_b": "lcm", "winner": "model_a", "anony": true, "tstamp": 3, "judge": "u1"},
      {"model_a": "sdxl", "model_b": "lcm", "winner": "model_b", "anony": true, "tstamp": 1},
      {"model_a": "pixart", "model_b": "lcm", "winner": "tie", "anony": true, "tstamp": 2},
      {"model_a": "pixart", "model_b": "sdxl", "winner": "tie (bothbad)", "anony": true, "tstamp": 4},
      {"model_a": "pixart", "model_b": "sdxl", "winner": "model_a", "anony": false, "tstamp": 5},
      {"model_a": "pixart", "model_b": "sdxl", "winner": "nobody", "anony": true, "tstamp": 6}
    ])JSON";
    const auto r = parseBattleLog(text);
    QCOMPARE(r.votes.size(), size_t(4));
    QCOMPARE(r.skippedNonAnonymous, 1);
    QCOMPARE(r.skippedInvalid, 1);
    QCOMPARE(r.votes[0].mode, VoteMode::Best);
    QCOMPARE(r.votes[0].ranks, (std::vector<int>{1, 2}));
    QCOMPARE(r.votes[0].judge, std::string("u1"));
    QCOMPARE(r.votes[1].ranks, (std::vector<int>{2, 1}));
    QCOMPARE(r.votes[2].mode, VoteMode::AllTie);
    QCOMPARE(r.votes[3].mode, VoteMode::AllBad);
    ImportOptions all;
    all.includeNonAnonymous = true;
    QCOMPARE(parseBattleLog(text, all).votes.size(), size_t(5));
    // Battles replay in timestamp order.
    const auto battles = votesToBattles(r.votes);
    QCOMPARE(battles.front().tstamp, 1.0);
    QCOMPARE(battles.front().score, 0.0);
    QVERIFY(battles.back().bothBad);
}

void TestImportExport::parseJsonLinesAndKTuples() {
    const std::string text =
        "{\"model_a\": \"a\", \"model_b\": \"b\", \"winner\": \"model_a\", \"tstamp\": 1}\n"
        "\n"
        "{\"models\": [\"a\", \"b\", \"c\", \"d\"], \"ranks\": [2, 1, 3, 3], \"mode\": \"rank\", \"judge\": \"x\", \"tstamp\": 2}\n"
        "{\"models\": [\"a\", \"b\", \"c\"], \"ranks\": [1, 2, 2], \"mode\": \"best\"}\n"
        "not json\n";
    const auto r = parseBattleLog(text);
    QCOMPARE(r.pairwise, 1);
    QCOMPARE(r.ktuples, 2);
    QCOMPARE(r.skippedInvalid, 1);
    QCOMPARE(r.votes[1].models.size(), size_t(4));
    QCOMPARE(expandPairs(r.votes[1]).size(), size_t(6));
    QCOMPARE(expandPairs(r.votes[2]).size(), size_t(2));  // best mode: winner vs others only
}

void TestImportExport::rejectGarbage() {
    bool threw = false;
    try {
        parseBattleLog("[{\"model_a\": ");
    } catch (const std::runtime_error&) {
        threw = true;
    }
    QVERIFY(threw);
    QVERIFY(parseBattleLog("   ").votes.empty());
}

void TestImportExport::exportPairwiseAndKTuples() {
    Vote v;
    v.models = {"a", "b", "c", "d"};
    v.ranks = {3, 1, 2, 2};
    v.judge = "j";
    v.prompt = "p";
    v.tstamp = 10;
    Vote best = v;
    best.mode = VoteMode::Best;
    best.ranks = bestRanks(4, 0);
    best.tstamp = 11;
    Vote hidden = v;
    hidden.counted = false;
    const std::string lines = exportVotes({v, best, hidden}, ExportShape::Pairwise, true);
    QCOMPARE(std::count(lines.begin(), lines.end(), '\n'), 9L);  // 6 + 3; uncounted vote left out
    QVERIFY(lines.find("\"winner\":\"model_b\"") != std::string::npos);
    QVERIFY(lines.find("\"winner\":\"tie\"") != std::string::npos);  // c and d tied
    const std::string list = exportVotes({v, best}, ExportShape::KTuple, false);
    QCOMPARE(list.front(), '[');
    const auto back = parseBattleLog(list);
    QCOMPARE(back.votes.size(), size_t(2));
    QCOMPARE(back.votes[0].models, v.models);
    QCOMPARE(back.votes[0].ranks, v.ranks);
    QCOMPARE(back.votes[1].mode, VoteMode::Best);
    QCOMPARE(back.votes[1].judge, std::string("j"));
}

void TestImportExport::roundTripKeepsRatings() {
    std::vector<Vote> votes;
    const std::vector<std::string> m = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 40; ++i) {
        Vote v;
        v.models = {m[i % 5], m[(i + 1) % 5], m[(i + 2) % 5], m[(i + 3) % 5]};
        for (const auto& x : v.models) v.ranks.push_back(1 + (x[0] - 'a') % 4);
        v.tstamp = i;
        votes.push_back(v);
    }
    const auto pair = parseBattleLog(exportVotes(votes, ExportShape::Pairwise, true));
    BtParams bp;
    bp.bootstrap = 0;
    const auto a = bradleyTerry(votesToBattles(votes), bp);
    const auto b = bradleyTerry(votesToBattles(pair.votes), bp);
    QCOMPARE(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        QCOMPARE(a[i].model, b[i].model);
        QVERIFY(std::fabs(a[i].rating - b[i].rating) < 1e-6);
    }
    const auto kt = parseBattleLog(exportVotes(votes, ExportShape::KTuple, true));
    const auto ka = computeLeaderboard(votes, RatingModel::KSort), kb = computeLeaderboard(kt.votes, RatingModel::KSort);
    for (size_t i = 0; i < ka.size(); ++i) QVERIFY(std::fabs(ka[i].mu - kb[i].mu) < 1e-9);
}

void TestImportExport::outputSets() {
    QTemporaryDir dir;
    const std::string root = dir.path().toStdString();
    bool threw = false;
    try {
        loadOutputSet(root);
    } catch (const std::runtime_error& e) {
        threw = QString(e.what()).contains("prompts");
    }
    QVERIFY(threw);
    std::ofstream(root + "/prompts.jsonl") << "{\"id\": \"c0\", \"text\": \"T-shirt\", \"class\": 0, \"seed\": 5}\n"
                                              "{\"id\": \"c1\", \"text\": \"Trouser\", \"class\": 1}\n";
    QDir(dir.path()).mkpath("fp");
    QDir(dir.path()).mkpath("w4a8");
    std::ofstream(root + "/fp/c0.png") << "x";
    std::ofstream(root + "/fp/c1.png") << "x";
    std::ofstream(root + "/w4a8/c0.png") << "x";
    const auto set = loadOutputSet(root);
    QCOMPARE(set.models, (std::vector<std::string>{"fp", "w4a8"}));
    QCOMPARE(set.prompts.size(), size_t(2));
    QCOMPARE(set.prompts[0].classId, 0);
    QCOMPARE(set.prompts[0].seed, std::int64_t(5));
    QVERIFY(set.output("fp", "c1"));
    QVERIFY(!set.output("w4a8", "c1"));
    QCOMPARE(set.commonPrompts({"fp", "w4a8"}), (std::vector<std::string>{"c0"}));
}

QTEST_APPLESS_MAIN(TestImportExport)
#include "test_import_export.moc"
