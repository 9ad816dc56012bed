#include "arena/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>

namespace arena {

const char* toString(NoiseModel m) {
    switch (m) {
    case NoiseModel::None: return "none";
    case NoiseModel::Flip: return "flip";
    case NoiseModel::Swap: return "swap";
    }
    return "none";
}

bool parseNoiseModel(const std::string& s, NoiseModel* out) {
    if (s == "none") *out = NoiseModel::None;
    else if (s == "flip") *out = NoiseModel::Flip;
    else if (s == "swap") *out = NoiseModel::Swap;
    else return false;
    return true;
}

std::vector<SimArm> defaultArms(long ksortHorizon, long eloHorizon) {
    std::vector<SimArm> arms;
    MatchmakingParams ucb, rnd;
    rnd.pivot = PivotRule::Random;
    rnd.opponents = OpponentRule::Random;
    const KSortParams paper = KSortParams::paper();
    arms.push_back({"Elo, K=2, random pairs", SimRater::Elo, 2, rnd, {}, eloHorizon});
    arms.push_back({"K-Sort, K=2, UCB", SimRater::KSort, 2, ucb, paper, ksortHorizon});
    arms.push_back({"K-Sort, K=4, random", SimRater::KSort, 4, rnd, paper, ksortHorizon});
    arms.push_back({"K-Sort, K=4, UCB", SimRater::KSort, 4, ucb, paper, ksortHorizon});
    arms.push_back({"K-Sort, K=6, UCB", SimRater::KSort, 6, ucb, paper, ksortHorizon});
    arms.push_back({"K-Sort damped, K=4, UCB", SimRater::KSort, 4, ucb, KSortParams{},
                    ksortHorizon});
    arms.push_back({"K-Sort damped, K=6, UCB", SimRater::KSort, 6, ucb, KSortParams{},
                    ksortHorizon});
    arms.push_back({"Plackett-Luce, K=4, UCB", SimRater::PlackettLuce, 4, ucb, KSortParams{}, ksortHorizon});
    MatchmakingParams far = ucb;
    far.preferClose = false;
    arms.push_back({"K-Sort, K=4, UCB printed sign (+|dS|)", SimRater::KSort, 4, far, paper, ksortHorizon});
    return arms;
}

std::vector<NewModelArm> defaultNewModelArms() {
    MatchmakingParams a, b, c;
    b.pivot = PivotRule::Random;
    c.pivot = PivotRule::Random;
    c.opponents = OpponentRule::Random;
    return {{"pivot fewest + UCB", a}, {"random pivot + UCB", b}, {"random + random", c}};
}

double censoredMedian(std::vector<long> v) {
    if (v.empty()) return -1;
    for (long& x : v)
        if (x < 0) x = std::numeric_limits<long>::max();
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    const long a = v[(n - 1) / 2], b = v[n / 2];
    if (b == std::numeric_limits<long>::max()) return -1;
    return 0.5 * (static_cast<double>(a) + static_cast<double>(b));
}

namespace {

std::uint64_t mix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

std::uint64_t hashName(const std::string& s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

// Participants ordered best-first by true rank, then perturbed by the noise model; returns ranks
// per participant slot (1 = best).
std::vector<int> simulateVote(const std::vector<int>& who, const std::vector<int>& trueRank, NoiseModel noise,
                              double p, std::mt19937_64& rng) {
    const int k = static_cast<int>(who.size());
    std::vector<int> order(k);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return trueRank[who[a]] < trueRank[who[b]]; });
    std::uniform_real_distribution<double> u(0.0, 1.0);
    if (noise == NoiseModel::Flip) {
        if (u(rng) < p) std::reverse(order.begin(), order.end());
    } else if (noise == NoiseModel::Swap) {
        for (int i = 0; i + 1 < k; ++i)
            if (u(rng) < p) std::swap(order[i], order[i + 1]);
    }
    std::vector<int> ranks(k);
    for (int pos = 0; pos < k; ++pos) ranks[order[pos]] = pos + 1;
    return ranks;
}

// Rates a population online; the state of one simulated arena.
struct Population {
    std::vector<Gaussian> g;
    std::vector<double> elo;
    PairCounts pc;
    SimRater rater;
    KSortParams kp;
    EloParams ep;

    std::vector<double> scores() const {
        std::vector<double> s(g.size());
        for (size_t i = 0; i < g.size(); ++i) s[i] = rater == SimRater::Elo ? elo[i] : conservative(g[i], kp.eta);
        return s;
    }
    // Applies one vote; returns the number of pairwise comparisons it counts as.
    int apply(const std::vector<int>& who, const std::vector<int>& ranks) {
        const int k = static_cast<int>(who.size());
        for (int a = 0; a < k; ++a)
            for (int b = a + 1; b < k; ++b) pc.add(who[a], who[b]);
        if (rater == SimRater::Elo) {
            for (int a = 0; a < k; ++a)
                for (int b = a + 1; b < k; ++b)
                    eloUpdate(elo[who[a]], elo[who[b]], ranks[a] < ranks[b] ? 1.0 : ranks[a] > ranks[b] ? 0.0 : 0.5, ep);
            return k * (k - 1) / 2;
        }
        std::vector<Gaussian> pre(k);
        for (int a = 0; a < k; ++a) pre[a] = g[who[a]];
        std::vector<Gaussian> post;
        if (rater == SimRater::PlackettLuce) {
            post = plackettLuceUpdate(pre, ranks, kp);
        } else {
            std::vector<PairResult> pairs;
            for (int a = 0; a < k; ++a)
                for (int b = a + 1; b < k; ++b)
                    pairs.push_back({a, b, ranks[a] < ranks[b] ? 1.0 : ranks[a] > ranks[b] ? 0.0 : 0.5});
            post = ksortUpdate(pre, pairs, kp);
        }
        for (int a = 0; a < k; ++a) g[who[a]] = post[a];
        return k * (k - 1) / 2;
    }
};

std::vector<int> positions(const std::vector<double>& s) {
    std::vector<int> idx(s.size()), pos(s.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return s[a] > s[b]; });
    for (size_t r = 0; r < idx.size(); ++r) pos[idx[r]] = static_cast<int>(r);
    return pos;
}

std::vector<int> trueOrder(int n, std::mt19937_64& rng) {
    std::vector<int> r(n);
    std::iota(r.begin(), r.end(), 0);
    std::shuffle(r.begin(), r.end(), rng);
    return r;
}

std::vector<int> pickFor(const Population& pop, int k, const MatchmakingParams& mm, std::mt19937_64& rng) {
    if (pop.rater == SimRater::Elo) {
        MatchmakingParams rnd;
        rnd.pivot = PivotRule::Random;
        rnd.opponents = OpponentRule::Random;
        return pickParticipants(pop.elo, pop.pc, k, rnd, rng);
    }
    return pickParticipants(pop.scores(), pop.pc, k, mm, rng);
}

SimRun runOne(const SimArm& arm, const SimConfig& cfg, int seedIndex) {
    std::mt19937_64 truthRng(mix(cfg.seed * 1000003ull + seedIndex));
    const std::vector<int> truth = trueOrder(cfg.models, truthRng);
    std::mt19937_64 rng(mix(hashName(arm.name) ^ mix(cfg.seed * 7919ull + seedIndex)));
    Population pop{std::vector<Gaussian>(cfg.models, Gaussian{arm.ksort.mu0, arm.ksort.sigma0}),
                   std::vector<double>(cfg.models, cfg.elo.init), PairCounts(cfg.models), arm.rater, arm.ksort, cfg.elo};
    SimRun run;
    long comps = 0, votes = 0, firstZero = -1, firstZeroVotes = -1, firstSp = -1;
    long nextCurve = cfg.curveStep;
    const double n = cfg.models;
    double mse = 0;
    while (comps < arm.horizon) {
        const auto who = pickFor(pop, arm.k, arm.matchmaking, rng);
        const auto ranks = simulateVote(who, truth, cfg.noise, cfg.noiseP, rng);
        comps += pop.apply(who, ranks);
        ++votes;
        std::vector<double> sc = pop.scores();
        if (arm.judgeByMean && arm.rater != SimRater::Elo)
            for (int i = 0; i < cfg.models; ++i) sc[i] = pop.g[i].mu;
        const auto pos = positions(sc);
        double d2 = 0;
        for (int i = 0; i < cfg.models; ++i) d2 += double(pos[i] - truth[i]) * (pos[i] - truth[i]);
        mse = d2 / n;
        const double rho = 1.0 - 6.0 * d2 / (n * (n * n - 1.0));
        if (d2 > 0) { firstZero = -1; firstZeroVotes = -1; }
        else if (firstZero < 0) { firstZero = comps; firstZeroVotes = votes; }
        if (rho < cfg.spearmanTarget) firstSp = -1;
        else if (firstSp < 0) firstSp = comps;
        while (cfg.curveStep > 0 && comps >= nextCurve) {
            run.curve.push_back(mse);
            nextCurve += cfg.curveStep;
        }
    }
    const long lastStart = static_cast<long>((1.0 - cfg.stableTail) * arm.horizon);
    const bool stable = firstZero >= 0 && firstZero <= lastStart;
    run.convergedMse = stable ? firstZero : -1;
    run.votesMse = stable ? firstZeroVotes : -1;
    run.convergedSpearman = (firstSp >= 0 && firstSp <= lastStart) ? firstSp : -1;
    return run;
}

template <class Task>
void parallelFor(int total, int threads, const Task& task) {
    std::atomic<int> next{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < std::max(1, threads); ++t)
        pool.emplace_back([&] {
            for (int i = next++; i < total; i = next++) task(i);
        });
    for (auto& th : pool) th.join();
}

}  // namespace

double ArmResult::medianMse() const {
    std::vector<long> v;
    for (const auto& r : runs) v.push_back(r.convergedMse);
    return censoredMedian(v);
}
double ArmResult::medianSpearman() const {
    std::vector<long> v;
    for (const auto& r : runs) v.push_back(r.convergedSpearman);
    return censoredMedian(v);
}
double ArmResult::medianVotes() const {
    std::vector<long> v;
    for (const auto& r : runs) v.push_back(r.votesMse);
    return censoredMedian(v);
}
double ArmResult::quantileMse(double q) const {
    std::vector<long> v;
    for (const auto& r : runs) v.push_back(r.convergedMse < 0 ? std::numeric_limits<long>::max() : r.convergedMse);
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    const long x = v[std::min(v.size() - 1, static_cast<size_t>(std::floor(q * (v.size() - 1) + 0.5)))];
    return x == std::numeric_limits<long>::max() ? -1 : static_cast<double>(x);
}
int ArmResult::convergedCount() const {
    int c = 0;
    for (const auto& r : runs) c += r.convergedMse >= 0;
    return c;
}

std::vector<ArmResult> runSimulation(const std::vector<SimArm>& arms, const SimConfig& cfg,
                                     const SimProgress& progress, const std::atomic<bool>* cancel) {
    std::vector<ArmResult> out(arms.size());
    for (size_t a = 0; a < arms.size(); ++a) {
        out[a].arm = arms[a];
        out[a].runs.resize(cfg.seeds);
    }
    const int total = static_cast<int>(arms.size()) * cfg.seeds;
    std::mutex mu;
    int done = 0;
    parallelFor(total, cfg.threads, [&](int t) {
        if (cancel && cancel->load()) return;
        const int a = t / cfg.seeds, s = t % cfg.seeds;
        out[a].runs[s] = runOne(arms[a], cfg, s);
        std::lock_guard<std::mutex> lock(mu);
        ++done;
        if (progress) progress(done, total);
    });
    return out;
}

double NewModelResult::median(long NewModelRun::*field) const {
    std::vector<long> v;
    for (const auto& r : runs) v.push_back(r.*field);
    return censoredMedian(v);
}

namespace {

NewModelRun runNewOne(const NewModelArm& arm, const NewModelConfig& cfg, int seedIndex) {
    const int n = cfg.models;
    std::mt19937_64 truthRng(mix(cfg.seed * 1000003ull + seedIndex));
    // True ranks 0..n over n+1 models; the newcomer (index n) has rank trueRank-1.
    std::vector<int> others;
    for (int r = 0; r <= n; ++r)
        if (r != cfg.trueRank - 1) others.push_back(r);
    std::shuffle(others.begin(), others.end(), truthRng);
    std::vector<int> truth = others;
    truth.push_back(cfg.trueRank - 1);
    std::mt19937_64 rng(mix(cfg.seed * 7919ull + seedIndex));  // same warm-up for every arm
    Population pop{std::vector<Gaussian>(n, Gaussian{cfg.ksort.mu0, cfg.ksort.sigma0}), std::vector<double>(n, 1000.0),
                   PairCounts(n), SimRater::KSort, cfg.ksort, EloParams{}};
    const MatchmakingParams warm;
    for (long v = 0; v < cfg.warmupVotes; ++v) {
        const auto who = pickParticipants(pop.scores(), pop.pc, cfg.k, warm, rng);
        pop.apply(who, simulateVote(who, truth, cfg.noise, cfg.noiseP, rng));
    }
    pop.g.push_back(Gaussian{cfg.ksort.mu0, cfg.ksort.sigma0});
    pop.pc.resize(n + 1);
    std::mt19937_64 armRng(mix(hashName(arm.name) ^ mix(cfg.seed * 31ull + seedIndex)));
    NewModelRun run;
    run.initialRank = positions(pop.scores())[n] + 1;
    long total = 0, mine = 0, firstPlaced = -1, firstPlacedTotal = -1, firstNear = -1, firstNearTotal = -1;
    while (total < cfg.horizon) {
        const auto who = pickParticipants(pop.scores(), pop.pc, cfg.k, arm.matchmaking, armRng);
        const auto ranks = simulateVote(who, truth, cfg.noise, cfg.noiseP, armRng);
        total += pop.apply(who, ranks);
        if (std::find(who.begin(), who.end(), n) != who.end()) mine += cfg.k - 1;
        const auto s = pop.scores();
        int inv = 0;
        for (int j = 0; j < n; ++j) inv += (s[n] > s[j]) != (truth[n] < truth[j]);
        if (inv > 0) { firstPlaced = -1; firstPlacedTotal = -1; }
        else if (firstPlaced < 0) { firstPlaced = mine; firstPlacedTotal = total; }
        if (inv > 1) { firstNear = -1; firstNearTotal = -1; }
        else if (firstNear < 0) { firstNear = mine; firstNearTotal = total; }
    }
    const long lastStart = static_cast<long>((1.0 - cfg.stableTail) * cfg.horizon);
    const bool placed = firstPlaced >= 0 && firstPlacedTotal <= lastStart;
    run.placedComparisons = placed ? firstPlaced : -1;
    run.placedTotal = placed ? firstPlacedTotal : -1;
    run.withinOneComparisons = firstNear;
    if (firstNear >= 0 && firstNearTotal > lastStart) run.withinOneComparisons = -1;
    return run;
}

}  // namespace

std::vector<NewModelResult> runNewModel(const std::vector<NewModelArm>& arms, const NewModelConfig& cfg,
                                        const SimProgress& progress) {
    std::vector<NewModelResult> out(arms.size());
    for (size_t a = 0; a < arms.size(); ++a) {
        out[a].arm = arms[a];
        out[a].runs.resize(cfg.seeds);
    }
    const int total = static_cast<int>(arms.size()) * cfg.seeds;
    std::mutex mu;
    int done = 0;
    parallelFor(total, cfg.threads, [&](int t) {
        const int a = t / cfg.seeds, s = t % cfg.seeds;
        out[a].runs[s] = runNewOne(arms[a], cfg, s);
        std::lock_guard<std::mutex> lock(mu);
        ++done;
        if (progress) progress(done, total);
    });
    return out;
}

}  // namespace arena
