// arena/vote.h: the immutable vote record of a K-wise comparison and its expansion into pairs.
// Plain value types (no ownership beyond std containers). Pure functions; safe to call from any
// thread. Qt-free and torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace arena {

// How the judge answered.
//  Rank:   a rank 1..K per slot (1 = best), ties allowed. Expands to all C(K,2) pairs.
//  Best:   one winner (rank 1), the others rank 2. Expands to the K-1 winner-vs-other pairs only
//          (no order among the losers, as in the K-Sort Arena paper's accounting).
//  AllTie: "all equally good": every rank 1, all C(K,2) pairs are ties.
//  AllBad: "all bad": every rank 1, all pairs are ties of kind "both bad".
enum class VoteMode { Rank, Best, AllTie, AllBad };

const char* toString(VoteMode m);
bool parseVoteMode(const std::string& s, VoteMode* out);

struct Vote {
    std::int64_t id = 0;         // store row id (0 = not stored)
    std::int64_t sessionId = 0;  // 0 = no session (e.g. imported)
    std::int64_t matchId = 0;    // 0 = not from a local match
    std::string judge;           // who voted
    std::string prompt;          // prompt key
    std::vector<std::string> models;  // candidates in slot order (K = models.size())
    std::vector<int> ranks;           // rank per slot, 1 = best
    VoteMode mode = VoteMode::Rank;
    double tstamp = 0;           // seconds since the epoch
    bool counted = true;         // false: cast after the identities were revealed
    std::string source;          // "local", "import", ...
};

// One pairwise comparison between slots a and b of a vote.
struct PairOutcome {
    int a = 0, b = 0;
    double score = 0.5;  // 1 = a wins, 0 = b wins, 0.5 = tie
    bool bothBad = false;
};

// Empty string when the vote is well formed, else a one-line reason.
std::string validateVote(const Vote& v);

// Pairs a vote counts as (see VoteMode). Precondition: validateVote(v).empty().
std::vector<PairOutcome> expandPairs(const Vote& v);

// Ranks for a Best-mode vote with winner slot `winner` among k slots.
std::vector<int> bestRanks(int k, int winner);

}  // namespace arena
