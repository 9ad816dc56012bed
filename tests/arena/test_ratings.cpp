#include "arena/rating.h"
#include "arena/bradley_terry.h"
#include "arena/leaderboard.h"

#include <QtTest/QtTest>
#include <cmath>

using namespace arena;

static Battle mk(const char* a, const char* b, double s) {
    Battle x;
    x.a = a;
    x.b = b;
    x.score = s;
    return x;
}

class TestRatings : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void gaussHelpers();
    void twoPlayerClosedForm();
    void trueskillTwoPlayerMatchesClosedForm();
    void trueskillDrawAndMultiTeam();
    void kwiseUpdateK4();
    void tieHandling();
    void varianceFloor();
    void bestModeOnlyWinnerPairs();
    void eloUpdate();
    void bradleyTerryTwoPlayers();
    void bradleyTerryThreePlayersStationary();
    void bradleyTerryBootstrapAndRank();
    void eloLeaderboardBootstrap();
    void pairMatrixCounts();
};

void TestRatings::gaussHelpers() {
    QVERIFY(std::fabs(gauss::cdf(0) - 0.5) < 1e-15);
    QVERIFY(std::fabs(gauss::pdf(0) - 0.3989422804014327) < 1e-15);
    QVERIFY(std::fabs(gauss::ppf(0.975) - 1.959963984540054) < 1e-9);
    // V(0) = phi(0)/Phi(0) = 0.7978845608, W(0) = V(V+0) = 0.6366197724
    QVERIFY(std::fabs(gauss::vWin(0, 0) - 0.7978845608028654) < 1e-12);
    QVERIFY(std::fabs(gauss::wWin(0, 0) - 0.6366197723675814) < 1e-12);
    // Guards: far tails stay finite and in range.
    QVERIFY(std::isfinite(gauss::vWin(-60, 0)) && std::fabs(gauss::vWin(-60, 0) - 60) < 1e-6);
    QVERIFY(gauss::wWin(-60, 0) <= 1.0 && gauss::wWin(60, 0) >= 0.0);
    QVERIFY(std::isfinite(gauss::vDraw(60, 0.1)));
    QCOMPARE(gauss::vDraw(0, 0.1), 0.0);
    QVERIFY(gauss::vDraw(1.0, 0.1) < 0 && gauss::vDraw(-1.0, 0.1) > 0);  // a draw pulls toward each other
}

// Paper eqs. 9-10, two fresh players on the default scale, i beats q, gamma = 1, eps = 0.
void TestRatings::twoPlayerClosedForm() {
    const KSortParams p = KSortParams::paper();
    const double s = 25.0 / 3.0, b = 25.0 / 6.0;
    const double c = std::sqrt(2 * b * b + 2 * s * s);  // = 12.8585...
    const double v0 = 0.7978845608028654, w0 = 0.6366197723675814;
    const double muW = 25 + s * s / c * v0;                      // 29.3047...
    const double sigW = std::sqrt(s * s * (1 - s * s / (c * c) * w0));
    const auto post = ksortUpdate({{25, s}, {25, s}}, {{0, 1, 1.0}}, p);
    QVERIFY(std::fabs(post[0].mu - muW) < 1e-12);
    QVERIFY(std::fabs(post[1].mu - (50 - muW)) < 1e-12);
    QVERIFY(std::fabs(post[0].sigma - sigW) < 1e-12);
    QVERIFY(std::fabs(post[1].sigma - sigW) < 1e-12);
    // hand-computed numbers: mu_w = 29.20573, sigma = 7.19448
    QVERIFY(std::fabs(post[0].mu - 29.2057) < 1e-3);
    QVERIFY(std::fabs(post[0].sigma - 7.1944) < 1e-3);
}

void TestRatings::trueskillTwoPlayerMatchesClosedForm() {
    TrueSkillParams tp;
    tp.tau = 0;
    const double eps = tp.drawMargin();
    QVERIFY(std::fabs(eps - 0.7404666) < 1e-5);  // Phi^-1(0.55) * sqrt(2) * 25/6
    const Gaussian a{30, 6}, b{24, 7};
    const auto post = trueskillUpdate({a, b}, {1, 2}, tp);
    const double c = std::sqrt(2 * tp.beta * tp.beta + a.sigma * a.sigma + b.sigma * b.sigma);
    const double t = (a.mu - b.mu) / c, e = eps / c;
    QVERIFY(std::fabs(post[0].mu - (a.mu + a.sigma * a.sigma / c * gauss::vWin(t, e))) < 1e-9);
    QVERIFY(std::fabs(post[1].mu - (b.mu - b.sigma * b.sigma / c * gauss::vWin(t, e))) < 1e-9);
    QVERIFY(std::fabs(post[0].sigma - a.sigma * std::sqrt(1 - a.sigma * a.sigma / (c * c) * gauss::wWin(t, e))) < 1e-9);
    // Fresh players with the trueskill package defaults: the well-known 29.396 / 20.604, sigma 7.171.
    const auto d = trueskillUpdate({{}, {}}, {1, 2}, TrueSkillParams{});
    QVERIFY(std::fabs(d[0].mu - 29.396) < 1e-3);
    QVERIFY(std::fabs(d[1].mu - 20.604) < 1e-3);
    QVERIFY(std::fabs(d[0].sigma - 7.171) < 1e-3);
}

void TestRatings::trueskillDrawAndMultiTeam() {
    const auto d = trueskillUpdate({{}, {}}, {1, 1}, TrueSkillParams{});
    QVERIFY(std::fabs(d[0].mu - 25.0) < 1e-9);  // a draw between equals keeps the means
    QVERIFY(std::fabs(d[0].sigma - 6.458) < 1e-3);  // trueskill package: 6.458
    // Free-for-all of 4 fresh players ranked 1..4: monotone means, symmetric around 25.
    const auto m = trueskillUpdate({{}, {}, {}, {}}, {1, 2, 3, 4}, TrueSkillParams{});
    QVERIFY(m[0].mu > m[1].mu && m[1].mu > m[2].mu && m[2].mu > m[3].mu);
    QVERIFY(std::fabs(m[0].mu + m[3].mu - 50) < 1e-3);
    QVERIFY(std::fabs(m[1].mu + m[2].mu - 50) < 1e-3);
    for (const auto& g : m) QVERIFY(g.sigma > 0 && g.sigma < 25.0 / 3.0 + 0.01);
    // Input order must not matter (ranks define the chain).
    const auto r = trueskillUpdate({{}, {}, {}, {}}, {4, 2, 3, 1}, TrueSkillParams{});
    QVERIFY(std::fabs(r[0].mu - m[3].mu) < 1e-9 && std::fabs(r[3].mu - m[0].mu) < 1e-9);
}

// K = 4 rank vote over fresh players, paper mode: each pair term is V(0)/c, W(0)/c^2 from pre-vote.
void TestRatings::kwiseUpdateK4() {
    const KSortParams p = KSortParams::paper();
    const double s = 25.0 / 3.0, b = 25.0 / 6.0, c = std::sqrt(2 * b * b + 2 * s * s);
    const double v0 = 0.7978845608028654, w0 = 0.6366197723675814;
    std::vector<PairResult> pairs;
    for (int i = 0; i < 4; ++i)
        for (int j = i + 1; j < 4; ++j) pairs.push_back({i, j, 1.0});  // slot order = rank order
    const auto post = ksortUpdate(std::vector<Gaussian>(4, Gaussian{25, s}), pairs, p);
    const double step = s * s / c * v0;  // one pair's mean change
    const double dv = s * s / (c * c) * w0;  // one pair's variance fraction (0.2546)
    QVERIFY(std::fabs(dv - 0.2546) < 1e-3);
    const double wins[4] = {3, 1, -1, -3};  // wins minus losses
    for (int i = 0; i < 4; ++i) {
        QVERIFY(std::fabs(post[i].mu - (25 + wins[i] * step)) < 1e-12);
        QVERIFY(std::fabs(post[i].sigma - s * std::sqrt(1 - 3 * dv)) < 1e-12);  // every player is in 3 pairs
    }
    // Simultaneous update: slot order does not matter.
    const auto rev = ksortUpdate(std::vector<Gaussian>(4, Gaussian{25, s}),
                                 {{3, 2, 0.0}, {3, 1, 0.0}, {3, 0, 0.0}, {2, 1, 0.0}, {2, 0, 0.0}, {1, 0, 0.0}}, p);
    for (int i = 0; i < 4; ++i) QVERIFY(std::fabs(rev[i].mu - post[i].mu) < 1e-12);
}

void TestRatings::tieHandling() {
    const KSortParams p;  // eps = 0.1 for ties
    const double s = 25.0 / 3.0;
    const auto eq = ksortUpdate({{25, s}, {25, s}}, {{0, 1, 0.5}}, p);
    QVERIFY(std::fabs(eq[0].mu - 25) < 1e-12);  // equal players: a tie moves nothing ...
    QVERIFY(eq[0].sigma < s);                    // ... but shrinks sigma
    const auto un = ksortUpdate({{30, s}, {20, s}}, {{0, 1, 0.5}}, p);
    QVERIFY(un[0].mu < 30 && un[1].mu > 20);  // a tie pulls the two together
    QVERIFY(std::fabs((30 - un[0].mu) - (un[1].mu - 20)) < 1e-9);
    // Hand check of the draw branch: t = 0, e = eps/c: v~ = 0, w~ = 2 e phi(e) / (2 Phi(e) - 1).
    const double c = std::sqrt(2 * p.beta * p.beta + 2 * s * s), e = 0.1 / c;
    const double wt = 2 * e * gauss::pdf(e) / (2 * gauss::cdf(e) - 1);
    const double gamma = s / c;
    QVERIFY(std::fabs(eq[0].sigma - s * std::sqrt(1 - gamma * s * s / (c * c) * wt)) < 1e-9);
}

void TestRatings::varianceFloor() {
    // K = 6 winner over fresh players, paper mode: 5 x 0.2546 = 1.27 > 1 would make sigma^2 negative.
    const KSortParams p = KSortParams::paper();
    std::vector<PairResult> pairs;
    for (int j = 1; j < 6; ++j) pairs.push_back({0, j, 1.0});
    for (int i = 1; i < 6; ++i)
        for (int j = i + 1; j < 6; ++j) pairs.push_back({i, j, 1.0});
    const auto post = ksortUpdate(std::vector<Gaussian>(6), pairs, p);
    for (const auto& g : post) QVERIFY(std::isfinite(g.sigma) && g.sigma > 0);
    QVERIFY(std::fabs(post[0].sigma - 25.0 / 3.0 * std::sqrt(p.kappa)) < 1e-12);  // clamped at kappa
    // Default (damped) mode stays well above the floor.
    const auto damped = ksortUpdate(std::vector<Gaussian>(6), pairs, KSortParams{});
    QVERIFY(damped[0].sigma > 2.0);
}

void TestRatings::bestModeOnlyWinnerPairs() {
    Vote v;
    v.models = {"a", "b", "c", "d"};
    v.mode = VoteMode::Best;
    v.ranks = bestRanks(4, 2);
    QVERIFY(validateVote(v).empty());
    const auto pairs = expandPairs(v);
    QCOMPARE(pairs.size(), size_t(3));
    for (const auto& pr : pairs)
        QVERIFY((pr.a == 2 && pr.score == 1.0) || (pr.b == 2 && pr.score == 0.0));
    v.mode = VoteMode::Rank;
    v.ranks = {2, 1, 2, 3};
    QCOMPARE(expandPairs(v).size(), size_t(6));
    int ties = 0;
    for (const auto& pr : expandPairs(v)) ties += pr.score == 0.5;
    QCOMPARE(ties, 1);
    v.mode = VoteMode::AllBad;
    v.ranks = {1, 1, 1, 1};
    for (const auto& pr : expandPairs(v)) QVERIFY(pr.bothBad && pr.score == 0.5);
    v.ranks = {1, 2, 1, 1};
    QVERIFY(!validateVote(v).empty());
}

void TestRatings::eloUpdate() {
    double a = 1000, b = 1000;
    arena::eloUpdate(a, b, 1.0);
    QCOMPARE(a, 1002.0);
    QCOMPARE(b, 998.0);
    double c = 1200, d = 1000;  // expected 1/(1+10^-0.5) = 0.759746927
    arena::eloUpdate(c, d, 0.5);
    QVERIFY(std::fabs(c - (1200 + 4 * (0.5 - 0.7597469266479578))) < 1e-12);
}

void TestRatings::bradleyTerryTwoPlayers() {
    // A beats B 3 times, B beats A once: MLE difference = 400 log10(3) = 190.85.
    std::vector<Battle> bs = {mk("A", "B", 1), mk("A", "B", 1), mk("B", "A", 0), mk("A", "B", 0)};
    BtParams p;
    p.bootstrap = 0;
    const auto rows = bradleyTerry(bs, p);
    QCOMPARE(rows[0].model, std::string("A"));
    QVERIFY(std::fabs(rows[0].rating - rows[1].rating - 400 * std::log10(3.0)) < 0.01);
    QVERIFY(std::fabs(rows[0].rating + rows[1].rating - 2000) < 1e-6);  // mean-centred at 1000
    // Ties count as half a win: A-B 1 win + 2 ties -> 2 : 1 -> 400 log10 2.
    const auto t = bradleyTerry({mk("A", "B", 1), mk("A", "B", 0.5), mk("A", "B", 0.5)}, p);
    QVERIFY(std::fabs(t[0].rating - t[1].rating - 400 * std::log10(2.0)) < 0.01);
    p.anchor = "B";
    p.anchorValue = 1114;
    const auto an = bradleyTerry(bs, p);
    QVERIFY(std::fabs(an[1].rating - 1114) < 1e-9);
}

void TestRatings::bradleyTerryThreePlayersStationary() {
    // A>B 2:1, B>C 2:1, A>C 4:1. At the MLE the expected wins equal the observed wins per model.
    std::vector<BtObs> obs = {{0, 1, 1, 2}, {0, 1, 0, 1}, {1, 2, 1, 2}, {1, 2, 0, 1}, {0, 2, 1, 4}, {0, 2, 0, 1}};
    const auto r = btFit(3, obs);
    auto P = [&](int i, int j) { return 1 / (1 + std::pow(10.0, r[j] - r[i])); };
    const double expA = 3 * P(0, 1) + 5 * P(0, 2), expB = 3 * P(1, 0) + 3 * P(1, 2);
    QVERIFY(std::fabs(expA - 6.0) < 1e-6);  // A won 2 + 4
    QVERIFY(std::fabs(expB - 3.0) < 1e-6);  // B won 1 + 2
    QVERIFY(r[0] > r[1] && r[1] > r[2]);
}

void TestRatings::bradleyTerryBootstrapAndRank() {
    std::vector<Battle> bs;
    for (int i = 0; i < 60; ++i) bs.push_back(mk("strong", "weak", i % 10 == 0 ? 0.0 : 1.0));
    for (int i = 0; i < 60; ++i) bs.push_back(mk("mid", "weak", i % 4 == 0 ? 0.0 : 1.0));
    for (int i = 0; i < 10; ++i) bs.push_back(mk("strong", "mid", i % 2 == 0 ? 0.0 : 1.0));
    BtParams p;
    p.bootstrap = 100;
    const auto rows = bradleyTerry(bs, p);
    QCOMPARE(rows.size(), size_t(3));
    for (const auto& r : rows) QVERIFY(r.lo <= r.rating + 1e-9 && r.rating <= r.hi + 1e-9);
    QCOMPARE(rows.back().model, std::string("weak"));
    QCOMPARE(rows.back().rankUB, 3);  // clearly below both
    QCOMPARE(rows[0].rankUB, 1);
    QCOMPARE(rows[1].rankUB, 1);  // strong vs mid overlap: rank with intervals ties them
    const auto again = bradleyTerry(bs, p);  // seeded: reproducible
    QCOMPARE(again[0].lo, rows[0].lo);
}

void TestRatings::eloLeaderboardBootstrap() {
    std::vector<Vote> votes;
    for (int i = 0; i < 50; ++i) {
        Vote v;
        v.models = {"a", "b"};
        v.mode = VoteMode::Best;
        v.ranks = bestRanks(2, i % 5 == 0 ? 1 : 0);
        v.tstamp = i;
        votes.push_back(v);
    }
    LeaderboardOptions lo;
    lo.bt.bootstrap = 0;
    const auto single = computeLeaderboard(votes, RatingModel::Elo, lo);
    QCOMPARE(single[0].model, std::string("a"));
    QCOMPARE(single[0].lo, single[0].hi);
    double ra = 1000, rb = 1000;
    for (const auto& v : votes) arena::eloUpdate(ra, rb, v.ranks[0] == 1 ? 1.0 : 0.0);
    QVERIFY(std::fabs(single[0].score - ra) < 1e-9);
    lo.bt.bootstrap = 50;
    const auto boot = computeLeaderboard(votes, RatingModel::Elo, lo);
    QVERIFY(boot[0].lo < boot[0].score && boot[0].score < boot[0].hi);
    QVERIFY(boot[0].score > 1000 && boot[1].score < 1000);
}

void TestRatings::pairMatrixCounts() {
    Vote v;
    v.models = {"b", "a", "c"};
    v.ranks = {1, 2, 2};
    Vote w = v;
    w.mode = VoteMode::Best;
    w.ranks = bestRanks(3, 1);
    const auto pm = pairMatrix({v, w});
    QCOMPARE(pm.models, (std::vector<std::string>{"a", "b", "c"}));
    QCOMPARE(pm.battles[0][1], 2);
    QCOMPARE(pm.battles[1][2], 1);  // the best vote only counts winner pairs
    QCOMPARE(pm.battles[0][2], 2);
    QCOMPARE(pm.winRate[1][0], 0.5);
    QCOMPARE(pm.winRate[0][2], 0.75);  // a tied c once and beat it once
    QVERIFY(std::isnan(pm.winRate[0][0]));
}

QTEST_APPLESS_MAIN(TestRatings)
#include "test_ratings.moc"
