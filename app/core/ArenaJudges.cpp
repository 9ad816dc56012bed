#include "core/ArenaJudges.h"

#include "arena/outputset.h"
#include "core/ArenaImages.h"
#if __has_include("engine/metrics.h")
#include "engine/metrics.h"
#define CS_ARENA_HAVE_METRICS 1
#endif

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <stdexcept>

namespace cs::arenastudio {

namespace {
constexpr int kSide = 28;   // the classifier's input size
constexpr int kBatch = 64;
}  // namespace

ClassifierScorer::ClassifierScorer(const std::string& model) : name_(model) {
    auto m = openModel(model);
    if (!m.ok()) throw std::runtime_error("classifier judge: " + m.error().message);
    if (m->task() != Task::ImageClassification)
        throw std::runtime_error("classifier judge: '" + model + "' is not an image classifier");
    model_ = m.value();
}

void ClassifierScorer::classify(const std::vector<std::string>& paths) {
    if (paths.empty()) return;
    std::vector<float> pixels;
    pixels.reserve(paths.size() * kSide * kSide);
    for (const auto& p : paths) {
        GrayImage img = readGrayImage(p);
        if (img.width == 32 && img.height == 32) {  // the diffusion zoo's size: centre crop, as engine metrics do
            GrayImage crop{kSide, kSide, std::vector<float>(kSide * kSide)};
            for (int y = 0; y < kSide; ++y)
                for (int x = 0; x < kSide; ++x) crop.pixels[y * kSide + x] = img.pixels[(y + 2) * 32 + x + 2];
            img = std::move(crop);
        } else {
            img = resizeBilinear(img, kSide, kSide);
        }
        pixels.insert(pixels.end(), img.pixels.begin(), img.pixels.end());
    }
#ifndef CS_ARENA_HAVE_METRICS
    throw std::runtime_error("classifier judge: this build has no engine/metrics.h (classifyImages)");
#else
    auto probs = classifyImages(model_, pixels, static_cast<int>(paths.size()), kSide, kSide);
    if (!probs.ok()) throw std::runtime_error("classifier judge (" + name_ + "): " + probs.error().message);
    if (probs->size() != paths.size())
        throw std::runtime_error("classifier judge (" + name_ + "): expected one probability row per image");
    for (size_t i = 0; i < paths.size(); ++i) cache_[paths[i]] = std::move((*probs)[i]);
#endif
}

const std::vector<float>& ClassifierScorer::probabilities(const std::string& path) {
    auto it = cache_.find(path);
    if (it == cache_.end()) {
        classify({path});
        it = cache_.find(path);
    }
    return it->second;
}

void ClassifierScorer::prefetch(const std::vector<std::string>& paths, JobContext& job) {
    std::vector<std::string> todo;
    for (const auto& p : paths)
        if (!cache_.count(p) && std::find(todo.begin(), todo.end(), p) == todo.end()) todo.push_back(p);
    for (size_t i = 0; i < todo.size(); i += kBatch) {
        if (job.cancelled()) throw std::runtime_error("cancelled");
        const size_t end = std::min(todo.size(), i + kBatch);
        classify(std::vector<std::string>(todo.begin() + i, todo.begin() + end));
        job.progress(double(end) / todo.size(), "classifying " + std::to_string(end) + "/" + std::to_string(todo.size()));
    }
}

double ClassifierScorer::score(const std::string& path, int classId) {
    const auto& p = probabilities(path);
    if (classId < 0 || classId >= static_cast<int>(p.size()))
        throw std::runtime_error("classifier judge: class " + std::to_string(classId) + " of '" + path +
                                 "' is outside the classifier's " + std::to_string(p.size()) + " classes");
    return p[classId];
}

std::unique_ptr<arena::Judge> makeClassifierJudge(std::shared_ptr<ClassifierScorer> scorer) {
    const std::string name = "classifier:" + scorer->modelName();
    return std::make_unique<arena::ScoreJudge>(name, [scorer](const arena::JudgeOutput& out, const arena::PromptInfo& p) {
        if (p.classId < 0)
            throw std::runtime_error("classifier judge: prompt '" + p.key + "' has no class (image prompts are class + seed)");
        if (out.path.empty()) throw std::runtime_error("classifier judge: an output of prompt '" + p.key + "' has no file");
        return scorer->score(out.path, p.classId);
    });
}

ClassifierSetReport scoreOutputSet(ClassifierScorer& scorer, const std::string& root, JobContext& job) {
    const auto set = arena::loadOutputSet(root);
    std::vector<std::string> paths;
    for (const auto& [key, path] : set.files) paths.push_back(path);
    scorer.prefetch(paths, job);
    ClassifierSetReport rep;
    for (const auto& m : set.models) {
        ClassifierSetReport::Row row;
        row.model = m;
        for (const auto& p : set.prompts) {
            if (p.classId < 0) continue;
            const auto path = set.output(m, p.key);
            if (!path) continue;
            const auto& probs = scorer.probabilities(*path);
            const double s = scorer.score(*path, p.classId);
            const int top = static_cast<int>(std::max_element(probs.begin(), probs.end()) - probs.begin());
            rep.scores[std::filesystem::path(*path).lexically_relative(set.root).generic_string()] = s;
            row.meanScore += s;
            row.top1 += top == p.classId ? 1 : 0;
            ++row.outputs;
        }
        if (row.outputs == 0) continue;
        row.meanScore /= row.outputs;
        row.top1 /= row.outputs;
        rep.rows.push_back(row);
    }
    if (rep.rows.empty()) throw std::runtime_error(root + ": no image output with a class prompt to score");
    std::stable_sort(rep.rows.begin(), rep.rows.end(), [](const auto& a, const auto& b) { return a.meanScore > b.meanScore; });
    return rep;
}

}  // namespace cs::arenastudio
