// `cstudio bench sam2 --size tiny|small|base_plus|large|micro [--checkpoint F] --device cpu|cuda
//  [--frames N] [--warmup W] [--variants full,swr,smr,both] [--swr-selected F] [--keep-ratio R]`:
// frames/s of the SAM 2.1 port, full versus Efficient-SAM2 (SWR, SMR, both), with the
// image-encoder and memory-attention times separately; all variants in one process so
// the ratios come from one run. Random frames (no video I/O: it also runs in CS_MINIMAL).
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "compression/efficient_sam2.h"

namespace cs::cli {

void addBenchSam2Command(CLI::App& app) {
  CLI::App* bench = nullptr;
  try {
    bench = app.get_subcommand("bench");
  } catch (const CLI::Error&) {
    return;
  }
  static Sam2BenchOptions o;
  static std::string variants = "full,swr,smr,both";
  static std::string selected = "0.5";
  static bool json = false;
  auto* c = bench->add_subcommand("sam2", "SAM 2.1 tracking frames/s: full vs Efficient-SAM2 (SWR, SMR, both)");
  c->add_option("--size", o.size, "Official size with random weights: tiny, small, base_plus, large (or micro, mini)");
  c->add_option("--checkpoint", o.checkpoint, "Real weights instead of random ones (size auto-detected)");
  c->add_option("--device", o.device, "cpu or cuda");
  c->add_option("--frames", o.frames, "Timed frames per variant")->check(CLI::Range(1, 100000));
  c->add_option("--warmup", o.warmup, "Untimed tracked frames first (fill the memory bank)")->check(CLI::Range(0, 1000));
  c->add_option("--variants", variants, "Comma list of full, swr, smr, both");
  c->add_option("--swr-selected", selected,
                "SWR: fraction(s) of windows through the routed blocks, comma list (default 0.5); swr and both "
                "run once per fraction");
  c->add_option("--keep-ratio", o.keepRatio, "SMR: fraction of tokens kept per pruned memory frame (default 0.05)");
  c->add_option("--seed", o.seed, "Seed of the random weights and frames");
  c->add_flag("--json", json, "JSON output");
  c->callback([] {
    auto job = progressJob(true);
    nlohmann::json rows = nlohmann::json::array();
    std::stringstream ss(variants);
    std::string v;
    double fullFps = 0, fullEnc = 0, fullMem = 0;
    std::vector<double> fractions;
    {
      std::stringstream fs(selected);
      std::string x;
      while (std::getline(fs, x, ',')) {
        try {
          fractions.push_back(std::stod(x));
        } catch (const std::exception&) {
          std::exit(fail(Error::badArgument("--swr-selected: not a number: '" + x + "'")));
        }
      }
      if (fractions.empty()) std::exit(fail(Error::badArgument("--swr-selected: give at least one fraction")));
    }
    std::vector<std::pair<std::string, double>> runs;
    while (std::getline(ss, v, ',')) {
      if (v != "full" && v != "swr" && v != "smr" && v != "both")
        std::exit(fail(Error::badArgument("--variants: unknown variant '" + v + "' (full, swr, smr, both)")));
      if (v == "swr" || v == "both")
        for (double f : fractions) runs.emplace_back(v, f);
      else
        runs.emplace_back(v, fractions[0]);
    }
    for (const auto& [variant, frac] : runs) {
      v = variant;
      Sam2BenchOptions q = o;
      q.swr = v == "swr" || v == "both";
      q.smr = v == "smr" || v == "both";
      q.swrSelected = frac;
      auto r = benchSam2(q, job);
      if (!r) std::exit(fail(r.error()));
      if (v == "full") {
        fullFps = r->framesPerSecond;
        fullEnc = r->medianEncoderMs;
        fullMem = r->medianMemAttnMs;
      }
      nlohmann::json row = {{"variant", v},
                            {"size", r->size},
                            {"device", r->device},
                            {"image_size", r->imageSize},
                            {"frames", r->frames},
                            {"frames_per_second", r->framesPerSecond},
                            {"median_frame_ms", r->medianFrameMs},
                            {"median_encoder_ms", r->medianEncoderMs},
                            {"median_mem_attn_ms", r->medianMemAttnMs},
                            {"mem_tokens_kept", r->memTokensKept},
                            {"windows", r->windows},
                            {"windows_selected", r->windowsSelected},
                            {"routed_blocks", r->routedBlocks}};
      if (fullFps > 0) {
        row["speedup_end_to_end"] = r->framesPerSecond / fullFps;
        row["speedup_encoder"] = fullEnc / std::max(r->medianEncoderMs, 1e-9);
        row["speedup_mem_attn"] = fullMem / std::max(r->medianMemAttnMs, 1e-9);
      }
      rows.push_back(row);
      if (!json)
        std::cout << std::fixed << std::setprecision(2) << r->size << " " << r->imageSize << " px " << r->device << " "
                  << std::setw(4) << v << ": " << r->framesPerSecond << " frames/s, median frame " << r->medianFrameMs
                  << " ms, encoder " << r->medianEncoderMs << " ms, memory attention " << r->medianMemAttnMs
                  << " ms; windows selected " << r->windowsSelected << "/" << r->windows << ", memory tokens kept "
                  << std::setprecision(3) << r->memTokensKept << "\n";
    }
    if (json) printJson({{"bench", "sam2"}, {"precision", "fp32"}, {"random_weights", o.checkpoint.empty()}, {"rows", rows}});
    std::cout.flush();
    std::exit(0);  // `bench` itself has a callback; do not run the default benchmarks too
  });
  // `cstudio bench sam2-synth CHECKPOINT [--adapter F] --videos N --frames T --device cpu|cuda`
  static EffSam2EvalOptions e;
  static bool ejson = false;
  auto* d = bench->add_subcommand(
      "sam2-synth", "Efficient-SAM2 variants on held-out synthetic videos: J&F, IoU vs full, frames/s, routing");
  d->add_option("checkpoint", e.weights, "SAM 2.1 checkpoint (sam2-micro)")->required();
  d->add_option("--adapter", e.adapter, "SWR adapter (default: CHECKPOINT-stem.swr_adapter.safetensors)");
  d->add_option("--videos", e.videos, "Held-out videos (seeds 1000000 + i)")->check(CLI::Range(1, 10000));
  d->add_option("--frames", e.frames, "Frames per video")->check(CLI::Range(3, 1000));
  d->add_option("--device", e.device, "cpu or cuda");
  d->add_option("--keep-ratio", e.keepRatio, "SMR fraction kept (default 0.05)");
  d->add_flag("--json", ejson, "JSON output");
  d->callback([] {
    auto job = progressJob(true);
    auto r = evalEfficientSam2Synthetic(e, job);
    if (!r) std::exit(fail(r.error()));
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& x : *r) {
      rows.push_back({{"variant", x.variant},
                      {"sequences", x.sequences},
                      {"frames", x.frames},
                      {"J", x.J},
                      {"F", x.F},
                      {"JF", x.JF},
                      {"iou_vs_full", x.iouVsFull},
                      {"min_iou_vs_full", x.minIouVsFull},
                      {"frames_per_second", x.framesPerSecond},
                      {"speedup", x.speedup},
                      {"median_frame_ms", x.medianFrameMs},
                      {"median_encoder_ms", x.medianEncoderMs},
                      {"median_mem_attn_ms", x.medianMemAttnMs},
                      {"windows_selected", x.windowsSelected},
                      {"mem_tokens_kept", x.memTokensKept}});
      if (!ejson)
        std::cout << std::fixed << std::setprecision(3) << std::setw(6) << x.variant << ": J&F " << x.JF << " (J " << x.J
                  << ", F " << x.F << "), IoU vs full " << x.iouVsFull << " (min " << x.minIouVsFull << "), "
                  << std::setprecision(1) << x.framesPerSecond << " frames/s (" << std::setprecision(2) << x.speedup
                  << "x), encoder " << x.medianEncoderMs << " ms, memory attention " << x.medianMemAttnMs
                  << " ms, windows selected " << x.windowsSelected << ", memory kept " << x.memTokensKept << "\n";
    }
    if (ejson)
      printJson({{"bench", "sam2-synth"}, {"checkpoint", e.weights}, {"device", e.device}, {"videos", e.videos},
                 {"frames", e.frames}, {"keep_ratio", e.keepRatio}, {"rows", rows}});
    std::cout.flush();
    std::exit(0);
  });

#ifndef CS_MINIMAL  // mask reading needs the OpenCV build
  // `cstudio bench swr-coverage --size large --masks DIR[,DIR...] [--dilate K] [--json]`
  static SwrCoverageOptions cov;
  static std::string covDirs;
  static bool cjson = false;
  auto* cv = bench->add_subcommand(
      "swr-coverage", "SWR routing statistics of real object masks (e.g. DAVIS ground truth) at an official size's "
                      "window grid: the fractions to bench sam2 --swr-selected with");
  cv->add_option("--size", cov.size, "Official size whose window geometry is used (tiny, small, base_plus, large)");
  cv->add_option("--masks", covDirs, "Comma list of folders of mask PNGs (> 0 is the object), one sequence each")
      ->required();
  cv->add_option("--dilate", cov.dilate, "The router's dilation kernel (default 5)")->check(CLI::Range(0, 63));
  cv->add_flag("--json", cjson, "JSON output");
  cv->callback([] {
    auto job = progressJob(true);
    std::stringstream ss(covDirs);
    std::string d;
    cov.maskDirs.clear();
    while (std::getline(ss, d, ','))
      if (!d.empty()) cov.maskDirs.push_back(d);
    auto r = swrMaskCoverage(cov, job);
    if (!r) std::exit(fail(r.error()));
    nlohmann::json seqs = nlohmann::json::array();
    for (const auto& q : r->sequences)
      seqs.push_back({{"masks", q.dir}, {"frames", q.frames}, {"selected", q.selected}, {"min_selected", q.minSelected},
                      {"max_selected", q.maxSelected}});
    if (cjson) {
      printJson({{"bench", "swr-coverage"}, {"size", r->size}, {"grid", {r->gridH, r->gridW}}, {"window", r->window},
                 {"feature_map", r->featH}, {"dilate", cov.dilate}, {"sequences", seqs}, {"selected", r->selected}});
    } else {
      std::cout << r->size << ": " << r->gridH << "x" << r->gridW << " windows of " << r->window << "x" << r->window
                << " tokens on the " << r->featH << "x" << r->featH << " map\n";
      for (const auto& q : r->sequences)
        std::cout << std::fixed << std::setprecision(3) << "  " << q.dir << ": " << q.frames << " frames, selected "
                  << q.selected << " (min " << q.minSelected << ", max " << q.maxSelected << ")\n";
      std::cout << std::fixed << std::setprecision(3) << "mean fraction selected: " << r->selected << "\n";
    }
    std::cout.flush();
    std::exit(0);
  });
#endif
}

}  // namespace cs::cli
