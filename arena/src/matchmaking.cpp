#include "arena/matchmaking.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace arena {

void PairCounts::resize(int n) {
    std::vector<long> c(static_cast<size_t>(n) * n, 0);
    for (int i = 0; i < std::min(n, n_); ++i)
        for (int j = 0; j < std::min(n, n_); ++j) c[static_cast<size_t>(i) * n + j] = pair(i, j);
    c_.swap(c);
    n_ = n;
    tot_.assign(n, 0);
    all_ = 0;
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            tot_[i] += pair(i, j);
            if (i < j) all_ += pair(i, j);
        }
}

void PairCounts::add(int i, int j, long k) {
    c_[static_cast<size_t>(i) * n_ + j] += k;
    c_[static_cast<size_t>(j) * n_ + i] += k;
    tot_[i] += k;
    tot_[j] += k;
    all_ += k;
}

double ucbScore(double si, double sq, long nAll, long nIq, const MatchmakingParams& p) {
    const double gap = std::fabs(si - sq);
    const double explore = p.alpha * std::sqrt(std::log(std::max<long>(nAll, 1)) / (nIq + 1.0));
    return (p.preferClose ? -gap : gap) + explore;
}

std::vector<int> pickParticipants(const std::vector<double>& score, const PairCounts& counts, int k,
                                  const MatchmakingParams& p, std::mt19937_64& rng) {
    const int n = static_cast<int>(score.size());
    k = std::clamp(k, 1, n);
    std::uniform_real_distribution<double> jitter(0.0, 1.0);
    int pivot = 0;
    if (p.pivot == PivotRule::Random) {
        pivot = std::uniform_int_distribution<int>(0, n - 1)(rng);
    } else {
        double best = INFINITY;
        for (int i = 0; i < n; ++i) {
            const double v = counts.total(i) + 0.5 * jitter(rng);  // random tie-break
            if (v < best) { best = v; pivot = i; }
        }
    }
    std::vector<int> cand;
    for (int i = 0; i < n; ++i)
        if (i != pivot) cand.push_back(i);
    std::vector<int> out{pivot};
    if (p.opponents == OpponentRule::Random) {
        std::shuffle(cand.begin(), cand.end(), rng);
        out.insert(out.end(), cand.begin(), cand.begin() + (k - 1));
        return out;
    }
    std::vector<std::pair<double, int>> u;
    for (int q : cand)
        u.push_back({ucbScore(score[pivot], score[q], counts.all(), counts.pair(pivot, q), p) + 1e-9 * jitter(rng), q});
    std::partial_sort(u.begin(), u.begin() + (k - 1), u.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first; });
    for (int i = 0; i < k - 1; ++i) out.push_back(u[i].second);
    return out;
}

}  // namespace arena
