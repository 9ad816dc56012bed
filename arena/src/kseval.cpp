#include "arena/kseval.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace arena {

bool isPermutation(const std::vector<int>& order, int n) {
    if (static_cast<int>(order.size()) != n) return false;
    std::vector<char> seen(n, 0);
    for (int x : order) {
        if (x < 0 || x >= n || seen[x]) return false;
        seen[x] = 1;
    }
    return true;
}

std::vector<int> rankWithRetry(Judge& judge, const JudgeRequest& request, int maxTries, std::vector<std::string>* log) {
    const int n = static_cast<int>(request.outputs.size());
    for (int t = 0; t < std::max(1, maxTries); ++t) {
        JudgeAnswer a = judge.rank(request);
        if (log) log->push_back(a.raw);
        if (isPermutation(a.order, n)) return a.order;
    }
    throw std::runtime_error("judge '" + judge.name() + "' gave no valid ranking of " + std::to_string(n) +
                             " outputs after " + std::to_string(maxTries) + " tries");
}

static std::vector<int> orderByScore(const std::vector<double>& s) {
    std::vector<int> o(s.size());
    std::iota(o.begin(), o.end(), 0);
    std::stable_sort(o.begin(), o.end(), [&](int a, int b) { return s[a] > s[b]; });
    return o;
}

static std::string describe(const std::vector<int>& order, const char* noun) {
    std::string raw;
    for (int i : order) raw += (raw.empty() ? "" : ", ") + std::string(noun) + " " + std::to_string(i + 1);
    return raw;
}

JudgeAnswer ScoreJudge::rank(const JudgeRequest& request) {
    std::vector<double> s;
    for (const auto& o : request.outputs) s.push_back(fn_(o, request.prompt));
    JudgeAnswer a;
    a.order = orderByScore(s);
    a.raw = describe(a.order, "Image");
    return a;
}

JudgeAnswer SimulatedJudge::rank(const JudgeRequest& request) {
    std::normal_distribution<double> n01(0.0, 1.0);
    std::vector<double> s;
    for (size_t i = 0; i < request.outputs.size(); ++i)
        s.push_back(request.outputs[i].latent + noise_ * n01(rng_) + bias_ * static_cast<double>(i));
    JudgeAnswer a;
    a.order = orderByScore(s);
    a.raw = describe(a.order, "Image");
    return a;
}

static std::vector<double> averageRanks(const std::vector<double>& x) {
    const size_t n = x.size();
    std::vector<size_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
    std::vector<double> r(n);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && x[idx[j + 1]] == x[idx[i]]) ++j;
        for (size_t k = i; k <= j; ++k) r[idx[k]] = 0.5 * (i + j) + 1.0;
        i = j + 1;
    }
    return r;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size() || a.size() < 2) return std::numeric_limits<double>::quiet_NaN();
    const auto ra = averageRanks(a), rb = averageRanks(b);
    const double n = static_cast<double>(a.size());
    const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n, mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < ra.size(); ++i) {
        sab += (ra[i] - ma) * (rb[i] - mb);
        saa += (ra[i] - ma) * (ra[i] - ma);
        sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    if (saa <= 0 || sbb <= 0) return std::numeric_limits<double>::quiet_NaN();
    return sab / std::sqrt(saa * sbb);
}

static double bhattacharyya(const Gaussian& a, const Gaussian& b) {
    const double va = a.sigma * a.sigma, vb = b.sigma * b.sigma;
    return std::sqrt(2.0 * a.sigma * b.sigma / (va + vb)) * std::exp(-(a.mu - b.mu) * (a.mu - b.mu) / (4.0 * (va + vb)));
}

InstanceSet curateInstances(const std::vector<Vote>& votes, const std::map<std::string, Gaussian>& arena,
                            double threshold, const std::string& exclude,
                            const std::function<std::vector<JudgeOutput>(const Vote&)>& outputsOf) {
    InstanceSet set;
    for (const auto& v : votes) {
        if (!v.counted || v.mode != VoteMode::Rank || !validateVote(v).empty()) continue;
        if (!exclude.empty() && std::find(v.models.begin(), v.models.end(), exclude) != v.models.end()) continue;
        bool known = true;
        for (const auto& m : v.models) known = known && arena.count(m);
        if (!known) continue;
        ++set.considered;
        std::vector<double> human, board;
        std::vector<Gaussian> g;
        for (size_t i = 0; i < v.models.size(); ++i) {
            const Gaussian& x = arena.at(v.models[i]);
            g.push_back(x);
            human.push_back(-static_cast<double>(v.ranks[i]));  // higher = better on both sides
            board.push_back(conservative(x));
        }
        const double rho = spearman(human, board);
        if (!(rho > threshold)) continue;
        EvalInstance in;
        in.voteId = v.id;
        in.prompt = v.prompt;
        in.models = v.models;
        in.humanRanks = v.ranks;
        in.outputs = outputsOf ? outputsOf(v) : std::vector<JudgeOutput>(v.models.size());
        double mean = 0, ov = 0;
        for (size_t i = 0; i < g.size(); ++i) {
            mean += g[i].mu;
            for (size_t j = i + 1; j < g.size(); ++j) ov += bhattacharyya(g[i], g[j]);
        }
        in.capMean = mean / g.size();
        in.overlap = ov;
        set.instances.push_back(std::move(in));
    }
    set.kept = static_cast<int>(set.instances.size());
    return set;
}

const char* toString(Correction c) {
    switch (c) {
    case Correction::Code: return "code";
    case Correction::Paper: return "paper";
    case Correction::MomentMatched: return "moment";
    case Correction::None: return "none";
    }
    return "code";
}

int rankAgainst(double score, const std::map<std::string, Gaussian>& arena, const std::string& exclude) {
    int r = 1;
    for (const auto& kv : arena)
        if (kv.first != exclude && conservative(kv.second) > score) ++r;
    return r;
}

EvalResult evaluateNewModel(const InstanceSet& set, const std::map<std::string, Gaussian>& arena, Judge& judge,
                            const Generator& generate, const EvalParams& p, const std::atomic<bool>* cancel) {
    EvalResult res;
    double sum = 0;
    for (const auto& kv : arena) sum += kv.second.sigma;
    res.stdMean = arena.empty() ? 0 : sum / arena.size();
    std::mt19937_64 rng(p.seed);
    Gaussian cur{p.trueskill.mu0, p.trueskill.sigma0};
    std::vector<char> used(set.instances.size(), 0);
    std::vector<int> randomOrder(set.instances.size());
    std::iota(randomOrder.begin(), randomOrder.end(), 0);
    std::shuffle(randomOrder.begin(), randomOrder.end(), rng);
    size_t nextRandom = 0;
    while (res.runs < p.maxRuns) {
        if (cancel && cancel->load()) break;
        int pick = -1;
        if (p.dynamicMatching) {
            double best = std::numeric_limits<double>::infinity();
            for (size_t i = 0; i < set.instances.size(); ++i) {
                if (used[i]) continue;
                const double s = std::fabs(set.instances[i].capMean - cur.mu) + p.alpha * set.instances[i].overlap;
                if (s < best) { best = s; pick = static_cast<int>(i); }
            }
        } else if (nextRandom < randomOrder.size()) {
            pick = randomOrder[nextRandom++];
        }
        if (pick < 0) break;  // instance set exhausted
        used[pick] = 1;
        const EvalInstance& in = set.instances[pick];
        const int k = static_cast<int>(in.models.size());
        // K arena outputs + the new one (index k), shown in a shuffled order.
        std::vector<JudgeOutput> all = in.outputs;
        all.resize(k);
        all.push_back(generate(in));
        ++res.runs;
        std::vector<int> shown(k + 1);
        std::iota(shown.begin(), shown.end(), 0);
        if (p.shuffle) std::shuffle(shown.begin(), shown.end(), rng);
        JudgeRequest req;
        req.prompt = in.promptInfo;
        req.prompt.key = in.prompt;
        req.rubric = p.rubric;
        for (int idx : shown) req.outputs.push_back(all[idx]);
        const auto order = rankWithRetry(judge, req);
        std::vector<int> observe(k + 1);  // 0 = best, per original index
        for (int pos = 0; pos <= k; ++pos) observe[shown[order[pos]]] = pos;
        std::vector<double> human, judged;
        for (int i = 0; i < k; ++i) {
            human.push_back(-static_cast<double>(in.humanRanks[i]));
            judged.push_back(-static_cast<double>(observe[i]));
        }
        double rho = spearman(human, judged);
        const double lam = std::isnan(rho) ? 0.5 : 1.0 / (1.0 + std::exp(-p.agreementSlope * rho));
        std::vector<Gaussian> pre;
        for (const auto& m : in.models) pre.push_back(arena.at(m));
        pre.push_back(cur);
        const Gaussian hat = trueskillUpdate(pre, observe, p.trueskill).back();  // arena ratings stay fixed
        EvalStep step{pick, rho, lam, cur, hat, {}};
        const double v = cur.sigma * cur.sigma, vh = hat.sigma * hat.sigma;
        Gaussian next;
        switch (p.correction) {
        case Correction::None: next = hat; step.lambda = 1.0; break;
        case Correction::Code: {
            const double l2 = lam * lam / (lam * lam + (1 - lam) * (1 - lam));
            next = {lam * hat.mu + (1 - lam) * cur.mu, std::sqrt(l2 * vh + (1 - l2) * v)};
            break;
        }
        case Correction::Paper:
            next = {lam * hat.mu + (1 - lam) * cur.mu, std::sqrt(lam * lam * vh + (1 - lam) * (1 - lam) * v)};
            break;
        case Correction::MomentMatched:
            next = {lam * hat.mu + (1 - lam) * cur.mu,
                    std::sqrt(lam * vh + (1 - lam) * v + lam * (1 - lam) * (hat.mu - cur.mu) * (hat.mu - cur.mu))};
            break;
        }
        step.after = next;
        res.steps.push_back(step);
        cur = next;
        if (cur.sigma < p.stopSigma) {
            res.converged = true;
            break;
        }
    }
    res.rating = cur;
    res.score = cur.mu - 3.0 * res.stdMean;
    res.rank = rankAgainst(res.score, arena, p.heldOut);
    return res;
}

}  // namespace arena
