#include "arena/vote.h"

#include <set>

namespace arena {

const char* toString(VoteMode m) {
    switch (m) {
    case VoteMode::Rank: return "rank";
    case VoteMode::Best: return "best";
    case VoteMode::AllTie: return "all_tie";
    case VoteMode::AllBad: return "all_bad";
    }
    return "rank";
}

bool parseVoteMode(const std::string& s, VoteMode* out) {
    if (s == "rank") *out = VoteMode::Rank;
    else if (s == "best") *out = VoteMode::Best;
    else if (s == "all_tie" || s == "tie") *out = VoteMode::AllTie;
    else if (s == "all_bad" || s == "bad") *out = VoteMode::AllBad;
    else return false;
    return true;
}

std::string validateVote(const Vote& v) {
    const int k = static_cast<int>(v.models.size());
    if (k < 2 || k > 6) return "a vote needs 2 to 6 candidates, got " + std::to_string(k);
    if (static_cast<int>(v.ranks.size()) != k)
        return "expected " + std::to_string(k) + " ranks, got " + std::to_string(v.ranks.size());
    std::set<std::string> uniq(v.models.begin(), v.models.end());
    if (static_cast<int>(uniq.size()) != k) return "a model appears twice in one vote";
    for (const auto& m : v.models)
        if (m.empty()) return "empty model name";
    for (int r : v.ranks)
        if (r < 1 || r > k) return "rank out of range 1.." + std::to_string(k);
    switch (v.mode) {
    case VoteMode::Rank: break;
    case VoteMode::Best: {
        int ones = 0;
        for (int r : v.ranks) {
            if (r == 1) ++ones;
            else if (r != 2) return "best mode takes ranks 1 (winner) and 2 (others)";
        }
        if (ones != 1) return "best mode needs exactly one winner";
        break;
    }
    case VoteMode::AllTie:
    case VoteMode::AllBad:
        for (int r : v.ranks)
            if (r != 1) return "all-tie and all-bad votes have every rank 1";
        break;
    }
    return {};
}

std::vector<PairOutcome> expandPairs(const Vote& v) {
    std::vector<PairOutcome> out;
    const int k = static_cast<int>(v.models.size());
    if (v.mode == VoteMode::Best) {
        int w = 0;
        for (int i = 0; i < k; ++i)
            if (v.ranks[i] == 1) w = i;
        for (int i = 0; i < k; ++i) {  // keep slot order in each pair (a before b)
            if (i < w) out.push_back({i, w, 0.0, false});
            else if (i > w) out.push_back({w, i, 1.0, false});
        }
        return out;
    }
    for (int i = 0; i < k; ++i)
        for (int j = i + 1; j < k; ++j) {
            PairOutcome p{i, j, 0.5, v.mode == VoteMode::AllBad};
            if (v.ranks[i] < v.ranks[j]) p.score = 1.0;
            else if (v.ranks[i] > v.ranks[j]) p.score = 0.0;
            out.push_back(p);
        }
    return out;
}

std::vector<int> bestRanks(int k, int winner) {
    std::vector<int> r(k, 2);
    if (winner >= 0 && winner < k) r[winner] = 1;
    return r;
}

}  // namespace arena
