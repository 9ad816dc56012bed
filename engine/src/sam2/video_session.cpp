// Sam2VideoSession (engine/sam2.h): frames from a folder through OpenCV, prompts and
// per-object memory banks, propagation with a per-frame callback. Excluded from the
// CS_MINIMAL build (no OpenCV there), hence the video*.cpp name.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cctype>
#include <filesystem>
#include <map>

#include "engine/sam2.h"
#include "engine/torch/sam2.h"

namespace cs {
namespace fs = std::filesystem;
namespace F = torch::nn::functional;
using namespace detail::sam2;

namespace {
torch::Tensor toModelImage(const cv::Mat& bgr, int S) {
  cv::Mat rgb, sized;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  const bool shrink = rgb.cols > S || rgb.rows > S;
  cv::resize(rgb, sized, cv::Size(S, S), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_CUBIC);
  auto t = torch::from_blob(sized.data, {S, S, 3}, torch::kUInt8).clone();
  auto x = t.permute({2, 0, 1}).to(torch::kFloat32).div(255.0);
  auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1});
  auto stdv = torch::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1});
  return ((x - mean) / stdv).unsqueeze(0);
}

std::vector<fs::path> framePaths(const std::string& folder) {
  std::vector<fs::path> paths;
  for (const auto& e : fs::directory_iterator(folder)) {
    auto ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png") paths.push_back(e.path());
  }
  const bool numeric = std::all_of(paths.begin(), paths.end(), [](const fs::path& p) {
    auto s = p.stem().string();
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  });
  std::sort(paths.begin(), paths.end(), [numeric](const fs::path& a, const fs::path& b) {
    if (numeric) return std::stoll(a.stem().string()) < std::stoll(b.stem().string());
    return a.filename().string() < b.filename().string();
  });
  return paths;
}
}  // namespace

namespace detail::sam2 {
std::vector<std::string> listFrameFiles(const std::string& folder) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw EngineError(Error::notFound(folder + ": not a folder of frames"));
  std::vector<std::string> out;
  for (auto& p : framePaths(folder)) out.push_back(p.string());
  if (out.empty()) throw EngineError(Error::badFile(folder, "no .jpg/.jpeg/.png frames"));
  return out;
}

torch::Tensor loadFrameImage(const std::string& file, int imageSize) {
  cv::Mat bgr = cv::imread(file, cv::IMREAD_COLOR);
  if (bgr.empty()) throw EngineError(Error::badFile(file, "cannot decode the frame"));
  return toModelImage(bgr, imageSize);
}
}  // namespace detail::sam2

struct Sam2VideoSession::Impl {
  std::shared_ptr<const Sam2> model;
  std::vector<std::string> files;  // a folder of frames, or
  std::string videoPath;           // a video file, decoded on demand
  std::unique_ptr<cv::VideoCapture> cap;
  int frameCount = 0, nextFrame = 0;
  int W = 0, H = 0;
  std::map<int, ImageFeatures> cache;  // at most a few frames
  std::map<int, Sam2ObjectTrack> objs;
  std::map<int, std::map<int, bool>> tracked;  // obj -> frame -> reverse
  // Efficient-SAM2 state (per video)
  Sam2Efficiency eff;
  SwrAdapter adapter;
  std::vector<RouterObject> router;  // previous frame's outputs of every object (empty: full pass)
  bool fullNext = true;
  Sam2FrameStats lastEnc;            // routing of the last encoded frame

  const Sam2Model& m() const { return model->impl(); }

  int count() const { return cap ? frameCount : static_cast<int>(files.size()); }

  cv::Mat decode(int frame) {
    if (!cap) {
      cv::Mat bgr = cv::imread(files.at(frame), cv::IMREAD_COLOR);
      if (bgr.empty()) throw EngineError(Error::badFile(files.at(frame), "cannot decode the frame"));
      return bgr;
    }
    if (frame < 0 || frame >= frameCount)
      throw EngineError(Error::badArgument(videoPath + ": frame " + std::to_string(frame) + " out of range"));
    // Sequential reads are the common case (propagation); seek otherwise.
    if (frame != nextFrame) cap->set(cv::CAP_PROP_POS_FRAMES, frame);
    cv::Mat bgr;
    if (!cap->read(bgr) || bgr.empty())
      throw EngineError(Error::badFile(videoPath, "cannot decode frame " + std::to_string(frame)));
    nextFrame = frame + 1;
    return bgr;
  }

  torch::Tensor loadImage(int frame) { return toModelImage(decode(frame), m().config().imageSize); }

  // Encodes a frame (cached). With SWR on, windows come from the previous frame's outputs.
  const ImageFeatures& features(int frame) {
    auto it = cache.find(frame);
    if (it != cache.end()) return it->second;
    while (cache.size() >= 2) cache.erase(cache.begin());
    auto img = loadImage(frame);
    Sam2FrameStats st;
    const auto t0 = std::chrono::steady_clock::now();
    ImageFeatures f;
    if (eff.swr && !eff.forceFull && !fullNext && !router.empty()) {
      const auto g = swrGeometry(m().config());
      auto sel = selectWindows(g, router, SwrOptions{eff.dilate, eff.theta, eff.objTheta});
      SwrPlan plan{torch::nonzero(sel).flatten(), adapter.defined() ? &adapter : nullptr};
      f = m().forwardImage(img, &plan);
      st.fullPass = sel.all().item<bool>();
      st.gridW = g.gridW;
      st.gridH = g.gridH;
      auto s8 = sel.to(torch::kUInt8).cpu().contiguous();
      st.selected.assign(s8.data_ptr<uint8_t>(), s8.data_ptr<uint8_t>() + s8.numel());
      st.windowsRouted = sel.to(torch::kFloat32).mean().item<double>();
    } else {
      f = m().forwardImage(img);
      if (eff.swr) {
        const auto g = swrGeometry(m().config());
        st.gridW = g.gridW;
        st.gridH = g.gridH;
        st.selected.assign(static_cast<size_t>(g.numWindows()), 1);
      }
    }
    fullNext = false;
    st.encoderMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    lastEnc = st;
    return cache.emplace(frame, std::move(f)).first->second;
  }

  Sam2ObjectMask toMask(int objId, const FrameOutput& out) const {
    Sam2ObjectMask r;
    r.objId = objId;
    r.width = W;
    r.height = H;
    auto v = F::interpolate(out.predMasks, F::InterpolateFuncOptions()
                                               .size(std::vector<int64_t>{H, W})
                                               .mode(torch::kBilinear)
                                               .align_corners(false))
                 .contiguous();
    r.logits.assign(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
    r.objectScore = out.objScore.item<float>();
    return r;
  }

  PointPrompt toModel(const std::vector<std::pair<std::array<float, 2>, int>>& pts) const {
    const float S = static_cast<float>(m().config().imageSize);
    PointPrompt p;
    for (const auto& [xy, lab] : pts) {
      p.xy.push_back(xy[0] / static_cast<float>(W) * S);
      p.xy.push_back(xy[1] / static_cast<float>(H) * S);
      p.labels.push_back(lab);
    }
    return p;
  }

  Sam2ObjectMask prompt(int frame, int objId, const PointPrompt& add, bool clearOld) {
    if (frame < 0 || frame >= count())
      throw EngineError(Error::badArgument("frame " + std::to_string(frame) + " out of range"));
    auto& track = objs[objId];
    auto& pts = track.points[frame];
    if (clearOld) pts = PointPrompt{};
    pts.xy.insert(pts.xy.end(), add.xy.begin(), add.xy.end());
    pts.labels.insert(pts.labels.end(), add.labels.begin(), add.labels.end());
    auto& tr = tracked[objId];
    const bool isInit = tr.find(frame) == tr.end();
    const bool reverse = isInit ? false : tr[frame];
    torch::Tensor prevLogits;
    const FrameOutput* prev = nullptr;
    if (auto it = track.cond.find(frame); it != track.cond.end()) prev = &it->second;
    else if (auto jt = track.nonCond.find(frame); jt != track.nonCond.end()) prev = &jt->second;
    if (prev && prev->predMasks.defined() && !clearOld) prevLogits = prev->predMasks.clamp(-32.0, 32.0);
    auto out = trackStep(m(), features(frame), frame, isInit, &pts, torch::Tensor(), track,
                         count(), reverse, false, prevLogits);
    out.pixFeatWithMem = torch::Tensor();
    track.nonCond.erase(frame);
    track.cond[frame] = out;
    router.clear();  // the next frame routes from this prompt's masks
    for (auto& [id, tr] : objs) {
      auto c = tr.cond.find(frame);
      if (c != tr.cond.end()) router.push_back({c->second.multimasks, c->second.objScore, c->second.decAttn});
    }
    return toMask(objId, out);
  }
};

Sam2VideoSession::Sam2VideoSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sam2VideoSession::~Sam2VideoSession() = default;
int Sam2VideoSession::numFrames() const { return impl_->count(); }
int Sam2VideoSession::width() const { return impl_->W; }
int Sam2VideoSession::height() const { return impl_->H; }

Result<std::unique_ptr<Sam2VideoSession>> Sam2VideoSession::openFolder(std::shared_ptr<const Sam2> model,
                                                                       const std::string& folder) {
  try {
    if (!model) return Error::badArgument("no SAM 2 model");
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) return Error::notFound(folder + ": not a folder of frames");
    auto impl = std::make_unique<Impl>();
    impl->model = std::move(model);
    auto paths = framePaths(folder);
    if (paths.empty()) return Error::badFile(folder, "no .jpg/.jpeg/.png frames");
    for (auto& p : paths) impl->files.push_back(p.string());
    cv::Mat first = cv::imread(impl->files[0], cv::IMREAD_COLOR);
    if (first.empty()) return Error::badFile(impl->files[0], "cannot decode the frame");
    impl->W = first.cols;
    impl->H = first.rows;
    return std::unique_ptr<Sam2VideoSession>(new Sam2VideoSession(std::move(impl)));
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::badFile(folder, e.what());
  }
}

Result<std::unique_ptr<Sam2VideoSession>> Sam2VideoSession::open(std::shared_ptr<const Sam2> model,
                                                                 const std::string& folderOrVideo) {
  std::error_code ec;
  if (fs::is_directory(folderOrVideo, ec)) return openFolder(std::move(model), folderOrVideo);
  try {
    if (!model) return Error::badArgument("no SAM 2 model");
    if (!fs::exists(folderOrVideo, ec)) return Error::notFound(folderOrVideo + ": no such video file or folder");
    auto impl = std::make_unique<Impl>();
    impl->model = std::move(model);
    impl->videoPath = folderOrVideo;
    impl->cap = std::make_unique<cv::VideoCapture>(folderOrVideo);
    if (!impl->cap->isOpened())
      return Error::badFile(folderOrVideo, "OpenCV cannot open it as a video (unknown container or codec)");
    // Count the frames exactly (the container's count can be an estimate): one pass of
    // grab() without keeping any frame, then rewind.
    int n = 0;
    while (impl->cap->grab()) ++n;
    if (n == 0) return Error::badFile(folderOrVideo, "the video has no decodable frames");
    impl->frameCount = n;
    impl->cap = std::make_unique<cv::VideoCapture>(folderOrVideo);
    cv::Mat first = impl->decode(0);
    impl->W = first.cols;
    impl->H = first.rows;
    return std::unique_ptr<Sam2VideoSession>(new Sam2VideoSession(std::move(impl)));
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::badFile(folderOrVideo, e.what());
  }
}

Status writeObjectMaskPng(const Sam2FrameResult& frame, const std::string& path) {
  try {
    if (frame.objects.empty()) return Error::badArgument(path + ": no object masks to write");
    const int W = frame.objects[0].width, H = frame.objects[0].height;
    cv::Mat out(H, W, CV_8UC1, cv::Scalar(0));
    for (const auto& o : frame.objects) {
      if (o.width != W || o.height != H || o.logits.size() != size_t(W) * H)
        return Error::badArgument(path + ": object masks of different sizes");
      if (o.objId < 1 || o.objId > 255) return Error::badArgument(path + ": object id must be 1..255 for a PNG");
      if (!o.present()) continue;
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x)
          if (o.logits[size_t(y) * W + x] > 0) out.at<uint8_t>(y, x) = static_cast<uint8_t>(o.objId);
    }
    // Write beside, then rename: a killed process never leaves a half PNG.
    const std::string tmp = path + ".part.png";
    if (!cv::imwrite(tmp, out)) return Error::badFile(path, "cannot write the PNG");
    fs::rename(tmp, path);
    return okStatus();
  } catch (const std::exception& e) {
    return Error::badFile(path, e.what());
  }
}

Result<Sam2ObjectMask> Sam2VideoSession::addPoints(int frame, int objId, const std::vector<Sam2Point>& points,
                                                   bool clearOld) {
  try {
    torch::InferenceMode g;
    std::vector<std::pair<std::array<float, 2>, int>> p;
    for (const auto& q : points) p.push_back({{q.x, q.y}, q.positive ? 1 : 0});
    return impl_->prompt(frame, objId, impl_->toModel(p), clearOld);
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::failed(std::string("SAM 2 addPoints: ") + e.what());
  }
}

Result<Sam2ObjectMask> Sam2VideoSession::addBox(int frame, int objId, float x0, float y0, float x1, float y1,
                                                const std::vector<Sam2Point>& points) {
  try {
    torch::InferenceMode g;
    std::vector<std::pair<std::array<float, 2>, int>> p{{{x0, y0}, 2}, {{x1, y1}, 3}};
    for (const auto& q : points) p.push_back({{q.x, q.y}, q.positive ? 1 : 0});
    return impl_->prompt(frame, objId, impl_->toModel(p), true);
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::failed(std::string("SAM 2 addBox: ") + e.what());
  }
}

Status Sam2VideoSession::propagate(JobContext& job, const FrameCallback& onFrame, bool reverse, int startFrame,
                                   int maxFrames) {
  try {
    torch::InferenceMode g;
    auto& I = *impl_;
    const int N = numFrames();
    if (I.objs.empty()) return Error::badArgument("add points or a box for an object before propagating");
    // preflight: encode the memory of every prompted frame
    int first = reverse ? -1 : N;
    for (auto& [id, track] : I.objs) {
      for (auto& [t, out] : track.cond) {
        if (!out.maskmemFeatures.defined()) encodeMemory(I.m(), I.features(t), out, true);
        first = reverse ? std::max(first, t) : std::min(first, t);
      }
    }
    if (startFrame < 0) startFrame = first;
    const int step = reverse ? -1 : 1;
    const int last = reverse ? 0 : N - 1;
    int count = std::abs(last - startFrame) + 1;
    if (maxFrames >= 0) count = std::min(count, maxFrames);
    const int keep = std::max(I.m().config().numMaskmem, I.m().config().maxObjPtrs);
    for (int k = 0; k < count; ++k) {
      if (job.cancelled()) return Error::cancelled();
      const int t = startFrame + k * step;
      Sam2FrameResult res;
      res.frame = t;
      const auto f0 = std::chrono::steady_clock::now();
      std::vector<RouterObject> nextRouter;
      bool encoded = false;
      StepStats ss;
      SmrOptions smrOpt{I.eff.keepRatio};
      const bool smrOn = I.eff.smr && !I.eff.forceFull;
      for (auto& [id, track] : I.objs) {
        auto c = track.cond.find(t);
        if (c != track.cond.end()) {
          res.objects.push_back(I.toMask(id, c->second));
          nextRouter.push_back({c->second.multimasks, c->second.objScore, c->second.decAttn});
          continue;
        }
        const auto& feats = I.features(t);
        encoded = true;
        const size_t nPruned = ss.prunedFrames.size();
        auto out = trackStep(I.m(), feats, t, false, nullptr, torch::Tensor(), track, N, reverse, true,
                             torch::Tensor(), smrOn ? &smrOpt : nullptr, &ss);
        if (ss.newestFrame >= 0) {  // SMR: the newest memory frame's masks, measured once, reused
          auto nt = track.nonCond.find(ss.newestFrame);
          if (nt != track.nonCond.end()) nt->second.smrKeep = ss.newestKeep;
          ss.newestFrame = -1;
        }
        for (size_t q = nPruned; q < ss.prunedFrames.size(); ++q) {
          auto nt = track.nonCond.find(ss.prunedFrames[q].first);
          if (nt == track.nonCond.end() || nt->second.smrKeep.empty()) continue;
          const auto& hw = nt->second.maskmemFeatures;
          Sam2MemoryKeep mk;
          mk.objId = id;
          mk.memFrame = nt->first;
          mk.height = static_cast<int>(hw.size(2));
          mk.width = static_cast<int>(hw.size(3));
          auto cnt = torch::zeros({hw.size(2) * hw.size(3)});
          for (const auto& k : nt->second.smrKeep) cnt.index_add_(0, k.cpu(), torch::ones({k.numel()}));
          cnt = (cnt / static_cast<double>(nt->second.smrKeep.size())).contiguous();
          mk.kept.assign(cnt.data_ptr<float>(), cnt.data_ptr<float>() + cnt.numel());
          res.stats.memory.push_back(std::move(mk));
        }
        out.pixFeatWithMem = torch::Tensor();
        nextRouter.push_back({out.multimasks, out.objScore, out.decAttn});
        out.multimasks = torch::Tensor();
        res.objects.push_back(I.toMask(id, out));
        track.nonCond[t] = std::move(out);
        I.tracked[id][t] = reverse;
        // bounded memory: drop outputs the memory bank and pointers can no longer reach
        for (auto it = track.nonCond.begin(); it != track.nonCond.end();) {
          if (std::abs(it->first - t) > keep) it = track.nonCond.erase(it);
          else ++it;
        }
      }
      I.router = std::move(nextRouter);
      if (encoded) {
        auto mem = std::move(res.stats.memory);
        res.stats = I.lastEnc;
        res.stats.memory = std::move(mem);
      }
      res.stats.memAttnMs = ss.memAttnMs;
      res.stats.memTokens = ss.memTokens;
      res.stats.memTokensKept = ss.memTokensKept;
      res.stats.frameMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - f0).count();
      onFrame(res);
      job.progress(static_cast<double>(k + 1) / count, "frame " + std::to_string(t + 1) + "/" + std::to_string(N));
    }
    return okStatus();
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::failed(std::string("SAM 2 propagate: ") + e.what());
  }
}

void Sam2VideoSession::reset() {
  impl_->objs.clear();
  impl_->tracked.clear();
  impl_->router.clear();
  impl_->fullNext = true;
}

Status Sam2VideoSession::setEfficiency(const Sam2Efficiency& e) {
  try {
    if (e.dilate < 0 || e.dilate > 63) return Error::badArgument("SWR dilation must be 0..63");
    if (!(e.theta > 0 && e.theta <= 1)) return Error::badArgument("SWR theta must be in (0, 1]");
    if (!(e.keepRatio > 0 && e.keepRatio <= 1)) return Error::badArgument("SMR keep ratio must be in (0, 1]");
    SwrAdapter a;
    if (e.swr) {
      const auto g = swrGeometry(impl_->m().config());  // throws for a config without a routable stage
      if (!e.adapterPath.empty()) a = SwrAdapter::load(e.adapterPath, g.dim);
    }
    impl_->eff = e;
    impl_->adapter = a;
    impl_->cache.clear();  // features of another routing must not be reused
    return okStatus();
  } catch (const EngineError& err) {
    return err.error;
  } catch (const std::exception& ex) {
    return Error::failed(std::string("SAM 2 setEfficiency: ") + ex.what());
  }
}

const Sam2Efficiency& Sam2VideoSession::efficiency() const { return impl_->eff; }

void Sam2VideoSession::forceFullNextFrame() { impl_->fullNext = true; }

}  // namespace cs

namespace cs {

Result<BinaryMask> readMaskImage(const std::string& path, int label) {
  cv::Mat m = cv::imread(path, cv::IMREAD_UNCHANGED);
  if (m.empty()) return Error::badFile(path, "cannot decode the mask image");
  if (m.channels() > 1) {
    cv::Mat g;
    cv::cvtColor(m, g, m.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
    m = g;
  }
  if (m.depth() != CV_8U) m.convertTo(m, CV_8U);
  BinaryMask b;
  b.width = m.cols;
  b.height = m.rows;
  b.data.resize(static_cast<size_t>(m.cols) * m.rows);
  for (int y = 0; y < m.rows; ++y)
    for (int x = 0; x < m.cols; ++x) {
      const int v = m.at<uint8_t>(y, x);
      b.data[static_cast<size_t>(y) * m.cols + x] = label >= 0 ? (v == label) : (v > 0);
    }
  return b;
}

}  // namespace cs
