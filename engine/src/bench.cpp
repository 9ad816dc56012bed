// Benchmarks (see engine/bench.h).
#include "engine/bench.h"

#include <algorithm>
#include <chrono>

#include "engine/runtime.h"
#include "engine/torch/model_impl.h"

namespace cs {
namespace {
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
}  // namespace

MatmulBench benchMatmul(int n, int repeats) {
  torch::InferenceMode guard;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  for (int i = 0; i < 2; ++i) (void)torch::mm(a, b);
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) {
    auto s = std::chrono::steady_clock::now();
    auto c = torch::mm(a, b);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count());
  }
  MatmulBench r;
  r.n = n;
  r.seconds = median(t);
  r.gflops = 2.0 * n * n * double(n) / r.seconds / 1e9;
  r.threads = at::get_num_threads();
  return r;
}

Result<ThroughputBench> benchModelThroughput(const Model& model, int batch, int repeats, JobContext& job) {
  if (model.task() != Task::ImageClassification) return Error::badArgument(model.name() + ": throughput bench needs an image classifier");
  CS_TRY_RESULT(model.source(), {
    torch::InferenceMode guard;
    auto x = torch::randn({batch, 1, 28, 28});
    for (int i = 0; i < 2; ++i) (void)model.impl()->run(x);
    std::vector<double> t;
    for (int i = 0; i < repeats; ++i) {
      if (job.cancelled()) return Error::cancelled();
      auto s = std::chrono::steady_clock::now();
      (void)model.impl()->run(x);
      t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - s).count());
      job.progress(double(i + 1) / repeats, "bench");
    }
    ThroughputBench r;
    r.batch = batch;
    r.repeats = repeats;
    r.itemsPerSecond = batch / median(t);
    return r;
  })
}

}  // namespace cs
