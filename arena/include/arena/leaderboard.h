// arena/leaderboard.h: leaderboards recomputed from scratch out of the immutable vote records,
// for each rating model (K-Sort Bayesian, TrueSkill, online Elo, Bradley-Terry with bootstrap).
// Pure functions over plain values; thread-safe.
#pragma once

#include "arena/bradley_terry.h"
#include "arena/rating.h"
#include "arena/vote.h"

#include <map>
#include <string>
#include <vector>

namespace arena {

enum class RatingModel { KSort, TrueSkill, Elo, BradleyTerry };
const char* toString(RatingModel m);
bool parseRatingModel(const std::string& s, RatingModel* out);

struct LeaderboardOptions {
    KSortParams ksort;
    TrueSkillParams trueskill;
    EloParams elo;
    BtParams bt;        // bootstrap rounds and seed also drive the Elo bootstrap (0 = single online pass)
    std::string judge;  // non-empty: only this judge's votes (personal leaderboard)
};

struct LeaderRow {
    std::string model;
    double score = 0;          // what the board is sorted by (S = mu - 3 sigma, Elo or BT rating)
    double mu = 0, sigma = 0;  // Gaussian models; for Elo/BT mu = rating, sigma = 0
    double lo = 0, hi = 0;     // 95% interval (mu +- 1.96 sigma, or BT bootstrap)
    int rank = 1;              // 1-based; for BT the rank-with-intervals (UB)
    int votes = 0;             // counted votes the model took part in
    int comparisons = 0;       // pairwise comparisons the model took part in
};

// Counted votes (optionally of one judge) sorted by (tstamp, id): the replay order.
std::vector<Vote> replayOrder(const std::vector<Vote>& votes, const std::string& judge = {});

// Pairwise expansion of counted votes, in replay order (the FastChat battle shape).
std::vector<Battle> votesToBattles(const std::vector<Vote>& votes);

// K-Sort Bayesian ratings after replaying the votes.
std::map<std::string, Gaussian> ksortRatings(const std::vector<Vote>& votes, const KSortParams& p = {});
std::map<std::string, Gaussian> trueskillRatings(const std::vector<Vote>& votes, const TrueSkillParams& p = {});

// Battle counts and win rates between every pair of models (ties count half), from counted votes.
struct PairMatrix {
    std::vector<std::string> models;          // sorted by name
    std::vector<std::vector<int>> battles;    // battles[i][j] = comparisons between i and j
    std::vector<std::vector<double>> winRate;  // winRate[i][j] = share i won against j (NaN when none)
};
PairMatrix pairMatrix(const std::vector<Vote>& votes, const std::string& judge = {});

std::vector<LeaderRow> computeLeaderboard(const std::vector<Vote>& votes, RatingModel model,
                                          const LeaderboardOptions& opt = {});

}  // namespace arena
