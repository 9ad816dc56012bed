// Training of the studio's own zoo models (CPU by default, deterministic given a seed).
// Runs on the caller's thread; reports per-step progress and honours cancel per batch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/job.h"
#include "engine/result.h"

namespace cs {

struct TrainOptions {
  int epochs = 12;
  int batch = 128;
  double lr = 1e-3;
  double weightDecay = 0.05;
  uint64_t seed = 0;
  int maxTrainSamples = 0;      // 0 = all
  std::string outDir;           // default: <zoo>/<model name>
  std::string command;          // the command line, recorded in the model card
  std::string device = "cpu";   // "cpu" or "cuda" (when the LibTorch build has CUDA)
};

struct TrainReport {
  std::string weightsPath, cardPath;
  double testAccuracy = 0;
  double seconds = 0;
  std::vector<double> epochTestAccuracy;
  std::vector<double> epochTrainLoss;
  int64_t parameters = 0;
};

Result<TrainReport> trainVitFmnist(const TrainOptions& opts, JobContext& job);

}  // namespace cs
