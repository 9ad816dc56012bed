// Self-distillation of the Efficient-SAM2 SWR shortcut adapter (compression/efficient_sam2.h).
// Teacher: the full Hiera trunk. Student: the routed trunk with the adapter. Both features go
// through the same memory attention over the teacher's memory bank; the loss is the MSE of the
// memory-conditioned features (what the mask decoder receives). Only the adapter trains.
#include <chrono>
#include <cmath>

#include "compression/efficient_sam2.h"
#include "engine/torch/sam2.h"

namespace cs {
using namespace detail::sam2;
using torch::Tensor;

namespace {

struct VideoRun {
  const Sam2Model& m;
  const SwrGeometry& g;
  const SwrAdapterTrainOptions& o;
  double routedSum = 0;
  int routedFrames = 0;

  Tensor selection(const std::vector<RouterObject>& router, torch::Generator& gen) const {
    if (o.randomRouteFraction > 0) {
      const int64_t nW = g.numWindows();
      const int64_t n = std::max<int64_t>(1, std::llround(o.randomRouteFraction * static_cast<double>(nW)));
      auto perm = torch::randperm(nW, gen, torch::kInt64).slice(0, 0, std::min(n, nW));
      return std::get<0>(perm.sort());
    }
    return torch::nonzero(selectWindows(g, router, SwrOptions{o.dilate, o.theta, o.objTheta})).flatten();
  }

  // Runs one video; lossFn(t, student pix, teacher pix) is called on loss frames with
  // background windows. student: the adapter (null: identity). grad: build the graph.
  template <class Fn>
  bool run(const std::vector<std::string>& files, const SwrAdapter* student, bool grad, JobContext& job, Fn&& lossFn) {
    const int N = static_cast<int>(files.size());
    const int S = m.config().imageSize;
    Sam2ObjectTrack track;
    auto gen = at::detail::createCPUGenerator(o.seed + 17);
    std::vector<RouterObject> router;
    {
      torch::NoGradGuard ng;
      auto f0 = m.forwardImage(loadFrameImage(files[0], S));
      PointPrompt pts{{S / 2.0f, S / 2.0f}, {1}};
      auto out = trackStep(m, f0, 0, true, &pts, Tensor(), track, N, false, true);
      router = {{out.multimasks, out.objScore, out.decAttn}};
      out.pixFeatWithMem = Tensor();
      track.cond[0] = std::move(out);
    }
    const int keep = std::max(m.config().numMaskmem, m.config().maxObjPtrs);
    for (int t = 1; t < N; ++t) {
      if (job.cancelled()) return false;
      auto img = loadFrameImage(files[static_cast<size_t>(t)], S);
      ImageFeatures ft;
      {
        torch::NoGradGuard ng;
        ft = m.forwardImage(img);
      }
      auto sel = selection(router, gen);
      routedSum += static_cast<double>(sel.numel()) / g.numWindows();
      ++routedFrames;
      if (t % o.lossEvery == 0 && sel.numel() < g.numWindows()) {
        std::unique_ptr<torch::NoGradGuard> ng;
        if (!grad) ng = std::make_unique<torch::NoGradGuard>();
        SwrPlan plan{sel, student, grad ? o.dropout : 0.0};
        auto fs = m.forwardImage(img, &plan);
        auto pixS = prepareMemoryConditioned(m, fs, t, false, track, N, false);
        Tensor pixT;
        {
          torch::NoGradGuard ng2;
          pixT = prepareMemoryConditioned(m, ft, t, false, track, N, false);
        }
        lossFn(t, pixS, pixT);
      }
      torch::NoGradGuard ng;
      auto out = trackStep(m, ft, t, false, nullptr, Tensor(), track, N, false, true);
      router = {{out.multimasks, out.objScore, out.decAttn}};
      out.pixFeatWithMem = Tensor();
      out.multimasks = Tensor();
      track.nonCond[t] = std::move(out);
      for (auto it = track.nonCond.begin(); it != track.nonCond.end();) {
        if (t - it->first > keep) it = track.nonCond.erase(it);
        else ++it;
      }
      job.progress(0, "frame " + std::to_string(t + 1) + "/" + std::to_string(N));
    }
    return true;
  }
};

}  // namespace

Result<SwrAdapterTrainResult> trainSwrAdapter(const SwrAdapterTrainOptions& o, JobContext& job) {
  try {
    const auto t0 = std::chrono::steady_clock::now();
    if (o.device != "cpu")
      return Error::badArgument("--device " + o.device +
                                ": the SAM 2.1 port runs on the CPU only in this build (its trunk and memory code "
                                "create CPU tensors); use --device cpu");
    if (o.videos.empty()) return Error::badArgument("--videos: give at least one folder of frames");
    if (o.epochs < 1 || o.lossEvery < 1 || o.stepEvery < 1) return Error::badArgument("epochs, loss and step intervals must be >= 1");
    auto model = Sam2Model::load(o.model, o.size);
    const auto& m = *model;
    const auto g = swrGeometry(m.config());
    std::vector<std::vector<std::string>> vids;
    int64_t totalFrames = 0;
    for (const auto& v : o.videos) {
      auto files = listFrameFiles(v);
      if (o.maxFrames > 0 && static_cast<int>(files.size()) > o.maxFrames) files.resize(static_cast<size_t>(o.maxFrames));
      if (files.size() < 2) return Error::badFile(v, "needs at least 2 frames to train the adapter");
      totalFrames += static_cast<int64_t>(files.size());
      vids.push_back(std::move(files));
    }
    SwrAdapter ad = SwrAdapter::init(g.dim, o.seed);
    for (auto& p : ad.parameters()) p.set_requires_grad(true);
    torch::optim::AdamW opt(ad.parameters(), torch::optim::AdamWOptions(o.lr));
    VideoRun vr{m, g, o};
    SwrAdapterTrainResult res;
    JobContext quiet;
    quiet.setCancelToken(job.cancelToken());
    auto evalLoss = [&](const SwrAdapter* a) {
      double sum = 0;
      int n = 0;
      SwrAdapter evalAd;
      if (a) {  // detached copy: no graph in evaluation
        evalAd = *a;
        for (auto* t : {&evalAd.lnW, &evalAd.lnB, &evalAd.downW, &evalAd.downB, &evalAd.upW, &evalAd.upB})
          *t = t->detach();
      }
      if (!vr.run(vids[0], a ? &evalAd : nullptr, false, quiet, [&](int, const Tensor& s, const Tensor& t) {
            sum += torch::mse_loss(s, t).item<double>();
            ++n;
          }))
        throw EngineError(Error::cancelled());
      return n > 0 ? sum / n : 0.0;
    };
    res.identityLoss = evalLoss(nullptr);
    res.evalBefore = evalLoss(&ad);
    int64_t done = 0;
    for (int e = 0; e < o.epochs; ++e) {
      for (size_t v = 0; v < vids.size(); ++v) {
        int pending = 0;
        double pendSum = 0;
        auto step = [&] {
          if (pending == 0) return;
          opt.step();
          opt.zero_grad();
          res.stepLoss.push_back(pendSum / pending);
          ++res.steps;
          pending = 0;
          pendSum = 0;
        };
        JobContext sub;
        sub.setCancelToken(job.cancelToken());
        const double total = static_cast<double>(totalFrames) * o.epochs;
        const int64_t base = done;
        const std::string label = "epoch " + std::to_string(e + 1) + "/" + std::to_string(o.epochs) + ", video " +
                                  std::to_string(v + 1) + "/" + std::to_string(vids.size());
        int frameNo = 0;
        sub.setProgress([&](double, const std::string& s) {
          ++frameNo;
          job.progress(std::min(1.0, static_cast<double>(base + frameNo) / total), label + ", " + s);
        });
        const bool ok = vr.run(vids[v], &ad, true, sub, [&](int, const Tensor& s, const Tensor& t) {
          auto loss = torch::mse_loss(s, t);
          (loss / o.stepEvery).backward();
          pendSum += loss.item<double>();
          ++pending;
          ++res.lossFrames;
          if (pending >= o.stepEvery) step();
        });
        if (!ok) return Error::cancelled();
        step();  // end of the video
        done += static_cast<int64_t>(vids[v].size());
      }
    }
    res.evalAfter = evalLoss(&ad);
    res.windowsRouted = vr.routedFrames > 0 ? vr.routedSum / vr.routedFrames : 1.0;
    res.adapterPath = o.out.empty() ? swrAdapterPathFor(o.model) : o.out;
    ad.save(res.adapterPath, {{"format", "cstudio swr-adapter v1"},
                              {"model", o.model},
                              {"size", m.config().name},
                              {"steps", std::to_string(res.steps)},
                              {"eval_mse_before", std::to_string(res.evalBefore)},
                              {"eval_mse_after", std::to_string(res.evalAfter)},
                              {"identity_mse", std::to_string(res.identityLoss)}});
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::failed(std::string("train swr-adapter: ") + e.what());
  }
}

}  // namespace cs
