// Efficient-SAM2 variants on held-out synthetic videos (compression/efficient_sam2.h): the
// session's tracking loop with the real SWR router and SMR, clips generated in memory.
#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "compression/efficient_sam2.h"
#include "engine/sam2.h"
#include "engine/sam2_micro.h"
#include "engine/torch/sam2.h"

namespace cs {
using namespace detail::sam2;
using torch::Tensor;
namespace F = torch::nn::functional;

namespace {
double medianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Acc {
  int sequences = 0, frames = 0;
  double J = 0, F = 0, iou = 0, minIou = 1, ms = 0, selSum = 0;
  int selN = 0, iouN = 0;
  int64_t memTok = 0, memKept = 0;
  std::vector<double> frameMs, encMs, memMs;
};

struct Variant {
  std::string name;
  bool swr, smr, adapter;
};
}  // namespace

Result<std::vector<EffSam2VariantEval>> evalEfficientSam2Synthetic(const EffSam2EvalOptions& o, JobContext& job) {
  try {
    if (o.videos < 1 || o.frames < 3) return Error::badArgument("eval: --videos >= 1 and --frames >= 3");
    const bool cuda = o.device == "cuda";
    if (o.device != "cpu" && !cuda) return Error::badArgument("eval: --device " + o.device + " (cpu or cuda)");
    if (cuda && !torch::cuda::is_available()) return Error::badArgument("eval: --device cuda, but no CUDA device");
    const torch::Device dev = cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    torch::InferenceMode im;
    auto cpuModel = Sam2Model::load(o.weights, "auto");
    std::shared_ptr<const Sam2Model> model = cpuModel;
    if (cuda) {
      std::unordered_map<std::string, Tensor> w;
      for (const auto& [name, shape] : expectedTensors(cpuModel->config())) w.emplace(name, cpuModel->w(name).to(dev));
      model = std::make_shared<const Sam2Model>(cpuModel->config(), std::move(w), o.weights);
    }
    const auto& m = *model;
    const auto& cfg = m.config();
    const int S = cfg.imageSize;
    const auto g = swrGeometry(cfg);
    const std::string adPath = o.adapter.empty() ? swrAdapterPathFor(o.weights) : o.adapter;
    if (!std::filesystem::exists(adPath)) return Error::badFile(adPath, "no SWR adapter (cstudio train swr-adapter)");
    SwrAdapter adapter = SwrAdapter::load(adPath, g.dim).to(dev);
    const std::vector<Variant> vars{{"full", false, false, false},
                                    {"swr_id", true, false, false},
                                    {"swr", true, false, true},
                                    {"smr", false, true, false},
                                    {"both", true, true, true}};
    std::vector<Acc> acc(vars.size());
    auto sync = [&] {
      if (cuda) torch::cuda::synchronize();
    };
    SmrOptions smrOpt{o.keepRatio};
    const int keep = std::max(cfg.numMaskmem, cfg.maxObjPtrs);
    for (int vi = 0; vi < o.videos; ++vi) {
      auto v = synthVideo(1000000ULL + static_cast<uint64_t>(vi), o.frames, "test", S);
      if (!v) return v.error();
      const int T = v->frames;
      std::vector<Tensor> imgs;
      for (int t = 0; t < T; ++t) {
        auto x = torch::from_blob(v->rgb[t].data(), {S, S, 3}, torch::kUInt8).clone();
        x = x.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32).div(255.0);
        auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
        auto stdv = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
        imgs.push_back(((x - mean) / stdv).to(dev));
      }
      for (int k = 0; k < v->objects; ++k) {
        int area = 0;
        for (auto l : v->label[0]) area += l == k + 1;
        if (area < 30) continue;
        auto [cx, cy] = synthDeepestPixel(*v, k, 0);
        std::vector<std::vector<uint8_t>> fullMasks;
        for (size_t vv = 0; vv < vars.size(); ++vv) {
          if (job.cancelled()) return Error::cancelled();
          const auto& var = vars[vv];
          auto& A = acc[vv];
          Sam2ObjectTrack track;
          std::vector<std::vector<uint8_t>> masks;
          auto toMask = [&](const FrameOutput& out) {
            auto up = F::interpolate(out.predMasks, F::InterpolateFuncOptions()
                                                        .size(std::vector<int64_t>{S, S})
                                                        .mode(torch::kBilinear)
                                                        .align_corners(false));
            auto b = (up > 0).to(torch::kUInt8).flatten().cpu().contiguous();
            return std::vector<uint8_t>(b.data_ptr<uint8_t>(), b.data_ptr<uint8_t>() + b.numel());
          };
          std::vector<RouterObject> router;
          {
            auto f0 = m.forwardImage(imgs[0]);
            PointPrompt pts{{static_cast<float>(cx), static_cast<float>(cy)}, {1}};
            auto out = trackStep(m, f0, 0, true, &pts, Tensor(), track, T, false, true);
            masks.push_back(toMask(out));
            router = {{out.multimasks, out.objScore, out.decAttn}};
            out.pixFeatWithMem = Tensor();
            track.cond[0] = std::move(out);
          }
          for (int t = 1; t < T; ++t) {
            sync();
            const auto a = std::chrono::steady_clock::now();
            ImageFeatures f;
            if (var.swr) {
              auto sel = selectWindows(g, router, SwrOptions{});
              SwrPlan plan{torch::nonzero(sel).flatten(), var.adapter ? &adapter : nullptr};
              A.selSum += sel.to(torch::kFloat32).mean().item<double>();
              ++A.selN;
              f = m.forwardImage(imgs[t], &plan);
            } else {
              f = m.forwardImage(imgs[t]);
            }
            sync();
            const auto b = std::chrono::steady_clock::now();
            StepStats ss;
            auto out = trackStep(m, f, t, false, nullptr, Tensor(), track, T, false, true, Tensor(),
                                 var.smr ? &smrOpt : nullptr, &ss);
            sync();
            const auto c = std::chrono::steady_clock::now();
            if (ss.newestFrame >= 0) {
              auto nt = track.nonCond.find(ss.newestFrame);
              if (nt != track.nonCond.end()) nt->second.smrKeep = ss.newestKeep;
            }
            masks.push_back(toMask(out));
            router = {{out.multimasks, out.objScore, out.decAttn}};
            out.pixFeatWithMem = Tensor();
            track.nonCond[t] = std::move(out);
            for (auto it = track.nonCond.begin(); it != track.nonCond.end();) {
              if (t - it->first > keep) it = track.nonCond.erase(it);
              else ++it;
            }
            const double ms = std::chrono::duration<double, std::milli>(c - a).count();
            A.frameMs.push_back(ms);
            A.ms += ms;
            A.encMs.push_back(std::chrono::duration<double, std::milli>(b - a).count());
            if (ss.memTokens > 0) A.memMs.push_back(ss.memAttnMs);
            A.memTok += ss.memTokens;
            A.memKept += ss.memTokensKept;
          }
          ++A.sequences;
          double j = 0, fsum = 0;
          for (int t = 1; t < T; ++t) {
            BinaryMask p{S, S, masks[t]}, gt{S, S, std::vector<uint8_t>(static_cast<size_t>(S) * S)};
            for (size_t q = 0; q < gt.data.size(); ++q) gt.data[q] = v->label[t][q] == k + 1;
            j += regionSimilarityJ(p, gt);
            fsum += boundaryF(p, gt);
            ++A.frames;
            if (vv == 0) continue;
            BinaryMask fm{S, S, fullMasks[t]};
            const double iou = regionSimilarityJ(p, fm);
            A.iou += iou;
            ++A.iouN;
            A.minIou = std::min(A.minIou, iou);
          }
          A.J += j / (T - 1);
          A.F += fsum / (T - 1);
          if (vv == 0) fullMasks = masks;
        }
      }
      job.progress(static_cast<double>(vi + 1) / o.videos, "video " + std::to_string(vi + 1) + "/" + std::to_string(o.videos));
    }
    std::vector<EffSam2VariantEval> res;
    for (size_t vv = 0; vv < vars.size(); ++vv) {
      const auto& A = acc[vv];
      EffSam2VariantEval e;
      e.variant = vars[vv].name;
      e.sequences = A.sequences;
      e.frames = A.frames;
      if (A.sequences > 0) {
        e.J = A.J / A.sequences;
        e.F = A.F / A.sequences;
        e.JF = (e.J + e.F) / 2;
      }
      if (A.iouN > 0) {
        e.iouVsFull = A.iou / A.iouN;
        e.minIouVsFull = A.minIou;
      }
      e.framesPerSecond = A.ms > 0 ? 1000.0 * static_cast<double>(A.frameMs.size()) / A.ms : 0;
      e.speedup = A.ms > 0 ? acc[0].ms / A.ms : 1;
      e.medianFrameMs = medianOf(A.frameMs);
      e.medianEncoderMs = medianOf(A.encMs);
      e.medianMemAttnMs = medianOf(A.memMs);
      e.windowsSelected = A.selN ? A.selSum / A.selN : 1.0;
      e.memTokensKept = A.memTok ? static_cast<double>(A.memKept) / static_cast<double>(A.memTok) : 1.0;
      res.push_back(e);
    }
    return res;
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::failed(std::string("Efficient-SAM2 eval: ") + e.what());
  }
}

}  // namespace cs
