#include "core/ArenaGenerate.h"

#include "core/ArenaImages.h"
#include "engine/data.h"
#include "engine/llm.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

namespace cs::arenastudio {
namespace fs = std::filesystem;

namespace detail {  // ArenaGenerateImages.cpp
bool isImageGenerator(const Model& m);
int generateImageOutputs(const Model& model, const VariantSpec& v, const std::vector<arena::PromptInfo>& prompts,
                         const std::string& dir, bool overwrite, JobContext& job, int& kept);
}  // namespace detail

std::string safeFolderName(const std::string& label) {
    std::string out;
    for (char c : label) {
        const bool ok = std::isalnum(static_cast<unsigned char>(c)) || std::string("._@=+-,").find(c) != std::string::npos;
        out.push_back(ok ? c : '_');
    }
    if (out.empty() || out[0] == '.') out.insert(out.begin(), '_');
    return out;
}

VariantSpec parseVariantSpec(const std::string& spec) {
    VariantSpec v;
    v.spec = spec;
    const auto at = spec.find('@');
    v.model = spec.substr(0, at);
    if (v.model.empty()) throw std::invalid_argument("variant '" + spec + "': no model name before '@'");
    if (at != std::string::npos) {
        std::stringstream ss(spec.substr(at + 1));
        std::string kv;
        while (std::getline(ss, kv, ',')) {
            if (kv.empty()) continue;
            const auto eq = kv.find('=');
            if (eq == std::string::npos) throw std::invalid_argument("variant '" + spec + "': '" + kv + "' is not key=value");
            const std::string key = kv.substr(0, eq), val = kv.substr(eq + 1);
            try {
                size_t used = 0;
                auto num = [&](auto parse) {
                    auto x = parse(val, &used);
                    if (used != val.size()) throw std::invalid_argument(val);
                    return x;
                };
                auto toD = [](const std::string& s, size_t* u) { return std::stod(s, u); };
                auto toI = [](const std::string& s, size_t* u) { return std::stoi(s, u); };
                if (key == "t" || key == "temperature") v.temperature = num(toD);
                else if (key == "k" || key == "topk") v.topK = num(toI);
                else if (key == "steps") v.steps = num(toI);
                else if (key == "g" || key == "guidance") v.guidance = num(toD);
                else if (key == "sample-steps") v.sampleSteps = num(toI);
                else if (key == "eta") v.eta = num(toD);
                else if (key == "label") v.label = val;
                else throw std::invalid_argument("unknown key");
            } catch (const std::invalid_argument&) {
                throw std::invalid_argument("variant '" + spec + "': bad setting '" + kv +
                                            "' (keys: t, k, steps, label, g, sample-steps, eta)");
            } catch (const std::out_of_range&) {
                throw std::invalid_argument("variant '" + spec + "': value out of range in '" + kv + "'");
            }
        }
    }
    if (v.temperature < 0 || v.topK < 0 || v.steps < 1 || v.sampleSteps < 1)
        throw std::invalid_argument("variant '" + spec + "': settings must be non-negative (steps >= 1)");
    if (v.label.empty()) v.label = spec;
    v.label = safeFolderName(v.label);
    return v;
}

std::vector<std::int64_t> parseRangeList(const std::string& text) {
    std::vector<std::int64_t> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        if (item.empty()) continue;
        try {
            const auto dash = item.find('-', 1);
            size_t u1 = 0, u2 = 0;
            if (dash == std::string::npos) {
                out.push_back(std::stoll(item, &u1));
                if (u1 != item.size()) throw std::invalid_argument(item);
            } else {
                const std::string a = item.substr(0, dash), b = item.substr(dash + 1);
                const auto lo = std::stoll(a, &u1), hi = std::stoll(b, &u2);
                if (u1 != a.size() || u2 != b.size() || hi < lo || hi - lo > 100000) throw std::invalid_argument(item);
                for (auto x = lo; x <= hi; ++x) out.push_back(x);
            }
        } catch (const std::exception&) {
            throw std::invalid_argument("bad range '" + item + "' in '" + text + "' (use e.g. 0-3,7)");
        }
    }
    if (out.empty()) throw std::invalid_argument("empty range list '" + text + "'");
    return out;
}

std::vector<arena::PromptInfo> classPrompts(const std::vector<int>& classes, const std::vector<std::int64_t>& seeds) {
    const auto& names = fashionMnistClassNames();
    std::vector<arena::PromptInfo> out;
    for (int c : classes) {
        if (c < 0 || c >= static_cast<int>(names.size()))
            throw std::invalid_argument("class " + std::to_string(c) + " is not a Fashion-MNIST class (0-9)");
        for (auto s : seeds) {
            arena::PromptInfo p;
            p.key = "c" + std::to_string(c) + "-s" + std::to_string(s);
            p.text = names[c];
            p.classId = c;
            p.seed = s;
            out.push_back(p);
        }
    }
    return out;
}

std::vector<arena::PromptInfo> readPromptsFile(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error(path + ": cannot read the prompts file");
    std::vector<arena::PromptInfo> out;
    const std::string ext = fs::path(path).extension().string();
    std::string line;
    int lineNo = 0;
    auto fromJson = [&](const nlohmann::json& o) {
        if (!o.is_object() || !o.contains("id"))
            throw std::runtime_error(path + ": line " + std::to_string(lineNo) + ": every prompt needs an \"id\"");
        arena::PromptInfo p;
        p.key = o["id"].is_string() ? o["id"].get<std::string>() : std::to_string(o["id"].get<long long>());
        p.text = o.value("text", std::string());
        p.classId = o.value("class", -1);
        p.seed = o.value("seed", static_cast<long long>(out.size()));
        out.push_back(p);
    };
    try {
        if (ext == ".json") {
            std::stringstream ss;
            ss << in.rdbuf();
            for (const auto& o : nlohmann::json::parse(ss.str())) fromJson(o);
        } else {
            while (std::getline(in, line)) {
                ++lineNo;
                if (!line.empty() && line.back() == '\r') line.pop_back();
                if (line.find_first_not_of(" \t") == std::string::npos) continue;
                if (ext == ".jsonl") {
                    fromJson(nlohmann::json::parse(line));
                } else {
                    arena::PromptInfo p;
                    p.key = "p" + std::to_string(out.size() + 1);
                    p.text = line;
                    p.seed = static_cast<std::int64_t>(out.size());
                    out.push_back(p);
                }
            }
        }
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
    }
    if (out.empty()) throw std::runtime_error(path + ": no prompts");
    std::map<std::string, int> seen;
    for (const auto& p : out)
        if (seen[p.key]++) throw std::runtime_error(path + ": duplicate prompt id '" + p.key + "'");
    return out;
}

namespace {

void writeTextAtomic(const fs::path& path, const std::string& text) {
    const fs::path tmp = path.string() + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary);
        if (!f) throw std::runtime_error(path.string() + ": cannot write");
        f << text;
        if (!f) throw std::runtime_error(path.string() + ": write failed");
    }
    fs::rename(tmp, path);
}

void writePrompts(const fs::path& dir, const std::vector<arena::PromptInfo>& prompts) {
    std::string text;
    for (const auto& p : prompts) {
        nlohmann::json o = {{"id", p.key}, {"text", p.text}, {"seed", p.seed}};
        if (p.classId >= 0) o["class"] = p.classId;
        text += o.dump() + "\n";
    }
    writeTextAtomic(dir / "prompts.jsonl", text);
}

}  // namespace

GenerateSetReport generateOutputSet(const GenerateSetOptions& opt, JobContext& job) {
    const auto t0 = std::chrono::steady_clock::now();
    if (opt.outDir.empty()) throw std::invalid_argument("no output folder given");
    if (opt.variants.empty()) throw std::invalid_argument("no variants given");
    if (opt.prompts.empty()) throw std::invalid_argument("no prompts given");
    std::map<std::string, int> labels;
    for (const auto& v : opt.variants)
        if (labels[v.label]++) throw std::invalid_argument("two variants share the folder name '" + v.label + "' (use label=...)");
    const fs::path root(opt.outDir);
    std::error_code ec;
    fs::create_directories(root, ec);
    if (ec) throw std::runtime_error(opt.outDir + ": cannot create the output folder (" + ec.message() + ")");
    writePrompts(root, opt.prompts);

    GenerateSetReport rep;
    std::map<std::string, LanguageModel> lms;  // opened once per model name
    const int total = static_cast<int>(opt.variants.size() * opt.prompts.size());
    int done = 0;
    for (const auto& v : opt.variants) {
        const fs::path dir = root / v.label;
        fs::create_directories(dir);
        rep.folders.push_back(dir.string());
        const int total0 = done;
        Model handle = v.handle;
        if (!handle.valid()) {
            auto m = openModel(v.model);
            if (m.ok()) handle = m.value();
        }
        if (handle.valid() && detail::isImageGenerator(handle)) {
            rep.tasks.push_back("image");
            JobContext sub = job.sub(double(done) / total, double(done + opt.prompts.size()) / total);
            int kept = 0;
            rep.written += detail::generateImageOutputs(handle, v, opt.prompts, dir.string(), opt.overwrite, sub, kept);
            rep.kept += kept;
            done = total0 + static_cast<int>(opt.prompts.size());
            job.progress(double(done) / total, v.label + " " + std::to_string(done) + "/" + std::to_string(total));
            continue;
        }
        LanguageModel lm;
        if (handle.valid() && handle.task() == Task::LanguageModel) {
            auto r = LanguageModel::fromModel(handle);
            if (!r.ok()) throw std::runtime_error("variant '" + v.spec + "': " + r.error().message);
            lm = r.value();
        } else if (auto it = lms.find(v.model); it != lms.end()) {
            lm = it->second;
        } else {
            auto r = LanguageModel::open(v.model);
            if (!r.ok()) throw std::runtime_error("variant '" + v.spec + "': " + r.error().message);
            lm = r.value();
            lms[v.model] = lm;
        }
        rep.tasks.push_back("text");
        for (const auto& p : opt.prompts) {
            if (job.cancelled()) throw Cancelled();
            const fs::path file = dir / (safeFolderName(p.key) + ".txt");
            if (!opt.overwrite && fs::exists(file)) {
                ++rep.kept;
            } else {
                GenerateOptions g;
                g.prompt = p.text;
                g.steps = v.steps;
                g.temperature = v.temperature;
                g.topK = v.topK;
                g.seed = static_cast<std::uint64_t>(p.seed);
                JobContext sub = job.sub(double(done) / total, double(done + 1) / total);
                auto r = lm.generate(g, sub);
                if (!r.ok()) {
                    if (r.error().isCancelled()) throw Cancelled();
                    throw std::runtime_error("variant '" + v.spec + "', prompt '" + p.key + "': " + r.error().message);
                }
                writeTextAtomic(file, r->text);
                ++rep.written;
            }
            ++done;
            job.progress(double(done) / total, v.label + " " + std::to_string(done) + "/" + std::to_string(total));
        }
    }
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return rep;
}

std::vector<std::string> writeFmnistReferenceSet(const std::string& outDir, int prompts,
                                                 const std::vector<double>& noiseLevels, std::uint64_t seed) {
    if (prompts < 1) throw std::invalid_argument("a reference set needs at least one prompt");
    auto test = loadFashionMnist("test");
    if (!test.ok()) throw std::runtime_error(test.error().message);
    const ImageSet& set = test.value();
    if (set.labels.size() != static_cast<size_t>(set.count))
        throw std::runtime_error(fashionMnistDirectory() + ": test labels missing");
    std::vector<std::vector<int>> byClass(10);
    for (int i = 0; i < set.count; ++i) byClass[set.labels[i] % 10].push_back(i);
    const int px = set.rows * set.cols;
    auto image = [&](int index) {
        GrayImage g{set.cols, set.rows, std::vector<float>(px)};
        for (int j = 0; j < px; ++j) g.pixels[j] = set.pixels[size_t(index) * px + j] / 255.0f;
        return g;
    };
    std::vector<std::string> models = {"real"};
    for (double s : noiseLevels) {
        std::ostringstream n;
        n << "noise-" << s;
        models.push_back(n.str());
    }
    models.push_back("wrong-class");
    const fs::path root(outDir);
    for (const auto& m : models) fs::create_directories(root / m);
    std::vector<arena::PromptInfo> ps;
    for (int i = 0; i < prompts; ++i) {
        const int c = i % 10;
        std::mt19937_64 rng(seed * 1000003ULL + static_cast<std::uint64_t>(i));
        const auto& pool = byClass[c];
        const auto& wrongPool = byClass[(c + 5) % 10];
        const int idx = pool[rng() % pool.size()], wrong = wrongPool[rng() % wrongPool.size()];
        arena::PromptInfo p;
        p.key = "c" + std::to_string(c) + "-s" + std::to_string(i);
        p.text = fashionMnistClassNames()[c];
        p.classId = c;
        p.seed = i;
        ps.push_back(p);
        const GrayImage real = image(idx);
        writeGrayPng((root / "real" / (p.key + ".png")).string(), real);
        std::normal_distribution<float> gauss(0.0f, 1.0f);
        for (size_t n = 0; n < noiseLevels.size(); ++n) {
            GrayImage noisy = real;
            for (auto& v : noisy.pixels) v = std::clamp(v + static_cast<float>(noiseLevels[n]) * gauss(rng), 0.0f, 1.0f);
            writeGrayPng((root / models[n + 1] / (p.key + ".png")).string(), noisy);
        }
        writeGrayPng((root / "wrong-class" / (p.key + ".png")).string(), image(wrong));
    }
    writePrompts(root, ps);
    return models;
}

}  // namespace cs::arenastudio
