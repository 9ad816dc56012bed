// `cstudio train NAME`: dispatches to the trainers families register.
#include <iomanip>
#include <iostream>

#include "cli_common.h"
#include "cmd_core.h"
#include "engine/sam2_micro.h"
#include "engine/train.h"

namespace cs::cli {
namespace {

int trainVit(const TrainArgs& a) {
  auto job = progressJob();
  TrainOptions o;
  if (a.epochs > 0) o.epochs = a.epochs;
  o.seed = a.seed;
  o.outDir = a.outDir;
  o.maxTrainSamples = a.maxSamples;
  o.command = a.commandLine;
  o.device = a.device;
  auto r = trainVitFmnist(o, job);
  if (!r) return fail(r.error());
  nlohmann::json out = {{"model", "vit-fmnist"},         {"weights", r->weightsPath}, {"card", r->cardPath},
                        {"test_accuracy", r->testAccuracy}, {"seconds", r->seconds},   {"parameters", r->parameters},
                        {"epoch_test_accuracy", r->epochTestAccuracy}};
  if (a.json)
    printJson(out);
  else
    std::cout << "vit-fmnist: test accuracy " << std::fixed << std::setprecision(2) << r->testAccuracy * 100 << " % after "
              << r->seconds << " s; weights " << r->weightsPath << "\n";
  return 0;
}

// sam2-micro options that TrainArgs does not carry.
struct Sam2MicroArgs {
  int steps = 0;
  int batchFrames = 0, batchClips = 0, evalVideos = 0;
  double minutes = 0, iouWeight = 1, lr = 0, stage1 = -1, allMask = -1;
  int extraObjects = -1;
  double singleClick = -1;
  bool reinitDecoder = false;
  std::string resume;
} gSam2;

int trainSam2(const TrainArgs& a) {
  auto job = progressJob();
  Sam2MicroTrainOptions o;
  if (gSam2.steps > 0) o.steps = gSam2.steps;
  o.maxSeconds = gSam2.minutes * 60;
  o.resume = gSam2.resume;
  o.iouWeight = gSam2.iouWeight;
  if (gSam2.lr > 0) o.lr = gSam2.lr;
  if (gSam2.batchFrames > 0) o.batchFrames = gSam2.batchFrames;
  if (gSam2.batchClips > 0) o.batchClips = gSam2.batchClips;
  if (gSam2.evalVideos > 0) o.evalVideos = gSam2.evalVideos;
  if (gSam2.stage1 >= 0) o.stage1Fraction = gSam2.stage1;
  if (gSam2.allMask >= 0) o.allMaskWeight = gSam2.allMask;
  if (gSam2.extraObjects >= 0) o.extraObjects = gSam2.extraObjects;
  if (gSam2.singleClick >= 0) o.singleClickFraction = gSam2.singleClick;
  o.reinitDecoder = gSam2.reinitDecoder;
  o.seed = a.seed;
  o.outDir = a.outDir;
  o.device = a.device;
  o.command = a.commandLine + (gSam2.steps > 0 ? " --steps " + std::to_string(gSam2.steps) : "") +
              (gSam2.minutes > 0 ? " --minutes " + std::to_string(gSam2.minutes) : "") +
              (gSam2.resume.empty() ? "" : " --resume " + gSam2.resume) +
              (gSam2.iouWeight != 1 ? " --iou-weight " + std::to_string(gSam2.iouWeight) : "") +
              (gSam2.lr > 0 ? " --lr " + std::to_string(gSam2.lr) : "") +
              (gSam2.batchFrames > 0 ? " --batch-frames " + std::to_string(gSam2.batchFrames) : "") +
              (gSam2.batchClips > 0 ? " --batch-clips " + std::to_string(gSam2.batchClips) : "") +
              (gSam2.stage1 >= 0 ? " --stage1 " + std::to_string(gSam2.stage1) : "") +
              (gSam2.allMask >= 0 ? " --all-mask-weight " + std::to_string(gSam2.allMask) : "") +
              (gSam2.extraObjects >= 0 ? " --extra-objects " + std::to_string(gSam2.extraObjects) : "") +
              (gSam2.singleClick >= 0 ? " --single-click " + std::to_string(gSam2.singleClick) : "") +
              (gSam2.reinitDecoder ? " --reinit-decoder" : "");
  auto r = trainSam2Micro(o, job);
  if (!r) return fail(r.error());
  nlohmann::json out = {{"model", "sam2-micro"}, {"weights", r->weightsPath}, {"card", r->cardPath},
                        {"steps", r->steps},      {"seconds", r->seconds},     {"parameters", r->parameters},
                        {"J", r->eval.J},         {"F", r->eval.F},            {"JF", r->eval.JF},
                        {"sequences", r->eval.sequences}, {"best_candidate_J", r->eval.bestJ},
                        {"iou_pearson", r->eval.iouPearson}, {"absent_frames", r->eval.absentFrames},
                        {"absent_accuracy", r->eval.absentAccuracy}, {"frame0_J", r->eval.frame0J},
                        {"click_same_slot_iou", r->eval.clickSameSlotIou}, {"click_on_clicked", r->eval.clickOnClicked}};
  if (a.json)
    printJson(out);
  else
    std::cout << "sam2-micro: J&F " << std::fixed << std::setprecision(3) << r->eval.JF << " (J " << r->eval.J << ", F "
              << r->eval.F << ") on " << r->eval.sequences << " held-out sequences after " << r->steps << " steps, "
              << r->seconds << " s; weights " << r->weightsPath << "\n";
  return 0;
}

}  // namespace

void addTrainCommands(CLI::App& app) {
  trainers()["vit-fmnist"] = trainVit;
  trainers()["sam2-micro"] = trainSam2;
  static TrainArgs a;
  static std::string argv0;
  auto* t = app.add_subcommand("train", "Train a zoo model with the project's own recipe (deterministic seed)");
  t->add_option("model", a.model, "Zoo model to train")->required();
  t->add_option("--epochs", a.epochs, "Epochs (default: the model's recipe)");
  t->add_option("--seed", a.seed, "Seed");
  t->add_option("--out", a.outDir, "Output directory (default: the zoo folder of the model)");
  t->add_option("--max-samples", a.maxSamples, "Use only this many training samples (quick runs)");
  t->add_flag("--json", a.json, "JSON output");
  t->add_option("--steps", gSam2.steps, "sam2-micro: optimizer steps (default 3000; with --resume, steps added)");
  t->add_option("--minutes", gSam2.minutes, "sam2-micro: time budget; the schedule follows elapsed time");
  t->add_option("--resume", gSam2.resume, "sam2-micro: start from these weights (safetensors)");
  t->add_option("--iou-weight", gSam2.iouWeight, "sam2-micro: weight of the IoU-prediction loss (default 1)");
  t->add_option("--lr", gSam2.lr, "sam2-micro: peak learning rate (default 1e-3)");
  t->add_option("--batch-frames", gSam2.batchFrames, "sam2-micro: stage 1 frames per step (default 192)");
  t->add_option("--batch-clips", gSam2.batchClips, "sam2-micro: stage 2 clips of 8 frames per step (default 48)");
  t->add_option("--eval-videos", gSam2.evalVideos, "sam2-micro: held-out videos evaluated at the end (default 64)");
  t->add_option("--stage1", gSam2.stage1, "sam2-micro: share of the run on single frames (default 0.4)");
  t->add_option("--all-mask-weight", gSam2.allMask,
                "sam2-micro: mask loss = best candidate + this x mean over candidates (default 1; 0 = SAM's min)");
  t->add_option("--extra-objects", gSam2.extraObjects,
                "sam2-micro: training clips get 0..N more objects than the 3 of the held-out clips (default 0)");
  t->add_option("--single-click", gSam2.singleClick,
                "sam2-micro: share of click steps trained on the single-mask slot (default 0)");
  t->add_flag("--reinit-decoder", gSam2.reinitDecoder,
              "sam2-micro: with --resume, the prompt encoder and mask decoder start from fresh weights");
  t->add_option("--device", a.device, "cpu or cuda (CUDA builds of LibTorch)")->check(CLI::IsMember({"cpu", "cuda"}));
  t->callback([] {
    auto it = trainers().find(a.model);
    if (it == trainers().end()) {
      std::string names;
      for (auto& [n, f] : trainers()) names += (names.empty() ? "" : ", ") + n;
      std::exit(fail(Error::badArgument("no trainer for '" + a.model + "' (available: " + names + ")")));
    }
    a.commandLine = "cstudio train " + a.model + (a.epochs > 0 ? " --epochs " + std::to_string(a.epochs) : "") +
                    (a.seed ? " --seed " + std::to_string(a.seed) : "") +
                    (a.maxSamples ? " --max-samples " + std::to_string(a.maxSamples) : "") +
                    (a.device != "cpu" ? " --device " + a.device : "");
    int rc = it->second(a);
    if (rc != 0) std::exit(rc);
  });
}

}  // namespace cs::cli
