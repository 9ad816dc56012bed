#include "arena/fastchat.h"

#include "arena/leaderboard.h"

#include <nlohmann/json.hpp>

#include <sstream>
#include <stdexcept>

namespace arena {
namespace {

using nlohmann::json;

void addProblem(ImportResult& r, const std::string& why) {
    ++r.skippedInvalid;
    if (r.problems.size() < 10) r.problems.push_back(why);
}

double numberOr(const json& o, const char* key, double dflt) {
    auto it = o.find(key);
    return (it != o.end() && it->is_number()) ? it->get<double>() : dflt;
}

std::string stringOr(const json& o, const char* key, const std::string& dflt) {
    auto it = o.find(key);
    if (it == o.end()) return dflt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return std::to_string(it->get<long long>());
    return dflt;
}

void readRecord(const json& o, const ImportOptions& opt, ImportResult& r, size_t index) {
    if (!o.is_object()) return addProblem(r, "record " + std::to_string(index) + " is not an object");
    if (o.contains("anony") && o["anony"].is_boolean() && !o["anony"].get<bool>() && !opt.includeNonAnonymous) {
        ++r.skippedNonAnonymous;
        return;
    }
    Vote v;
    v.judge = stringOr(o, "judge", opt.defaultJudge);
    v.prompt = stringOr(o, "prompt", stringOr(o, "question_id", ""));
    v.tstamp = numberOr(o, "tstamp", 0.0);
    v.source = "import";
    try {
        if (o.contains("models")) {
            v.models = o.at("models").get<std::vector<std::string>>();
            v.ranks = o.at("ranks").get<std::vector<int>>();
            if (!parseVoteMode(stringOr(o, "mode", "rank"), &v.mode))
                return addProblem(r, "record " + std::to_string(index) + ": unknown mode");
            ++r.ktuples;
        } else {
            v.models = {o.at("model_a").get<std::string>(), o.at("model_b").get<std::string>()};
            const std::string w = o.at("winner").get<std::string>();
            if (w == "model_a") { v.mode = VoteMode::Best; v.ranks = {1, 2}; }
            else if (w == "model_b") { v.mode = VoteMode::Best; v.ranks = {2, 1}; }
            else if (w == "tie") { v.mode = VoteMode::AllTie; v.ranks = {1, 1}; }
            else if (w == "tie (bothbad)") { v.mode = VoteMode::AllBad; v.ranks = {1, 1}; }
            else return addProblem(r, "record " + std::to_string(index) + ": unknown winner '" + w + "'");
            ++r.pairwise;
        }
    } catch (const json::exception& e) {
        return addProblem(r, "record " + std::to_string(index) + ": " + e.what());
    }
    const std::string err = validateVote(v);
    if (!err.empty()) return addProblem(r, "record " + std::to_string(index) + ": " + err);
    r.votes.push_back(std::move(v));
}

}  // namespace

ImportResult parseBattleLog(const std::string& text, const ImportOptions& opt) {
    ImportResult r;
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return r;
    if (text[first] == '[') {
        json all;
        try {
            all = json::parse(text);
        } catch (const json::exception& e) {
            throw std::runtime_error(std::string("battle log is not valid JSON: ") + e.what());
        }
        for (size_t i = 0; i < all.size(); ++i) readRecord(all[i], opt, r, i);
        return r;
    }
    std::istringstream in(text);
    std::string line;
    size_t lineNo = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json o;
        try {
            o = json::parse(line);
        } catch (const json::exception& e) {
            if (lineNo == 1 && r.votes.empty())
                throw std::runtime_error("battle log is neither a JSON list nor JSON lines (line 1)");
            addProblem(r, "line " + std::to_string(lineNo) + ": not JSON");
            continue;
        }
        readRecord(o, opt, r, lineNo);
    }
    return r;
}

std::string exportVotes(const std::vector<Vote>& votes, ExportShape shape, bool jsonLines) {
    json list = json::array();
    if (shape == ExportShape::Pairwise) {
        for (const auto& b : votesToBattles(votes)) {
            std::string winner = b.score > 0.75 ? "model_a" : b.score < 0.25 ? "model_b" : "tie";
            if (b.bothBad) winner = "tie (bothbad)";
            list.push_back({{"model_a", b.a}, {"model_b", b.b}, {"winner", winner}, {"anony", true},
                            {"tstamp", b.tstamp}, {"judge", b.judge}, {"prompt", b.prompt}});
        }
    } else {
        for (const auto& v : replayOrder(votes))
            list.push_back({{"models", v.models}, {"ranks", v.ranks}, {"mode", toString(v.mode)},
                            {"judge", v.judge}, {"tstamp", v.tstamp}, {"prompt", v.prompt},
                            {"session", v.sessionId}, {"vote_id", v.id}});
    }
    if (!jsonLines) return list.dump(1) + "\n";
    std::string out;
    for (const auto& o : list) out += o.dump() + "\n";
    return out;
}

}  // namespace arena
