#include "cmd_arena.h"

#include "arena/fastchat.h"
#include "arena/kseval.h"
#include "arena/kseval_study.h"
#include "arena/leaderboard.h"
#include "arena/outputset.h"
#include "arena/session.h"
#include "arena/simulator.h"
#include "arena/store.h"
#ifdef CS_ARENA_STUDIO
#include "core/ArenaGenerate.h"
#include "core/ArenaJudges.h"
#include "engine/job.h"
#endif

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>

#include "arena_cli_util.h"

using namespace arena_cli;

void addArenaCommands(CLI::App& app) {
    CLI::App* arenaCmd = app.add_subcommand("arena", "Local K-wise arena: sessions, votes, ratings, simulator, K-Sort Eval");
    arenaCmd->require_subcommand(1);

    // ---- new-session ----
    {
        struct Opt {
            Common c;
            std::string name = "session", models, prompts, outputSet, mode = "rank";
            int k = 4;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand("new-session", "Create a voting session");
        addCommon(sub, o->c);
        sub->add_option("--name", o->name, "Session name");
        sub->add_option("--models", o->models, "Comma-separated model names (default: all models of --output-set)");
        sub->add_option("--prompts", o->prompts, "Comma-separated prompt keys (default: the output set's prompts)");
        sub->add_option("--output-set", o->outputSet, "Folder with one sub-folder per model and a prompts file");
        sub->add_option("--k", o->k, "Outputs per match (2..6)")->check(CLI::Range(2, 6));
        sub->add_option("--mode", o->mode, "Voting mode: rank or best")->check(CLI::IsMember({"rank", "best"}));
        sub->callback(guarded([o]() {
            arena::Store store(o->c.workspace);
            const auto s = createSession(store, o->name, o->k, o->mode, splitList(o->models), splitList(o->prompts),
                                         o->outputSet);
            if (o->c.asJson)
                std::cout << sessionJson(s).dump(1) << std::endl;
            else
                std::cout << "session " << s.id << " (" << s.models.size() << " models, K=" << s.k << ", "
                          << s.prompts.size() << " prompts)" << std::endl;
        }));
    }

    // ---- match ----
    {
        struct Opt {
            Common c;
            long long session = 0;
            std::string judge = "cli", matchmaking = "ucb";
            bool printedSign = false;
            unsigned long long seed = 0;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand("match", "Plan the next match of a session (anonymous, shuffled slots)");
        addCommon(sub, o->c);
        sub->add_option("--session", o->session, "Session id")->required();
        sub->add_option("--judge", o->judge, "Judge id");
        sub->add_option("--matchmaking", o->matchmaking, "ucb or random")->check(CLI::IsMember({"ucb", "random"}));
        sub->add_flag("--printed-sign", o->printedSign, "Use the paper's printed +|S_i-S_q| UCB term (favours mismatches)");
        sub->add_option("--seed", o->seed, "Random seed (0: from the clock)");
        sub->callback(guarded([o]() {
            arena::Store store(o->c.workspace);
            const auto s = store.session(o->session);
            if (!s) fail("no session " + std::to_string(o->session));
            arena::PlanOptions plan;
            plan.seed = o->seed;
            plan.matchmaking.preferClose = !o->printedSign;
            if (o->matchmaking == "random") {
                plan.matchmaking.pivot = arena::PivotRule::Random;
                plan.matchmaking.opponents = arena::OpponentRule::Random;
            }
            const auto set = outputsOf(*s);
            const auto m = arena::planMatch(store, o->session, o->judge, plan, set.get());
            const json j = matchJson(m, set.get(), false);
            if (o->c.asJson) {
                std::cout << j.dump(1) << std::endl;
            } else {
                std::cout << "match " << m.id << ", prompt '" << m.prompt << "', " << m.candidates.size() << " slots" << std::endl;
                for (const auto& sl : j["slots"])
                    std::cout << "  slot " << sl["slot"].get<int>()
                              << (sl.contains("output") ? ": " + sl["output"].get<std::string>() : std::string()) << std::endl;
            }
        }));
    }

    // ---- vote ----
    {
        struct Opt {
            Common c;
            long long match = 0;
            std::string ranks, judge;
            int best = 0;
            bool allTie = false, allBad = false;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand("vote", "Vote on a match, then reveal the identities");
        addCommon(sub, o->c);
        sub->add_option("--match", o->match, "Match id")->required();
        auto* r = sub->add_option("--ranks", o->ranks, "Rank per slot, comma-separated (1 = best; ties allowed)");
        auto* b = sub->add_option("--best", o->best, "Best mode: the winning slot (1-based)");
        auto* t = sub->add_flag("--all-tie", o->allTie, "All outputs equally good");
        auto* d = sub->add_flag("--all-bad", o->allBad, "All outputs bad");
        r->excludes(b)->excludes(t)->excludes(d);
        b->excludes(t)->excludes(d);
        t->excludes(d);
        sub->add_option("--judge", o->judge, "Judge id (default: the match's)");
        sub->callback(guarded([o]() {
            arena::Store store(o->c.workspace);
            const auto m = store.match(o->match);
            if (!m) fail("no match " + std::to_string(o->match));
            const int k = static_cast<int>(m->candidates.size());
            std::vector<int> ranks;
            arena::VoteMode mode = arena::VoteMode::Rank;
            if (!o->ranks.empty()) {
                for (const auto& x : splitList(o->ranks)) {
                    size_t used = 0;
                    int r = 0;
                    try {
                        r = std::stoi(x, &used);
                    } catch (const std::exception&) {
                        used = 0;
                    }
                    if (used != x.size() || used == 0) fail("--ranks takes comma-separated integers, got '" + o->ranks + "'");
                    ranks.push_back(r);
                }
            } else if (o->best > 0) {
                if (o->best > k) fail("--best must be a slot between 1 and " + std::to_string(k));
                mode = arena::VoteMode::Best;
                ranks = arena::bestRanks(k, o->best - 1);
            } else if (o->allTie || o->allBad) {
                mode = o->allBad ? arena::VoteMode::AllBad : arena::VoteMode::AllTie;
                ranks.assign(k, 1);
            } else {
                fail("give --ranks, --best, --all-tie or --all-bad");
            }
            const auto v = store.castVote(o->match, ranks, mode, o->judge);
            const auto after = store.match(o->match);
            json j = matchJson(*after, nullptr, true);
            j["vote"] = v.id;
            j["counted"] = v.counted;
            j["mode"] = arena::toString(v.mode);
            j["ranks"] = v.ranks;
            if (o->c.asJson) {
                std::cout << j.dump(1) << std::endl;
            } else {
                std::cout << "vote " << v.id << (v.counted ? "" : " (NOT counted: identities were revealed before the vote)")
                          << std::endl;
                for (int i = 0; i < k; ++i)
                    std::cout << "  slot " << i + 1 << ": " << after->candidates[i] << " (rank " << v.ranks[i] << ")" << std::endl;
            }
        }));
    }

    // ---- leaderboard ----
    {
        struct Opt {
            Common c;
            long long session = 0;
            std::string rating = "ksort", judge, anchor;
            int bootstrap = 100;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand("leaderboard", "Ratings recomputed from the stored votes");
        addCommon(sub, o->c);
        sub->add_option("--session", o->session, "Only this session (default: all votes)");
        sub->add_option("--rating", o->rating, "ksort, trueskill, elo or bt")
            ->check(CLI::IsMember({"ksort", "trueskill", "elo", "bt"}));
        sub->add_option("--judge", o->judge, "Personal leaderboard of one judge");
        sub->add_option("--bootstrap", o->bootstrap, "Bootstrap rounds for bt");
        sub->add_option("--anchor", o->anchor, "bt: model pinned at 1000 (e.g. the FP baseline)");
        sub->callback(guarded([o]() {
            arena::Store store(o->c.workspace);
            arena::LeaderboardOptions lo;
            lo.judge = o->judge;
            lo.bt.bootstrap = o->bootstrap;
            lo.bt.anchor = o->anchor;
            arena::RatingModel model;
            arena::parseRatingModel(o->rating, &model);
            const auto rows = arena::computeLeaderboard(store.votes(o->session), model, lo);
            if (o->c.asJson) {
                json a = json::array();
                for (const auto& r : rows)
                    a.push_back({{"rank", r.rank}, {"model", r.model}, {"score", r.score}, {"mu", r.mu}, {"sigma", r.sigma},
                                 {"lo95", r.lo}, {"hi95", r.hi}, {"votes", r.votes}, {"comparisons", r.comparisons}});
                std::cout << json{{"rating", o->rating}, {"rows", a}}.dump(1) << std::endl;
                return;
            }
            std::printf("%-4s %-28s %9s %9s %8s %19s %6s %6s\n", "rank", "model", "score", "mu", "sigma", "95% interval",
                        "votes", "pairs");
            for (const auto& r : rows)
                std::printf("%-4d %-28s %9.2f %9.2f %8.2f  [%7.2f, %7.2f] %6d %6d\n", r.rank, r.model.c_str(), r.score,
                            r.mu, r.sigma, r.lo, r.hi, r.votes, r.comparisons);
        }));
    }

    // ---- import ----
    {
        struct Opt {
            Common c;
            std::string file;
            long long session = 0;
            bool nonAnon = false;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand("import", "Import a FastChat-style battle log (JSON list or JSON lines)");
        addCommon(sub, o->c);
        sub->add_option("--file,-f", o->file, "Battle log ('-' = stdin)")->required();
        sub->add_option("--session", o->session, "Attach the votes to this session id");
        sub->add_flag("--include-non-anonymous", o->nonAnon, "Also import battles with anony = false");
        sub->callback(guarded([o]() {
            arena::ImportOptions io;
            io.includeNonAnonymous = o->nonAnon;
            auto res = arena::parseBattleLog(readFile(o->file), io);
            for (auto& v : res.votes) v.sessionId = o->session;
            arena::Store store(o->c.workspace);
            store.insertVotes(res.votes);  // one transaction: all or nothing
            for (const auto& p : res.problems) std::cerr << "import: skipped " << p << std::endl;
            const json j = {{"imported", res.votes.size()}, {"pairwise", res.pairwise}, {"ktuples", res.ktuples},
                            {"skipped_non_anonymous", res.skippedNonAnonymous}, {"skipped_invalid", res.skippedInvalid}};
            if (o->c.asJson) std::cout << j.dump(1) << std::endl;
            else
                std::cout << "imported " << res.votes.size() << " votes (" << res.skippedNonAnonymous
                          << " non-anonymous and " << res.skippedInvalid << " invalid skipped)" << std::endl;
        }));
    }

    // ---- export ----
    {
        struct Opt {
            Common c;
            std::string file = "-", shape = "pairwise", format = "jsonl";
            long long session = 0;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand("export", "Export counted votes as pairwise battles or K-tuples");
        addCommon(sub, o->c);
        sub->add_option("--file,-f", o->file, "Output file ('-' = stdout)");
        sub->add_option("--shape", o->shape, "pairwise or ktuple")->check(CLI::IsMember({"pairwise", "ktuple"}));
        sub->add_option("--format", o->format, "jsonl or json")->check(CLI::IsMember({"jsonl", "json"}));
        sub->add_option("--session", o->session, "Only this session");
        sub->callback(guarded([o]() {
            arena::Store store(o->c.workspace);
            const auto text = arena::exportVotes(store.votes(o->session),
                                                 o->shape == "ktuple" ? arena::ExportShape::KTuple : arena::ExportShape::Pairwise,
                                                 o->format == "jsonl");
            if (o->file == "-") std::cout << text;
            else {
                writeFile(o->file, text);
                std::cerr << "export: wrote " << o->file << std::endl;
            }
        }));
    }

    // ---- simulate ----
    {
        struct Opt {
            Common c;
            int models = 50, seeds = 20, threads = 2;
            long horizon = 20000, eloHorizon = 400000;
            double noiseP = 0.05;
            std::string out, svg;
            bool quick = false;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand("simulate", "Convergence simulator (K-Sort Arena's 50-model experiment)");
        addCommon(sub, o->c, false);
        sub->add_option("--models", o->models, "Number of models");
        sub->add_option("--seeds", o->seeds, "Seeds per arm");
        sub->add_option("--threads", o->threads, "Worker threads");
        sub->add_option("--horizon", o->horizon, "Pairwise comparisons per run (K-Sort arms)");
        sub->add_option("--elo-horizon", o->eloHorizon, "Pairwise comparisons per run (Elo)");
        sub->add_option("--noise", o->noiseP, "Noise probability for the flip and swap settings");
        sub->add_option("--out", o->out, "Write the Markdown report here");
        sub->add_option("--svg", o->svg, "Write the SVG plot here (noise-free setting)");
        sub->add_flag("--quick", o->quick, "Noise-free setting only");
        sub->callback(guarded([o, sub]() {
            const auto arms = arena::defaultArms(o->horizon, o->eloHorizon);
            std::vector<arena::SimSetting> settings;
            std::vector<std::pair<arena::NoiseModel, std::string>> noises = {{arena::NoiseModel::None, "no noise"}};
            if (!o->quick) {
                const std::string pct = std::to_string(static_cast<int>(o->noiseP * 100 + 0.5)) + "%";
                noises.push_back({arena::NoiseModel::Flip, pct + " whole-vote flip"});
                noises.push_back({arena::NoiseModel::Swap, pct + " adjacent-pair swap"});
            }
            for (const auto& n : noises) {
                arena::SimSetting s;
                s.label = n.second;
                s.config.models = o->models;
                s.config.seeds = o->seeds;
                s.config.threads = o->threads;
                s.config.noise = n.first;
                s.config.noiseP = o->noiseP;
                Progress pr{"simulate (" + s.label + ")"};
                s.arms = arena::runSimulation(arms, s.config, std::ref(pr));
                settings.push_back(std::move(s));
            }
            arena::NewModelConfig nc;
            nc.models = o->models;
            nc.trueRank = std::min(31, o->models);
            nc.seeds = o->seeds;
            nc.threads = o->threads;
            Progress pr{"simulate (new model)"};
            const auto nm = arena::runNewModel(arena::defaultNewModelArms(), nc, std::ref(pr));
            std::string svgName;
            if (!o->svg.empty()) {
                writeFile(o->svg, arena::convergenceSvg(settings.front()));
                svgName = std::filesystem::path(o->svg).filename().string();
            }
            const std::string md = arena::convergenceMarkdown(settings, nc, nm, commandLine(*sub), svgName);
            if (!o->out.empty()) writeFile(o->out, md);
            if (o->c.asJson) {
                json j = json::array();
                for (const auto& s : settings)
                    for (const auto& a : s.arms)
                        j.push_back({{"setting", s.label}, {"arm", a.arm.name}, {"k", a.arm.k},
                                     {"median_comparisons_mse0", a.medianMse()}, {"median_votes_mse0", a.medianVotes()},
                                     {"median_comparisons_spearman", a.medianSpearman()}, {"converged", a.convergedCount()},
                                     {"seeds", a.runs.size()}});
                json n = json::array();
                for (const auto& r : nm)
                    n.push_back({{"arm", r.arm.name}, {"median_newcomer_comparisons", r.median(&arena::NewModelRun::placedComparisons)},
                                 {"median_all_comparisons", r.median(&arena::NewModelRun::placedTotal)}});
                std::cout << json{{"arms", j}, {"new_model", n}}.dump(1) << std::endl;
            } else {
                std::cout << md;
            }
        }));
    }

    // ---- eval ----
    {
        struct Opt {
            Common c;
            arena::StudyConfig cfg;
            std::string out, model, scores, correction = "code", judge, classifier = "vit-fmnist";
            long long session = 0;
            bool noMatching = false;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand(
            "eval", "K-Sort Eval: with --workspace, evaluate --model against a session's votes using a judge's "
                    "scores file; without, the simulated-judge study (rank agreement, runs, ablations)");
        addCommon(sub, o->c, false);
        sub->add_option("--models", o->cfg.models, "Study: arena models");
        sub->add_option("--votes", o->cfg.votes, "Study: human K=4 votes in the synthetic arena");
        sub->add_option("--targets", o->cfg.targets, "Study: arena models evaluated as new");
        sub->add_option("--seeds", o->cfg.seeds, "Study: seeds per target");
        sub->add_option("--seed", o->cfg.seed, "Base seed");
        sub->add_option("--threads", o->cfg.threads, "Study: worker threads");
        sub->add_option("--judge-noise", o->cfg.judgeNoise, "Study: judge noise levels (1e6 = chance level)");
        sub->add_option("--out", o->out, "Study: write the Markdown report here");
        sub->add_option("--session", o->session, "Workspace: session whose votes and output set form the arena");
        sub->add_option("--model", o->model, "Workspace: the model to evaluate (its output-set folder holds its outputs)");
        sub->add_option("--scores", o->scores,
                        "Workspace: JSON object {output path (absolute, or relative to the output set): judge score}");
        sub->add_option("--judge", o->judge, "Workspace: scores (a --scores file) or classifier (the Fashion-MNIST "
                                             "classifier's probability of the prompt's class)")
            ->check(CLI::IsMember({"scores", "classifier"}));
        sub->add_option("--classifier", o->classifier, "Workspace, --judge classifier: the classifier model");
        sub->add_option("--correction", o->correction, "code, paper, moment or none")
            ->check(CLI::IsMember({"code", "paper", "moment", "none"}));
        sub->add_flag("--no-dynamic-matching", o->noMatching, "Random instance order (ablation)");
        sub->callback(guarded([o, sub]() {
            if (!o->c.workspace.empty()) {
                if (o->judge.empty() && !o->scores.empty()) o->judge = "scores";
                if (o->session <= 0 || o->model.empty() || o->judge.empty() || (o->judge == "scores" && o->scores.empty()))
                    fail("evaluating a workspace model needs --session, --model and --scores or --judge classifier");
                arena::Store store(o->c.workspace);
                const auto s = store.session(o->session);
                if (!s) fail("no session " + std::to_string(o->session));
                if (s->outputRoot.empty()) fail("session " + std::to_string(o->session) + " has no output set");
                const auto set = arena::loadOutputSet(s->outputRoot);
                const auto votes = arena::replayOrder(store.votes(o->session));
                const auto board = arena::trueskillRatings(votes);
                auto instances = arena::curateInstances(votes, board, 0.75, o->model, [&](const arena::Vote& v) {
                    std::vector<arena::JudgeOutput> out(v.models.size());
                    for (size_t i = 0; i < out.size(); ++i) out[i].path = set.output(v.models[i], v.prompt).value_or("");
                    return out;
                });
                auto& inst = instances.instances;
                inst.erase(std::remove_if(inst.begin(), inst.end(),
                                          [&](const arena::EvalInstance& in) { return !set.output(o->model, in.prompt); }),
                           inst.end());
                if (inst.empty()) fail("no curated instance has an output of '" + o->model + "'");
                for (auto& in : inst)
                    for (const auto& pi : set.prompts)
                        if (pi.key == in.prompt) in.promptInfo = pi;
                std::unique_ptr<arena::Judge> judge;
                if (o->judge == "scores") {
                    const json scores = json::parse(readFile(o->scores));
                    if (!scores.is_object()) fail("--scores must hold a JSON object of path: score");
                    const std::string root = set.root;
                    judge = std::make_unique<arena::ScoreJudge>("scores", [scores, root](const arena::JudgeOutput& out,
                                                                                         const arena::PromptInfo&) {
                        std::string rel = std::filesystem::path(out.path).lexically_relative(root).generic_string();
                        for (const std::string& key : {out.path, rel})
                            if (scores.contains(key) && scores[key].is_number()) return scores[key].get<double>();
                        throw std::runtime_error("no judge score for '" + out.path + "'");
                    });
                } else {
#ifdef CS_ARENA_STUDIO
                    judge = cs::arenastudio::makeClassifierJudge(
                        std::make_shared<cs::arenastudio::ClassifierScorer>(o->classifier));
#else
                    fail("this build has no classifier judge (the arena was built without the engine)");
#endif
                }
                arena::EvalParams p;
                p.heldOut = o->model;
                p.seed = o->cfg.seed;
                p.dynamicMatching = !o->noMatching;
                p.correction = o->correction == "paper" ? arena::Correction::Paper
                             : o->correction == "moment" ? arena::Correction::MomentMatched
                             : o->correction == "none" ? arena::Correction::None : arena::Correction::Code;
                const auto res = arena::evaluateNewModel(instances, board, *judge, [&](const arena::EvalInstance& in) {
                    arena::JudgeOutput out;
                    out.path = *set.output(o->model, in.prompt);
                    return out;
                }, p);
                json j = {{"model", o->model}, {"judge", judge->name()}, {"mu", res.rating.mu}, {"sigma", res.rating.sigma}, {"score", res.score},
                          {"rank", res.rank}, {"runs", res.runs}, {"converged", res.converged},
                          {"instances", inst.size()}, {"instances_considered", instances.considered}};
                if (auto it = board.find(o->model); it != board.end()) {
                    j["arena_score"] = arena::conservative(it->second);
                    j["arena_rank"] = arena::rankAgainst(arena::conservative(it->second), board, o->model);
                }
                if (o->c.asJson) std::cout << j.dump(1) << std::endl;
                else
                    std::cout << o->model << ": K-Sort Eval score " << res.score << ", rank " << res.rank << " after "
                              << res.runs << " runs" << (res.converged ? "" : " (NOT converged)") << std::endl;
                return;
            }
            Progress pr{"eval"};
            const auto rep = arena::runKSortEvalStudy(arena::defaultStudyArms(), o->cfg, std::ref(pr));
            const std::string md = arena::studyMarkdown(rep, o->cfg, commandLine(*sub));
            if (!o->out.empty()) writeFile(o->out, md);
            if (o->c.asJson) {
                json cells = json::array();
                for (const auto& c : rep.cells)
                    cells.push_back({{"arm", c.arm}, {"judge_noise", c.judgeNoise}, {"evaluations", c.evaluations},
                                     {"mean_abs_rank_diff", c.meanAbsRankDiff}, {"within_one", c.withinOne},
                                     {"mean_abs_score_diff", c.meanAbsScoreDiff}, {"median_runs", c.medianRuns},
                                     {"cap_fraction", c.capFraction}, {"mean_final_sigma", c.meanFinalSigma}});
                std::cout << json{{"instances_kept", rep.instancesKept}, {"instances_considered", rep.instancesConsidered},
                                  {"cells", cells}}.dump(1) << std::endl;
            } else {
                std::cout << md;
            }
        }));
    }
#ifdef CS_ARENA_STUDIO
    addStudioVerbs(arenaCmd);
#endif
}
