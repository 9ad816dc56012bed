// Runtime set-up: threads = cores, device choice, BLAS identification.
#include "engine/runtime.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <fstream>
#include <mutex>
#include <thread>

namespace cs {
namespace {
RuntimeInfo gInfo;
std::once_flag gOnce;
}  // namespace

RuntimeInfo initRuntime(int threads, const std::string& device) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::call_once(gOnce, [&] {
    // Inter-op threads can only be set once, before any parallel work.
    try {
      at::set_num_interop_threads(1);
    } catch (...) {
    }
  });
  at::set_num_threads(threads);
  gInfo.threads = at::get_num_threads();
  gInfo.cudaAvailable = torch::cuda::is_available();
  gInfo.device = (device == "cuda" || (device == "auto" && gInfo.cudaAvailable)) && gInfo.cudaAvailable ? "cuda" : "cpu";
  gInfo.torchVersion = TORCH_VERSION;
  // at::show_config() lists the BLAS LibTorch was built against; Debian's build uses
  // the system libblas.so.3 alternative, which is OpenBLAS when libopenblas0-pthread is installed.
  // Debian's show_config() says "generic" (the libblas.so.3 interface), so look at what is mapped.
  std::string cfg = at::show_config();
  auto pos = cfg.find("BLAS_INFO=");
  gInfo.blas = pos == std::string::npos ? "unknown" : cfg.substr(pos + 10, cfg.find_first_of(",\n", pos) - pos - 10);
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.find("libopenblas") != std::string::npos) {
      gInfo.blas = "OpenBLAS (" + line.substr(line.find('/')) + ")";
      break;
    }
    if (line.find("libmkl") != std::string::npos) {
      gInfo.blas = "MKL";
      break;
    }
  }
  return gInfo;
}

const RuntimeInfo& runtimeInfo() { return gInfo; }

}  // namespace cs
