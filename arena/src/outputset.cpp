#include "arena/outputset.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace arena {
namespace fs = std::filesystem;

std::optional<std::string> OutputSet::output(const std::string& model, const std::string& prompt) const {
    auto it = files.find({model, prompt});
    if (it == files.end()) return std::nullopt;
    return it->second;
}

std::vector<std::string> OutputSet::commonPrompts(const std::vector<std::string>& ms) const {
    std::vector<std::string> out;
    for (const auto& p : prompts) {
        bool all = true;
        for (const auto& m : ms) all = all && files.count({m, p.key});
        if (all) out.push_back(p.key);
    }
    return out;
}

static PromptInfo promptFromJson(const nlohmann::json& o, const std::string& file) {
    if (!o.is_object() || !o.contains("id")) throw std::runtime_error(file + ": every prompt needs an \"id\"");
    PromptInfo p;
    p.key = o["id"].is_string() ? o["id"].get<std::string>() : std::to_string(o["id"].get<long long>());
    p.text = o.value("text", std::string());
    p.classId = o.value("class", -1);
    p.seed = o.value("seed", 0LL);
    return p;
}

OutputSet loadOutputSet(const std::string& root) {
    OutputSet set;
    set.root = root;
    if (!fs::is_directory(root)) throw std::runtime_error("output set folder '" + root + "' does not exist");
    const fs::path base(root);
    if (fs::exists(base / "prompts.jsonl") || fs::exists(base / "prompts.json")) {
        const bool lines = fs::exists(base / "prompts.jsonl");
        const std::string file = (base / (lines ? "prompts.jsonl" : "prompts.json")).string();
        std::ifstream in(file);
        std::stringstream ss;
        ss << in.rdbuf();
        try {
            if (lines) {
                std::string line;
                while (std::getline(ss, line))
                    if (line.find_first_not_of(" \t\r") != std::string::npos)
                        set.prompts.push_back(promptFromJson(nlohmann::json::parse(line), file));
            } else {
                for (const auto& o : nlohmann::json::parse(ss.str())) set.prompts.push_back(promptFromJson(o, file));
            }
        } catch (const nlohmann::json::exception& e) {
            throw std::runtime_error(file + ": " + e.what());
        }
    } else if (fs::exists(base / "prompts.txt")) {
        std::ifstream in(base / "prompts.txt");
        std::string line;
        while (std::getline(in, line)) {
            if (line.empty()) continue;
            const auto tab = line.find('\t');
            PromptInfo p;
            p.key = line.substr(0, tab);
            p.text = tab == std::string::npos ? std::string() : line.substr(tab + 1);
            set.prompts.push_back(p);
        }
    } else {
        throw std::runtime_error("output set '" + root + "' has no prompts.jsonl, prompts.json or prompts.txt");
    }
    for (const auto& entry : fs::directory_iterator(base)) {
        if (!entry.is_directory()) continue;
        const std::string model = entry.path().filename().string();
        if (model.empty() || model[0] == '.') continue;
        set.models.push_back(model);
        for (const auto& f : fs::directory_iterator(entry.path()))
            if (f.is_regular_file()) set.files[{model, f.path().stem().string()}] = f.path().string();
    }
    std::sort(set.models.begin(), set.models.end());
    return set;
}

}  // namespace arena
