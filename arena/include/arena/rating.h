// arena/rating.h: online rating models over Gaussian skills: the K-Sort Bayesian
// (Thurstone-Mosteller full pairing) update, the TrueSkill multi-team factor-graph update, and
// online Elo. All inputs and outputs are plain values; functions are pure and thread-safe.
// Qt-free and torch-free; double precision throughout.
#pragma once

#include <string>
#include <vector>

namespace arena {

struct Gaussian {
    double mu = 25.0;
    double sigma = 25.0 / 3.0;
};

// Conservative leaderboard score S = mu - eta * sigma.
inline double conservative(const Gaussian& g, double eta = 3.0) { return g.mu - eta * g.sigma; }

namespace gauss {
double pdf(double x);
double cdf(double x);
double ppf(double p);  // inverse cdf, p in (0,1)
// Truncated-Gaussian correction functions (TrueSkill / Weng-Lin notation, eps = draw margin / c).
double vWin(double t, double eps);   // phi(t-eps)/Phi(t-eps), guarded against underflow
double wWin(double t, double eps);   // v (v + t - eps), clamped to [0,1]
double vDraw(double t, double eps);  // sign(t)[phi(-eps-|t|) - phi(eps-|t|)]/[Phi(eps-|t|)-Phi(-eps-|t|)]
double wDraw(double t, double eps);
}  // namespace gauss

// ----- K-Sort Bayesian (Thurstone-Mosteller full pairing, K-Sort Arena eqs. 9-10) -----
enum class Damping { None, SigmaOverC };  // gamma = 1, or gamma = sigma_i / c_iq

struct KSortParams {
    double mu0 = 25.0;
    double sigma0 = 25.0 / 3.0;
    double beta = 25.0 / 6.0;   // per-player performance noise
    double tau = 0.0;           // dynamics: sigma^2 += tau^2 before each update (0: variants are static)
    double drawMargin = 0.1;    // epsilon used in the win/loss branch
    double tieMargin = 0.1;     // epsilon used for tied pairs (must be > 0)
    double kappa = 1e-4;        // variance floor factor: sigma^2 *= max(1 - Delta, kappa)
    Damping damping = Damping::SigmaOverC;
    double eta = 3.0;           // leaderboard S = mu - eta sigma

    // The paper's printed update: gamma = 1, no win margin, kappa clamp, ties with tieMargin.
    static KSortParams paper();
};

// One pairwise result between participants i and j (indices into the pre-vote vector).
struct PairResult {
    int i = 0, j = 0;
    double score = 0.5;  // 1: i beats j, 0: j beats i, 0.5: tie
};

// Simultaneous update: every pair contributes, computed from the pre-vote ratings.
std::vector<Gaussian> ksortUpdate(const std::vector<Gaussian>& pre, const std::vector<PairResult>& pairs,
                                  const KSortParams& p = {});

// Weng-Lin Plackett-Luce update over a K-wise ranking (ranks: smaller = better, ties allowed), using
// beta, kappa, tau and the damping of KSortParams (gamma = sigma_i / c when damped).
std::vector<Gaussian> plackettLuceUpdate(const std::vector<Gaussian>& pre, const std::vector<int>& ranks,
                                         const KSortParams& p = {});

// ----- TrueSkill multi-team (one player per team), expectation propagation -----
struct TrueSkillParams {
    double mu0 = 25.0;
    double sigma0 = 25.0 / 3.0;
    double beta = 25.0 / 6.0;
    double tau = 25.0 / 300.0;
    double drawProbability = 0.10;
    double tolerance = 1e-4;
    int maxIterations = 10;
    double drawMargin() const;  // Phi^-1((p+1)/2) * sqrt(2) * beta
};

// ranks: smaller = better, equal = draw. Returns the posterior of every participant.
std::vector<Gaussian> trueskillUpdate(const std::vector<Gaussian>& pre, const std::vector<int>& ranks,
                                      const TrueSkillParams& p = {});

// ----- Online Elo (FastChat compute_elo) -----
struct EloParams {
    double k = 4.0;
    double base = 10.0;
    double scale = 400.0;
    double init = 1000.0;
};
// score: 1 a wins, 0.5 tie, 0 b wins. Updates ra and rb in place.
void eloUpdate(double& ra, double& rb, double score, const EloParams& p = {});

}  // namespace arena
