#include "arena/session.h"

#include "arena/leaderboard.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>

namespace arena {

PairCounts pairCountsFrom(const std::vector<Vote>& votes, const std::vector<std::string>& models) {
    std::map<std::string, int> idx;
    for (size_t i = 0; i < models.size(); ++i) idx[models[i]] = static_cast<int>(i);
    PairCounts pc(static_cast<int>(models.size()));
    for (const auto& v : replayOrder(votes))
        for (const auto& p : expandPairs(v)) {
            auto a = idx.find(v.models[p.a]), b = idx.find(v.models[p.b]);
            if (a != idx.end() && b != idx.end()) pc.add(a->second, b->second);
        }
    return pc;
}

Match planMatch(Store& store, std::int64_t sessionId, const std::string& judge, const PlanOptions& opt,
                const OutputSet* outputs) {
    const auto s = store.session(sessionId);
    if (!s) throw StoreError("no session " + std::to_string(sessionId));
    const std::uint64_t seed = opt.seed ? opt.seed
                                        : static_cast<std::uint64_t>(
                                              std::chrono::steady_clock::now().time_since_epoch().count());
    std::mt19937_64 rng(seed);
    const auto votes = store.votes(sessionId);
    const auto ratings = ksortRatings(replayOrder(votes), opt.ksort);
    std::vector<double> score;
    for (const auto& m : s->models) {
        auto it = ratings.find(m);
        const Gaussian g = it == ratings.end() ? Gaussian{opt.ksort.mu0, opt.ksort.sigma0} : it->second;
        score.push_back(conservative(g, opt.ksort.eta));
    }
    const PairCounts pc = pairCountsFrom(votes, s->models);
    const auto pick = pickParticipants(score, pc, s->k, opt.matchmaking, rng);
    Match m;
    m.sessionId = sessionId;
    m.judge = judge;
    for (int i : pick) m.candidates.push_back(s->models[i]);
    std::shuffle(m.candidates.begin(), m.candidates.end(), rng);  // anonymous, shuffled slot order
    std::vector<std::string> prompts = s->prompts;
    if (outputs) {
        const auto common = outputs->commonPrompts(m.candidates);
        prompts.erase(std::remove_if(prompts.begin(), prompts.end(),
                                     [&](const std::string& p) {
                                         return std::find(common.begin(), common.end(), p) == common.end();
                                     }),
                      prompts.end());
        if (s->prompts.empty()) prompts = common;
    }
    if (prompts.empty()) {
        if (outputs || !s->prompts.empty()) throw StoreError("no prompt has outputs for all chosen candidates");
        prompts.push_back("");
    }
    m.prompt = prompts[std::uniform_int_distribution<size_t>(0, prompts.size() - 1)(rng)];
    m.id = store.createMatch(m);
    return *store.match(m.id);
}

}  // namespace arena
