// arena/kseval.h: K-Sort Eval, automatic evaluation of a new model against a frozen arena. A judge
// ranks K+1 outputs (the K arena outputs of a curated human vote plus the new model's output); only
// the new model's TrueSkill rating is updated, with a posterior correction weighted by how well the
// judge agreed with the humans on that instance; instances are chosen by dynamic matching; the loop
// stops when sigma < 0.75 or after 150 runs.
// Ownership: the caller owns the judge, the generator and the instance set; evaluateNewModel only
// borrows them for the call. Threading: evaluateNewModel is reentrant; a Judge instance is used
// from the calling thread only (implementations need not be thread-safe).
#pragma once

#include "arena/rating.h"
#include "arena/store.h"
#include "arena/vote.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace arena {

// One output shown to a judge. Real judges read `path` (an image or text file) or `text`;
// `latent` is a hidden quality used only by simulated judges (NaN otherwise).
struct JudgeOutput {
    std::string path;
    std::string text;
    double latent = std::numeric_limits<double>::quiet_NaN();
};

struct JudgeRequest {
    PromptInfo prompt;
    std::vector<JudgeOutput> outputs;  // already in the order shown to the judge
    std::string rubric;
};

struct JudgeAnswer {
    std::vector<int> order;  // indices into request.outputs, best first; must be a permutation
    std::string raw;         // the judge's raw answer, logged
};

// A judge ranks all outputs of a request (strict order, no ties). Return an empty or malformed order
// to signal a refusal; rankWithRetry re-asks.
class Judge {
public:
    virtual ~Judge() = default;
    virtual std::string name() const = 0;
    virtual JudgeAnswer rank(const JudgeRequest& request) = 0;
};

// True when order is a permutation of 0..n-1.
bool isPermutation(const std::vector<int>& order, int n);

// Asks up to maxTries times until the answer is a valid permutation; appends raw answers to log.
// Throws std::runtime_error when every try fails.
std::vector<int> rankWithRetry(Judge& judge, const JudgeRequest& request, int maxTries = 3,
                               std::vector<std::string>* log = nullptr);

// Ranks by a per-output score (higher = better). The hook for automatic judges such as the
// Fashion-MNIST classifier judge: score = class probability + realism term.
class ScoreJudge : public Judge {
public:
    using ScoreFn = std::function<double(const JudgeOutput&, const PromptInfo&)>;
    ScoreJudge(std::string name, ScoreFn fn) : name_(std::move(name)), fn_(std::move(fn)) {}
    std::string name() const override { return name_; }
    JudgeAnswer rank(const JudgeRequest& request) override;

private:
    std::string name_;
    ScoreFn fn_;
};

// A noisy ranker over the hidden latent qualities: observes latent + N(0, noise^2) + bias * position
// and ranks by it. noise = 0 agrees with the humans; large noise is a chance-level judge. A
// positive positionBias favours later positions (to test swapping).
class SimulatedJudge : public Judge {
public:
    SimulatedJudge(double noise, double positionBias, std::uint64_t seed)
        : noise_(noise), bias_(positionBias), rng_(seed) {}
    std::string name() const override { return "simulated"; }
    JudgeAnswer rank(const JudgeRequest& request) override;

private:
    double noise_, bias_;
    std::mt19937_64 rng_;
};

// Spearman correlation with average ranks for ties; NaN when either side is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

// One curated instance: a past human vote of the arena.
struct EvalInstance {
    std::int64_t voteId = 0;
    std::string prompt;
    PromptInfo promptInfo;              // text, class and seed when known (judges may need the class)
    std::vector<std::string> models;    // K arena models, slot order
    std::vector<int> humanRanks;        // 1 = best
    std::vector<JudgeOutput> outputs;   // the K arena outputs
    double capMean = 0;                 // mean mu of its models (from the arena at curation time)
    double overlap = 0;                 // sum of pairwise Bhattacharyya coefficients of its models
};

struct InstanceSet {
    std::vector<EvalInstance> instances;
    int considered = 0;  // rank-mode votes looked at
    int kept = 0;        // passed the consistency filter
};

// Keeps Rank-mode votes whose human ranking agrees with the leaderboard order of their models
// (Spearman > threshold); skips votes containing `exclude`. outputsOf maps a vote to its outputs
// (may be empty: then outputs are left blank).
InstanceSet curateInstances(const std::vector<Vote>& votes, const std::map<std::string, Gaussian>& arena,
                            double threshold = 0.75, const std::string& exclude = {},
                            const std::function<std::vector<JudgeOutput>(const Vote&)>& outputsOf = {});

enum class Correction { Code, Paper, MomentMatched, None };
const char* toString(Correction c);

struct EvalParams {
    TrueSkillParams trueskill;      // new-model prior and dynamics (trueskill package defaults)
    double agreementSlope = 5.0;    // lambda' = sigmoid(slope * rho')
    double alpha = 0.5;             // overlap weight in dynamic matching
    double stopSigma = 0.75;
    int maxRuns = 150;
    Correction correction = Correction::Code;
    bool dynamicMatching = true;    // false: instances in random order
    bool shuffle = true;            // false: the new output always goes last (no swapping)
    std::uint64_t seed = 0;
    std::string heldOut;            // an arena model evaluated as new: left out of the rank
    std::string rubric = "aesthetics 50% (realism 30, light and shadow 10, artifacts 10); alignment 50% "
                         "(entity 30, style 20)";
};

struct EvalStep {
    int instance = 0;
    double rho = 0, lambda = 0;
    Gaussian before, uncorrected, after;
};

struct EvalResult {
    Gaussian rating;      // the new model's final (mu, sigma)
    double score = 0;     // mu - 3 * stdMean
    double stdMean = 0;   // mean sigma of the arena models
    int rank = 0;         // 1 + number of arena models with a higher conservative score
    int runs = 0;
    bool converged = false;  // sigma < stopSigma reached (else: hit maxRuns or ran out of instances)
    std::vector<EvalStep> steps;
};

// Produces the new model's output for an instance (one "run").
using Generator = std::function<JudgeOutput(const EvalInstance&)>;

EvalResult evaluateNewModel(const InstanceSet& set, const std::map<std::string, Gaussian>& arena, Judge& judge,
                            const Generator& generate, const EvalParams& p = {},
                            const std::atomic<bool>* cancel = nullptr);

// Conservative score of a Gaussian rating relative to an arena: rank among the arena's S = mu - 3 sigma.
int rankAgainst(double score, const std::map<std::string, Gaussian>& arena, const std::string& exclude = {});

}  // namespace arena
