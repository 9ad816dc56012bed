#include "arena/leaderboard.h"

#include <algorithm>
#include <cmath>

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
        std::map<std::string, double> elo;
        for (const auto& b : votesToBattles(votes)) {
            double& ra = elo.emplace(b.a, opt.elo.init).first->second;
            double& rb = elo.emplace(b.b, opt.elo.init).first->second;
            eloUpdate(ra, rb, b.score, opt.elo);
        }
        for (auto& kv : rows) {
            const double e = elo.count(kv.first) ? elo[kv.first] : opt.elo.init;
            kv.second.score = kv.second.mu = kv.second.lo = kv.second.hi = e;
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
