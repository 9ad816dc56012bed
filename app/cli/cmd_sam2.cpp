// `cstudio segment CHECKPOINT --video DIR|FILE --point X,Y[,L] [--object ID@FRAME:X,Y,L;...]
//   [--box X0,Y0,X1,Y1] [--out DIR] [--gt DIR] [--json]`: prompts SAM 2.1 on a frame,
// propagates through the video, writes one DAVIS-style PNG per frame, and reports speed
// and, with ground truth, DAVIS J and F. Same engine calls as the GUI's video work.
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "cmd_sam2.h"
#include "engine/sam2.h"

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
  c->add_option("checkpoint", checkpoint, "SAM 2.1 checkpoint: official sam2.1_hiera_*.pt or safetensors")
      ->required();
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

    job.progress(0.0, "loading " + checkpoint);
    auto model = Sam2::open(checkpoint, size);
    if (!model) throw EngineError(model.error());
    auto session = Sam2VideoSession::open(model.value(), video);
    if (!session) throw EngineError(session.error());
    auto& s = *session.value();
    for (auto& p : prompts) {
      if (p.frame < 0 || p.frame >= s.numFrames())
        throw EngineError(Error::badArgument("frame " + std::to_string(p.frame) + " is outside the video (0.." +
                                             std::to_string(s.numFrames() - 1) + ")"));
      auto r = p.box.empty() ? s.addPoints(p.frame, p.obj, p.points)
                             : s.addBox(p.frame, p.obj, float(p.box[0]), float(p.box[1]), float(p.box[2]),
                                        float(p.box[3]), p.points);
      if (!r) throw EngineError(r.error());
    }
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
          job.progress(double(frames) / total, "frame " + std::to_string(r.frame));
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
    if (!gt.empty()) {
      res["scored_frames"] = scored;
      res["J"] = scored ? jSum / scored : 0.0;
      res["F"] = scored ? fSum / scored : 0.0;
    }
    if (json) {
      printJson(res);
      return;
    }
    std::cout << "segmented " << frames << " frames of " << video << " (" << s.width() << "x" << s.height()
              << ") with SAM 2.1 " << model.value()->size() << " in " << std::fixed << std::setprecision(2) << secs
              << " s (" << res["frames_per_second"].get<double>() << " frames/s)\n";
    if (!out.empty()) std::cout << "masks: " << out << "/NNNNN.png\n";
    if (!gt.empty())
      std::cout << "DAVIS J " << std::setprecision(4) << res["J"].get<double>() << ", F " << res["F"].get<double>()
                << " over " << scored << " frames\n";
  });
}

}  // namespace cs::cli
