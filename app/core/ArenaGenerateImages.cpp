// Image variants of generateOutputSet: class-conditional diffusion models through the engine's generation
// facade (engine/diffusion.h), one PNG per (class, seed) prompt. Kept apart from ArenaGenerate.cpp because
// engine/diffusion.h and engine/llm.h both define a cs::GenerateOptions.
#include "core/ArenaGenerate.h"
#include "core/ArenaImages.h"

#if __has_include("engine/diffusion.h")
#include "engine/diffusion.h"
#define CS_ARENA_HAVE_DIFFUSION 1
#endif

#include <filesystem>

namespace cs::arenastudio::detail {
namespace fs = std::filesystem;

bool isImageGenerator(const Model& m) { return m.task() == Task::Diffusion || m.task() == Task::ImageGeneration; }

int generateImageOutputs(const Model& model, const VariantSpec& v, const std::vector<arena::PromptInfo>& prompts,
                         const std::string& dir, bool overwrite, JobContext& job, int& kept) {
#ifndef CS_ARENA_HAVE_DIFFUSION
    throw std::runtime_error("variant '" + v.spec + "': this build has no image-generation facade (engine/diffusion.h)");
#else
    std::vector<int> labels;
    std::vector<uint64_t> seeds;
    std::vector<std::string> files;
    for (const auto& p : prompts) {
        const fs::path file = fs::path(dir) / (safeFolderName(p.key) + ".png");
        if (!overwrite && fs::exists(file)) {
            ++kept;
            continue;
        }
        if (p.classId < 0)
            throw std::runtime_error("variant '" + v.spec + "': prompt '" + p.key +
                                     "' has no class (image generators take class + seed prompts)");
        labels.push_back(p.classId);
        seeds.push_back(static_cast<uint64_t>(p.seed));
        files.push_back(file.string());
    }
    if (files.empty()) return 0;
    const int classes = diffusionClassCount(model);
    for (int c : labels)
        if (classes > 0 && c >= classes)
            throw std::runtime_error("variant '" + v.spec + "': class " + std::to_string(c) + " is outside the model's " +
                                     std::to_string(classes) + " classes");
    auto g = defaultImageGenOptions(model);
    g.steps = v.sampleSteps;
    g.eta = v.eta;
    g.guidance = v.guidance;
    auto r = generateImages(model, labels, seeds, g, job);
    if (!r.ok()) {
        if (r.error().isCancelled()) throw Cancelled();
        throw std::runtime_error("variant '" + v.spec + "': " + r.error().message);
    }
    const auto& img = r.value();
    const size_t plane = size_t(img.h) * img.w;
    for (int i = 0; i < img.n && i < static_cast<int>(files.size()); ++i) {
        GrayImage out{img.w, img.h, std::vector<float>(plane, 0.0f)};
        for (int c = 0; c < img.channels; ++c)
            for (size_t j = 0; j < plane; ++j)
                out.pixels[j] += img.pixels[(size_t(i) * img.channels + c) * plane + j] / img.channels;
        writeGrayPng(files[i], out);
    }
    return static_cast<int>(files.size());
#endif
}

}  // namespace cs::arenastudio::detail
