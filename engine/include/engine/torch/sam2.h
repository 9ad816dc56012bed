// SAM 2.1 in LibTorch (torch-facing; engine/ and compression/ only).
//
// A native port of the facebookresearch/sam2 video model: Hiera trunk, FPN neck,
// prompt encoder, two-way-transformer mask decoder, memory encoder, memory attention
// with 2-D RoPE, object pointers and the SAM 2.1 flags of the official yamls.
// Weights are plain tensors held by their official state_dict names, so official
// checkpoints (converted to safetensors, or the .pt as released through the engine's
// state-dict reader) map onto the model one to one.
//
// Ownership and threading: a Sam2Model is immutable after construction and may be
// shared between threads; every forward is a pure function of its inputs. Per-video
// state lives in Sam2Tracker objects (one per video, not thread-safe). Call forwards
// under torch::InferenceMode.
#pragma once
#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/result.h"

namespace cs::detail::sam2 {

constexpr float kNoObjScore = -1024.0f;

// Architecture of one SAM 2.1 size. The fields mirror the official yaml arguments;
// the video-predictor overrides (dynamic multimask via stability, binarized click
// masks for the memory encoder) are always on, as in build_sam2_video_predictor.
struct Sam2Config {
  std::string name = "tiny";
  int imageSize = 1024;
  // Hiera trunk
  int embedDim = 96, numHeads = 1;
  std::vector<int> stages{1, 2, 7, 2};
  std::vector<int> globalAttBlocks{5, 7, 9};
  std::vector<int> windowSpec{8, 4, 14, 7};
  int bkgPosH = 7, bkgPosW = 7;
  // neck / hidden width (FPN d_model == memory-attention d_model == SAM prompt dim)
  int dModel = 256;
  // memory
  int memDim = 64;            // memory encoder out_dim == cross-attention kv_in_dim
  int memAttnLayers = 4, memAttnFF = 2048;
  int numMaskmem = 7, maxObjPtrs = 16;
  float sigmoidScale = 20.f, sigmoidBias = -10.f;
  // mask decoder extra args (video predictor)
  float stabilityDelta = 0.05f, stabilityThresh = 0.98f;
  // fixed in every official model (SAM2Base._build_sam_heads)
  static constexpr int kDecoderMlpDim = 2048, kDecoderHeads = 8, kIouHidden = 256, kMaskInChans = 16;

  int backboneStride() const { return 16; }
  int featSize() const { return imageSize / 16; }
  std::vector<int> stageDims() const;   // dims of the 4 stages
  std::vector<int> stageEnds() const;   // index of the last block of each stage
  int depth() const;

  static Sam2Config tiny();
  static Sam2Config small();
  static Sam2Config basePlus();
  static Sam2Config large();
  static Sam2Config mini();  // the parity fixture's sam2-mini (tiny layout, width 16, 256 px)
  // "tiny", "small", "base_plus", "large", "mini"; throws EngineError otherwise.
  static Sam2Config byName(const std::string& name);
};

using ShapeList = std::vector<std::pair<std::string, std::vector<int64_t>>>;
// Every state_dict key of the official model of this config, with its shape.
ShapeList expectedTensors(const Sam2Config& cfg);
// Compares a found name->shape list with the config's; returns "" when identical,
// otherwise one message per problem (missing, unexpected, wrong shape), prefixed by `file`.
std::string checkTensors(const Sam2Config& cfg, const ShapeList& found, const std::string& file);

struct ImageFeatures {
  std::vector<torch::Tensor> trunk;     // 4 Hiera stage outputs, NCHW
  std::vector<torch::Tensor> fpn;       // 3 FPN levels after scalp (high-res first), NCHW
  std::vector<torch::Tensor> pos;       // their sine position encodings
  torch::Tensor highRes0, highRes1;     // conv_s0(fpn[0]), conv_s1(fpn[1])
  const torch::Tensor& visionFeatures() const { return fpn[2]; }
};

struct SamHeadsOut {
  torch::Tensor decAttn;       // [B,h,w] decoder token->image attention (Efficient-SAM2 saliency)
  torch::Tensor lowResMulti;   // [B,M,4h,4w] after the object-score gate
  torch::Tensor highResMulti;  // [B,M,S,S]
  torch::Tensor ious;          // [B,M]
  torch::Tensor lowRes, highRes;  // best mask [B,1,...]
  torch::Tensor objPtr;        // [B,C]
  torch::Tensor objScore;      // [B,1]
};

// ---- Efficient-SAM2 hooks (the mechanism; the per-video policy is in the tracker) ----

// Sparse Window Routing geometry of a config: the stride-16 stage (stage 3), its q-pool
// entry block (full map), the routed span routeBlock..finalGlobal-1 (selected windows
// only; the global blocks inside it see only selected windows' real tokens), and the
// final global block of the stage (full map, after the shortcut adapter).
struct SwrGeometry {
  int entryBlock = 0, routeBlock = 0, finalGlobal = 0;
  std::vector<int> midGlobals;
  int window = 0;            // window size of the routed blocks (tokens)
  int featH = 0, featW = 0;  // the stage's map
  int padH = 0, padW = 0;    // padded to a multiple of the window
  int gridH = 0, gridW = 0;  // window grid (row-major numbering)
  int dim = 0;               // channels of the stage (adapter width)
  int numWindows() const { return gridH * gridW; }
  int skippedBlocks() const { return finalGlobal - routeBlock; }
};
// Throws EngineError when the config has no routable stage.
SwrGeometry swrGeometry(const Sam2Config& cfg);

// The SWR shortcut adapter (Efficient-SAM2 BottleneckAdapter):
// y = x + W_up Dropout(ReLU(W_down LN(x))), d -> d/2 -> d, LayerNorm eps 1e-6.
struct SwrAdapter {
  torch::Tensor lnW, lnB, downW, downB, upW, upB;
  bool defined() const { return lnW.defined(); }
  int dim() const { return defined() ? static_cast<int>(lnW.size(0)) : 0; }
  // Kaiming-normal W_down, W_up ~ N(0, 1e-3), zero biases, LN identity: starts near identity.
  static SwrAdapter init(int dim, uint64_t seed);
  torch::Tensor forward(const torch::Tensor& x, double dropout = 0.0, bool train = false) const;
  std::vector<torch::Tensor> parameters() const;
  SwrAdapter to(torch::Device device) const;  // a copy on another device
  // safetensors with names ln.weight, ln.bias, down.weight, down.bias, up.weight, up.bias.
  void save(const std::string& path, const std::map<std::string, std::string>& meta) const;  // throws
  static SwrAdapter load(const std::string& path, int expectDim);                            // throws naming the file
};

// One frame's routing: selected = sorted int64 window indices (row-major on the geometry's
// grid); adapter undefined or null = identity shortcut.
struct SwrPlan {
  torch::Tensor selected;
  const SwrAdapter* adapter = nullptr;
  double dropout = 0;  // adapter dropout (training only)
};

// Sparse Memory Retrieval for one memory-attention call: per memory-attention layer, the
// sorted indices of the spatial (RoPE) memory tokens kept (undefined: all); optionally the
// importance of one block of keys (the newest memory frame) is measured in every layer.
struct SmrPlan {
  std::vector<torch::Tensor> keep;               // [layers] int64 or empty vector = dense
  int64_t newestStart = -1, newestLen = 0;       // key range to measure (in uncompacted indices)
  std::vector<torch::Tensor>* importance = nullptr;  // out: per layer [newestLen]
};

class Sam2Model {
 public:
  // Checks every name and shape against the config; throws EngineError naming file,
  // tensor, expected and found shape.
  Sam2Model(Sam2Config cfg, std::unordered_map<std::string, torch::Tensor> weights, const std::string& file);
  // Loads a safetensors state dict with the official names.
  static std::shared_ptr<const Sam2Model> loadSafetensors(const Sam2Config& cfg, const std::string& path);
  // Loads a safetensors state dict or an official torch.save checkpoint (the state dict
  // under "model", or a bare one). size "auto" (or empty) picks the SAM 2.1 size whose
  // every tensor name and shape matches.
  static std::shared_ptr<const Sam2Model> load(const std::string& path, const std::string& size);

  const Sam2Config& config() const { return cfg_; }
  const torch::Tensor& w(const std::string& name) const;

  // --- image encoder ---
  // img [B,3,S,S] normalized. plan: Sparse Window Routing (null = the full trunk).
  std::vector<torch::Tensor> trunk(const torch::Tensor& img, const SwrPlan* plan = nullptr) const;
  ImageFeatures forwardImage(const torch::Tensor& img, const SwrPlan* plan = nullptr) const;
  // The FPN neck and high-res convs on given trunk outputs.
  ImageFeatures neck(std::vector<torch::Tensor> trunkOuts) const;
  static torch::Tensor sinePE(int64_t channels, int64_t h, int64_t w, int64_t batch = 1,
                              torch::Device device = torch::kCPU);

  // --- SAM heads ---
  // coords [B,P,2] in model pixels (0..imageSize), labels [B,P] int (1 pos, 0 neg, 2/3 box, -1 pad).
  // Undefined coords means "no points". maskInput: [B,1,4h,4w] logits or undefined.
  SamHeadsOut forwardSamHeads(const torch::Tensor& feat, const torch::Tensor& coords, const torch::Tensor& labels,
                              const torch::Tensor& maskInput, const torch::Tensor& hr0, const torch::Tensor& hr1,
                              bool multimask) const;
  // SAM2Base._use_mask_as_output for a binary mask [B,1,S,S].
  SamHeadsOut useMaskAsOutput(const torch::Tensor& feat, const torch::Tensor& hr0, const torch::Tensor& hr1,
                              const torch::Tensor& mask) const;

  // --- memory ---
  // masks already scaled/biased (sigmoid skipped); returns {features, pos}.
  std::pair<torch::Tensor, torch::Tensor> memoryEncoder(const torch::Tensor& pixFeat, const torch::Tensor& masks) const;
  // Sequence-first tensors as in the official code: curr [HW,B,C], memory [N,B,Cm].
  torch::Tensor memoryAttention(const torch::Tensor& curr, const torch::Tensor& memory, const torch::Tensor& currPos,
                                const torch::Tensor& memoryPos, int64_t numObjPtrTokens,
                                const SmrPlan* smr = nullptr) const;
  torch::Tensor objPtrTposEnc(const torch::Tensor& relPos, int64_t numFrames) const;  // [N] -> [N,memDim]

 private:
  torch::Tensor linear(const torch::Tensor& x, const std::string& p) const;
  torch::Tensor layerNorm(const torch::Tensor& x, const std::string& p, double eps) const;
  torch::Tensor layerNorm2d(const torch::Tensor& x, const std::string& p, double eps = 1e-6) const;
  torch::Tensor mlp(const torch::Tensor& x, const std::string& p, int layers, bool gelu, bool sigmoidOut = false) const;
  torch::Tensor hieraBlock(const torch::Tensor& x, int i) const;
  // A window-size-preserving block on token batches [N,L,C]; valid [N,L] (or undefined)
  // zeroes padding tokens after norm1 as the official window_partition does.
  torch::Tensor hieraBlockTokens(const torch::Tensor& x, int i, const torch::Tensor& valid) const;
  std::vector<torch::Tensor> trunkRouted(const torch::Tensor& img, const SwrPlan& plan) const;
  torch::Tensor patchEmbed(const torch::Tensor& img) const;
  torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const std::string& p,
                          int heads, torch::Tensor* probs = nullptr) const;
  torch::Tensor ropeAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const std::string& p, int64_t numKExcludeRope, bool repeatK,
                              const torch::Tensor& keep = {}, int64_t measureStart = -1, int64_t measureLen = 0,
                              torch::Tensor* importance = nullptr) const;

  Sam2Config cfg_;
  std::unordered_map<std::string, torch::Tensor> w_;
  std::vector<int> blockDim_, blockDimOut_, blockHeads_, blockWindow_;
  std::vector<bool> blockPool_;
};

// --- per-video tracking state (the official SAM2VideoPredictor flow, one object) ---

struct FrameOutput {
  torch::Tensor predMasks;        // [1,1,4h,4w] low-res logits of the chosen mask
  torch::Tensor multimasks;       // [1,M,4h,4w]
  torch::Tensor ious;             // [1,M]
  torch::Tensor objPtr;           // [1,C]
  torch::Tensor objScore;         // [1,1]
  torch::Tensor maskmemFeatures;  // [1,Cm,h,w] bfloat16, undefined until encoded
  torch::Tensor maskmemPosEnc;    // [1,Cm,h,w]
  torch::Tensor pixFeatWithMem;   // [1,C,h,w] (kept for parity tests; cleared by the session)
  torch::Tensor highResMasks;     // [1,1,S,S] mask logits for the memory encoder (cleared once encoded)
  torch::Tensor memEncMasks;      // the memory encoder's mask input (parity tests only)
  torch::Tensor decAttn;          // [1,h,w] decoder attention map (SWR saliency)
  // SMR: per memory-attention layer, the kept token indices of this frame's memory,
  // measured once when it was first the newest memory frame (empty: not measured).
  std::vector<torch::Tensor> smrKeep;
};

// Efficient-SAM2 per-step options and measurements (see prepareMemoryConditioned).
struct SmrOptions {
  double keepRatio = 0.05;  // fraction of tokens kept per pruned memory frame (>= 1: dense)
};
struct StepStats {
  int newestFrame = -1;                   // the newest memory frame measured in this step
  std::vector<torch::Tensor> newestKeep;  // its per-layer kept indices (to store in its FrameOutput)
  int64_t memTokens = 0, memTokensKept = 0;  // spatial memory tokens (summed over layers)
  std::vector<std::pair<int, int>> prunedFrames;  // (frame, kept tokens per layer) pruned in this step
  double memAttnMs = 0;
};

// SWR window choice (Efficient-SAM2 §2.4) from the previous frame's outputs of every object.
struct SwrOptions {
  int dilate = 5;          // max-pool kernel on the low-res mask (0/1: none)
  double theta = 0.7;      // cumulative decoder-attention mass
  double objTheta = 5.0;   // saliency is added when an object score is below this (or no mask)
};
struct RouterObject {
  torch::Tensor multimasks;  // [1,M,4h,4w] logits
  torch::Tensor objScore;    // [1,1]
  torch::Tensor decAttn;     // [1,h,w]
};
// Returns a bool [gridH*gridW] of selected windows.
torch::Tensor selectWindows(const SwrGeometry& g, const std::vector<RouterObject>& objs, const SwrOptions& o);

struct PointPrompt {
  std::vector<float> xy;     // model-pixel coordinates, x,y pairs
  std::vector<int> labels;   // 1 positive, 0 negative, 2/3 box corners
};

// Frame features are supplied by a callback so the caller decides caching.
using FeatureFn = std::function<const ImageFeatures&(int frame)>;

// One object's memory bank and outputs. Mirrors output_dict_per_obj of the predictor.
class Sam2ObjectTrack {
 public:
  std::map<int, FrameOutput> cond, nonCond;
  std::map<int, PointPrompt> points;     // prompts per conditioning frame
  std::map<int, torch::Tensor> masks;    // mask prompts per conditioning frame [1,1,S,S] bool/float
};

// The official track_step (with memory encoding) for one frame of one object.
// isCond: the frame carries prompts (points or a mask).
FrameOutput trackStep(const Sam2Model& m, const ImageFeatures& f, int frame, bool isCond, const PointPrompt* pts,
                      const torch::Tensor& maskInput, const Sam2ObjectTrack& track, int numFrames, bool reverse,
                      bool runMemEncoder, const torch::Tensor& prevMaskLogits = {},
                      const SmrOptions* smr = nullptr, StepStats* stats = nullptr);
// Encodes the memory of an output (sets maskmemFeatures/PosEnc in bf16, adds no_obj_embed_spatial).
void encodeMemory(const Sam2Model& m, const ImageFeatures& f, FrameOutput& out, bool isMaskFromPts);
// The memory-conditioned feature of a frame (returns also the exact memory-attention inputs if asked).
struct MemInputs {
  torch::Tensor curr, currPos, memory, memoryPos;
  int64_t numObjPtrTokens = 0;
};
torch::Tensor prepareMemoryConditioned(const Sam2Model& m, const ImageFeatures& f, int frame, bool isCond,
                                       const Sam2ObjectTrack& track, int numFrames, bool reverse,
                                       MemInputs* capture = nullptr, const SmrOptions* smr = nullptr,
                                       StepStats* stats = nullptr);

// Frame I/O shared by the session and adapter training (OpenCV build only; video_session.cpp).
std::vector<std::string> listFrameFiles(const std::string& folder);  // sorted; throws naming the folder
torch::Tensor loadFrameImage(const std::string& file, int imageSize);  // [1,3,S,S] normalized

}  // namespace cs::detail::sam2
