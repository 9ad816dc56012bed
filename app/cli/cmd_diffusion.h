// Image-generator side of the shared `cstudio generate` and `cstudio eval` verbs (the
// verbs themselves live in cmd_lm.cpp and dispatch on the model's task).
#pragma once
#include <cstdint>
#include <string>

#include "engine/model.h"

namespace cs::cli {

struct ImageGenArgs {
  std::string classes = "0";   // "3", "0-9", "1,4,7" or "all"
  std::string seeds = "0-7";   // "0-15" or "0,5,9"
  std::string sampler = "ddim";
  std::string out;             // PNG grid (rows: classes, columns: seeds)
  std::string device = "cpu";
  int steps = -1, batch = 64, cols = 0;
  double eta = -1, guidance = -1;  // -1: the model's defaults
  double temperature = -1;         // autoregressive models: -1: the model's default
  int topK = -1;                   // autoregressive models: -1: the model's default
  bool json = false;
};
int runImageGenerate(const Model& model, const ImageGenArgs& a);

struct ImageEvalArgs {
  std::string metric = "all";  // fid, sfid, is, class-consistency, all
  std::string classifier = "vit-fmnist";
  std::string samplesOut;      // optional PNG of the first 100 samples
  std::string sampler = "ddim", device = "cpu";
  int samples = 1000, batch = 64, steps = -1, splits = 1;
  double eta = -1, guidance = -1;
  double temperature = -1;     // autoregressive models (-1: the model's default)
  int topK = -1;
  uint64_t seed = 0;           // sample i: class i % classes, seed seed + i
  bool json = false;
};
int runImageEval(const Model& model, const ImageEvalArgs& a);

// "0-3,7" -> {0,1,2,3,7}; "all" -> 0..allCount-1. Empty result on a malformed list.
std::vector<int64_t> parseIndexList(const std::string& s, int64_t allCount);

}  // namespace cs::cli
