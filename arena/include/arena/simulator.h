// arena/simulator.h: the convergence simulator of the K-Sort Arena paper. N models with a hidden
// true order; simulated voters rank the K participants by true ability with configurable noise;
// each arm (rating model + K + matchmaking) is run over many seeds and the number of pairwise
// comparisons until the leaderboard order has converged is recorded. Also the "new model added"
// scenario. Plain values; runSimulation uses its own worker threads and is reentrant; the
// progress callback is called from those workers (serialised by a mutex).
#pragma once

#include "arena/matchmaking.h"
#include "arena/rating.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace arena {

// How a simulated voter errs. The clean ranking orders the K participants by true ability.
//  None:  no error.
//  Flip:  with probability p the whole ranking is reversed (for K = 2: the outcome flips).
//  Swap:  one left-to-right pass over the ranking; each adjacent pair is swapped with probability p.
enum class NoiseModel { None, Flip, Swap };
const char* toString(NoiseModel m);
bool parseNoiseModel(const std::string& s, NoiseModel* out);

enum class SimRater { Elo, KSort, PlackettLuce };

struct SimArm {
    std::string name;
    SimRater rater = SimRater::KSort;
    int k = 4;
    MatchmakingParams matchmaking;  // Elo arms use random pairs regardless
    KSortParams ksort;              // K-Sort / Plackett-Luce parameters
    long horizon = 20000;           // pairwise comparisons simulated per seed
    bool judgeByMean = false;       // evaluate the order of mu instead of the leaderboard S = mu - 3 sigma
};

// The paper's arms, with horizons in pairwise comparisons: Elo K=2 random pairs; K-Sort (paper
// update: gamma = 1, kappa clamp) K=2/4/6 with UCB and K=4 random; the damped K-Sort update at K=4/6;
// Plackett-Luce K=4; UCB with the printed (+|dS|) sign.
std::vector<SimArm> defaultArms(long ksortHorizon = 20000, long eloHorizon = 60000);

struct SimConfig {
    int models = 50;
    int seeds = 20;
    std::uint64_t seed = 1;
    NoiseModel noise = NoiseModel::None;
    double noiseP = 0.05;
    double spearmanTarget = 0.95;
    double stableTail = 0.25;  // a run counts as converged only if the criterion holds over at least
                               // this final fraction of the horizon (else it is censored)
    long curveStep = 100;  // record the position MSE every curveStep comparisons
    EloParams elo;
    int threads = 2;
};

struct SimRun {
    long convergedMse = -1;       // comparisons until position MSE is 0 for good; -1: not within horizon
    long convergedSpearman = -1;  // comparisons until Spearman >= target for good
    long votesMse = -1;           // votes until MSE 0 for good
    std::vector<double> curve;    // position MSE every curveStep comparisons
};

struct ArmResult {
    SimArm arm;
    std::vector<SimRun> runs;
    // Median over seeds; a censored (not converged) run counts as +infinity. -1 = median censored.
    double medianMse() const;
    double medianSpearman() const;
    double medianVotes() const;
    double quantileMse(double q) const;
    int convergedCount() const;
};

using SimProgress = std::function<void(int done, int total)>;

std::vector<ArmResult> runSimulation(const std::vector<SimArm>& arms, const SimConfig& cfg,
                                     const SimProgress& progress = {}, const std::atomic<bool>* cancel = nullptr);

// ----- New model added -----
struct NewModelArm {
    std::string name;
    MatchmakingParams matchmaking;
};
std::vector<NewModelArm> defaultNewModelArms();  // fewest+UCB, random pivot+UCB, random+random

struct NewModelConfig {
    int models = 50;         // existing population
    int trueRank = 31;       // true rank of the newcomer among models + 1
    int k = 4;
    long warmupVotes = 1500;  // votes (K=4, fewest+UCB) before the newcomer arrives
    long horizon = 6000;      // comparisons after the arrival
    int seeds = 20;
    std::uint64_t seed = 7;
    NoiseModel noise = NoiseModel::None;
    double noiseP = 0.05;
    KSortParams ksort;
    double stableTail = 0.25;  // as SimConfig::stableTail
    int threads = 2;
};

struct NewModelRun {
    long placedComparisons = -1;  // comparisons involving the newcomer until it is placed for good
    long placedTotal = -1;        // all comparisons since its arrival until then
    long withinOneComparisons = -1;  // same, for "within one position" (<= 1 inversion)
    int initialRank = 0;          // its leaderboard rank on arrival
};

struct NewModelResult {
    NewModelArm arm;
    std::vector<NewModelRun> runs;
    double median(long NewModelRun::*field) const;
};

std::vector<NewModelResult> runNewModel(const std::vector<NewModelArm>& arms, const NewModelConfig& cfg,
                                        const SimProgress& progress = {});

// Median treating negative (censored) values as +infinity; returns -1 when the median is censored.
double censoredMedian(std::vector<long> v);

}  // namespace arena

namespace arena {

// One simulated setting (a noise model) and its results, for the report.
struct SimSetting {
    std::string label;  // e.g. "no noise", "5% whole-vote flip"
    SimConfig config;
    std::vector<ArmResult> arms;
};

// Markdown report: pinned settings, per-setting tables, the Elo / K-Sort K=4 ratio, the new-model
// table. `svgName` is linked as the plot (may be empty).
std::string convergenceMarkdown(const std::vector<SimSetting>& settings, const NewModelConfig& newCfg,
                                const std::vector<NewModelResult>& newModel, const std::string& command,
                                const std::string& svgName);

// SVG line plot of the median position MSE versus pairwise comparisons (log x) for every arm of a setting.
std::string convergenceSvg(const SimSetting& setting);

}  // namespace arena
