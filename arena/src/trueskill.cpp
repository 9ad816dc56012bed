// TrueSkill multi-team update for one-player teams: a chain factor graph over the sorted
// performances, differences between adjacent ranks only, solved by expectation propagation.
#include "arena/rating.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace arena {
namespace {

struct Nat {  // Gaussian in natural parameters: precision pi, precision-adjusted mean tau
    double pi = 0.0, tau = 0.0;
    static Nat fromMoments(double mean, double var) { return {1.0 / var, mean / var}; }
    double mean() const { return pi > 0 ? tau / pi : 0.0; }
    double var() const { return pi > 0 ? 1.0 / pi : INFINITY; }
};
Nat operator*(Nat a, Nat b) { return {a.pi + b.pi, a.tau + b.tau}; }
Nat operator/(Nat a, Nat b) { return {a.pi - b.pi, a.tau - b.tau}; }

}  // namespace

double TrueSkillParams::drawMargin() const {
    return gauss::ppf((drawProbability + 1.0) / 2.0) * std::sqrt(2.0) * beta;
}

std::vector<Gaussian> trueskillUpdate(const std::vector<Gaussian>& pre, const std::vector<int>& ranks,
                                      const TrueSkillParams& p) {
    const int n = static_cast<int>(pre.size());
    if (n < 2 || static_cast<int>(ranks.size()) != n) return pre;
    std::vector<int> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return ranks[a] < ranks[b]; });

    const double b2 = p.beta * p.beta, t2 = p.tau * p.tau;
    const double eps = p.drawMargin();
    std::vector<Nat> prior(n), perf(n);
    for (int k = 0; k < n; ++k) {
        const Gaussian& g = pre[order[k]];
        prior[k] = Nat::fromMoments(g.mu, g.sigma * g.sigma + t2);
        perf[k] = Nat::fromMoments(g.mu, g.sigma * g.sigma + t2 + b2);
    }
    const int m = n - 1;
    std::vector<Nat> toLeft(m), toRight(m), trunc(m);
    auto marginal = [&](int k) {
        Nat r = perf[k];
        if (k > 0) r = r * toRight[k - 1];
        if (k < m) r = r * toLeft[k];
        return r;
    };
    auto update = [&](int j) {
        const Nat cavL = marginal(j) / toLeft[j];
        const Nat cavR = marginal(j + 1) / toRight[j];
        const Nat div = Nat::fromMoments(cavL.mean() - cavR.mean(), cavL.var() + cavR.var());
        const bool draw = ranks[order[j]] == ranks[order[j + 1]];
        const double sq = std::sqrt(div.pi);
        const double t = div.tau / sq, e = eps * sq;
        const double v = draw ? gauss::vDraw(t, e) : gauss::vWin(t, e);
        const double w = draw ? gauss::wDraw(t, e) : gauss::wWin(t, e);
        const double denom = std::max(1.0 - w, 1e-12);
        const Nat marg{div.pi / denom, (div.tau + sq * v) / denom};
        const Nat old = trunc[j];
        trunc[j] = marg / div;
        const double change = std::max(std::fabs(trunc[j].tau - old.tau), std::sqrt(std::fabs(trunc[j].pi - old.pi)));
        if (trunc[j].pi <= 0) {
            toLeft[j] = Nat{};
            toRight[j] = Nat{};
        } else {
            toLeft[j] = Nat::fromMoments(trunc[j].mean() + cavR.mean(), trunc[j].var() + cavR.var());
            toRight[j] = Nat::fromMoments(cavL.mean() - trunc[j].mean(), cavL.var() + trunc[j].var());
        }
        return change;
    };
    for (int it = 0; it < std::max(1, p.maxIterations); ++it) {
        double change = 0.0;
        for (int j = 0; j < m; ++j) change = std::max(change, update(j));
        for (int j = m - 1; j >= 0; --j) change = std::max(change, update(j));
        if (change <= p.tolerance) break;
    }
    std::vector<Gaussian> post(n);
    for (int k = 0; k < n; ++k) {
        Nat like;
        if (k > 0) like = like * toRight[k - 1];
        if (k < m) like = like * toLeft[k];
        Nat skill = prior[k];
        if (like.pi > 0) skill = skill * Nat::fromMoments(like.mean(), like.var() + b2);
        post[order[k]] = {skill.mean(), std::sqrt(skill.var())};
    }
    return post;
}

}  // namespace arena
