// ArenaJudges: automatic judges that need the engine (so they live outside the torch-free arena/ library).
// The Fashion-MNIST classifier judge scores an image output by the zoo classifier's (vit-fmnist)
// probability of the prompt's class and ranks K outputs by that score; it plugs into arena::ScoreJudge, so
// K-Sort Eval (`cstudio arena eval --judge classifier`) and the Arena tab use it unchanged. Plain C++
// (engine facades only). Ownership: a ClassifierScorer owns its model handle and a per-path cache.
// Threading: a scorer is used from one thread at a time (the cache is not locked).
#pragma once

#include "arena/kseval.h"
#include "engine/job.h"
#include "engine/model.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cs::arenastudio {

class ClassifierScorer {
public:
    // Opens the classifier (a zoo name or file). Throws std::runtime_error naming it on failure.
    explicit ClassifierScorer(const std::string& model = "vit-fmnist");
    const std::string& modelName() const { return name_; }

    // Softmax class probabilities of one image file (PNG or PGM; 32x32 is centre-cropped to 28x28 like the
    // engine's metrics, other sizes are resized to 28x28 bilinear).
    // Cached by path. Throws std::runtime_error naming the file.
    const std::vector<float>& probabilities(const std::string& path);
    // Scores many files in batches (fills the cache); progress on `job`.
    void prefetch(const std::vector<std::string>& paths, JobContext& job = nullJob());
    // P(classId | image). Throws when classId is outside the classifier's classes.
    double score(const std::string& path, int classId);

private:
    void classify(const std::vector<std::string>& paths);
    std::string name_;
    cs::Model model_;
    std::map<std::string, std::vector<float>> cache_;
};

// A judge that ranks outputs by ClassifierScorer::score(output.path, prompt.classId) (ties: the earlier
// output first). Prompts without a class are refused with an error naming the prompt.
std::unique_ptr<arena::Judge> makeClassifierJudge(std::shared_ptr<ClassifierScorer> scorer);

// Per-model summary of an output set under the classifier: mean P(class), top-1 agreement with the
// prompt's class, and every output's score (keys: paths relative to the set, as --scores files use).
struct ClassifierSetReport {
    struct Row {
        std::string model;
        double meanScore = 0, top1 = 0;
        int outputs = 0;
    };
    std::vector<Row> rows;                   // sorted by mean score, best first
    std::map<std::string, double> scores;    // "model/prompt.png" -> P(class)
};
ClassifierSetReport scoreOutputSet(ClassifierScorer& scorer, const std::string& outputSetRoot,
                                   JobContext& job = nullJob());

}  // namespace cs::arenastudio
