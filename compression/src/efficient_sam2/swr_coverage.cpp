// SWR routing statistics from real object masks (compression/efficient_sam2.h):
// the engine's window router on ground-truth masks at an official size's geometry.
#include <algorithm>
#include <filesystem>

#include "compression/efficient_sam2.h"
#include "engine/torch/sam2.h"

namespace cs {
using namespace detail::sam2;

Result<SwrCoverageResult> swrMaskCoverage(const SwrCoverageOptions& o, JobContext& job) {
  try {
    if (o.maskDirs.empty()) return Error::badArgument("swr coverage: give at least one folder of mask images");
    const Sam2Config cfg = Sam2Config::byName(o.size);
    const SwrGeometry g = swrGeometry(cfg);
    const int64_t L = 4 * static_cast<int64_t>(g.featH);  // low-res mask side (256 at 1024 px)
    SwrCoverageResult r;
    r.size = cfg.name;
    r.gridH = g.gridH, r.gridW = g.gridW, r.window = g.window, r.featH = g.featH;
    torch::InferenceMode im;
    SwrOptions so;
    so.dilate = o.dilate;
    double sum = 0;
    for (size_t di = 0; di < o.maskDirs.size(); ++di) {
      const auto& dir = o.maskDirs[di];
      std::vector<std::string> files;
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        if (const auto x = e.path().extension(); x == ".png" || x == ".pgm" || x == ".bmp") files.push_back(e.path().string());
      if (ec) return Error::badFile(dir, "cannot list: " + ec.message());
      if (files.empty()) return Error::badFile(dir, "no mask images (.png, .pgm, .bmp)");
      std::sort(files.begin(), files.end());
      SwrCoverageSequence seq;
      seq.dir = dir;
      for (size_t fi = 0; fi < files.size(); ++fi) {
        if (job.cancelled()) return Error::cancelled();
        auto m = readMaskImage(files[fi]);
        if (!m) return m.error();
        std::vector<float> px(m->data.begin(), m->data.end());
        auto t = torch::from_blob(px.data(), {1, 1, m->height, m->width}, torch::kFloat32).clone();
        // squash to the square model input, then area-average to the low-res mask: a
        // low-res pixel is foreground where the object covers at least half of it
        auto low = torch::adaptive_avg_pool2d(t, {L, L});
        RouterObject ob;
        ob.multimasks = torch::where(low >= 0.5, torch::full_like(low, 10.0), torch::full_like(low, -10.0));
        ob.objScore = torch::full({1, 1}, 100.0);  // confident: no saliency cue
        const auto sel = selectWindows(g, {ob}, so);
        const double frac = sel.to(torch::kFloat32).mean().item<double>();
        seq.selected += frac;
        seq.minSelected = std::min(seq.minSelected, frac);
        seq.maxSelected = std::max(seq.maxSelected, frac);
        ++seq.frames;
        job.progress((static_cast<double>(di) + static_cast<double>(fi + 1) / static_cast<double>(files.size())) /
                         static_cast<double>(o.maskDirs.size()),
                     "routing " + files[fi]);
      }
      seq.selected /= seq.frames;
      sum += seq.selected;
      r.sequences.push_back(seq);
    }
    r.selected = sum / static_cast<double>(r.sequences.size());
    return r;
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::badArgument(std::string("swr coverage: ") + e.what());
  }
}

}  // namespace cs
