// app/cli/arena_cli_util.h: helpers shared by the arena verbs (cmd_arena.cpp) and the engine-backed
// arena verbs (cmd_arena_studio.cpp). Header-only; CLI11, nlohmann::json and arena/ only.
#pragma once

#include "arena/outputset.h"
#include "arena/session.h"
#include "arena/store.h"

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
#include <string>
#include <vector>

namespace arena_cli {
using nlohmann::json;

[[noreturn]] inline void fail(const std::string& msg) {
    std::cerr << "cstudio: error: " << msg << std::endl;
    throw CLI::RuntimeError(1);
}

// Runs a verb body, turning exceptions into the one-line error convention.
template <class F>
std::function<void()> guarded(F f) {
    return [f]() {
        try {
            f();
        } catch (const CLI::Error&) {
            throw;
        } catch (const std::exception& e) {
            fail(e.what());
        }
    };
}

// Own copy, not cli_common's: this file is also built into tests/arena's cstudio_arena_dev,
// which has no engine headers (the arena layer is engine-free).
inline std::vector<std::string> splitList(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

inline std::string readFile(const std::string& path) {
    if (path == "-") {
        std::stringstream ss;
        ss << std::cin.rdbuf();
        return ss.str();
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot read '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void writeFile(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    if (!out) fail("cannot write '" + path + "'");
    out << text;
    if (!out) fail("write failed for '" + path + "'");
}

inline std::string commandLine(const CLI::App& sub) {
    std::string c = "cstudio arena " + sub.get_name();
    for (const auto* opt : sub.get_options()) {
        if (opt->count() == 0 || opt->get_name() == "--help" || opt->get_name() == "-h") continue;
        const auto& res = opt->results();
        c += " " + opt->get_name();
        if (opt->get_type_size() != 0)
            for (const auto& r : res) c += " " + r;
    }
    return c;
}

// Throttled progress on stderr.
struct Progress {
    std::string label;
    std::chrono::steady_clock::time_point last{};
    void operator()(int done, int total) {
        const auto now = std::chrono::steady_clock::now();
        if (done != total && now - last < std::chrono::milliseconds(500)) return;
        last = now;
        std::fprintf(stderr, "%s: %d/%d\n", label.c_str(), done, total);
    }
};

struct Common {
    std::string workspace;
    bool asJson = false;
};

inline void addCommon(CLI::App* sub, Common& c, bool needWorkspace = true) {
    auto* o = sub->add_option("--workspace,-w", c.workspace, "Workspace SQLite file");
    if (needWorkspace) o->required();
    sub->add_flag("--json", c.asJson, "Print JSON on stdout");
}

inline json matchJson(const arena::Match& m, const arena::OutputSet* set, bool revealed) {
    json slots = json::array();
    for (size_t i = 0; i < m.candidates.size(); ++i) {
        json s = {{"slot", i + 1}};
        if (set)
            if (auto p = set->output(m.candidates[i], m.prompt)) s["output"] = *p;
        if (revealed) s["model"] = m.candidates[i];
        slots.push_back(s);
    }
    return {{"match", m.id}, {"session", m.sessionId}, {"prompt", m.prompt}, {"k", m.candidates.size()}, {"slots", slots}};
}

inline std::unique_ptr<arena::OutputSet> outputsOf(const arena::Session& s) {
    if (s.outputRoot.empty()) return nullptr;
    return std::make_unique<arena::OutputSet>(arena::loadOutputSet(s.outputRoot));
}

// Creates a session over an output set (models default to all its folders, prompts to those every model
// has) or over explicit model and prompt lists.
inline arena::Session createSession(arena::Store& store, const std::string& name, int k, const std::string& mode,
                             std::vector<std::string> models, std::vector<std::string> prompts,
                             const std::string& outputSet) {
    arena::Session s;
    s.name = name;
    s.k = k;
    arena::parseVoteMode(mode, &s.mode);
    s.models = std::move(models);
    s.prompts = std::move(prompts);
    if (!outputSet.empty()) {
        const auto set = arena::loadOutputSet(outputSet);
        if (s.models.empty()) s.models = set.models;
        for (const auto& m : s.models)
            if (std::find(set.models.begin(), set.models.end(), m) == set.models.end())
                fail("model '" + m + "' has no folder in output set '" + outputSet + "'");
        for (const auto& p : set.prompts) store.upsertPrompt(p);
        if (s.prompts.empty()) s.prompts = set.commonPrompts(s.models);
        if (s.prompts.empty()) fail("no prompt of the output set has outputs for every model");
        s.outputRoot = std::filesystem::absolute(outputSet).string();
    }
    if (static_cast<int>(s.models.size()) < s.k)
        fail("a session with K=" + std::to_string(s.k) + " needs at least " + std::to_string(s.k) + " models");
    s.id = store.createSession(s);
    return s;
}

inline json sessionJson(const arena::Session& s) {
    return {{"session", s.id}, {"name", s.name}, {"k", s.k}, {"mode", arena::toString(s.mode)},
            {"models", s.models}, {"prompts", s.prompts.size()}};
}

#ifdef CS_ARENA_STUDIO
// Verbs that need the engine (cmd_arena_studio.cpp).
void addStudioVerbs(CLI::App* arenaCmd);
#endif
}  // namespace arena_cli
