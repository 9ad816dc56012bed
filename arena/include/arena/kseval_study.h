// arena/kseval_study.h: evaluating K-Sort Eval with simulated judges while real generators are not
// available. Builds a synthetic human arena (models with hidden true skills, K=4 human votes whose
// outputs have latent qualities skill + N(0, beta^2)), rates it with TrueSkill, curates instances,
// then treats arena models as new and compares K-Sort Eval's rank/score with the arena's, per judge
// noise level and ablation arm. Plain values; runKSortEvalStudy runs its own worker threads.
#pragma once

#include "arena/kseval.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace arena {

struct StudyArm {
    std::string name;
    EvalParams params;
    double positionBias = 0;  // simulated judge position bias (for the no-swapping arm)
};

struct StudyConfig {
    int models = 30;
    int votes = 3000;               // human K=4 votes in the synthetic arena
    double skillLo = 16, skillHi = 36;
    double outputNoise = 25.0 / 6.0;  // latent output quality = skill + N(0, outputNoise^2)
    int targets = 8;                // arena models evaluated as new (spread over the leaderboard)
    int seeds = 5;                  // judge/generation seeds per target
    std::vector<double> judgeNoise{0.0, 2.0, 4.0, 8.0, 1e6};  // 1e6 = chance-level judge
    std::uint64_t seed = 11;
    double curationThreshold = 0.75;
    int threads = 2;
};

std::vector<StudyArm> defaultStudyArms();  // full; no correction; paper form; moment form; no matching; no swapping

struct StudyCell {  // one (arm, judge noise) combination over targets x seeds
    std::string arm;
    double judgeNoise = 0;
    int evaluations = 0;
    double meanAbsRankDiff = 0, withinOne = 0, meanAbsScoreDiff = 0;
    double medianRuns = 0, capFraction = 0, meanFinalSigma = 0, meanRho = 0;
    double within90Runs = 0;  // fraction of evaluations that stopped within 90 runs (the paper: 91%)
};

struct StudyReport {
    int instancesConsidered = 0, instancesKept = 0;
    std::vector<std::string> targets;  // "name (arena rank r, S s)"
    std::vector<StudyCell> cells;
};

StudyReport runKSortEvalStudy(const std::vector<StudyArm>& arms, const StudyConfig& cfg,
                              const std::function<void(int, int)>& progress = {});

std::string studyMarkdown(const StudyReport& r, const StudyConfig& cfg, const std::string& command);

}  // namespace arena
