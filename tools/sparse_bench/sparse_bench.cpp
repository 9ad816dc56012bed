// 2:4 semi-structured sparse matmul (cuSPARSELt: at::_cslt_compress / at::_cslt_sparse_mm)
// against dense fp16 for a Linear y = x W^T with W [out, in] pruned 2:4 along `in`.
// Usage: sparse_bench [out=4096] [in=4096] [tokens=2048] [reps=50]
// Prints one JSON line per case: median and p90 milliseconds, TFLOP/s, max abs diff.
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

namespace {
std::pair<double, double> timeIt(const std::function<torch::Tensor()>& f, int reps) {
  for (int i = 0; i < 10; ++i) f();
  torch::cuda::synchronize();
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    torch::cuda::synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms[std::min(ms.size() - 1, ms.size() * 9 / 10)]};
}
}  // namespace

int main(int argc, char** argv) {
  const int64_t out = argc > 1 ? std::atoll(argv[1]) : 4096, in = argc > 2 ? std::atoll(argv[2]) : 4096;
  const int64_t tokens = argc > 3 ? std::atoll(argv[3]) : 2048;
  const int reps = argc > 4 ? std::atoi(argv[4]) : 50;
  if (!torch::cuda::is_available()) {
    std::printf("{\"error\": \"no CUDA device\"}\n");
    return 1;
  }
  torch::NoGradGuard ng;
  torch::manual_seed(0);
  auto opt = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat16);
  auto w = torch::randn({out, in}, opt);
  // 2:4 mask along the input dimension: keep the 2 largest |w| of every 4
  auto g = w.abs().reshape({out, in / 4, 4});
  auto idx = std::get<1>(g.topk(2, -1));
  auto keep = torch::zeros_like(g, torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBool)).scatter(-1, idx, true);
  auto ws = (w.reshape({out, in / 4, 4}) * keep).reshape({out, in}).contiguous();
  auto x = torch::randn({tokens, in}, opt);
  const double flops = 2.0 * out * in * tokens;
  auto report = [&](const char* name, std::pair<double, double> t, double diff) {
    std::printf("{\"case\": \"%s\", \"out\": %ld, \"in\": %ld, \"tokens\": %ld, \"median_ms\": %.4f, \"p90_ms\": %.4f, "
                "\"tflops_dense_equiv\": %.2f, \"max_abs_diff_vs_dense\": %.4g, \"torch\": \"%s\"}\n",
                name, static_cast<long>(out), static_cast<long>(in), static_cast<long>(tokens), t.first, t.second,
                flops / (t.first * 1e-3) / 1e12, diff, TORCH_VERSION);
    std::fflush(stdout);
  };
  auto dense = torch::linear(x, ws);
  report("dense fp16 linear (2:4 zeros stored densely)", timeIt([&] { return torch::linear(x, ws); }, reps), 0.0);
  report("dense fp16 matmul W x^T", timeIt([&] { return torch::matmul(ws, x.t()); }, reps), 0.0);
  try {
    auto comp = at::_cslt_compress(ws);
    auto xt = x.t().contiguous();
    auto y = at::_cslt_sparse_mm(comp, xt);  // [out, tokens]
    const double diff = (y.t().to(torch::kFloat32) - dense.to(torch::kFloat32)).abs().max().item<double>();
    report("cuSPARSELt 2:4 W x^T (x^T contiguous)", timeIt([&] { return at::_cslt_sparse_mm(comp, xt); }, reps), diff);
    report("cuSPARSELt 2:4 W x^T (transpose view)", timeIt([&] { return at::_cslt_sparse_mm(comp, x.t()); }, reps), diff);
    auto tc = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) at::_cslt_compress(ws);
    torch::cuda::synchronize();
    std::printf("{\"case\": \"cuSPARSELt compress (one-off)\", \"ms\": %.4f}\n",
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - tc).count() / 10);
  } catch (const std::exception& e) {
    std::printf("{\"case\": \"cuSPARSELt\", \"error\": \"%s\"}\n", std::string(e.what()).substr(0, 300).c_str());
  }
  return 0;
}
