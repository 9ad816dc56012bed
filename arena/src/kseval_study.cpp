#include "arena/kseval_study.h"

#include "arena/leaderboard.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>
#include <thread>

namespace arena {
namespace {

std::uint64_t mix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

std::string fmt(const char* f, double x) {
    char b[64];
    std::snprintf(b, sizeof b, f, x);
    return b;
}

struct Evaluation {
    int arm = 0, noise = 0;
    double absRank = 0, absScore = 0, runs = 0, finalSigma = 0, rho = 0;
    bool cap = false;
};

}  // namespace

std::vector<StudyArm> defaultStudyArms() {
    std::vector<StudyArm> arms;
    EvalParams full;
    arms.push_back({"full (code-form correction)", full, 0.0});
    EvalParams none = full;
    none.correction = Correction::None;
    arms.push_back({"without posterior correction", none, 0.0});
    EvalParams paper = full;
    paper.correction = Correction::Paper;
    arms.push_back({"paper-form variance", paper, 0.0});
    EvalParams moment = full;
    moment.correction = Correction::MomentMatched;
    arms.push_back({"moment-matched variance", moment, 0.0});
    EvalParams nomatch = full;
    nomatch.dynamicMatching = false;
    arms.push_back({"without dynamic matching (random instances)", nomatch, 0.0});
    arms.push_back({"full, judge with position bias 1.0", full, 1.0});
    EvalParams noswap = full;
    noswap.shuffle = false;
    arms.push_back({"without swapping, judge with position bias 1.0", noswap, 1.0});
    return arms;
}

StudyReport runKSortEvalStudy(const std::vector<StudyArm>& arms, const StudyConfig& cfg,
                              const std::function<void(int, int)>& progress) {
    StudyReport rep;
    std::mt19937_64 rng(mix(cfg.seed));
    // Synthetic arena: evenly spaced true skills in shuffled order.
    std::vector<double> skill(cfg.models);
    std::vector<std::string> names(cfg.models);
    std::vector<int> perm(cfg.models);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::map<std::string, double> skillOf;
    for (int i = 0; i < cfg.models; ++i) {
        skill[i] = cfg.skillLo + (cfg.skillHi - cfg.skillLo) * perm[i] / std::max(1, cfg.models - 1);
        names[i] = fmt("m%02.0f", i);
        skillOf[names[i]] = skill[i];
    }
    std::normal_distribution<double> n01(0.0, 1.0);
    std::vector<Vote> votes;
    std::map<std::int64_t, std::vector<double>> latent;
    for (int v = 0; v < cfg.votes; ++v) {
        std::vector<int> idx(cfg.models);
        std::iota(idx.begin(), idx.end(), 0);
        std::shuffle(idx.begin(), idx.end(), rng);
        Vote vote;
        vote.id = v + 1;
        vote.prompt = "p" + std::to_string(v);
        vote.tstamp = v;
        vote.judge = "human";
        std::vector<double> q;
        for (int j = 0; j < 4; ++j) {
            vote.models.push_back(names[idx[j]]);
            q.push_back(skill[idx[j]] + cfg.outputNoise * n01(rng));
        }
        vote.ranks.assign(4, 0);
        std::vector<int> o(4);
        std::iota(o.begin(), o.end(), 0);
        std::sort(o.begin(), o.end(), [&](int a, int b) { return q[a] > q[b]; });
        for (int r = 0; r < 4; ++r) vote.ranks[o[r]] = r + 1;
        latent[vote.id] = q;
        votes.push_back(vote);
    }
    const std::map<std::string, Gaussian> arena = trueskillRatings(replayOrder(votes), TrueSkillParams{});
    // Targets spread over the leaderboard.
    std::vector<std::pair<double, std::string>> board;
    for (const auto& kv : arena) board.push_back({conservative(kv.second), kv.first});
    std::sort(board.rbegin(), board.rend());
    std::vector<std::string> targets;
    for (int t = 0; t < cfg.targets; ++t) {
        const size_t pos = static_cast<size_t>(std::lround((t + 0.5) * board.size() / cfg.targets - 0.5));
        targets.push_back(board[std::min(pos, board.size() - 1)].second);
    }
    auto outputsOf = [&](const Vote& v) {
        std::vector<JudgeOutput> out(v.models.size());
        for (size_t i = 0; i < out.size(); ++i) out[i].latent = latent[v.id][i];
        return out;
    };
    std::vector<InstanceSet> sets;
    for (const auto& t : targets) {
        sets.push_back(curateInstances(votes, arena, cfg.curationThreshold, t, outputsOf));
        const Gaussian g = arena.at(t);
        rep.targets.push_back(t + " (true skill " + fmt("%.1f", skillOf[t]) + ", arena rank " +
                              std::to_string(rankAgainst(conservative(g), arena, t)) + ", S " +
                              fmt("%.2f", conservative(g)) + ", instances " + std::to_string(sets.back().kept) + ")");
    }
    const InstanceSet all = curateInstances(votes, arena, cfg.curationThreshold, {}, outputsOf);
    rep.instancesConsidered = all.considered;
    rep.instancesKept = all.kept;

    const int nArm = static_cast<int>(arms.size()), nNoise = static_cast<int>(cfg.judgeNoise.size());
    const int nT = static_cast<int>(targets.size());
    const int total = nArm * nNoise * nT * cfg.seeds;
    std::vector<Evaluation> evals(total);
    std::atomic<int> next{0}, done{0};
    std::mutex mu;
    auto worker = [&] {
        for (int i = next++; i < total; i = next++) {
            int r = i;
            const int s = r % cfg.seeds; r /= cfg.seeds;
            const int t = r % nT; r /= nT;
            const int ni = r % nNoise; r /= nNoise;
            const int a = r;
            const std::uint64_t sd = mix(cfg.seed * 131 + static_cast<std::uint64_t>(t) * 1009 + s);
            SimulatedJudge judge(cfg.judgeNoise[ni], arms[a].positionBias, mix(sd + 1));
            std::mt19937_64 gen(mix(sd + 2));
            std::normal_distribution<double> genNoise(0.0, 1.0);  // per evaluation: no shared state
            const double sk = skillOf.at(targets[t]);
            Generator g = [&](const EvalInstance&) {
                JudgeOutput o;
                o.latent = sk + cfg.outputNoise * genNoise(gen);
                return o;
            };
            EvalParams p = arms[a].params;
            p.seed = mix(sd + 3);
            p.heldOut = targets[t];
            const EvalResult res = evaluateNewModel(sets[t], arena, judge, g, p);
            const Gaussian truth = arena.at(targets[t]);
            Evaluation e;
            e.arm = a;
            e.noise = ni;
            e.absRank = std::abs(res.rank - rankAgainst(conservative(truth), arena, targets[t]));
            e.absScore = std::fabs(res.score - conservative(truth));
            e.runs = res.runs;
            e.cap = !res.converged;
            e.finalSigma = res.rating.sigma;
            double rs = 0;
            int rn = 0;
            for (const auto& st : res.steps)
                if (!std::isnan(st.rho)) { rs += st.rho; ++rn; }
            e.rho = rn ? rs / rn : 0;
            evals[i] = e;
            const int d = ++done;
            if (progress) {
                std::lock_guard<std::mutex> lock(mu);
                progress(d, total);
            }
        }
    };
    std::vector<std::thread> pool;
    for (int th = 0; th < std::max(1, cfg.threads); ++th) pool.emplace_back(worker);
    for (auto& th : pool) th.join();

    for (int ni = 0; ni < nNoise; ++ni)
        for (int a = 0; a < nArm; ++a) {
            StudyCell c;
            c.arm = arms[a].name;
            c.judgeNoise = cfg.judgeNoise[ni];
            std::vector<double> runs;
            for (const auto& e : evals) {
                if (e.arm != a || e.noise != ni) continue;
                ++c.evaluations;
                c.meanAbsRankDiff += e.absRank;
                c.withinOne += e.absRank <= 1;
                c.meanAbsScoreDiff += e.absScore;
                c.capFraction += e.cap;
                c.meanFinalSigma += e.finalSigma;
                c.meanRho += e.rho;
                c.within90Runs += e.runs <= 90 && !e.cap;
                runs.push_back(e.runs);
            }
            if (c.evaluations) {
                const double n = c.evaluations;
                c.meanAbsRankDiff /= n;
                c.withinOne /= n;
                c.meanAbsScoreDiff /= n;
                c.capFraction /= n;
                c.meanFinalSigma /= n;
                c.meanRho /= n;
                c.within90Runs /= n;
                c.medianRuns = quantile(runs, 0.5);
            }
            rep.cells.push_back(c);
        }
    return rep;
}

std::string studyMarkdown(const StudyReport& r, const StudyConfig& cfg, const std::string& command) {
    std::ostringstream md;
    md << "# K-Sort Eval with simulated judges\n\n";
    md << "Generated by:\n\n```\n" << command << "\n```\n\n";
    md << "## Setup\n\n";
    md << "- Synthetic human arena: " << cfg.models << " models with true skills evenly spaced in [" << cfg.skillLo
       << ", " << cfg.skillHi << "] (shuffled), " << cfg.votes
       << " human K=4 Rank-mode votes over random groups; each output's latent quality is skill + N(0, "
       << fmt("%.3f", cfg.outputNoise) << "^2) and the humans rank by it. Arena ratings: TrueSkill replay "
       << "(mu0 25, sigma0 25/3, beta 25/6, tau 25/300, draw probability 0.10).\n";
    md << "- Curation: Spearman(human ranks, leaderboard order) > " << cfg.curationThreshold << ": "
       << r.instancesKept << " of " << r.instancesConsidered << " votes kept as instances.\n";
    md << "- Each target (an arena model treated as new) is removed from the instance pool; its outputs are "
          "regenerated as skill + noise. " << cfg.seeds << " seeds per target.\n";
    md << "- Judge: a simulated ranker of the K+1 = 5 outputs that sees latent + N(0, s^2) (s = judge noise; "
          "1e6 = chance level), optionally with a position bias (+bias x position).\n";
    md << "- Loop: dynamic matching |mean mu - mu_new| + 0.5 x overlap (sum of pairwise Bhattacharyya "
          "coefficients), TrueSkill 5-way update of the new model only, correction weight sigmoid(5 rho'), "
          "stop at sigma < 0.75 or 150 runs, score = mu - 3 x mean arena sigma.\n\n";
    md << "Targets:\n\n";
    for (const auto& t : r.targets) md << "- " << t << "\n";
    const auto names = defaultStudyArms();
    auto cell = [&](size_t arm, size_t noise) -> const StudyCell* {
        for (const auto& c : r.cells)
            if (noise < cfg.judgeNoise.size() && c.arm == names[arm].name && c.judgeNoise == cfg.judgeNoise[noise]) return &c;
        return nullptr;
    };
    const StudyCell* full = cell(0, 0);
    const StudyCell* nomatch = cell(4, 0);
    const StudyCell* codeChance = cell(0, cfg.judgeNoise.size() - 1);
    const StudyCell* paperChance = cell(2, cfg.judgeNoise.size() - 1);
    if (full && nomatch && codeChance && paperChance && cfg.judgeNoise.size() > 1) {
        md << "\n## Summary\n\n";
        md << "- Judge agreeing with the humans (s = " << fmt("%.1f", full->judgeNoise) << "): the full method's rank is within "
           << "+-1 of the arena's in " << fmt("%.0f%%", 100 * full->withinOne) << " of " << full->evaluations
           << " evaluations (mean |rank diff| " << fmt("%.2f", full->meanAbsRankDiff) << ", mean |score diff| "
           << fmt("%.2f", full->meanAbsScoreDiff) << "), median " << fmt("%.0f", full->medianRuns) << " runs, "
           << fmt("%.0f%%", 100 * full->within90Runs) << " stopped within 90 runs (paper: same ranks, 91% within 90 runs).\n";
        md << "- Without dynamic matching: median " << fmt("%.0f", nomatch->medianRuns) << " runs, "
           << fmt("%.0f%%", 100 * nomatch->capFraction) << " hit the cap, within +-1 rank "
           << fmt("%.0f%%", 100 * nomatch->withinOne) << ".\n";
        md << "- Chance-level judge: the code-form correction keeps sigma up (median " << fmt("%.0f", codeChance->medianRuns)
           << " runs, " << fmt("%.0f%%", 100 * codeChance->capFraction) << " at the cap) while the paper form stops after a median of "
           << fmt("%.0f", paperChance->medianRuns) << " runs, over-confident.\n";
    }
    md << "\n## Results\n\n";
    md << "|rank diff| and |score diff| are against the arena's own rank and S = mu - 3 sigma of the target. "
          "`cap` = fraction of evaluations that stopped without reaching sigma < 0.75.\n";
    double lastNoise = -1;
    for (const auto& c : r.cells) {
        if (c.judgeNoise != lastNoise) {
            lastNoise = c.judgeNoise;
            md << "\n### Judge noise s = " << (c.judgeNoise >= 1e5 ? std::string("1e6 (chance level)") : fmt("%.1f", c.judgeNoise))
               << "\n\n| arm | evals | mean agreement rho' | mean abs rank diff | within +-1 rank | mean abs score diff "
                  "| median runs | stopped within 90 runs | cap | mean final sigma |\n|---|---|---|---|---|---|---|---|---|---|\n";
        }
        md << "| " << c.arm << " | " << c.evaluations << " | " << fmt("%.2f", c.meanRho) << " | "
           << fmt("%.2f", c.meanAbsRankDiff) << " | " << fmt("%.0f%%", 100 * c.withinOne) << " | "
           << fmt("%.2f", c.meanAbsScoreDiff) << " | " << fmt("%.0f", c.medianRuns) << " | "
           << fmt("%.0f%%", 100 * c.within90Runs) << " | " << fmt("%.0f%%", 100 * c.capFraction) << " | " << fmt("%.2f", c.meanFinalSigma) << " |\n";
    }
    return md.str();
}

}  // namespace arena
