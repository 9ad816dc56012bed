// Efficient-SAM2 (arXiv 2602.08224): Sparse Window Routing and Sparse Memory Retrieval for
// SAM 2.1 video tracking. The mechanism lives in the engine (routed Hiera trunk, pruned
// memory attention, per-video router in Sam2VideoSession); this facade holds the method's
// parameter schema and the self-distillation training of the SWR shortcut adapter.
// Plain C++ (no torch, no Qt). Errors are returned as values.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "compression/schema.h"
#include "engine/job.h"
#include "engine/result.h"
#include "engine/sam2.h"

namespace cs {

// id "efficient-sam2": swr, dilate, theta, obj_theta, smr, keep_ratio, force_full.
const MethodInfo& efficientSam2Method();
// Validated parameters (defaults filled) to session options; errors name the parameter.
Result<Sam2Efficiency> efficientSam2Options(nlohmann::json params);

// The adapter file saved next to a model: <model stem>.swr_adapter.safetensors.
std::string swrAdapterPathFor(const std::string& modelPath);

struct SwrAdapterTrainOptions {
  std::string model;                 // SAM 2.1 checkpoint (.pt or .safetensors)
  std::string size = "auto";
  std::vector<std::string> videos;   // folders of frames (unlabeled; a centre click prompts frame 0)
  std::string out;                   // default: swrAdapterPathFor(model)
  int epochs = 1;
  int maxFrames = 0;                 // per video (0: all)
  int lossEvery = 3;                 // every 3rd frame computes the loss (the others run without grad)
  int stepEvery = 4;                 // optimizer step every N loss frames (and at a video's end)
  double lr = 1e-4;
  double dropout = 0.1;
  int dilate = 5;
  double theta = 0.7, objTheta = 5.0;
  // > 0: route this random fraction of windows on every frame instead of the mask router
  // (for models whose masks cover every window, e.g. random weights on a 2x2 grid).
  double randomRouteFraction = 0;
  std::string device = "cpu";
  uint64_t seed = 0;
};

struct SwrAdapterTrainResult {
  std::string adapterPath;
  int steps = 0, lossFrames = 0;
  std::vector<double> stepLoss;          // mean MSE of each optimizer step
  double evalBefore = 0, evalAfter = 0;  // MSE on the first video's loss frames, same routing, no dropout
  double identityLoss = 0;               // the same with the identity shortcut (no adapter)
  double windowsRouted = 0;              // mean fraction of windows through the routed blocks
  double seconds = 0;
};

// Self-distillation (Efficient-SAM2 §2.5): teacher = the full trunk, student = the routed
// trunk with the adapter; MSE on the memory-conditioned features, same memory bank (the
// teacher's); only the adapter trains (AdamW). Progress per frame, cancellable.
Result<SwrAdapterTrainResult> trainSwrAdapter(const SwrAdapterTrainOptions& o, JobContext& job);

// Speed of the SAM 2.1 port with and without Efficient-SAM2 on synthetic frames (random
// pixels; random weights of an official size unless a checkpoint is given). One object,
// a centre click on frame 0, then tracking; the first `warmup` tracked frames fill the
// memory bank (and SMR's kept-token masks) and are not timed. CUDA timers are synchronized.
struct Sam2BenchOptions {
  std::string size = "tiny";   // tiny, small, base_plus, large, mini, micro (random weights)
  std::string checkpoint;      // real weights instead (size "auto" detection)
  int frames = 16, warmup = 8;
  std::string device = "cpu";  // cpu or cuda
  bool swr = false, smr = false;
  // SWR: this fraction of the window grid goes through the routed blocks (the windows
  // nearest the grid centre, an object-like blob); the rest takes the shortcut adapter
  // (random init: speed only).
  double swrSelected = 0.5;
  double keepRatio = 0.05;     // SMR
  uint64_t seed = 0;
};
struct Sam2BenchResult {
  std::string size, device;
  int imageSize = 0, frames = 0;
  int windows = 0, windowsSelected = 0, routedBlocks = 0;  // SWR geometry (0 when off)
  double framesPerSecond = 0;
  double medianFrameMs = 0, medianEncoderMs = 0, medianMemAttnMs = 0;
  double memTokensKept = 1;  // fraction of spatial memory tokens attended (timed frames)
};
Result<Sam2BenchResult> benchSam2(const Sam2BenchOptions& o, JobContext& job);

// SWR routing statistics from real object masks at an official size's window geometry:
// each mask image (PNG, > 0 foreground; e.g. DAVIS ground truth) is area-resized to the
// model's low-resolution mask (4x the routed stage's map, the square model input as SAM
// 2.1 squashes frames) and routed by the engine's selectWindows() with a confident object
// score, so only the dilated-mask cue applies: what SWR selects when the tracker follows
// the object exactly. Gives the fractions to bench the official sizes with (benchSam2's
// swrSelected). Needs the OpenCV build (mask reading).
struct SwrCoverageOptions {
  std::string size = "large";          // tiny, small, base_plus, large, mini, micro
  std::vector<std::string> maskDirs;   // folders of mask images (.png, .pgm, .bmp; one sequence each)
  int dilate = 5;                      // the router's dilation (SwrOptions::dilate)
};
struct SwrCoverageSequence {
  std::string dir;
  int frames = 0;
  double selected = 0, minSelected = 1, maxSelected = 0;  // fraction of the window grid
};
struct SwrCoverageResult {
  std::string size;
  int gridH = 0, gridW = 0, window = 0, featH = 0;
  std::vector<SwrCoverageSequence> sequences;
  double selected = 0;  // mean over the sequences
};
Result<SwrCoverageResult> swrMaskCoverage(const SwrCoverageOptions& o, JobContext& job);

// Accuracy and speed of the Efficient-SAM2 variants on held-out synthetic videos (the
// sam2-micro generator, Fashion-MNIST test split, seeds 1,000,000 + i, generated in memory:
// no video I/O, so it also runs in CS_MINIMAL). Every object with >= 30 px on frame 0 is a
// sequence prompted by a click on its deepest pixel; J and F (DAVIS) over frames 1..T-1 as
// evalSam2Micro; variants full, swr_id (identity shortcut), swr (adapter), smr, both, each
// with the real router (previous frame's masks / decoder attention), timed per frame
// (CUDA-synchronized) in one process; IoU of each variant's masks against the full model's.
struct EffSam2EvalOptions {
  std::string weights;   // SAM 2.1 checkpoint (size auto)
  std::string adapter;   // SWR adapter (default: swrAdapterPathFor(weights))
  int videos = 8, frames = 16;
  std::string device = "cpu";
  double keepRatio = 0.05;
};
struct EffSam2VariantEval {
  std::string variant;
  int sequences = 0, frames = 0;  // scored frames
  double J = 0, F = 0, JF = 0;
  double iouVsFull = 1, minIouVsFull = 1;  // per frame 1..T-1, mean and worst
  double framesPerSecond = 0, speedup = 1;  // timed frames 1..T-1; speedup vs full, same sequences
  double medianFrameMs = 0, medianEncoderMs = 0, medianMemAttnMs = 0;
  double windowsSelected = 1;  // fraction of the window grid through the routed blocks (frames 1..T-1)
  double memTokensKept = 1;    // fraction of spatial memory tokens attended
};
Result<std::vector<EffSam2VariantEval>> evalEfficientSam2Synthetic(const EffSam2EvalOptions& o, JobContext& job);

}  // namespace cs
