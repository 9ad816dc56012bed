#include "arena/rating.h"

#include <algorithm>
#include <cmath>

namespace arena {
namespace gauss {

static const double kInvSqrt2Pi = 0.3989422804014327;

double pdf(double x) { return kInvSqrt2Pi * std::exp(-0.5 * x * x); }
double cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

double ppf(double p) {
    if (p <= 0.0) return -INFINITY;
    if (p >= 1.0) return INFINITY;
    double lo = -40.0, hi = 40.0;
    for (int i = 0; i < 200; ++i) {
        const double mid = 0.5 * (lo + hi);
        if (cdf(mid) < p) lo = mid; else hi = mid;
    }
    return 0.5 * (lo + hi);
}

double vWin(double t, double eps) {
    const double x = t - eps;
    const double denom = cdf(x);
    if (denom < 2.222758749e-162) return -x;  // asymptote of phi/Phi for x -> -inf
    return pdf(x) / denom;
}

double wWin(double t, double eps) {
    const double x = t - eps;
    const double denom = cdf(x);
    if (denom < 2.222758749e-162) return x < 0 ? 1.0 : 0.0;
    const double v = pdf(x) / denom;
    const double w = v * (v + x);
    return std::clamp(w, 0.0, 1.0);
}

double vDraw(double t, double eps) {
    const double a = std::fabs(t);
    const double hi = eps - a, lo = -eps - a;
    const double denom = cdf(hi) - cdf(lo);
    double v;
    if (denom < 2.222758749e-162) v = (a < eps) ? 0.0 : (eps - a);  // linear fallback
    else v = (pdf(lo) - pdf(hi)) / denom;
    return t < 0 ? -v : v;
}

double wDraw(double t, double eps) {
    const double a = std::fabs(t);
    const double hi = eps - a, lo = -eps - a;
    const double denom = cdf(hi) - cdf(lo);
    if (denom < 2.222758749e-162) return 1.0;
    const double v = vDraw(a, eps);
    const double w = v * v + (hi * pdf(hi) - lo * pdf(lo)) / denom;
    return std::clamp(w, 0.0, 1.0);
}

}  // namespace gauss

KSortParams KSortParams::paper() {
    KSortParams p;
    p.drawMargin = 0.0;
    p.damping = Damping::None;
    return p;
}

std::vector<Gaussian> ksortUpdate(const std::vector<Gaussian>& pre, const std::vector<PairResult>& pairs,
                                  const KSortParams& p) {
    const size_t n = pre.size();
    std::vector<double> var(n), omega(n, 0.0), delta(n, 0.0);
    for (size_t i = 0; i < n; ++i) var[i] = pre[i].sigma * pre[i].sigma + p.tau * p.tau;
    const double b2 = p.beta * p.beta;
    auto side = [&](int i, int q, double score) {
        const double c = std::sqrt(2.0 * b2 + var[i] + var[q]);
        const double t = (pre[i].mu - pre[q].mu) / c;
        const double gamma = p.damping == Damping::SigmaOverC ? std::sqrt(var[i]) / c : 1.0;
        const double s2c = var[i] / c, s2c2 = var[i] / (c * c);
        if (score > 0.75) {
            omega[i] += s2c * gauss::vWin(t, p.drawMargin / c);
            delta[i] += gamma * s2c2 * gauss::wWin(t, p.drawMargin / c);
        } else if (score < 0.25) {
            omega[i] -= s2c * gauss::vWin(-t, p.drawMargin / c);
            delta[i] += gamma * s2c2 * gauss::wWin(-t, p.drawMargin / c);
        } else {
            omega[i] += s2c * gauss::vDraw(t, p.tieMargin / c);
            delta[i] += gamma * s2c2 * gauss::wDraw(t, p.tieMargin / c);
        }
    };
    for (const auto& pr : pairs) {
        side(pr.i, pr.j, pr.score);
        side(pr.j, pr.i, 1.0 - pr.score);
    }
    std::vector<Gaussian> post(n);
    for (size_t i = 0; i < n; ++i) {
        post[i].mu = pre[i].mu + omega[i];
        post[i].sigma = std::sqrt(var[i] * std::max(1.0 - delta[i], p.kappa));
    }
    return post;
}

std::vector<Gaussian> plackettLuceUpdate(const std::vector<Gaussian>& pre, const std::vector<int>& ranks,
                                         const KSortParams& p) {
    const size_t n = pre.size();
    std::vector<double> var(n);
    double c2 = 0;
    for (size_t i = 0; i < n; ++i) {
        var[i] = pre[i].sigma * pre[i].sigma + p.tau * p.tau;
        c2 += var[i] + p.beta * p.beta;
    }
    const double c = std::sqrt(c2);
    std::vector<double> e(n), sumQ(n, 0.0), ties(n, 0.0);
    for (size_t i = 0; i < n; ++i) e[i] = std::exp(pre[i].mu / c);
    for (size_t q = 0; q < n; ++q)
        for (size_t s = 0; s < n; ++s) {
            if (ranks[s] >= ranks[q]) sumQ[q] += e[s];
            if (ranks[s] == ranks[q]) ties[q] += 1.0;
        }
    std::vector<Gaussian> post(n);
    for (size_t i = 0; i < n; ++i) {
        double om = 0, de = 0;
        for (size_t q = 0; q < n; ++q) {
            if (ranks[q] > ranks[i]) continue;
            const double piq = e[i] / sumQ[q];
            om += ((q == i ? 1.0 : 0.0) - piq) / ties[q];
            de += piq * (1.0 - piq) / ties[q];
        }
        const double gamma = p.damping == Damping::SigmaOverC ? std::sqrt(var[i]) / c : 1.0;
        post[i].mu = pre[i].mu + var[i] / c * om;
        post[i].sigma = std::sqrt(var[i] * std::max(1.0 - gamma * var[i] / c2 * de, p.kappa));
    }
    return post;
}

void eloUpdate(double& ra, double& rb, double score, const EloParams& p) {
    const double ea = 1.0 / (1.0 + std::pow(p.base, (rb - ra) / p.scale));
    ra += p.k * (score - ea);
    rb -= p.k * (score - ea);
}

}  // namespace arena
