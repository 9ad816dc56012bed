// `cstudio bench int8 MODEL --batch 64`: the W8A8 ViT through LibTorch's quantized CPU
// kernels versus FP32 on the same inputs (measured), with the int8 accuracy next to the
// fake-quant W8A8 accuracy (compression/int8_exec.h).
#include <iomanip>
#include <iostream>

#include "cli_common.h"
#include "cmd_core.h"
#include "compression/int8_exec.h"
#include "engine/model.h"

namespace cs::cli {

void addBenchInt8Command(CLI::App& bench) {
  static std::string model = "vit-fmnist";
  static Int8Options o;
  static bool json = false;
  auto* c = bench.add_subcommand("int8", "W8A8 ViT on the quantized CPU kernels vs FP32: images/s and accuracy");
  c->add_option("model", model, "Native ViT (zoo name or file)");
  c->add_option("--batch", o.batch, "Batch size (the first test images)")->check(CLI::Range(1, 4096));
  c->add_option("--repeats", o.repeats, "Timed repeats per model (median and p90)")->check(CLI::Range(1, 10000));
  c->add_option("--warmup", o.warmup, "Untimed warm-up runs per model")->check(CLI::Range(0, 1000));
  c->add_option("--engine", o.engine, "Quantized engine: auto, onednn, x86, fbgemm, qnnpack");
  c->add_option("--calib", o.calibSamples, "Calibration images (RTN W8A8 ranges)")->check(CLI::Range(1, 60000));
  c->add_option("--seed", o.calibSeed, "Calibration seed");
  c->add_option("--eval-samples", o.evalSamples, "Test images for the accuracies")->check(CLI::Range(1, 10000));
  c->add_flag("--json", json, "JSON output");
  c->callback([] {
    auto job = progressJob(true);
    auto m = openModel(model, job);
    if (!m) std::exit(fail(m.error()));
    auto r = benchInt8(*m, o, job);
    if (!r) std::exit(fail(r.error()));
    nlohmann::json out = {{"model", m->name()},
                          {"engine", r->engine},
                          {"engines_available", quantizedEngines()},
                          {"engines_tried", r->enginesTried},
                          {"measured", r->measured},
                          {"note", r->note},
                          {"torch", r->torchVersion},
                          {"threads", r->threads},
                          {"batch", r->batch},
                          {"repeats", r->repeats},
                          {"fp32_images_per_s", r->fp32ImagesPerSec},
                          {"int8_images_per_s", r->int8ImagesPerSec},
                          {"speedup", r->speedup},
                          {"fp32_ms", {{"median", r->fp32MedianMs}, {"p90", r->fp32P90Ms}}},
                          {"int8_ms", {{"median", r->int8MedianMs}, {"p90", r->int8P90Ms}}},
                          {"eval_samples", r->evalSamples},
                          {"fp32_accuracy", r->fp32Accuracy},
                          {"fakequant_w8a8_accuracy", r->fakeQuantAccuracy},
                          {"int8_accuracy", r->int8Accuracy},
                          {"top1_agreement_int8_vs_fakequant", r->top1Agreement},
                          {"logit_diff_int8_vs_fakequant", {{"max_abs", r->maxAbsLogitDiff}, {"mean_abs", r->meanAbsLogitDiff}, {"logit_rms", r->logitStd}}},
                          {"int8_layers", r->int8Layers},
                          {"fp32_between", r->fpLayers}};
    if (json) {
      printJson(out);
    } else {
      std::cout << std::fixed << std::setprecision(1) << m->name() << ", batch " << r->batch << ", " << r->threads
                << " threads, LibTorch " << r->torchVersion << "\n";
      for (auto& e : r->enginesTried) std::cout << "  engine " << e << "\n";
      std::cout << "FP32: " << r->fp32ImagesPerSec << " images/s (median " << std::setprecision(2) << r->fp32MedianMs
                << " ms, p90 " << r->fp32P90Ms << " ms)\n";
      if (r->measured)
        std::cout << std::setprecision(1) << "int8 (" << r->engine << "): " << r->int8ImagesPerSec << " images/s (median "
                  << std::setprecision(2) << r->int8MedianMs << " ms, p90 " << r->int8P90Ms << " ms), ratio "
                  << r->speedup << "x  [measured]\n";
      else
        std::cout << "int8: simulated only (" << r->note << ")\n";
      std::cout << std::setprecision(2) << "accuracy on " << r->evalSamples << " test images: FP32 "
                << r->fp32Accuracy * 100 << " %, fake-quant W8A8 " << r->fakeQuantAccuracy * 100 << " % (simulated)";
      if (r->measured)
        std::cout << ", int8 " << r->int8Accuracy * 100 << " % (measured); top-1 agreement int8 vs fake-quant "
                  << r->top1Agreement * 100 << " %";
      std::cout << "\n";
    }
    std::exit(0);  // `bench` itself has a callback; do not run the default benchmarks too
  });
}

}  // namespace cs::cli
