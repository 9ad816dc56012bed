// arena/matchmaking.h: choosing the K models of the next match: pivot = fewest comparisons (or
// random), opponents = top K-1 by a pair UCB score (or random). Plain values; a PairCounts is
// owned by its caller and not synchronised; the functions are otherwise pure.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace arena {

// Symmetric matrix of pairwise comparison counts n_iq.
class PairCounts {
public:
    explicit PairCounts(int n = 0) : n_(n), c_(static_cast<size_t>(n) * n, 0), tot_(n, 0) {}
    int size() const { return n_; }
    void resize(int n);  // keeps existing counts
    void add(int i, int j, long k = 1);
    long pair(int i, int j) const { return c_[static_cast<size_t>(i) * n_ + j]; }
    long total(int i) const { return tot_[i]; }  // sum_q n_iq
    long all() const { return all_; }  // n = total number of comparisons

private:
    int n_;
    std::vector<long> c_;
    std::vector<long> tot_;
    long all_ = 0;
};

enum class PivotRule { Fewest, Random };
enum class OpponentRule { Ucb, Random };

struct MatchmakingParams {
    PivotRule pivot = PivotRule::Fewest;
    OpponentRule opponents = OpponentRule::Ucb;
    double alpha = 1.0;       // exploration weight
    // true (default): U = -|S_i - S_q| + alpha sqrt(ln n / (n_iq + 1)), i.e. prefer close, uncertain
    // opponents (the paper's stated intent). false: the printed formula, +|S_i - S_q|.
    bool preferClose = true;
};

// Pair UCB score of candidate q for pivot i.
double ucbScore(double si, double sq, long nAll, long nIq, const MatchmakingParams& p);

// Returns k distinct model indices, pivot first. `score` is the conservative S per model.
// Ties are broken at random. Requires 2 <= k <= score.size().
std::vector<int> pickParticipants(const std::vector<double>& score, const PairCounts& counts, int k,
                                  const MatchmakingParams& p, std::mt19937_64& rng);

}  // namespace arena
