// SAM 2.1 video segmentation: plain-C++ facade (no torch, no Qt, no OpenCV here).
//
// Sam2 model handles are immutable and shareable between sessions and threads. A
// Sam2VideoSession is the per-video state (frames, prompts, memory bank per object),
// modelled on the official SAM2VideoPredictor: open on a folder of JPEG/PNG frames,
// add points or a box for an object on any frame, then propagate forward (or backward)
// frame by frame with a callback. Frames are decoded on demand and only the features
// the memory bank needs are kept.
//
// Threading: a session is used from one thread at a time (the GUI runs it on a worker
// thread); JobContext::cancel() may be called from any thread and is honoured between
// frames. Errors are returned as values; no exception crosses this header.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/job.h"
#include "engine/result.h"

namespace cs {

namespace detail::sam2 {
class Sam2Model;
}

// An opened SAM 2.1 model (immutable).
class Sam2 {
 public:
  // size: "tiny", "small", "base_plus", "large", "mini", or "auto" (the size whose every
  // tensor name and shape matches). path: an official checkpoint as released
  // (sam2.1_hiera_*.pt, a torch.save archive with the state dict under "model", read by
  // the project's own pickle-subset reader) or a safetensors conversion with the official
  // names. Every name and shape is checked; a mismatch is an error naming the file, the
  // tensor, and the expected and found shapes.
  static Result<std::shared_ptr<const Sam2>> open(const std::string& path, const std::string& size);
  std::string size() const;
  int imageSize() const;
  const detail::sam2::Sam2Model& impl() const { return *impl_; }
  explicit Sam2(std::shared_ptr<const detail::sam2::Sam2Model> m) : impl_(std::move(m)) {}

 private:
  std::shared_ptr<const detail::sam2::Sam2Model> impl_;
};

struct Sam2Point {
  float x = 0, y = 0;  // video pixels
  bool positive = true;
};

// One object's mask on one frame, at video resolution.
struct Sam2ObjectMask {
  int objId = 0;
  int width = 0, height = 0;
  std::vector<float> logits;   // row-major, height*width; > 0 means foreground
  float objectScore = 0;       // > 0: the object is present
  bool present() const { return objectScore > 0; }
  std::vector<uint8_t> binary() const;  // logits > 0 as 0/1
};

// Efficient-SAM2 (arXiv 2602.08224) switches of a session. SWR: background windows of the
// stride-16 Hiera stage skip the routed blocks through a shortcut adapter; SMR: older memory
// frames keep only their most attended tokens. Both off = the plain SAM 2.1 model.
struct Sam2Efficiency {
  bool swr = false;
  int dilate = 5;            // max-pool kernel on the previous low-res masks
  double theta = 0.7;        // cumulative decoder-attention mass for saliency windows
  double objTheta = 5.0;     // add saliency windows when an object score logit is below this
  std::string adapterPath;   // SWR shortcut adapter (safetensors); empty = identity shortcut
  bool smr = false;
  double keepRatio = 0.05;   // fraction of tokens kept per pruned memory frame
  bool forceFull = false;    // every frame through the full encoder, dense memory
};

// Kept memory tokens of one memory frame for one object, as a heat map at feature resolution:
// per token, the fraction of memory-attention layers that keep it (1 = kept everywhere).
struct Sam2MemoryKeep {
  int objId = 0, memFrame = 0;
  int width = 0, height = 0;
  std::vector<float> kept;
};

// Per-frame routing and timing statistics.
struct Sam2FrameStats {
  bool fullPass = true;              // the encoder ran on every window
  int gridW = 0, gridH = 0;          // SWR window grid (0 when SWR is off)
  std::vector<uint8_t> selected;     // gridH*gridW, row-major, 1 = through the routed blocks
  double windowsRouted = 1.0;        // fraction of windows through the routed blocks
  double encoderMs = 0, memAttnMs = 0, frameMs = 0;
  int64_t memTokens = 0, memTokensKept = 0;  // spatial memory tokens over layers and objects
  std::vector<Sam2MemoryKeep> memory;        // pruned memory frames used on this frame
};

struct Sam2FrameResult {
  int frame = 0;
  std::vector<Sam2ObjectMask> objects;  // ordered by objId
  Sam2FrameStats stats;
};

class Sam2VideoSession {
 public:
  using FrameCallback = std::function<void(const Sam2FrameResult&)>;

  // A folder of .jpg/.jpeg/.png frames, sorted by file name (needs the OpenCV build).
  static Result<std::unique_ptr<Sam2VideoSession>> openFolder(std::shared_ptr<const Sam2> model,
                                                              const std::string& folder);
  // A folder of frames (as openFolder) or a video file (.mp4, .avi, ... as far as this
  // OpenCV build decodes it); video frames are decoded on demand, never all held.
  static Result<std::unique_ptr<Sam2VideoSession>> open(std::shared_ptr<const Sam2> model,
                                                        const std::string& folderOrVideo);
  ~Sam2VideoSession();
  Sam2VideoSession(const Sam2VideoSession&) = delete;
  Sam2VideoSession& operator=(const Sam2VideoSession&) = delete;

  int numFrames() const;
  int width() const;
  int height() const;

  // Adds clicks for an object on a frame (clearOld: replace that frame's earlier clicks)
  // and returns the object's mask on that frame.
  Result<Sam2ObjectMask> addPoints(int frame, int objId, const std::vector<Sam2Point>& points, bool clearOld = true);
  // Adds a box (x0,y0,x1,y1 in video pixels), optionally with clicks.
  Result<Sam2ObjectMask> addBox(int frame, int objId, float x0, float y0, float x1, float y1,
                                const std::vector<Sam2Point>& points = {});
  // Propagates every object from its prompted frames, calling `onFrame` for each frame in
  // processing order (prompted frames included). reverse: track backwards. maxFrames < 0:
  // to the end of the video. Returns Error::cancelled() if the job was cancelled.
  Status propagate(JobContext& job, const FrameCallback& onFrame, bool reverse = false, int startFrame = -1,
                   int maxFrames = -1);
  // Forgets every prompt and tracked output (frames stay open).
  void reset();

  // Efficient-SAM2 options (takes effect on the next frame; loads the adapter, errors name
  // the file). The first frame and the frame after a reset always take the full pass.
  Status setEfficiency(const Sam2Efficiency& e);
  const Sam2Efficiency& efficiency() const;
  // The next encoded frame takes the full pass (e.g. after a scene cut).
  void forceFullNextFrame();

  struct Impl;

 private:
  explicit Sam2VideoSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Writes one frame's objects as an 8-bit PNG (DAVIS style): 0 background, else the
// object id (1..255) of the last present object covering the pixel. Atomic (temp + rename).
Status writeObjectMaskPng(const Sam2FrameResult& frame, const std::string& path);

// ---- DAVIS metrics (plain C++; the DAVIS-2017 evaluation package's definitions) ----

// A binary mask, row-major, 0 or 1 per pixel.
struct BinaryMask {
  int width = 0, height = 0;
  std::vector<uint8_t> data;
};
// Reads a mask image (PNG, palette or grey): pixels > 0 are foreground, or, when
// `label` >= 0, pixels equal to that palette index / grey value (needs the OpenCV build).
Result<BinaryMask> readMaskImage(const std::string& path, int label = -1);
// Region similarity J: |A and B| / |A or B|, 1 when both are empty.
double regionSimilarityJ(const BinaryMask& pred, const BinaryMask& gt);
// Boundary accuracy F: F-measure of the boundary pixels matched within a tolerance of
// ceil(boundThreshold * image diagonal) pixels (disk-shaped dilation), as db_eval_boundary.
double boundaryF(const BinaryMask& pred, const BinaryMask& gt, double boundThreshold = 0.008);

}  // namespace cs
