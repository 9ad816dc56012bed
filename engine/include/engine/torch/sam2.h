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
  torch::Tensor lowResMulti;   // [B,M,4h,4w] after the object-score gate
  torch::Tensor highResMulti;  // [B,M,S,S]
  torch::Tensor ious;          // [B,M]
  torch::Tensor lowRes, highRes;  // best mask [B,1,...]
  torch::Tensor objPtr;        // [B,C]
  torch::Tensor objScore;      // [B,1]
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
  std::vector<torch::Tensor> trunk(const torch::Tensor& img) const;  // img [B,3,S,S] normalized
  ImageFeatures forwardImage(const torch::Tensor& img) const;
  static torch::Tensor sinePE(int64_t channels, int64_t h, int64_t w, int64_t batch = 1);

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
                                const torch::Tensor& memoryPos, int64_t numObjPtrTokens) const;
  torch::Tensor objPtrTposEnc(const torch::Tensor& relPos, int64_t numFrames) const;  // [N] -> [N,memDim]

 private:
  torch::Tensor linear(const torch::Tensor& x, const std::string& p) const;
  torch::Tensor layerNorm(const torch::Tensor& x, const std::string& p, double eps) const;
  torch::Tensor layerNorm2d(const torch::Tensor& x, const std::string& p, double eps = 1e-6) const;
  torch::Tensor mlp(const torch::Tensor& x, const std::string& p, int layers, bool gelu, bool sigmoidOut = false) const;
  torch::Tensor hieraBlock(const torch::Tensor& x, int i) const;
  torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const std::string& p,
                          int heads) const;
  torch::Tensor ropeAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                              const std::string& p, int64_t numKExcludeRope, bool repeatK) const;

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
};

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
                      bool runMemEncoder, const torch::Tensor& prevMaskLogits = {});
// Encodes the memory of an output (sets maskmemFeatures/PosEnc in bf16, adds no_obj_embed_spatial).
void encodeMemory(const Sam2Model& m, const ImageFeatures& f, FrameOutput& out, bool isMaskFromPts);
// The memory-conditioned feature of a frame (returns also the exact memory-attention inputs if asked).
struct MemInputs {
  torch::Tensor curr, currPos, memory, memoryPos;
  int64_t numObjPtrTokens = 0;
};
torch::Tensor prepareMemoryConditioned(const Sam2Model& m, const ImageFeatures& f, int frame, bool isCond,
                                       const Sam2ObjectTrack& track, int numFrames, bool reverse,
                                       MemInputs* capture = nullptr);

}  // namespace cs::detail::sam2
