// `cstudio bench`: matmul GFLOP/s (proves which BLAS backs LibTorch) and the zoo
// ViT's images/s at batch 64, FP32 versus W8A8 fake-quant (simulated).
#include <iomanip>
#include <iostream>

#include "cli_common.h"
#include "cmd_core.h"
#include "compression/quantize.h"
#include "engine/bench.h"
#include "engine/model.h"
#include "engine/runtime.h"

namespace cs::cli {

void addBenchInt8Command(CLI::App& bench);  // cmd_bench_int8.cpp

void addBenchCommands(CLI::App& app) {
  static std::string model = "vit-fmnist";
  static int batch = 64, repeats = 20, n = 1024;
  static bool json = false;
  auto* b = app.add_subcommand("bench", "CPU benchmarks: matmul GFLOP/s and model images/s (FP32 vs W8A8 fake-quant)");
  b->add_option("--model", model, "Image classifier to time");
  b->add_option("--batch", batch, "Batch size")->check(CLI::Range(1, 4096));
  b->add_option("--repeats", repeats, "Timed repeats (median reported)")->check(CLI::Range(1, 10000));
  b->add_option("--matmul-size", n, "Square matmul size")->check(CLI::Range(16, 8192));
  b->add_flag("--json", json, "JSON output");
  addBenchInt8Command(*b);
  b->callback([] {
    auto job = progressJob(true);
    const auto& rt = runtimeInfo();
    auto mm = benchMatmul(n, 10);
    nlohmann::json out = {{"threads", rt.threads},  {"torch", rt.torchVersion}, {"blas", rt.blas},
                          {"matmul", {{"n", mm.n}, {"gflops", mm.gflops}, {"median_seconds", mm.seconds}}}};
    auto m = openModel(model, job);
    if (!m) throw EngineError(m.error());
    auto fp = benchModelThroughput(*m, batch, repeats, job);
    if (!fp) throw EngineError(fp.error());
    Recipe r;
    r.params = {{"wbits", 8}, {"abits", 8}};
    r.calibSamples = 128;
    QuantizeOptions qo;
    qo.evaluate = false;
    auto q = quantize(*m, r, qo, job);
    if (!q) throw EngineError(q.error());
    auto qb = benchModelThroughput(q->variant, batch, repeats, job);
    if (!qb) throw EngineError(qb.error());
    out["model"] = {{"name", m->name()},
                    {"batch", batch},
                    {"fp32_images_per_s", fp->itemsPerSecond},
                    {"w8a8_fakequant_images_per_s", qb->itemsPerSecond},
                    {"note", "W8A8 here is simulated (fake-quant in float): it costs time, it does not save it"}};
    if (json) {
      printJson(out);
      return;
    }
    std::cout << std::fixed << std::setprecision(1) << "LibTorch " << rt.torchVersion << ", " << rt.threads
              << " threads, BLAS: " << rt.blas << "\n"
              << "matmul " << n << "^3 fp32: " << mm.gflops << " GFLOP/s (median of 10)\n"
              << m->name() << " batch " << batch << ": FP32 " << fp->itemsPerSecond << " images/s, W8A8 fake-quant "
              << qb->itemsPerSecond << " images/s (median of " << repeats << ")\n";
  });
}

}  // namespace cs::cli
