// `cstudio segment CHECKPOINT --video DIR|FILE --point X,Y[,L] [--object ID@FRAME:X,Y,L;...]
//   [--box X0,Y0,X1,Y1] [--out DIR] [--gt DIR] [--json]`: prompts SAM 2.1 on a frame,
// propagates through the video, writes one DAVIS-style PNG per frame, and reports speed
// and, with ground truth, DAVIS J and F. Same engine calls as the GUI's video work.
// Efficient-SAM2: --swr [--adapter F] [--theta T] [--dilate K] --smr [--keep-ratio R]
// [--force-full] [--compare-full] [--stats FILE.json] (per-frame routing, timing, IoU vs full).
// `cstudio train swr-adapter CHECKPOINT --videos DIR...`: SWR adapter self-distillation.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "cmd_sam2.h"
#include "compression/efficient_sam2.h"
#include "engine/sam2.h"
#include "engine/sam2_micro.h"

namespace cs::cli {
namespace {
namespace fs = std::filesystem;

std::vector<double> numbers(const std::string& s, const std::string& what) {
  std::vector<double> v;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    try {
      size_t used = 0;
      v.push_back(std::stod(tok, &used));
      if (used != tok.size()) throw std::invalid_argument(tok);
    } catch (const std::exception&) {
      throw EngineError(Error::badArgument(what + " '" + s + "': '" + tok + "' is not a number"));
    }
  }
  return v;
}

Sam2Point parsePoint(const std::string& s) {
  auto v = numbers(s, "--point");
  if (v.size() != 2 && v.size() != 3)
    throw EngineError(Error::badArgument("--point '" + s + "': expected X,Y or X,Y,LABEL (1 positive, 0 negative)"));
  return Sam2Point{float(v[0]), float(v[1]), v.size() == 2 || v[2] != 0};
}

struct ObjectPrompt {
  int obj = 1, frame = 0;
  std::vector<Sam2Point> points;
  std::vector<double> box;
};

// "ID@FRAME:X,Y,L;X,Y,L"
ObjectPrompt parseObject(const std::string& s) {
  ObjectPrompt p;
  const auto at = s.find('@'), colon = s.find(':');
  if (at == std::string::npos || colon == std::string::npos || colon < at)
    throw EngineError(Error::badArgument("--object '" + s + "': expected ID@FRAME:X,Y,L[;X,Y,L...]"));
  try {
    p.obj = std::stoi(s.substr(0, at));
    p.frame = std::stoi(s.substr(at + 1, colon - at - 1));
  } catch (const std::exception&) {
    throw EngineError(Error::badArgument("--object '" + s + "': ID and FRAME must be integers"));
  }
  std::stringstream ss(s.substr(colon + 1));
  std::string pt;
  while (std::getline(ss, pt, ';'))
    if (!pt.empty()) p.points.push_back(parsePoint(pt));
  if (p.points.empty()) throw EngineError(Error::badArgument("--object '" + s + "': no points"));
  return p;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double maskIoU(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t i = 0, u = 0;
  for (size_t p = 0; p < a.size() && p < b.size(); ++p) {
    i += a[p] && b[p];
    u += a[p] || b[p];
  }
  return u ? double(i) / double(u) : 1.0;
}

int trainSwrAdapterCli(const TrainArgs& a, const std::string& checkpoint, const std::vector<std::string>& videos,
                       double randomRoute, double lr) {
  if (checkpoint.empty()) return fail(Error::badArgument("train swr-adapter: give the SAM 2.1 CHECKPOINT after the name"));
  auto job = progressJob();
  SwrAdapterTrainOptions o;
  o.model = checkpoint;
  o.videos = videos;
  if (a.epochs > 0) o.epochs = a.epochs;
  o.seed = a.seed;
  o.maxFrames = a.maxSamples;
  o.device = a.device;
  o.randomRouteFraction = randomRoute;
  if (lr > 0) o.lr = lr;
  if (!a.outDir.empty()) {
    fs::create_directories(a.outDir);
    o.out = (fs::path(a.outDir) / fs::path(swrAdapterPathFor(checkpoint)).filename()).string();
  }
  auto r = trainSwrAdapter(o, job);
  if (!r) return fail(r.error());
  nlohmann::json out = {{"adapter", r->adapterPath},      {"steps", r->steps},
                        {"loss_frames", r->lossFrames},    {"eval_mse_identity", r->identityLoss},
                        {"eval_mse_before", r->evalBefore}, {"eval_mse_after", r->evalAfter},
                        {"windows_routed", r->windowsRouted}, {"seconds", r->seconds},
                        {"step_loss", r->stepLoss}};
  if (a.json) {
    printJson(out);
  } else {
    std::cout << "swr-adapter: " << r->steps << " steps in " << std::fixed << std::setprecision(1) << r->seconds
              << " s; eval MSE identity " << std::setprecision(5) << r->identityLoss << ", before " << r->evalBefore
              << ", after " << r->evalAfter << "; adapter " << r->adapterPath << "\n";
  }
  return 0;
}

std::string frameName(int i) {
  std::ostringstream o;
  o << std::setw(5) << std::setfill('0') << i << ".png";
  return o.str();
}

}  // namespace

void addSegmentCommands(CLI::App& app) {
  auto* c = app.add_subcommand("segment", "SAM 2.1 video object segmentation: prompt, propagate, write masks");
  static std::string checkpoint, video, size = "auto", out, gt, box;
  static std::vector<std::string> points, objects;
  static int frame = 0, obj = 1, maxFrames = -1;
  static bool reverse = false, json = false;
  c->add_option("checkpoint", checkpoint,
                "SAM 2.1 checkpoint: official sam2.1_hiera_*.pt or safetensors (default: the zoo's sam2-micro)");
  c->add_option("--video", video, "Folder of JPEG/PNG frames or a video file")->required();
  c->add_option("--size", size, "tiny, small, base_plus, large, mini, or auto (from the tensor shapes)");
  c->add_option("--point", points, "Click X,Y[,LABEL] in video pixels on --frame for --obj (repeatable)");
  c->add_option("--box", box, "Box X0,Y0,X1,Y1 in video pixels on --frame for --obj");
  c->add_option("--frame", frame, "Frame of --point/--box (default 0)");
  c->add_option("--obj", obj, "Object id of --point/--box (1..255, default 1)");
  c->add_option("--object", objects, "Another object: ID@FRAME:X,Y,L[;X,Y,L...] (repeatable)");
  c->add_option("--max-frames", maxFrames, "Frames to propagate (default: to the end)");
  c->add_flag("--reverse", reverse, "Propagate backwards from the prompted frame");
  c->add_option("--out", out, "Write one PNG per frame here (0 background, else the object id)");
  c->add_option("--gt", gt, "Ground-truth masks (NNNNN.png, DAVIS) for J and F of --obj");
  c->add_flag("--json", json, "JSON output");
  static Sam2Efficiency eff;
  static std::string statsPath;
  static bool compareFull = false;
  c->add_flag("--swr", eff.swr, "Efficient-SAM2 sparse window routing");
  c->add_option("--adapter", eff.adapterPath,
                "SWR shortcut adapter (safetensors; default: CHECKPOINT-stem.swr_adapter.safetensors if present, "
                "else the identity shortcut; 'identity' forces the identity shortcut)");
  c->add_option("--theta", eff.theta, "SWR cumulative decoder-attention mass (default 0.7)");
  c->add_option("--obj-theta", eff.objTheta, "SWR: add saliency windows below this object score (default 5)");
  c->add_option("--dilate", eff.dilate, "SWR mask dilation kernel (default 5)");
  c->add_flag("--smr", eff.smr, "Efficient-SAM2 sparse memory retrieval");
  c->add_option("--keep-ratio", eff.keepRatio, "SMR fraction of tokens kept per pruned memory frame (default 0.05)");
  c->add_flag("--force-full", eff.forceFull, "Every frame through the full model");
  c->add_flag("--compare-full", compareFull, "Also run the full model and report per-frame IoU against it");
  c->add_option("--stats", statsPath, "Write per-frame routing/timing statistics as JSON");
  // `cstudio train swr-adapter CHECKPOINT --videos DIR...`
  static std::string trainCkpt;
  static std::vector<std::string> trainVideos;
  static double trainRandomRoute = 0, trainLr = 0;
  CLI::App* t = nullptr;
  try {
    t = app.get_subcommand("train");
  } catch (const CLI::Error&) {
    t = nullptr;  // no train verb in this build
  }
  if (t) {
    auto addOpt = [t](const std::string& name, auto& var, const std::string& help) {
      try {
        t->add_option(name, var, help);
      } catch (const CLI::Error&) {
        // already defined by another family's trainer
      }
    };
    addOpt("sam2_checkpoint", trainCkpt, "swr-adapter: the SAM 2.1 checkpoint");
    addOpt("--videos", trainVideos, "swr-adapter: folders of frames (unlabeled)");
    addOpt("--random-route", trainRandomRoute,
           "swr-adapter: route this random fraction of windows instead of the mask router");
    addOpt("--lr", trainLr, "swr-adapter: AdamW learning rate (default 1e-4)");
    trainers()["swr-adapter"] = [](const TrainArgs& a) {
      return trainSwrAdapterCli(a, trainCkpt, trainVideos, trainRandomRoute, trainLr);
    };
  }
  c->callback([] {
    auto job = progressJob();  // progress on stderr; stdout stays clean JSON
    std::vector<ObjectPrompt> prompts;
    if (!points.empty() || !box.empty()) {
      ObjectPrompt p;
      p.obj = obj;
      p.frame = frame;
      for (auto& s : points) p.points.push_back(parsePoint(s));
      if (!box.empty()) {
        p.box = numbers(box, "--box");
        if (p.box.size() != 4) throw EngineError(Error::badArgument("--box '" + box + "': expected X0,Y0,X1,Y1"));
      }
      prompts.push_back(p);
    }
    for (auto& s : objects) prompts.push_back(parseObject(s));
    if (prompts.empty()) throw EngineError(Error::badArgument("give at least one --point, --box or --object"));

    if (checkpoint.empty()) checkpoint = sam2MicroPath();  // the built-in model
    job.progress(0.0, "loading " + checkpoint);
    auto model = Sam2::open(checkpoint, size);
    if (!model) throw EngineError(model.error());
    const bool efficient = eff.swr || eff.smr || eff.forceFull;
    if (eff.adapterPath == "identity") {  // the untrained shortcut (SWR ablation)
      eff.adapterPath.clear();
    } else if (eff.swr && eff.adapterPath.empty() && fs::exists(swrAdapterPathFor(checkpoint))) {
      eff.adapterPath = swrAdapterPathFor(checkpoint);
    }
    auto addPrompts = [&](Sam2VideoSession& s) {
      for (auto& p : prompts) {
        if (p.frame < 0 || p.frame >= s.numFrames())
          throw EngineError(Error::badArgument("frame " + std::to_string(p.frame) + " is outside the video (0.." +
                                               std::to_string(s.numFrames() - 1) + ")"));
        auto r = p.box.empty() ? s.addPoints(p.frame, p.obj, p.points)
                               : s.addBox(p.frame, p.obj, float(p.box[0]), float(p.box[1]), float(p.box[2]),
                                          float(p.box[3]), p.points);
        if (!r) throw EngineError(r.error());
      }
    };
    // --compare-full: the reference run first (masks of --obj per frame, its speed)
    std::map<int, std::vector<uint8_t>> fullMasks;
    double fullSecs = 0;
    int fullFrames = 0;
    if (compareFull) {
      auto ref = Sam2VideoSession::open(model.value(), video);
      if (!ref) throw EngineError(ref.error());
      addPrompts(*ref.value());
      const auto r0 = std::chrono::steady_clock::now();
      auto sub = job.sub(0.0, 0.5);
      auto rs = ref.value()->propagate(
          sub,
          [&](const Sam2FrameResult& r) {
            ++fullFrames;
            for (auto& o : r.objects)
              if (o.objId == prompts[0].obj)
                fullMasks[r.frame] = o.present() ? o.binary() : std::vector<uint8_t>(o.logits.size(), 0);
          },
          reverse, -1, maxFrames);
      if (!rs) throw EngineError(rs.error());
      fullSecs = std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
    }
    auto session = Sam2VideoSession::open(model.value(), video);
    if (!session) throw EngineError(session.error());
    auto& s = *session.value();
    if (efficient) {
      auto es = s.setEfficiency(eff);
      if (!es) throw EngineError(es.error());
    }
    addPrompts(s);
    nlohmann::json perFrameStats = nlohmann::json::array();
    std::vector<double> encMs, memMs, frameMs, ious;
    double routedSum = 0;
    int routedFrames = 0;
    int64_t memTok = 0, memKept = 0;
    if (!out.empty()) fs::create_directories(out);
    int frames = 0;
    double area = 0, jSum = 0, fSum = 0;
    int scored = 0;
    std::vector<std::pair<int, std::pair<double, double>>> perFrame;
    const int total = maxFrames > 0 ? std::min(maxFrames, s.numFrames()) : s.numFrames();
    const auto t0 = std::chrono::steady_clock::now();
    auto st = s.propagate(
        job,
        [&](const Sam2FrameResult& r) {
          ++frames;
          job.progress((compareFull ? 0.5 : 0.0) + (compareFull ? 0.5 : 1.0) * double(frames) / total,
                       "frame " + std::to_string(r.frame));
          {
            const auto& q = r.stats;
            nlohmann::json fj = {{"frame", r.frame},         {"encoder_ms", q.encoderMs}, {"mem_attn_ms", q.memAttnMs},
                                 {"frame_ms", q.frameMs},      {"full_pass", q.fullPass},   {"mem_tokens", q.memTokens},
                                 {"mem_tokens_kept", q.memTokensKept}};
            if (q.encoderMs > 0) encMs.push_back(q.encoderMs);
            if (q.memTokens > 0) memMs.push_back(q.memAttnMs);
            frameMs.push_back(q.frameMs);
            memTok += q.memTokens;
            memKept += q.memTokensKept;
            if (!q.selected.empty()) {
              fj["grid"] = {q.gridH, q.gridW};
              fj["selected"] = q.selected;
              fj["windows_routed"] = q.windowsRouted;
              if (q.encoderMs > 0) {
                routedSum += q.windowsRouted;
                ++routedFrames;
              }
            }
            nlohmann::json mem = nlohmann::json::array();
            for (const auto& mk : q.memory) {
              double kept = 0;
              for (float v : mk.kept) kept += v;
              mem.push_back({{"obj", mk.objId}, {"mem_frame", mk.memFrame}, {"kept_tokens", kept},
                             {"tokens", mk.kept.size()}});
            }
            if (!mem.empty()) fj["memory_pruned"] = mem;
            if (compareFull) {
              for (auto& o : r.objects) {
                if (o.objId != prompts[0].obj) continue;
                auto it = fullMasks.find(r.frame);
                if (it == fullMasks.end()) continue;
                const double iou =
                    maskIoU(o.present() ? o.binary() : std::vector<uint8_t>(o.logits.size(), 0), it->second);
                fj["iou_vs_full"] = iou;
                ious.push_back(iou);
              }
            }
            perFrameStats.push_back(fj);
          }
          if (!out.empty()) {
            auto w = writeObjectMaskPng(r, (fs::path(out) / frameName(r.frame)).string());
            if (!w) throw EngineError(w.error());
          }
          for (auto& o : r.objects) {
            if (o.objId != prompts[0].obj) continue;
            BinaryMask pred{o.width, o.height, o.present() ? o.binary() : std::vector<uint8_t>(o.logits.size(), 0)};
            double a = 0;
            for (auto v : pred.data) a += v;
            area += a / double(pred.data.size());
            if (!gt.empty()) {
              const auto g = (fs::path(gt) / frameName(r.frame)).string();
              if (!fs::exists(g)) continue;
              auto m = readMaskImage(g);
              if (!m) throw EngineError(m.error());
              if (m->width != pred.width || m->height != pred.height)
                throw EngineError(Error::badFile(g, "mask size differs from the video's frames"));
              const double j = regionSimilarityJ(pred, *m), f = boundaryF(pred, *m);
              perFrame.push_back({r.frame, {j, f}});
            }
          }
        },
        reverse, -1, maxFrames);
    if (!st) throw EngineError(st.error());
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // DAVIS protocol: the first and the last frame of the sequence are not scored.
    std::sort(perFrame.begin(), perFrame.end());
    for (size_t i = 0; i < perFrame.size(); ++i) {
      if (perFrame[i].first == 0 || perFrame[i].first == s.numFrames() - 1) continue;
      jSum += perFrame[i].second.first;
      fSum += perFrame[i].second.second;
      ++scored;
    }
    nlohmann::json res = {{"checkpoint", checkpoint},
                          {"size", model.value()->size()},
                          {"video", video},
                          {"width", s.width()},
                          {"height", s.height()},
                          {"frames", frames},
                          {"seconds", secs},
                          {"frames_per_second", frames / std::max(secs, 1e-9)},
                          {"mean_mask_area", frames ? area / frames : 0.0}};
    if (!out.empty()) res["masks"] = out;
    res["efficient_sam2"] = {{"swr", eff.swr},
                             {"smr", eff.smr},
                             {"force_full", eff.forceFull},
                             {"theta", eff.theta},
                             {"dilate", eff.dilate},
                             {"keep_ratio", eff.keepRatio},
                             {"adapter", eff.swr ? (eff.adapterPath.empty() ? "identity" : eff.adapterPath) : ""}};
    res["median_encoder_ms"] = median(encMs);
    res["median_mem_attn_ms"] = median(memMs);
    res["median_frame_ms"] = median(frameMs);
    res["windows_routed"] = routedFrames ? routedSum / routedFrames : 1.0;
    res["mem_tokens_kept"] = memTok ? double(memKept) / double(memTok) : 1.0;
    if (compareFull) {
      res["full_seconds"] = fullSecs;
      res["full_frames_per_second"] = fullFrames / std::max(fullSecs, 1e-9);
      double m = 0, mn = 1;
      for (double v : ious) {
        m += v;
        mn = std::min(mn, v);
      }
      res["mean_iou_vs_full"] = ious.empty() ? 0.0 : m / double(ious.size());
      res["min_iou_vs_full"] = ious.empty() ? 0.0 : mn;
    }
    if (!gt.empty()) {
      res["scored_frames"] = scored;
      res["J"] = scored ? jSum / scored : 0.0;
      res["F"] = scored ? fSum / scored : 0.0;
    }
    if (!statsPath.empty()) {
      nlohmann::json sj = res;
      sj["per_frame"] = perFrameStats;
      std::ofstream f(statsPath);
      if (!f) throw EngineError(Error::badFile(statsPath, "cannot write the statistics"));
      f << sj.dump(1) << "\n";
      if (!f) throw EngineError(Error::badFile(statsPath, "cannot write the statistics"));
    }
    if (json) {
      printJson(res);
      return;
    }
    std::cout << "segmented " << frames << " frames of " << video << " (" << s.width() << "x" << s.height()
              << ") with SAM 2.1 " << model.value()->size() << " in " << std::fixed << std::setprecision(2) << secs
              << " s (" << res["frames_per_second"].get<double>() << " frames/s)\n";
    if (!out.empty()) std::cout << "masks: " << out << "/NNNNN.png\n";
    if (efficient)
      std::cout << "Efficient-SAM2: windows routed " << std::setprecision(3) << res["windows_routed"].get<double>()
                << ", memory tokens kept " << res["mem_tokens_kept"].get<double>() << ", median encoder "
                << res["median_encoder_ms"].get<double>() << " ms, memory attention "
                << res["median_mem_attn_ms"].get<double>() << " ms\n";
    if (compareFull)
      std::cout << "full model: " << std::setprecision(2) << res["full_frames_per_second"].get<double>()
                << " frames/s; IoU vs full: mean " << std::setprecision(4) << res["mean_iou_vs_full"].get<double>()
                << ", min " << res["min_iou_vs_full"].get<double>() << "\n";
    if (!gt.empty())
      std::cout << "DAVIS J " << std::setprecision(4) << res["J"].get<double>() << ", F " << res["F"].get<double>()
                << " over " << scored << " frames\n";
  });
}

}  // namespace cs::cli
