// Process-wide runtime set-up: intra-op threads, device choice, BLAS check.
// Call initRuntime() once at start-up (GUI and CLI main do). Thread-safe after that.
#pragma once
#include <string>

namespace cs {

struct RuntimeInfo {
  int threads = 1;
  std::string device = "cpu";   // "cpu" or "cuda"
  bool cudaAvailable = false;
  std::string torchVersion;
  std::string blas;             // what backs matmuls, as far as can be told
};

// threads <= 0 means one per core. device "auto" picks CUDA when present.
RuntimeInfo initRuntime(int threads = 0, const std::string& device = "cpu");
const RuntimeInfo& runtimeInfo();

}  // namespace cs
