// sam2-micro: synthetic videos and training of a small SAM 2.1 (torch-facing; engine only).
//
// Synthetic videos (engine/src/sam2/synth_video.cpp): Fashion-MNIST items as coloured
// objects that move, scale, rotate a little and occlude each other over procedural
// backgrounds (gradient + stripes + smooth noise). Every clip is a pure function of its
// seed and the Fashion-MNIST split (train or test), so training and held-out videos are
// split by seed and by split. The ground truth is exact: each object is composited
// through its own hard alpha, and its mask is that alpha minus the objects drawn above it.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/torch/sam2.h"

namespace cs::detail::sam2 {

Sam2Config sam2MicroConfig();  // the "micro" size (sam2_config.cpp)

// Training mode of the SAM heads on this thread (defined in sam2_model.cpp): a single-mask
// output (two or more points, a box) is the single-mask slot itself, as in the official
// decoder while training, instead of the inference-time stability switch, which would never
// hand an untrained slot 0 any gradient.
extern thread_local bool tSam2Training;
struct Sam2TrainingMode {
  bool prev;
  Sam2TrainingMode() : prev(tSam2Training) { tSam2Training = true; }
  ~Sam2TrainingMode() { tSam2Training = prev; }
};

constexpr int kSynthObjects = 3;        // objects per clip (drawn in index order, last on top)
constexpr int kSynthMaxObjects = 8;     // with SynthOptions::extraObjects
constexpr int kSynthSize = 128;         // default frame side in pixels (sam2-micro's input)
constexpr uint64_t kHeldOutSeed0 = 1000000;  // held-out videos: test split, seeds 1e6, 1e6+1, ...

struct SynthBatch {
  torch::Tensor frames;      // [B,T,3,S,S] float in [0,1]
  torch::Tensor masks;       // [B,T,K,S,S] float 0/1: visible part of each object
  torch::Tensor alpha;       // [B,T,K,S,S] float 0/1: each object's full silhouette
  torch::Tensor layers;      // [B,T,K,3,S,S] each object's colours (valid where alpha is 1)
  torch::Tensor background;  // [B,T,3,S,S]
};

// Absent-object events for training clips (both off by default: held-out clips never
// change). leaveProb: per object, it heads straight out of the frame (gone within the clip;
// half of them come back); occluderProb: per clip, an opaque band crosses one object's path
// and hides what passes behind it. Masks stay exact (a hidden object has an empty mask).
// extraObjects: up to this many more objects (0..extraObjects per clip, smaller, half of them
// the same Fashion-MNIST item as one of the first three); masks then have 3 + extraObjects
// channels, unused ones empty. With exactly 3 objects and SAM's 3 multimask slots, "one
// object per slot, whatever the click" is a perfect minimum of the best-of-3 loss (see
// checkClicks and the model card); clutter makes the click necessary.
struct SynthOptions {
  double leaveProb = 0, occluderProb = 0;
  int extraObjects = 0;
};

// Fashion-MNIST images of a split ("train" or "test") as sprites [N,28,28] in [0,1].
// Throws EngineError naming the missing file ($CSTUDIO_FMNIST or the Debian dataset).
torch::Tensor synthSprites(const std::string& split);
// One clip per seed, `frames` frames of side `size`, computed on `dev`.
SynthBatch synthClips(const torch::Tensor& sprites, const std::vector<uint64_t>& seeds, int frames, int size,
                      torch::Device dev, const SynthOptions& options = {});

// ImageNet normalisation used by the SAM 2 predictor: [N,3,S,S] in [0,1] -> model input.
torch::Tensor sam2Normalize(const torch::Tensor& rgb01);
// The "deepest" pixel of each mask [B,S,S] (largest chessboard distance to the
// background, first in raster order): coords [B,2] as x,y.
torch::Tensor deepestPixel(const torch::Tensor& masks);

// The official flow on a batch of clips, one object per clip: prompt on frame 0 (coords
// [B,P,2] model pixels, labels [B,P]), then propagate with the memory bank. Returns the
// SAM-head outputs of every frame (graph kept when grad mode is on). multimaskClick false:
// a single click gets the single-mask output too (training: the single-mask slot).
std::vector<SamHeadsOut> trackClips(const Sam2Model& m, const torch::Tensor& images /*[B,T,3,S,S] normalised*/,
                                    const torch::Tensor& coords, const torch::Tensor& labels,
                                    bool multimaskClick = true);

// How well the heads that pick and gate the mask work, on clips tracked from one click on
// the deepest pixel of an object (every object with >= 30 px on frame 0): per frame where
// the object is visible and gated in, the IoU head's prediction vs the real IoU of each of
// its candidates (Pearson over all such pairs, mean absolute error), J of the chosen mask vs
// the best candidate, and the object score on frames where the object is fully hidden/gone.
struct HeadCheck {
  int sequences = 0, presentFrames = 0, absentFrames = 0;
  double iouPearson = 0, iouMae = 0, meanPredIou = 0, meanRealIou = 0;
  double chosenJ = 0, bestJ = 0;              // over present frames 1..T-1
  double absentNegative = 0;                  // fraction of absent frames with object score <= 0
  double presentPositive = 0;                 // fraction of present frames with object score > 0
};
HeadCheck checkHeads(const Sam2Model& m, const SynthBatch& clips);

// Does the model use the click? (train_sam2_clicks.cpp) On frame 0 of each clip with >= 2
// objects of >= 30 px, each such object is clicked on its deepest pixel (multimask, no memory).
// sameSlotIou: IoU of candidate slot s's mask for a click on object A vs a click on object B
// of the same clip, averaged over pairs and slots (1: the candidates ignore the click);
// sameSlotObject: of the (pair, slot)s where a candidate matches a gt object (IoU > 0.5), the
// share where both clicks' slot matches the same object; slotOnClicked: share of candidates
// matching the clicked object; slotObject[s][k]: share of clicks whose slot s matches object k
// (draw index; k = K: none); bestJ / chosenJ: J of the best / IoU-head-chosen candidate.
struct ClickCheck {
  int clips = 0, clicks = 0, pairs = 0;
  double sameSlotIou = 0, sameSlotObject = 0, slotOnClicked = 0, bestJ = 0, chosenJ = 0;
  std::vector<std::vector<double>> slotObject;
};
ClickCheck checkClicks(const Sam2Model& m, const SynthBatch& clips);

// The training loss of one tracked frame (gt [B,S,S] 0/1): 20 x focal + dice on the best
// candidate plus allWeight x its mean over the candidates, IoU MSE on every candidate, object-score BCE; parts (if given) += mask, iou, obj.
torch::Tensor sam2FrameLoss(const SamHeadsOut& o, const torch::Tensor& gt, double* parts, double iouWeight = 1.0,
                            double allWeight = 1.0);

}  // namespace cs::detail::sam2
