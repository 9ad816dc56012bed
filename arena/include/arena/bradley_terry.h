// arena/bradley_terry.h: pairwise battles (the FastChat shape) and the Bradley-Terry maximum
// likelihood leaderboard with multinomial-bootstrap 95% intervals and rank-with-intervals.
// Plain values, pure functions; thread-safe (each call owns its random generator).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace arena {

struct Battle {
    std::string a, b;      // model_a, model_b
    double score = 0.5;    // 1: a wins, 0: b wins, 0.5: tie
    bool bothBad = false;  // "tie (bothbad)"
    bool anony = true;
    double tstamp = 0;
    std::string judge;
    std::string prompt;
};

struct BtParams {
    int bootstrap = 100;       // rounds; 0 disables the intervals
    std::uint64_t seed = 0;
    double scale = 400.0;      // R = scale * r + init
    double base = 10.0;
    double init = 1000.0;
    std::string anchor;        // when set and present, shift so that anchor has anchorValue
    double anchorValue = 1000.0;
    int maxIterations = 100;
};

struct BtRow {
    std::string model;
    double rating = 0, lo = 0, hi = 0;  // point MLE and 95% bootstrap interval
    int rankUB = 1;                     // 1 + #{b : lo(b) > hi(a)}
    int battles = 0;
};

// One weighted unique outcome row over model indices.
struct BtObs {
    int a = 0, b = 0;
    double score = 0.5;
    double weight = 1.0;
};

// MLE of r (base-`base` logits; ties count as half a win) for n models, mean-centred.
std::vector<double> btFit(int n, const std::vector<BtObs>& obs, double base = 10.0, int maxIterations = 100);

// Full leaderboard, sorted by rating (descending).
std::vector<BtRow> bradleyTerry(const std::vector<Battle>& battles, const BtParams& p = {});

// Linear-interpolated quantile (numpy default) of an unsorted sample.
double quantile(std::vector<double> x, double q);

}  // namespace arena
