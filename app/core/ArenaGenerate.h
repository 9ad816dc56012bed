// ArenaGenerate: producing arena output sets from studio models, Qt-free so that `cstudio arena generate`
// and the Arena tab's background job call the same code. A variant is a model (zoo name, file, or an
// in-memory cs::Model such as a compressed variant) plus its generation settings; the same model at two
// temperatures is two variants. The output set is the layout arena::loadOutputSet reads: prompts.jsonl at
// the root and one folder per variant holding <prompt id>.txt (language models) or <prompt id>.png (image
// generators). Also writes the Fashion-MNIST reference sets used to test and demonstrate the classifier
// judge (real test images of the right class, noise-corrupted copies, images of a wrong class).
// Threading: every function runs on the calling thread; progress and cancel go through the JobContext.
#pragma once

#include "arena/store.h"
#include "engine/job.h"
#include "engine/model.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cs::arenastudio {

// Thrown when the JobContext's cancel flag stops a generation (the files written so far stay).
struct Cancelled : std::runtime_error {
    Cancelled() : std::runtime_error("cancelled") {}
};

struct VariantSpec {
    std::string spec;    // as written: "lm-fortunes@t=1.2,k=40"
    std::string label;   // output-set folder name (default: the spec with '/' replaced)
    std::string model;   // zoo name or file
    cs::Model handle;    // when valid, used instead of opening `model` (e.g. a compressed variant)
    // Language models.
    double temperature = 0.8;
    int topK = 0;
    int steps = 96;  // tokens including the prompt (llama2.c convention)
    // Image generators (class-conditional diffusion: DDIM steps, eta, classifier-free guidance).
    double guidance = 2.0;
    int sampleSteps = 50;
    double eta = 0.0;
};

// Parses "NAME[@key=value,...]" with keys t|temperature, k|topk, steps, label, g|guidance,
// sample-steps, eta. Throws std::invalid_argument naming the spec and the bad key.
VariantSpec parseVariantSpec(const std::string& spec);

// Prompts from a file: *.jsonl / *.json ({"id","text","class","seed"}) or plain text (one prompt per line,
// ids p1, p2, ..., seed = line index). Throws std::runtime_error naming the file.
std::vector<arena::PromptInfo> readPromptsFile(const std::string& path);
// Class-conditional prompts: id "c<class>-s<seed>", text = the Fashion-MNIST class name.
std::vector<arena::PromptInfo> classPrompts(const std::vector<int>& classes, const std::vector<std::int64_t>& seeds);
// "0-3,7" -> {0,1,2,3,7}. Throws std::invalid_argument.
std::vector<std::int64_t> parseRangeList(const std::string& text);

struct GenerateSetOptions {
    std::string outDir;
    std::vector<VariantSpec> variants;
    std::vector<arena::PromptInfo> prompts;
    bool overwrite = false;  // false: keep outputs that already exist (resumable)
};

struct GenerateSetReport {
    int written = 0, kept = 0;
    double seconds = 0;
    std::vector<std::string> folders;  // one per variant, in order
    std::vector<std::string> tasks;    // "text" or "image", per variant
};

// Writes the output set. Text variants: LanguageModel::generate(prompt text, seed = prompt seed); image
// variants (class-conditional diffusion, e.g. ddpm-fmnist): generateImages(prompt class, prompt seed). Throws
// std::runtime_error naming the model or file on failure, Cancelled when cancelled.
GenerateSetReport generateOutputSet(const GenerateSetOptions& opt, JobContext& job = nullJob());

// The Fashion-MNIST reference set: `prompts` prompts (class = i mod 10, seed = i) and the "models"
// real (a test image of the class), noise-<s> for each s in noiseLevels (the same image + N(0, s^2),
// clamped), wrong-class (a test image of class (c + 5) mod 10). Returns the model folders written.
std::vector<std::string> writeFmnistReferenceSet(const std::string& outDir, int prompts,
                                                 const std::vector<double>& noiseLevels = {0.3, 0.6, 1.0},
                                                 std::uint64_t seed = 0);

// A folder name for a label: keeps [A-Za-z0-9._@=+-], replaces anything else with '_'.
std::string safeFolderName(const std::string& label);

}  // namespace cs::arenastudio
