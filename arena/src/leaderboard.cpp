#include "arena/leaderboard.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace arena {

const char* toString(RatingModel m) {
    switch (m) {
    case RatingModel::KSort: return "ksort";
    case RatingModel::TrueSkill: return "trueskill";
    case RatingModel::Elo: return "elo";
    case RatingModel::BradleyTerry: return "bt";
    }
    return "ksort";
}

bool parseRatingModel(const std::string& s, RatingModel* out) {
    if (s == "ksort") *out = RatingModel::KSort;
    else if (s == "trueskill") *out = RatingModel::TrueSkill;
    else if (s == "elo") *out = RatingModel::Elo;
    else if (s == "bt" || s == "bradley-terry") *out = RatingModel::BradleyTerry;
    else return false;
    return true;
}

std::vector<Vote> replayOrder(const std::vector<Vote>& votes, const std::string& judge) {
    std::vector<Vote> out;
    for (const auto& v : votes)
        if (v.counted && (judge.empty() || v.judge == judge) && validateVote(v).empty()) out.push_back(v);
    std::stable_sort(out.begin(), out.end(), [](const Vote& a, const Vote& b) {
        if (a.tstamp != b.tstamp) return a.tstamp < b.tstamp;
        return a.id < b.id;
    });
    return out;
}

std::vector<Battle> votesToBattles(const std::vector<Vote>& votes) {
    std::vector<Battle> out;
    for (const auto& v : replayOrder(votes))
        for (const auto& p : expandPairs(v)) {
            Battle b;
            b.a = v.models[p.a];
            b.b = v.models[p.b];
            b.score = p.score;
            b.bothBad = p.bothBad;
            b.tstamp = v.tstamp;
            b.judge = v.judge;
            b.prompt = v.prompt;
            out.push_back(b);
        }
    return out;
}

std::map<std::string, Gaussian> ksortRatings(const std::vector<Vote>& votes, const KSortParams& p) {
    std::map<std::string, Gaussian> r;
    for (const auto& v : votes) {
        std::vector<Gaussian> pre;
        for (const auto& m : v.models) pre.push_back(r.emplace(m, Gaussian{p.mu0, p.sigma0}).first->second);
        std::vector<PairResult> pairs;
        for (const auto& po : expandPairs(v)) pairs.push_back({po.a, po.b, po.score});
        const auto post = ksortUpdate(pre, pairs, p);
        for (size_t i = 0; i < v.models.size(); ++i) r[v.models[i]] = post[i];
    }
    return r;
}

std::map<std::string, Gaussian> trueskillRatings(const std::vector<Vote>& votes, const TrueSkillParams& p) {
    std::map<std::string, Gaussian> r;
    for (const auto& v : votes) {
        std::vector<Gaussian> pre;
        for (const auto& m : v.models) pre.push_back(r.emplace(m, Gaussian{p.mu0, p.sigma0}).first->second);
        const auto post = trueskillUpdate(pre, v.ranks, p);
        for (size_t i = 0; i < v.models.size(); ++i) r[v.models[i]] = post[i];
    }
    return r;
}

PairMatrix pairMatrix(const std::vector<Vote>& all, const std::string& judge) {
    PairMatrix pm;
    std::map<std::string, int> idx;
    const auto votes = replayOrder(all, judge);
    for (const auto& v : votes)
        for (const auto& m : v.models) idx.emplace(m, 0);
    for (auto& kv : idx) {
        kv.second = static_cast<int>(pm.models.size());
        pm.models.push_back(kv.first);
    }
    const size_t n = pm.models.size();
    pm.battles.assign(n, std::vector<int>(n, 0));
    std::vector<std::vector<double>> wins(n, std::vector<double>(n, 0.0));
    for (const auto& v : votes)
        for (const auto& p : expandPairs(v)) {
            const int a = idx[v.models[p.a]], b = idx[v.models[p.b]];
            ++pm.battles[a][b];
            ++pm.battles[b][a];
            wins[a][b] += p.score;
            wins[b][a] += 1.0 - p.score;
        }
    pm.winRate.assign(n, std::vector<double>(n, std::nan("")));
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < n; ++j)
            if (pm.battles[i][j] > 0) pm.winRate[i][j] = wins[i][j] / pm.battles[i][j];
    return pm;
}

std::vector<LeaderRow> computeLeaderboard(const std::vector<Vote>& all, RatingModel model,
                                          const LeaderboardOptions& opt) {
    const std::vector<Vote> votes = replayOrder(all, opt.judge);
    std::map<std::string, LeaderRow> rows;
    for (const auto& v : votes) {
        for (const auto& m : v.models) {
            auto& row = rows[m];
            row.model = m;
            ++row.votes;
        }
        for (const auto& p : expandPairs(v)) {
            ++rows[v.models[p.a]].comparisons;
            ++rows[v.models[p.b]].comparisons;
        }
    }
    auto fillGaussian = [&](const std::map<std::string, Gaussian>& g, double eta) {
        for (auto& kv : rows) {
            const Gaussian x = g.at(kv.first);
            kv.second.mu = x.mu;
            kv.second.sigma = x.sigma;
            kv.second.score = x.mu - eta * x.sigma;
            kv.second.lo = x.mu - 1.96 * x.sigma;
            kv.second.hi = x.mu + 1.96 * x.sigma;
        }
    };
    switch (model) {
    case RatingModel::KSort: fillGaussian(ksortRatings(votes, opt.ksort), opt.ksort.eta); break;
    case RatingModel::TrueSkill: fillGaussian(trueskillRatings(votes, opt.trueskill), 3.0); break;
    case RatingModel::Elo: {
        // One online pass in replay order; with bootstrap rounds, FastChat's bootstrap: battles resampled
        // with replacement (seeded), score = median, interval = 2.5% / 97.5% quantiles.
        const std::vector<Battle> battles = votesToBattles(votes);
        auto pass = [&](const std::vector<Battle>& bs) {
            std::map<std::string, double> elo;
            for (const auto& b : bs) {
                double& ra = elo.emplace(b.a, opt.elo.init).first->second;
                double& rb = elo.emplace(b.b, opt.elo.init).first->second;
                eloUpdate(ra, rb, b.score, opt.elo);
            }
            return elo;
        };
        const auto online = pass(battles);
        std::map<std::string, std::vector<double>> samples;
        if (opt.bt.bootstrap > 0 && !battles.empty()) {
            std::mt19937_64 rng(opt.bt.seed);
            std::uniform_int_distribution<size_t> pick(0, battles.size() - 1);
            std::vector<Battle> res(battles.size());
            for (int r = 0; r < opt.bt.bootstrap; ++r) {
                for (auto& b : res) b = battles[pick(rng)];
                const auto e = pass(res);
                for (auto& kv : rows) {
                    auto it = e.find(kv.first);
                    samples[kv.first].push_back(it == e.end() ? opt.elo.init : it->second);
                }
            }
        }
        for (auto& kv : rows) {
            const double e = online.count(kv.first) ? online.at(kv.first) : opt.elo.init;
            auto& row = kv.second;
            if (samples.count(kv.first)) {
                row.score = row.mu = quantile(samples[kv.first], 0.5);
                row.lo = quantile(samples[kv.first], 0.025);
                row.hi = quantile(samples[kv.first], 0.975);
            } else {
                row.score = row.mu = row.lo = row.hi = e;
            }
        }
        break;
    }
    case RatingModel::BradleyTerry: {
        for (const auto& bt : bradleyTerry(votesToBattles(votes), opt.bt)) {
            auto& row = rows[bt.model];
            row.score = row.mu = bt.rating;
            row.lo = bt.lo;
            row.hi = bt.hi;
            row.rank = bt.rankUB;
        }
        break;
    }
    }
    std::vector<LeaderRow> out;
    for (auto& kv : rows) out.push_back(kv.second);
    std::stable_sort(out.begin(), out.end(), [](const LeaderRow& a, const LeaderRow& b) { return a.score > b.score; });
    if (model != RatingModel::BradleyTerry)
        for (size_t i = 0; i < out.size(); ++i) out[i].rank = static_cast<int>(i) + 1;
    return out;
}

}  // namespace arena
