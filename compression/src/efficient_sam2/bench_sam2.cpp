// Speed of the SAM 2.1 port with and without Efficient-SAM2 (compression/efficient_sam2.h):
// the tracking loop of Sam2VideoSession on synthetic frames, with CUDA-synchronized timers,
// so it runs on LibTorch-only machines (no OpenCV: CS_MINIMAL).
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "compression/efficient_sam2.h"
#include "engine/torch/sam2.h"

namespace cs {
using namespace detail::sam2;
using torch::Tensor;

namespace {
double medianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Random weights of a config, on the device: norms start as identity, everything else N(0, 0.02).
std::shared_ptr<const Sam2Model> randomModel(const Sam2Config& cfg, torch::Device dev, uint64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  std::unordered_map<std::string, Tensor> w;
  for (const auto& [name, shape] : expectedTensors(cfg)) {
    Tensor t;
    const bool norm = shape.size() == 1 && name.find("norm") != std::string::npos;
    const bool isBias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (norm && !isBias) t = torch::ones(shape);
    else if (isBias) t = torch::zeros(shape);
    else t = at::normal(0.0, 0.02, shape, gen);
    w.emplace(name, t.to(dev));
  }
  return std::make_shared<const Sam2Model>(cfg, std::move(w), "<random " + cfg.name + ">");
}

// The n windows nearest the grid centre, sorted (row-major indices).
Tensor centreWindows(const SwrGeometry& g, int64_t n, torch::Device dev) {
  std::vector<std::pair<double, int64_t>> d;
  const double cy = (g.gridH - 1) / 2.0, cx = (g.gridW - 1) / 2.0;
  for (int64_t i = 0; i < g.numWindows(); ++i) {
    const double y = static_cast<double>(i / g.gridW) - cy, x = static_cast<double>(i % g.gridW) - cx;
    d.emplace_back(y * y + x * x + 1e-3 * static_cast<double>(i), i);
  }
  std::sort(d.begin(), d.end());
  std::vector<int64_t> idx;
  for (int64_t k = 0; k < n; ++k) idx.push_back(d[static_cast<size_t>(k)].second);
  std::sort(idx.begin(), idx.end());
  return torch::tensor(idx, torch::kInt64).to(dev);
}
}  // namespace

Result<Sam2BenchResult> benchSam2(const Sam2BenchOptions& o, JobContext& job) {
  try {
    if (o.frames < 1 || o.warmup < 0) return Error::badArgument("bench sam2: --frames must be >= 1, --warmup >= 0");
    if (o.swr && (o.swrSelected <= 0 || o.swrSelected > 1))
      return Error::badArgument("bench sam2: --swr-selected must be in (0, 1]");
    if (o.smr && (o.keepRatio <= 0 || o.keepRatio > 1))
      return Error::badArgument("bench sam2: --keep-ratio must be in (0, 1]");
    if (o.device != "cpu" && o.device != "cuda")
      return Error::badArgument("bench sam2: --device " + o.device + " (cpu or cuda)");
    const bool cuda = o.device == "cuda";
    if (cuda && !torch::cuda::is_available())
      return Error::badArgument("bench sam2: --device cuda, but this LibTorch sees no CUDA device");
    const torch::Device dev = cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    torch::InferenceMode im;
    std::shared_ptr<const Sam2Model> model;
    if (o.checkpoint.empty()) {
      model = randomModel(Sam2Config::byName(o.size), dev, o.seed);
    } else {
      auto m = Sam2Model::load(o.checkpoint, o.size.empty() ? "auto" : o.size);
      if (cuda) {  // a device copy of the weights
        std::unordered_map<std::string, Tensor> w;
        for (const auto& [name, shape] : expectedTensors(m->config())) w.emplace(name, m->w(name).to(dev));
        model = std::make_shared<const Sam2Model>(m->config(), std::move(w), o.checkpoint);
      } else {
        model = m;
      }
    }
    const auto& m = *model;
    const auto& cfg = m.config();
    const int S = cfg.imageSize;
    auto sync = [&] {
      if (cuda) torch::cuda::synchronize();
    };
    Sam2BenchResult r;
    r.size = cfg.name;
    r.device = cuda ? "cuda" : "cpu";
    r.imageSize = S;
    SwrPlan plan;
    SwrAdapter adapter;
    if (o.swr) {
      const auto g = swrGeometry(cfg);
      const int64_t n = std::clamp<int64_t>(std::llround(o.swrSelected * g.numWindows()), 1, g.numWindows());
      plan.selected = centreWindows(g, n, dev);
      adapter = SwrAdapter::init(g.dim, o.seed + 1).to(dev);
      plan.adapter = &adapter;
      r.windows = g.numWindows();
      r.windowsSelected = static_cast<int>(n);
      r.routedBlocks = g.skippedBlocks();
    }
    auto gen = at::detail::createCPUGenerator(o.seed + 7);
    const int total = 1 + o.warmup + o.frames;
    auto frame = [&] { return at::normal(0.0, 1.0, {1, 3, S, S}, gen).to(dev); };
    Sam2ObjectTrack track;
    {
      auto f0 = m.forwardImage(frame());
      PointPrompt pts{{S / 2.0f, S / 2.0f}, {1}};
      auto out = trackStep(m, f0, 0, true, &pts, Tensor(), track, total, false, true);
      out.pixFeatWithMem = Tensor();
      track.cond[0] = std::move(out);
    }
    SmrOptions smrOpt{o.keepRatio};
    const int keep = std::max(cfg.numMaskmem, cfg.maxObjPtrs);
    std::vector<double> frameMs, encMs, memMs;
    int64_t memTok = 0, memKept = 0;
    for (int t = 1; t < total; ++t) {
      if (job.cancelled()) return Error::cancelled();
      auto img = frame();
      sync();
      const auto a = std::chrono::steady_clock::now();
      auto f = m.forwardImage(img, o.swr ? &plan : nullptr);
      sync();
      const auto b = std::chrono::steady_clock::now();
      StepStats ss;
      auto out = trackStep(m, f, t, false, nullptr, Tensor(), track, total, false, true, Tensor(),
                           o.smr ? &smrOpt : nullptr, &ss);
      sync();
      const auto c = std::chrono::steady_clock::now();
      if (ss.newestFrame >= 0) {  // SMR: store the newest memory frame's kept tokens (measured once)
        auto nt = track.nonCond.find(ss.newestFrame);
        if (nt != track.nonCond.end()) nt->second.smrKeep = ss.newestKeep;
      }
      out.pixFeatWithMem = Tensor();
      out.multimasks = Tensor();
      track.nonCond[t] = std::move(out);
      for (auto it = track.nonCond.begin(); it != track.nonCond.end();) {
        if (t - it->first > keep) it = track.nonCond.erase(it);
        else ++it;
      }
      if (t > o.warmup) {
        frameMs.push_back(std::chrono::duration<double, std::milli>(c - a).count());
        encMs.push_back(std::chrono::duration<double, std::milli>(b - a).count());
        memMs.push_back(ss.memAttnMs);
        memTok += ss.memTokens;
        memKept += ss.memTokensKept;
      }
      job.progress(static_cast<double>(t) / (total - 1), "frame " + std::to_string(t) + "/" + std::to_string(total - 1));
    }
    double sum = 0;
    for (double v : frameMs) sum += v;
    r.frames = static_cast<int>(frameMs.size());
    r.framesPerSecond = sum > 0 ? 1000.0 * r.frames / sum : 0;
    r.medianFrameMs = medianOf(frameMs);
    r.medianEncoderMs = medianOf(encMs);
    r.medianMemAttnMs = medianOf(memMs);
    r.memTokensKept = memTok ? static_cast<double>(memKept) / static_cast<double>(memTok) : 1.0;
    return r;
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::failed(std::string("bench sam2: ") + e.what());
  }
}

}  // namespace cs
