#include "arena/kseval.h"
#include "arena/kseval_study.h"

#include <QtTest/QtTest>
#include <cmath>

using namespace arena;

class TestKSortEval : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void spearmanCases();
    void retryOnMalformedAnswers();
    void scoreJudgeOrder();
    void curation();
    void correctionForms();
    void stopsAndKeepsArenaFixed();
    void studyGoodJudgeMatchesArena();
};

void TestKSortEval::spearmanCases() {
    QVERIFY(std::fabs(spearman({1, 2, 3, 4}, {10, 20, 30, 40}) - 1) < 1e-12);
    QVERIFY(std::fabs(spearman({1, 2, 3, 4}, {4, 3, 2, 1}) + 1) < 1e-12);
    QVERIFY(std::fabs(spearman({1, 2, 2, 3}, {1, 2, 3, 4}) - 4.5 / std::sqrt(22.5)) < 1e-12);  // average ranks
    QVERIFY(std::fabs(spearman({1, 2, 3, 4}, {2, 4, 1, 3})) < 1e-12);
    QVERIFY(std::isnan(spearman({1, 1, 1, 1}, {1, 2, 3, 4})));  // constant side
}

namespace {
class FlakyJudge : public Judge {
public:
    int calls = 0, badAnswers = 1;
    std::string name() const override { return "flaky"; }
    JudgeAnswer rank(const JudgeRequest& r) override {
        ++calls;
        JudgeAnswer a;
        if (calls <= badAnswers) {
            a.order = {0, 0, 1};
            a.raw = "Image 1, Image 1, Image 2";
        } else {
            for (int i = static_cast<int>(r.outputs.size()) - 1; i >= 0; --i) a.order.push_back(i);
            a.raw = "ok";
        }
        return a;
    }
};
}  // namespace

void TestKSortEval::retryOnMalformedAnswers() {
    QVERIFY(isPermutation({2, 0, 1}, 3));
    QVERIFY(!isPermutation({2, 0, 0}, 3));
    QVERIFY(!isPermutation({0, 1}, 3));
    FlakyJudge j;
    JudgeRequest req;
    req.outputs.resize(5);
    std::vector<std::string> log;
    const auto order = rankWithRetry(j, req, 3, &log);
    QCOMPARE(order, (std::vector<int>{4, 3, 2, 1, 0}));
    QCOMPARE(log.size(), size_t(2));
    FlakyJudge never;
    never.badAnswers = 100;
    bool threw = false;
    try {
        rankWithRetry(never, req, 3);
    } catch (const std::runtime_error&) {
        threw = true;
    }
    QVERIFY(threw);
    QCOMPARE(never.calls, 3);
}

void TestKSortEval::scoreJudgeOrder() {
    ScoreJudge j("fmnist", [](const JudgeOutput& o, const PromptInfo&) { return o.latent; });
    JudgeRequest req;
    for (double x : {0.2, 0.9, 0.5}) {
        JudgeOutput o;
        o.latent = x;
        req.outputs.push_back(o);
    }
    QCOMPARE(j.rank(req).order, (std::vector<int>{1, 2, 0}));
}

static std::map<std::string, Gaussian> smallArena() {
    return {{"a", {32, 1}}, {"b", {28, 1}}, {"c", {24, 1}}, {"d", {20, 1}}, {"e", {16, 1}}};
}

static Vote vote4(std::vector<std::string> m, std::vector<int> r, std::int64_t id) {
    Vote v;
    v.id = id;
    v.models = std::move(m);
    v.ranks = std::move(r);
    return v;
}

void TestKSortEval::curation() {
    const auto arena = smallArena();
    std::vector<Vote> votes = {vote4({"a", "b", "c", "d"}, {1, 2, 3, 4}, 1),  // agrees
                               vote4({"a", "b", "c", "d"}, {4, 3, 2, 1}, 2),  // reversed
                               vote4({"b", "c", "d", "e"}, {1, 3, 2, 4}, 3),  // rho = 0.8
                               vote4({"a", "c", "d", "e"}, {1, 2, 3, 4}, 4)};
    votes.push_back(vote4({"a", "b", "c", "d"}, {1, 2, 3, 4}, 5));
    votes.back().mode = VoteMode::Best;
    votes.back().ranks = bestRanks(4, 0);
    const auto set = curateInstances(votes, arena, 0.75);
    QCOMPARE(set.considered, 4);  // best-mode votes are not instances
    QCOMPARE(set.kept, 3);
    QCOMPARE(set.instances[0].capMean, 26.0);
    QVERIFY(set.instances[0].overlap > 0);
    const auto noB = curateInstances(votes, arena, 0.75, "b");
    QCOMPARE(noB.kept, 1);  // only the vote without b survives
}

void TestKSortEval::correctionForms() {
    const auto arena = smallArena();
    std::vector<Vote> votes;
    for (int i = 0; i < 20; ++i) votes.push_back(vote4({"a", "b", "c", "d"}, {1, 2, 3, 4}, i + 1));
    for (int i = 0; i < 20; ++i) votes.push_back(vote4({"b", "c", "d", "e"}, {1, 2, 3, 4}, 100 + i));
    const auto set = curateInstances(votes, arena, 0.75, {}, [](const Vote& v) {
        std::vector<JudgeOutput> o(v.models.size());
        for (size_t i = 0; i < o.size(); ++i) o[i].latent = -v.ranks[i];
        return o;
    });
    for (Correction c : {Correction::Code, Correction::Paper, Correction::MomentMatched, Correction::None}) {
        SimulatedJudge judge(1.5, 0.0, 4);
        EvalParams p;
        p.correction = c;
        p.maxRuns = 6;
        p.stopSigma = 0.0;
        const auto res = evaluateNewModel(set, arena, judge, [](const EvalInstance&) {
            JudgeOutput o;
            o.latent = -2.5;
            return o;
        }, p);
        QCOMPARE(res.runs, 6);
        for (const auto& st : res.steps) {
            const double lam = std::isnan(st.rho) ? 0.5 : 1 / (1 + std::exp(-5 * st.rho));
            const double v = st.before.sigma * st.before.sigma, vh = st.uncorrected.sigma * st.uncorrected.sigma;
            double mu = lam * st.uncorrected.mu + (1 - lam) * st.before.mu, var = 0;
            if (c == Correction::Code) {
                const double l2 = lam * lam / (lam * lam + (1 - lam) * (1 - lam));
                var = l2 * vh + (1 - l2) * v;
            } else if (c == Correction::Paper) {
                var = lam * lam * vh + (1 - lam) * (1 - lam) * v;
            } else if (c == Correction::MomentMatched) {
                var = lam * vh + (1 - lam) * v + lam * (1 - lam) * std::pow(st.uncorrected.mu - st.before.mu, 2);
            } else {
                mu = st.uncorrected.mu;
                var = vh;
            }
            QVERIFY(std::fabs(st.after.mu - mu) < 1e-9);
            QVERIFY(std::fabs(st.after.sigma * st.after.sigma - var) < 1e-9);
        }
    }
}

void TestKSortEval::stopsAndKeepsArenaFixed() {
    const auto arena = smallArena();
    std::vector<Vote> votes;
    for (int i = 0; i < 300; ++i)
        votes.push_back(vote4(i % 2 ? std::vector<std::string>{"a", "b", "c", "d"} : std::vector<std::string>{"b", "c", "d", "e"},
                              {1, 2, 3, 4}, i + 1));
    const auto set = curateInstances(votes, arena, 0.75, {}, [](const Vote& v) {
        std::vector<JudgeOutput> o(v.models.size());
        for (size_t i = 0; i < o.size(); ++i) o[i].latent = 40.0 - 4.0 * v.ranks[i];
        return o;
    });
    SimulatedJudge judge(0.0, 0.0, 1);
    const auto copy = arena;
    const auto res = evaluateNewModel(set, arena, judge, [](const EvalInstance&) {
        JudgeOutput o;
        o.latent = 30.0;  // between the 2nd and 3rd outputs of every instance
        return o;
    }, EvalParams{});
    QVERIFY(res.converged);
    QVERIFY(res.rating.sigma < 0.75);
    QVERIFY(res.runs < 150);
    QCOMPARE(res.stdMean, 1.0);
    QCOMPARE(res.score, res.rating.mu - 3.0);
    QCOMPARE(arena.at("a").mu, copy.at("a").mu);
    EvalParams capped;
    capped.maxRuns = 3;
    SimulatedJudge j2(0.0, 0.0, 1);
    const auto r2 = evaluateNewModel(set, arena, j2, [](const EvalInstance&) { return JudgeOutput{}; }, capped);
    QVERIFY(!r2.converged);
    QCOMPARE(r2.runs, 3);
}

void TestKSortEval::studyGoodJudgeMatchesArena() {
    StudyConfig cfg;
    cfg.models = 16;
    cfg.votes = 1200;
    cfg.targets = 4;
    cfg.seeds = 2;
    cfg.judgeNoise = {0.0, 1e6};
    auto arms = defaultStudyArms();
    const auto rep = runKSortEvalStudy({arms[0], arms[2]}, cfg);
    QVERIFY(rep.instancesKept > 100 && rep.instancesKept < rep.instancesConsidered);
    QCOMPARE(rep.cells.size(), size_t(4));
    const StudyCell& good = rep.cells[0];
    QVERIFY(good.meanAbsRankDiff <= 1.5);
    QVERIFY(good.medianRuns < 150);
    // Chance-level judge: the paper-form variance collapses sigma and stops much earlier than the code form.
    const StudyCell& codeChance = rep.cells[2];
    const StudyCell& paperChance = rep.cells[3];
    QVERIFY(paperChance.medianRuns < 0.5 * codeChance.medianRuns);
    const auto again = runKSortEvalStudy({arms[0], arms[2]}, cfg);  // deterministic across threads
    for (size_t i = 0; i < rep.cells.size(); ++i) {
        QCOMPARE(again.cells[i].meanAbsScoreDiff, rep.cells[i].meanAbsScoreDiff);
        QCOMPARE(again.cells[i].medianRuns, rep.cells[i].medianRuns);
    }
    const std::string md = studyMarkdown(rep, cfg, "cstudio arena eval --test");
    QVERIFY(md.find("cstudio arena eval --test") != std::string::npos);
}

QTEST_APPLESS_MAIN(TestKSortEval)
#include "test_kseval.moc"
