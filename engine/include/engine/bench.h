// Benchmarks printed by `cstudio bench`: matmul GFLOP/s (proves the BLAS in use) and
// model throughput. Run on the caller's thread.
#pragma once
#include <string>

#include "engine/job.h"
#include "engine/model.h"
#include "engine/result.h"

namespace cs {

struct MatmulBench {
  int n = 1024;
  double gflops = 0;     // median over repeats
  double seconds = 0;    // median time of one product
  int threads = 0;
};
MatmulBench benchMatmul(int n = 1024, int repeats = 10);

struct ThroughputBench {
  double itemsPerSecond = 0;  // median
  int batch = 64;
  int repeats = 0;
};
// Images/s of the model's forward under inference mode at the given batch size.
Result<ThroughputBench> benchModelThroughput(const Model& model, int batch, int repeats, JobContext& job);

}  // namespace cs
