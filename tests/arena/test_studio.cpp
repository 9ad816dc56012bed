// The arena's engine-backed helpers on real data: PNG/PGM I/O; the Fashion-MNIST classifier judge ranking
// real test images of the prompt's class above noise-corrupted copies and images of a wrong class; K-Sort Eval
// with that judge placing such "models" where simulated human votes put them; an output set generated from two
// lm-fortunes settings that a session can be created and voted from; the new CLI verbs end to end.
#include "arena/kseval.h"
#include "arena/leaderboard.h"
#include "arena/outputset.h"
#include "arena/session.h"
#include "arena/store.h"
#include "core/ArenaGenerate.h"
#include "core/ArenaImages.h"
#include "core/ArenaJudges.h"
#include "engine/data.h"

#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

namespace as = cs::arenastudio;

namespace {
// The quality order the reference set is built with (1 = best), as a simulated human would vote.
const std::map<std::string, int> kTrueRank = {{"real", 1},      {"noise-0.2", 2}, {"noise-0.4", 3}, {"noise-0.6", 4},
                                              {"noise-0.8", 5}, {"noise-1", 6},   {"wrong-class", 7}};
}  // namespace

class TestArenaStudio : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void imagesRoundTrip();
  void classifierRanksRealImages();
  void ksortEvalWithClassifierJudge();
  void generateFromTwoLmSettings();
  void cliVerbs();

 private:
  struct Run {
    int code;
    QByteArray out, err;
  };
  Run cli(const QStringList& args) {
    QProcess p;
    p.start(CS_ARENA_CLI, QStringList{"arena"} + args);
    p.waitForFinished(90000);
    return {p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
  }
  QTemporaryDir dir;
  std::string refSet;
  std::shared_ptr<as::ClassifierScorer> scorer;
};

void TestArenaStudio::initTestCase() {
  QVERIFY(dir.isValid());
  if (!QFileInfo::exists(QString::fromStdString(cs::fashionMnistDirectory())))
    QSKIP("Fashion-MNIST (Debian dataset-fashion-mnist) is not installed: the classifier judge cannot be tested");
  refSet = dir.filePath("ref").toStdString();
  const auto models = as::writeFmnistReferenceSet(refSet, 40, {0.2, 0.4, 0.6, 0.8, 1.0}, 0);
  QCOMPARE(models, (std::vector<std::string>{"real", "noise-0.2", "noise-0.4", "noise-0.6", "noise-0.8", "noise-1",
                                             "wrong-class"}));
  scorer = std::make_shared<as::ClassifierScorer>("vit-fmnist");
}

void TestArenaStudio::imagesRoundTrip() {
  as::GrayImage img{5, 3, {}};
  for (int i = 0; i < 15; ++i) img.pixels.push_back(i / 14.0f);
  const std::string png = dir.filePath("x.png").toStdString();
  as::writeGrayPng(png, img);
  const auto back = as::readGrayImage(png);
  QCOMPARE(back.width, 5);
  QCOMPARE(back.height, 3);
  for (int i = 0; i < 15; ++i) QVERIFY(std::abs(back.pixels[i] - img.pixels[i]) <= 0.5f / 255 + 1e-6f);
  const std::string pgm = dir.filePath("x.pgm").toStdString();
  std::ofstream(pgm, std::ios::binary) << "P5\n# c\n2 2\n255\n" << std::string("\x00\x40\x80\xff", 4);
  const auto g = as::readGrayImage(pgm);
  QCOMPARE(g.width, 2);
  QCOMPARE(g.pixels[3], 1.0f);
  const std::string junk = dir.filePath("junk.png").toStdString();
  std::ofstream(junk) << "not an image";
  try {
    as::readGrayImage(junk);
    QFAIL("a text file was read as an image");
  } catch (const std::runtime_error& e) {
    QVERIFY2(std::string(e.what()).find("junk.png") != std::string::npos, e.what());
  }
  const auto up = as::resizeBilinear(img, 28, 28);
  QCOMPARE(up.pixels.size(), size_t(28 * 28));
}

void TestArenaStudio::classifierRanksRealImages() {
  const auto rep = as::scoreOutputSet(*scorer, refSet);
  QCOMPARE(rep.rows.size(), size_t(7));
  std::map<std::string, double> mean;
  for (const auto& r : rep.rows) {
    mean[r.model] = r.meanScore;
    qInfo("%-12s mean P(class) %.3f  top-1 %.3f", r.model.c_str(), r.meanScore, r.top1);
  }
  QCOMPARE(rep.rows.front().model, std::string("real"));
  QVERIFY(mean["real"] > 0.5);
  QVERIFY(rep.rows.front().top1 >= 0.75);  // vit-fmnist is 89% accurate on the test set
  QVERIFY(mean["real"] > mean["noise-0.2"]);
  QVERIFY(mean["noise-0.2"] > mean["noise-0.4"]);
  QVERIFY(mean["noise-0.4"] > mean["noise-0.6"]);
  QVERIFY(mean["noise-0.6"] > mean["wrong-class"]);
  QVERIFY(mean["noise-1"] > mean["wrong-class"]);
  QVERIFY(mean["wrong-class"] < 0.05);
  // The judge itself: K = 5 outputs per prompt, shown shuffled; it ranks by P(class).
  const auto set = arena::loadOutputSet(refSet);
  auto judge = as::makeClassifierJudge(scorer);
  std::mt19937 rng(3);
  int realAboveWrong = 0, realAboveNoisy = 0;
  double rho = 0;
  for (const auto& p : set.prompts) {
    std::vector<std::string> order = set.models;
    std::shuffle(order.begin(), order.end(), rng);
    arena::JudgeRequest req;
    req.prompt = p;
    for (const auto& m : order) req.outputs.push_back({*set.output(m, p.key), {}, 0.0});
    const auto best = arena::rankWithRetry(*judge, req);
    std::map<std::string, int> pos;
    for (size_t r = 0; r < best.size(); ++r) pos[order[best[r]]] = int(r);
    realAboveWrong += pos["real"] < pos["wrong-class"];
    realAboveNoisy += pos["real"] < pos["noise-1"];
    std::vector<double> a, b;
    for (const auto& [m, r] : pos) {
      a.push_back(r);
      b.push_back(kTrueRank.at(m));
    }
    rho += arena::spearman(a, b);
  }
  const int n = int(set.prompts.size());
  rho /= n;
  qInfo("real above wrong-class %d/%d, above noise-1 %d/%d, mean Spearman with the true order %.3f", realAboveWrong,
        n, realAboveNoisy, n, rho);
  QVERIFY(realAboveWrong >= 0.9 * n);
  QVERIFY(realAboveNoisy >= 0.8 * n);
  QVERIFY(rho > 0.6);
  // A prompt without a class is refused with a message naming it.
  arena::JudgeRequest bad;
  bad.prompt.key = "story-1";
  bad.outputs = {{*set.output("real", set.prompts[0].key), {}, 0.0}, {*set.output("real", set.prompts[1].key), {}, 0.0}};
  try {
    judge->rank(bad);
    QFAIL("a prompt without a class was judged");
  } catch (const std::runtime_error& e) {
    QVERIFY2(std::string(e.what()).find("story-1") != std::string::npos, e.what());
  }
}

void TestArenaStudio::ksortEvalWithClassifierJudge() {
  // A human arena over the reference set: K = 4 rank votes that follow the true quality order.
  const std::string ws = dir.filePath("eval.db").toStdString();
  arena::Store store(ws);
  const auto set = arena::loadOutputSet(refSet);
  for (const auto& p : set.prompts) store.upsertPrompt(p);
  arena::Session s;
  s.name = "reference";
  s.k = 4;
  s.models = set.models;
  s.prompts = set.commonPrompts(set.models);
  s.outputRoot = refSet;
  s.id = store.createSession(s);
  arena::PlanOptions plan;  // random matches: every model is left out of many votes (instances exclude the target)
  plan.matchmaking.pivot = arena::PivotRule::Random;
  plan.matchmaking.opponents = arena::OpponentRule::Random;
  for (int i = 0; i < 120; ++i) {
    plan.seed = 100 + i;
    const auto m = arena::planMatch(store, s.id, "sim-human", plan, &set);
    std::vector<int> ranks;
    for (const auto& c : m.candidates) ranks.push_back(kTrueRank.at(c));
    std::vector<int> sorted = ranks;
    std::sort(sorted.begin(), sorted.end());
    for (auto& r : ranks) r = int(std::find(sorted.begin(), sorted.end(), r) - sorted.begin()) + 1;
    store.castVote(m.id, ranks, arena::VoteMode::Rank, "sim-human");
  }
  const auto votes = arena::replayOrder(store.votes(s.id));
  const auto board = arena::trueskillRatings(votes);
  for (const std::string target : {"noise-0.2", "noise-0.4", "noise-0.6"}) {
    auto inst = arena::curateInstances(votes, board, 0.75, target, [&](const arena::Vote& v) {
      std::vector<arena::JudgeOutput> out(v.models.size());
      for (size_t i = 0; i < out.size(); ++i) out[i].path = *set.output(v.models[i], v.prompt);
      return out;
    });
    for (auto& in : inst.instances)
      for (const auto& p : set.prompts)
        if (p.key == in.prompt) in.promptInfo = p;
    QVERIFY(inst.instances.size() >= 10);
    auto judge = as::makeClassifierJudge(scorer);
    arena::EvalParams p;
    p.heldOut = target;
    const auto res = arena::evaluateNewModel(inst, board, *judge, [&](const arena::EvalInstance& in) {
      return arena::JudgeOutput{*set.output(target, in.prompt), {}, 0.0};
    }, p);
    const int arenaRank = arena::rankAgainst(arena::conservative(board.at(target)), board, target);
    qInfo("%s: K-Sort Eval rank %d (score %.2f) after %d runs; arena rank %d (score %.2f); %zu instances", target.c_str(),
          res.rank, res.score, res.runs, arenaRank, arena::conservative(board.at(target)), inst.instances.size());
    QVERIFY2(std::abs(res.rank - arenaRank) <= 1, target.c_str());
    QVERIFY(res.runs > 0 && res.runs <= 150);
  }
}

void TestArenaStudio::generateFromTwoLmSettings() {
  const std::string out = dir.filePath("lm").toStdString();
  as::GenerateSetOptions g;
  g.outDir = out;
  g.variants = {as::parseVariantSpec("lm-fortunes@t=0.7,steps=24"), as::parseVariantSpec("lm-fortunes@t=1.5,steps=24")};
  const std::string promptsFile = dir.filePath("prompts.txt").toStdString();
  std::ofstream(promptsFile) << "A fool\nThe computer\n\nNever trust\n";
  g.prompts = as::readPromptsFile(promptsFile);
  QCOMPARE(g.prompts.size(), size_t(3));
  int progressCalls = 0;
  cs::JobContext job([&](double, const std::string&) { ++progressCalls; });
  const auto rep = as::generateOutputSet(g, job);
  QCOMPARE(rep.written, 6);
  QVERIFY(progressCalls >= 6);
  const auto set = arena::loadOutputSet(out);
  QCOMPARE(set.models, (std::vector<std::string>{"lm-fortunes@t=0.7,steps=24", "lm-fortunes@t=1.5,steps=24"}));
  QCOMPARE(set.commonPrompts(set.models).size(), size_t(3));
  int differ = 0;
  for (const auto& p : set.prompts) {
    std::ifstream a(*set.output(set.models[0], p.key)), b(*set.output(set.models[1], p.key));
    const std::string ta((std::istreambuf_iterator<char>(a)), {}), tb((std::istreambuf_iterator<char>(b)), {});
    QVERIFY(!ta.empty() && !tb.empty());
    differ += ta != tb;
  }
  QVERIFY(differ >= 1);
  // Resumable: a second run keeps what exists.
  QCOMPARE(as::generateOutputSet(g).kept, 6);
  // Cancelled before the first output: throws Cancelled.
  g.overwrite = true;
  cs::JobContext cancelled;
  cancelled.cancel();
  QVERIFY_THROWS_EXCEPTION(as::Cancelled, as::generateOutputSet(g, cancelled));
  // A session over the set, one vote.
  arena::Store store(dir.filePath("lm.db").toStdString());
  for (const auto& p : set.prompts) store.upsertPrompt(p);
  arena::Session s;
  s.k = 2;
  s.models = set.models;
  s.prompts = set.commonPrompts(set.models);
  s.outputRoot = out;
  s.id = store.createSession(s);
  const auto m = arena::planMatch(store, s.id, "me", {}, &set);
  QVERIFY(set.output(m.candidates[0], m.prompt).has_value());
  const auto v = store.castVote(m.id, {1, 2}, arena::VoteMode::Rank, "me");
  QVERIFY(v.counted);
  QCOMPARE(arena::computeLeaderboard(store.votes(s.id), arena::RatingModel::KSort).size(), size_t(2));
  // Bad specs name themselves.
  try {
    as::parseVariantSpec("lm-fortunes@bogus=1");
    QFAIL("a bad key was accepted");
  } catch (const std::invalid_argument& e) {
    QVERIFY2(std::string(e.what()).find("lm-fortunes@bogus=1") != std::string::npos, e.what());
  }
}

void TestArenaStudio::cliVerbs() {
  const QString ref = dir.filePath("cli-ref"), ws = dir.filePath("cli.db"), lm = dir.filePath("cli-lm");
  auto r = cli({"reference-set", "--out", ref, "--prompts", "20"});
  QVERIFY2(r.code == 0, r.err.constData());
  r = cli({"score", "--output-set", ref, "--json", "--scores-out", dir.filePath("scores.json")});
  QVERIFY2(r.code == 0, r.err.constData());
  const auto rows = QJsonDocument::fromJson(r.out).object()["rows"].toArray();
  QCOMPARE(rows.size(), 5);
  QCOMPARE(rows[0].toObject()["model"].toString(), QString("real"));
  QVERIFY(QFileInfo::exists(dir.filePath("scores.json")));
  r = cli({"generate", "-m", "lm-fortunes@t=0.7,steps=16", "-m", "lm-fortunes@t=1.5,steps=16,label=hot", "--prompts",
           dir.filePath("prompts.txt"), "--out", lm, "-w", ws, "--k", "2", "--json"});
  QVERIFY2(r.code == 0, r.err.constData());
  const auto j = QJsonDocument::fromJson(r.out).object();
  QCOMPARE(j["written"].toInt(), 6);
  QCOMPARE(j["session"].toObject()["models"].toArray().size(), 2);
  QVERIFY(QFileInfo::exists(lm + "/hot/p1.txt"));
  r = cli({"generate", "-m", "lm-fortunes@bogus=1", "--prompts", dir.filePath("prompts.txt"), "--out", lm});
  QCOMPARE(r.code, 1);
  QVERIFY2(r.err.startsWith("cstudio: error:") && r.err.contains("lm-fortunes@bogus=1") && r.err.count('\n') == 1,
           r.err.constData());
}

QTEST_MAIN(TestArenaStudio)
#include "test_studio.moc"
