// app/cli/cmd_arena_studio.cpp: the arena verbs that need the engine (generate, score, reference-set,
// auto-vote, eval --judge classifier); registered by cmd_arena.cpp under `cstudio arena`.
#include "arena_cli_util.h"

#ifdef CS_ARENA_STUDIO
#include "arena/fastchat.h"
#include "arena/kseval.h"
#include "arena/kseval_study.h"
#include "arena/leaderboard.h"
#include "arena/simulator.h"
#include "core/ArenaGenerate.h"
#include "core/ArenaJudges.h"
#include "engine/job.h"

namespace arena_cli {
// Verbs that need the engine: generating output sets from studio models, the Fashion-MNIST reference set and
// the classifier judge's scores.
void addStudioVerbs(CLI::App* arenaCmd) {
    namespace as = cs::arenastudio;
    auto progressJob = [](const std::string& label) {
        auto last = std::make_shared<std::chrono::steady_clock::time_point>();
        return cs::JobContext([label, last](double f, const std::string& stage) {
            const auto now = std::chrono::steady_clock::now();
            if (f < 1.0 && now - *last < std::chrono::milliseconds(500)) return;
            *last = now;
            std::fprintf(stderr, "%s: %3.0f%% %s\n", label.c_str(), 100 * f, stage.c_str());
        });
    };
    // ---- generate ----
    {
        struct Opt {
            Common c;
            std::vector<std::string> models;
            std::string prompts, classes, seeds = "0", out, name = "generated", mode = "rank";
            int k = 2;
            bool overwrite = false;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand(
            "generate", "Generate an output set from studio models (each --model is a variant with its settings), "
                        "optionally creating a session over it");
        addCommon(sub, o->c, false);
        sub->add_option("--model,-m", o->models,
                        "Variant: NAME[@t=TEMP,k=TOPK,steps=N,label=FOLDER] (repeat; e.g. lm-fortunes@t=1.5)")
            ->required();
        sub->add_option("--prompts", o->prompts, "Prompts file: one text prompt per line, or .jsonl/.json {id,text,class,seed}");
        sub->add_option("--classes", o->classes, "Image generators: classes, e.g. 0-9 (prompt = class + seed)");
        sub->add_option("--seeds", o->seeds, "Image generators: seeds per class, e.g. 0-3");
        sub->add_option("--out", o->out, "Output set folder")->required();
        sub->add_flag("--overwrite", o->overwrite, "Regenerate outputs that already exist");
        sub->add_option("--session-name", o->name, "With --workspace: the session's name");
        sub->add_option("--k", o->k, "With --workspace: outputs per match (2..6)")->check(CLI::Range(2, 6));
        sub->add_option("--mode", o->mode, "With --workspace: rank or best")->check(CLI::IsMember({"rank", "best"}));
        sub->callback(guarded([o, progressJob]() {
            as::GenerateSetOptions g;
            g.outDir = o->out;
            g.overwrite = o->overwrite;
            for (const auto& m : o->models) g.variants.push_back(as::parseVariantSpec(m));
            if (!o->prompts.empty() && !o->classes.empty()) fail("give --prompts or --classes, not both");
            if (!o->prompts.empty()) {
                g.prompts = as::readPromptsFile(o->prompts);
            } else if (!o->classes.empty()) {
                std::vector<int> cls;
                for (auto c : as::parseRangeList(o->classes)) cls.push_back(static_cast<int>(c));
                g.prompts = as::classPrompts(cls, as::parseRangeList(o->seeds));
            } else {
                fail("give --prompts FILE (text prompts) or --classes/--seeds (image generators)");
            }
            auto job = progressJob("generate");
            const auto rep = as::generateOutputSet(g, job);
            json j = {{"out", o->out}, {"written", rep.written}, {"kept", rep.kept}, {"seconds", rep.seconds},
                      {"variants", rep.folders.size()}, {"prompts", g.prompts.size()}};
            if (!o->c.workspace.empty()) {
                arena::Store store(o->c.workspace);
                const auto s = createSession(store, o->name, o->k, o->mode, {}, {}, o->out);
                j["session"] = sessionJson(s);
            }
            if (o->c.asJson) {
                std::cout << j.dump(1) << std::endl;
            } else {
                std::cout << "wrote " << rep.written << " outputs (" << rep.kept << " kept) for " << rep.folders.size()
                          << " variants x " << g.prompts.size() << " prompts into " << o->out << " in " << rep.seconds
                          << " s" << std::endl;
                if (j.contains("session")) std::cout << "session " << j["session"]["session"].get<long long>() << std::endl;
            }
        }));
    }
    // ---- reference-set ----
    {
        struct Opt {
            std::string out, noise = "0.3,0.6,1.0";
            int prompts = 40;
            unsigned long long seed = 0;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand(
            "reference-set", "Write a Fashion-MNIST output set of known quality: real test images of the prompt's class, "
                             "noise-corrupted copies, images of a wrong class");
        sub->add_option("--out", o->out, "Output set folder")->required();
        sub->add_option("--prompts", o->prompts, "Prompts (class = i mod 10)")->check(CLI::Range(1, 10000));
        sub->add_option("--noise", o->noise, "Comma-separated noise standard deviations (pixels in [0,1])");
        sub->add_option("--seed", o->seed, "Seed for image choice and noise");
        sub->callback(guarded([o]() {
            std::vector<double> levels;
            for (const auto& x : splitList(o->noise)) {
                try {
                    levels.push_back(std::stod(x));
                } catch (const std::exception&) {
                    fail("--noise takes comma-separated numbers, got '" + o->noise + "'");
                }
            }
            const auto models = as::writeFmnistReferenceSet(o->out, o->prompts, levels, o->seed);
            std::cout << json{{"out", o->out}, {"models", models}, {"prompts", o->prompts}}.dump(1) << std::endl;
        }));
    }
    // ---- auto-vote ----
    {
        struct Opt {
            Common c;
            long long session = 0;
            int matches = 20;
            std::string by = "classifier", order, classifier = "vit-fmnist", matchmaking = "ucb";
            unsigned long long seed = 1;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand(
            "auto-vote", "Plan and vote matches automatically: by the classifier judge, or by a fixed model order "
                         "(a simulated human who always agrees with it)");
        addCommon(sub, o->c);
        sub->add_option("--session", o->session, "Session id")->required();
        sub->add_option("--matches", o->matches, "Number of matches to vote")->check(CLI::Range(1, 100000));
        sub->add_option("--by", o->by, "classifier or order")->check(CLI::IsMember({"classifier", "order"}));
        sub->add_option("--order", o->order, "--by order: comma-separated models, best first");
        sub->add_option("--classifier", o->classifier, "--by classifier: the classifier model");
        sub->add_option("--seed", o->seed, "Matchmaking seed (match i uses seed + i)");
        sub->add_option("--matchmaking", o->matchmaking, "ucb or random")->check(CLI::IsMember({"ucb", "random"}));
        sub->callback(guarded([o]() {
            arena::Store store(o->c.workspace);
            const auto s = store.session(o->session);
            if (!s) fail("no session " + std::to_string(o->session));
            const auto set = outputsOf(*s);
            std::unique_ptr<arena::Judge> judge;
            std::vector<std::string> order = splitList(o->order);
            std::string judgeId;
            if (o->by == "classifier") {
                if (!set) fail("session " + std::to_string(o->session) + " has no output set to classify");
                judge = as::makeClassifierJudge(std::make_shared<as::ClassifierScorer>(o->classifier));
                judgeId = judge->name();
            } else {
                if (order.empty()) fail("--by order needs --order model1,model2,...");
                for (const auto& m : s->models)
                    if (std::find(order.begin(), order.end(), m) == order.end())
                        fail("--order does not rank session model '" + m + "'");
                judgeId = "order";
            }
            arena::PlanOptions plan;
            if (o->matchmaking == "random") {
                plan.matchmaking.pivot = arena::PivotRule::Random;
                plan.matchmaking.opponents = arena::OpponentRule::Random;
            }
            int voted = 0;
            for (int i = 0; i < o->matches; ++i) {
                plan.seed = o->seed + static_cast<unsigned long long>(i);
                const auto m = arena::planMatch(store, o->session, judgeId, plan, set.get());
                const int k = static_cast<int>(m.candidates.size());
                std::vector<int> best(k);  // slot indices, best first
                if (judge) {
                    arena::JudgeRequest req;
                    if (auto info = store.prompt(m.prompt)) req.prompt = *info;
                    req.prompt.key = m.prompt;
                    for (const auto& c : m.candidates) req.outputs.push_back({set->output(c, m.prompt).value_or(""), {}, 0.0});
                    best = arena::rankWithRetry(*judge, req);
                } else {
                    for (int j = 0; j < k; ++j) best[j] = j;
                    auto pos = [&](int slot) {
                        return std::find(order.begin(), order.end(), m.candidates[slot]) - order.begin();
                    };
                    std::sort(best.begin(), best.end(), [&](int a, int b) { return pos(a) < pos(b); });
                }
                std::vector<int> ranks(k);
                for (int r = 0; r < k; ++r) ranks[best[r]] = r + 1;
                store.castVote(m.id, ranks, arena::VoteMode::Rank, judgeId);
                ++voted;
            }
            const json j = {{"session", o->session}, {"votes", voted}, {"judge", judgeId}};
            if (o->c.asJson) std::cout << j.dump(1) << std::endl;
            else std::cout << "cast " << voted << " votes as judge '" << judgeId << "'" << std::endl;
        }));
    }
    // ---- score ----
    {
        struct Opt {
            Common c;
            std::string set, classifier = "vit-fmnist", scoresOut;
        };
        auto o = std::make_shared<Opt>();
        CLI::App* sub = arenaCmd->add_subcommand(
            "score", "Classifier judge over an image output set: per-model mean P(prompt class) and top-1 agreement");
        addCommon(sub, o->c, false);
        sub->add_option("--output-set", o->set, "Output set folder")->required();
        sub->add_option("--classifier", o->classifier, "Classifier model (zoo name or file)");
        sub->add_option("--scores-out", o->scoresOut, "Write every output's score as JSON (usable as eval --scores)");
        sub->callback(guarded([o, progressJob]() {
            as::ClassifierScorer scorer(o->classifier);
            auto job = progressJob("score");
            const auto rep = as::scoreOutputSet(scorer, o->set, job);
            if (!o->scoresOut.empty()) writeFile(o->scoresOut, json(rep.scores).dump(1) + "\n");
            if (o->c.asJson) {
                json rows = json::array();
                for (const auto& r : rep.rows)
                    rows.push_back({{"model", r.model}, {"mean_score", r.meanScore}, {"top1", r.top1}, {"outputs", r.outputs}});
                std::cout << json{{"classifier", o->classifier}, {"rows", rows}}.dump(1) << std::endl;
                return;
            }
            std::printf("%-24s %12s %8s %8s\n", "model", "mean P(cls)", "top-1", "outputs");
            for (const auto& r : rep.rows)
                std::printf("%-24s %12.4f %8.3f %8d\n", r.model.c_str(), r.meanScore, r.top1, r.outputs);
        }));
    }
}
}  // namespace arena_cli
#endif
