#include "arena/bradley_terry.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <tuple>

namespace arena {
namespace {

double loss(const std::vector<double>& r, const std::vector<BtObs>& obs, double ln, double ridge) {
    double l = 0;
    for (const auto& o : obs) {
        const double d = ln * (r[o.a] - r[o.b]);
        // -[s log sigma(d) + (1-s) log sigma(-d)] with a stable softplus
        auto softplus = [](double x) { return x > 30 ? x : std::log1p(std::exp(x)); };
        l += o.weight * (o.score * softplus(-d) + (1.0 - o.score) * softplus(d));
    }
    for (double x : r) l += 0.5 * ridge * x * x;
    return l;
}

// Solve A x = b (A symmetric positive definite, small) by Gaussian elimination with pivoting.
std::vector<double> solve(std::vector<std::vector<double>> A, std::vector<double> b) {
    const int n = static_cast<int>(b.size());
    for (int c = 0; c < n; ++c) {
        int piv = c;
        for (int r = c + 1; r < n; ++r)
            if (std::fabs(A[r][c]) > std::fabs(A[piv][c])) piv = r;
        std::swap(A[c], A[piv]);
        std::swap(b[c], b[piv]);
        const double d = A[c][c];
        if (std::fabs(d) < 1e-300) continue;
        for (int r = c + 1; r < n; ++r) {
            const double f = A[r][c] / d;
            if (f == 0) continue;
            for (int k = c; k < n; ++k) A[r][k] -= f * A[c][k];
            b[r] -= f * b[c];
        }
    }
    std::vector<double> x(n, 0.0);
    for (int r = n - 1; r >= 0; --r) {
        double s = b[r];
        for (int k = r + 1; k < n; ++k) s -= A[r][k] * x[k];
        x[r] = std::fabs(A[r][r]) < 1e-300 ? 0.0 : s / A[r][r];
    }
    return x;
}

}  // namespace

std::vector<double> btFit(int n, const std::vector<BtObs>& obs, double base, int maxIterations) {
    std::vector<double> r(n, 0.0);
    if (n == 0) return r;
    const double ln = std::log(base);
    double total = 0;
    for (const auto& o : obs) total += o.weight;
    const double ridge = 1e-9 * (1.0 + total);  // fixes the gauge and keeps separable data finite
    double cur = loss(r, obs, ln, ridge);
    for (int it = 0; it < maxIterations; ++it) {
        std::vector<double> g(n, 0.0);
        std::vector<std::vector<double>> H(n, std::vector<double>(n, 0.0));
        for (const auto& o : obs) {
            const double pr = 1.0 / (1.0 + std::exp(-ln * (r[o.a] - r[o.b])));
            const double gr = -o.weight * ln * (o.score - pr);
            g[o.a] += gr;
            g[o.b] -= gr;
            const double h = o.weight * ln * ln * pr * (1.0 - pr);
            H[o.a][o.a] += h;
            H[o.b][o.b] += h;
            H[o.a][o.b] -= h;
            H[o.b][o.a] -= h;
        }
        double gmax = 0;
        for (int i = 0; i < n; ++i) {
            g[i] += ridge * r[i];
            H[i][i] += ridge + 1e-12;
            gmax = std::max(gmax, std::fabs(g[i]));
        }
        if (gmax < 1e-10 * (1.0 + total)) break;
        std::vector<double> neg(n);
        for (int i = 0; i < n; ++i) neg[i] = -g[i];
        const std::vector<double> step = solve(H, neg);
        double t = 1.0, next = cur;
        std::vector<double> cand(n);
        for (int ls = 0; ls < 40; ++ls, t *= 0.5) {
            for (int i = 0; i < n; ++i) cand[i] = r[i] + t * step[i];
            next = loss(cand, obs, ln, ridge);
            if (next <= cur) break;
        }
        if (next > cur) break;
        r = cand;
        const bool done = cur - next < 1e-15 * (1.0 + cur);
        cur = next;
        if (done) break;
    }
    double mean = 0;
    for (double x : r) mean += x;
    mean /= n;
    for (double& x : r) x -= mean;
    return r;
}

double quantile(std::vector<double> x, double q) {
    if (x.empty()) return NAN;
    std::sort(x.begin(), x.end());
    const double pos = q * (x.size() - 1);
    const size_t lo = static_cast<size_t>(std::floor(pos));
    const size_t hi = std::min(lo + 1, x.size() - 1);
    return x[lo] + (pos - lo) * (x[hi] - x[lo]);
}

std::vector<BtRow> bradleyTerry(const std::vector<Battle>& battles, const BtParams& p) {
    std::map<std::string, int> index;
    for (const auto& b : battles) {
        index.emplace(b.a, 0);
        index.emplace(b.b, 0);
    }
    std::vector<std::string> names;
    for (auto& kv : index) {
        kv.second = static_cast<int>(names.size());
        names.push_back(kv.first);
    }
    const int n = static_cast<int>(names.size());
    std::map<std::tuple<int, int, int>, double> uniq;  // (a, b, score*2) -> count
    std::vector<int> counts(n, 0);
    for (const auto& b : battles) {
        const int ia = index[b.a], ib = index[b.b];
        uniq[{ia, ib, static_cast<int>(std::lround(b.score * 2))}] += 1.0;
        ++counts[ia];
        ++counts[ib];
    }
    std::vector<BtObs> obs;
    for (const auto& kv : uniq)
        obs.push_back({std::get<0>(kv.first), std::get<1>(kv.first), std::get<2>(kv.first) / 2.0, kv.second});

    auto toRatings = [&](const std::vector<double>& r) {
        std::vector<double> R(n);
        for (int i = 0; i < n; ++i) R[i] = p.scale * r[i] + p.init;
        auto it = index.find(p.anchor);
        if (!p.anchor.empty() && it != index.end()) {
            const double shift = p.anchorValue - R[it->second];
            for (double& x : R) x += shift;
        }
        return R;
    };
    const std::vector<double> point = toRatings(btFit(n, obs, p.base, p.maxIterations));
    std::vector<std::vector<double>> samples(n);
    if (p.bootstrap > 0 && !battles.empty()) {
        std::mt19937_64 rng(p.seed);
        const double total = static_cast<double>(battles.size());
        for (int round = 0; round < p.bootstrap; ++round) {
            std::vector<BtObs> res = obs;
            long left = static_cast<long>(battles.size());
            double mass = 1.0;
            for (auto& o : res) {
                const double prob = o.weight / total;
                long k = 0;
                if (left > 0 && mass > 0) {
                    std::binomial_distribution<long> bin(left, std::clamp(prob / mass, 0.0, 1.0));
                    k = bin(rng);
                }
                o.weight = static_cast<double>(k);
                left -= k;
                mass -= prob;
            }
            res.erase(std::remove_if(res.begin(), res.end(), [](const BtObs& o) { return o.weight <= 0; }),
                      res.end());
            const std::vector<double> R = toRatings(btFit(n, res, p.base, p.maxIterations));
            for (int i = 0; i < n; ++i) samples[i].push_back(R[i]);
        }
    }
    std::vector<BtRow> rows(n);
    for (int i = 0; i < n; ++i) {
        rows[i].model = names[i];
        rows[i].rating = point[i];
        rows[i].battles = counts[i];
        rows[i].lo = samples[i].empty() ? point[i] : quantile(samples[i], 0.025);
        rows[i].hi = samples[i].empty() ? point[i] : quantile(samples[i], 0.975);
    }
    for (int i = 0; i < n; ++i) {
        int r = 1;
        for (int j = 0; j < n; ++j)
            if (j != i && rows[j].lo > rows[i].hi) ++r;
        rows[i].rankUB = r;
    }
    std::sort(rows.begin(), rows.end(), [](const BtRow& x, const BtRow& y) { return x.rating > y.rating; });
    return rows;
}

}  // namespace arena
