// GenerateJobs: the work behind the Generate tab, as plain C++ (no Qt) so that it can be
// driven and tested without widgets. Each function runs on the calling thread (a JobRunner
// worker in the GUI), reports progress and checks cancel through its JobContext, and
// returns plain data.
//  - image samples: generateImages() of the engine for every (class, seed) pair, class-major;
//  - image metrics: class consistency, Inception-style score, FID-FMNIST and sFID-FMNIST
//    (with the Fashion-MNIST test halves as the floor) on `samples` generated images,
//    as `cstudio eval MODEL --metric ...` computes them (labels i % classes, seeds seed+i);
//  - language metrics: perplexity on the lm-fortunes held-out fortunes (all, or the first N)
//    and top-1 agreement with a reference model on the same fortunes.
// Threading: reentrant; models are only read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/diffusion.h"
#include "engine/job.h"
#include "engine/llm.h"
#include "engine/model.h"
#include "engine/result.h"

namespace cs::gen {

// "0-3,7" -> {0,1,2,3,7}; empty result (and `error` set) on bad text or a value > maxValue.
std::vector<int64_t> parseIndexRange(const std::string& text, int64_t maxValue, std::string* error = nullptr);

// Class names for a conditional generator with `classes` classes (Fashion-MNIST names for 10).
std::vector<std::string> classNames(int classes);

// A model the Generate tab can drive: diffusion/AR image generators and decoder LMs.
bool isImageGenerator(Task t);
bool isLanguageModel(Task t);

struct ImageSampleRequest {
  std::vector<int> classes;          // empty: unconditional
  std::vector<uint64_t> seeds;
  ImageGenOptions options;
};
// One image per (class, seed), classes outer, seeds inner. Fails on an empty request.
Result<GeneratedImages> sampleImages(const Model& model, const ImageSampleRequest& req, JobContext& job = nullJob());
// "Sneaker · seed 3" per image.
std::vector<std::string> sampleLabels(const GeneratedImages& images, int classes);

struct MetricFigure {
  std::string metric;      // "class-consistency", "is", "fid", "sfid", "ppl", "agreement"
  std::string title;       // "class consistency"
  double value = 0;
  double floor = -1;       // FID/sFID: test half vs half (-1: none)
  int samples = 0;         // generated images, or scored documents for LMs
  int64_t tokens = 0;      // LMs: scored tokens
  double seconds = 0;
  std::string text;        // one line for people, naming the count
  std::string json;        // the figure and its settings, for the run list
};

struct ImageMetricRequest {
  std::string metric = "class-consistency";  // class-consistency | is | fid | sfid
  int samples = 100;
  uint64_t firstSeed = 0;
  ImageGenOptions options;
  std::string classifier = "vit-fmnist";
};
Result<MetricFigure> imageMetric(const Model& generator, const ImageMetricRequest& req, JobContext& job = nullJob());

struct TextMetricRequest {
  std::string metric = "ppl";  // ppl | agreement
  int documents = 0;           // held-out fortunes scored (0: all)
  int context = 256;
  std::string reference;       // agreement: a zoo name or file; empty = the model itself
  std::string fortunesDir;     // empty: $CSTUDIO_FORTUNES or /usr/share/games/fortunes
};
Result<MetricFigure> textMetric(const Model& lm, const TextMetricRequest& req, JobContext& job = nullJob());

}  // namespace cs::gen
