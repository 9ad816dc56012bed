// `cstudio synth-video --seed S --frames N --out DIR [--split test|train] [--size PX]`:
// one synthetic video of sam2-micro's generator as PNG frames and exact masks (DIR/frames,
// DIR/masks with object ids, DIR/objK per object), for the video tab and `segment --gt`.
// `cstudio eval-sam2 [CHECKPOINT] --videos N --frames T`: DAVIS J and F of a SAM 2.1
// checkpoint (default: the committed sam2-micro) on held-out synthetic videos.
#include <iomanip>
#include <iostream>

#include "cli_common.h"
#include "cmd_synth.h"
#include "engine/sam2_micro.h"

namespace cs::cli {

void addSynthCommands(CLI::App& app) {
  {
    static uint64_t seed = 1000000;
    static int frames = 16, size = 128;
    static std::string out, split = "test";
    static bool json = false;
    auto* c = app.add_subcommand("synth-video", "Write a synthetic video (Fashion-MNIST objects, exact masks) as PNGs");
    c->add_option("--seed", seed, "Video seed (held-out videos: test split, seeds >= 1000000)");
    c->add_option("--frames", frames, "Frames (default 16)");
    c->add_option("--size", size, "Frame side in pixels (default 128, sam2-micro's input)");
    c->add_option("--split", split, "Fashion-MNIST split of the objects")->check(CLI::IsMember({"train", "test"}));
    c->add_option("--out", out, "Output folder")->required();
    c->add_flag("--json", json, "JSON output");
    c->callback([] {
      auto v = synthVideo(seed, frames, split, size);
      if (!v) std::exit(fail(v.error()));
      auto st = writeSynthVideo(*v, out);
      if (!st.ok()) std::exit(fail(st.error()));
      nlohmann::json objs = nlohmann::json::array();
      for (int k = 0; k < v->objects; ++k) {
        int area = 0;
        for (auto l : v->label[0]) area += l == k + 1;
        auto [x, y] = synthDeepestPixel(*v, k, 0);
        objs.push_back({{"id", k + 1}, {"frame0_pixels", area}, {"click", {x, y}}, {"gt", out + "/obj" + std::to_string(k + 1)}});
      }
      nlohmann::json j = {{"out", out}, {"frames", frames}, {"size", size}, {"seed", seed}, {"split", split},
                          {"objects", objs}};
      if (json) {
        printJson(j);
      } else {
        std::cout << "wrote " << frames << " frames of " << size << "x" << size << " to " << out << "/frames\n";
        for (auto& o : objs)
          std::cout << "  object " << o["id"] << ": " << o["frame0_pixels"] << " px on frame 0, click "
                    << o["click"][0] << "," << o["click"][1] << ", masks " << o["gt"].get<std::string>() << "\n";
      }
    });
  }
  {
    static std::string checkpoint, device = "cpu";
    static int videos = 64, frames = 16;
    static bool json = false, absent = false;
    auto* c = app.add_subcommand("eval-sam2", "J and F (DAVIS) of a SAM 2.1 checkpoint on held-out synthetic videos");
    c->add_option("checkpoint", checkpoint, "Checkpoint (default: the committed sam2-micro)");
    c->add_option("--videos", videos, "Held-out videos (seeds 1000000 + i, Fashion-MNIST test split)");
    c->add_option("--frames", frames, "Frames per video");
    c->add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
    c->add_flag("--absent-events", absent, "Clips where objects leave the frame or hide behind an opaque band");
    c->add_flag("--json", json, "JSON output");
    c->callback([] {
      auto job = progressJob();
      const std::string path = checkpoint.empty() ? sam2MicroPath() : checkpoint;
      auto r = evalSam2Micro(path, videos, frames, device, job, absent);
      if (!r) std::exit(fail(r.error()));
      nlohmann::json j = {{"checkpoint", path},   {"videos", r->videos},        {"sequences", r->sequences},
                          {"frames", r->frames},  {"J", r->J},                  {"F", r->F},
                          {"JF", r->JF},          {"frame0_J", r->frame0J},     {"absent_frames", r->absentFrames},
                          {"absent_accuracy", r->absentAccuracy}, {"best_candidate_J", r->bestJ},
                          {"iou_pearson", r->iouPearson}, {"click_same_slot_iou", r->clickSameSlotIou},
                          {"click_on_clicked", r->clickOnClicked}, {"seconds", r->seconds}};
      if (json) {
        printJson(j);
      } else {
        std::cout << std::fixed << std::setprecision(3) << path << ": J&F " << r->JF << " (J " << r->J << ", F " << r->F
                  << ") over " << r->sequences << " sequences of " << r->frames << " frames (" << r->videos
                  << " videos); prompted-frame J " << r->frame0J << "; best-candidate J " << r->bestJ
                  << "; IoU head r " << r->iouPearson << "; click check: same-slot IoU across clicks "
                  << r->clickSameSlotIou << ", candidates on the clicked object " << r->clickOnClicked << "; "
                  << r->absentFrames
                  << " absent frames, score <= 0 on " << r->absentAccuracy * 100 << " %; " << std::setprecision(1)
                  << r->seconds << " s\n";
      }
    });
  }
}

}  // namespace cs::cli
