// The SAM 2.1 video tracking step (memory conditioning, SAM heads, memory encoding),
// following SAM2Base.track_step and the video predictor's bf16 memory storage.
#include "engine/torch/sam2.h"

namespace cs::detail::sam2 {
namespace F = torch::nn::functional;
using torch::Tensor;

Tensor prepareMemoryConditioned(const Sam2Model& m, const ImageFeatures& f, int frame, bool isCond,
                                const Sam2ObjectTrack& track, int numFrames, bool reverse, MemInputs* capture) {
  const auto& cfg = m.config();
  const int64_t C = cfg.dModel, Cm = cfg.memDim;
  const auto& vis = f.visionFeatures();
  const int64_t B = vis.size(0), H = vis.size(2), W = vis.size(3);
  auto curr = vis.flatten(2).permute({2, 0, 1});       // [HW,B,C]
  auto currPos = f.pos[2].flatten(2).permute({2, 0, 1});
  if (isCond) {  // directly_add_no_mem_embed
    auto pix = curr + m.w("no_mem_embed");
    return pix.permute({1, 2, 0}).reshape({B, C, H, W});
  }
  std::vector<Tensor> mem, memPos;
  std::vector<std::pair<int, const FrameOutput*>> tpos;
  for (const auto& [t, out] : track.cond) tpos.emplace_back(0, &out);
  for (int tp = 1; tp < cfg.numMaskmem; ++tp) {
    const int trel = cfg.numMaskmem - tp;
    const int prev = reverse ? frame + trel : frame - trel;
    auto it = track.nonCond.find(prev);
    tpos.emplace_back(tp, it == track.nonCond.end() ? nullptr : &it->second);
  }
  const auto& tposEnc = m.w("maskmem_tpos_enc");
  for (const auto& [tp, out] : tpos) {
    if (!out || !out->maskmemFeatures.defined()) continue;
    mem.push_back(out->maskmemFeatures.to(torch::kFloat32).flatten(2).permute({2, 0, 1}));
    auto pe = out->maskmemPosEnc.flatten(2).permute({2, 0, 1});
    memPos.push_back(pe + tposEnc[cfg.numMaskmem - tp - 1]);
  }
  // object pointers
  const int maxPtrs = std::min(numFrames, cfg.maxObjPtrs);
  std::vector<int64_t> posList;
  std::vector<Tensor> ptrs;
  const int sign = reverse ? -1 : 1;
  for (const auto& [t, out] : track.cond) {
    if (reverse ? t >= frame : t <= frame) {
      posList.push_back(static_cast<int64_t>(frame - t) * sign);
      ptrs.push_back(out.objPtr);
    }
  }
  for (int td = 1; td < maxPtrs; ++td) {
    const int t = reverse ? frame + td : frame - td;
    if (t < 0 || t >= numFrames) break;
    auto it = track.nonCond.find(t);
    if (it != track.nonCond.end()) {
      posList.push_back(td);
      ptrs.push_back(it->second.objPtr);
    }
  }
  int64_t numPtrTokens = 0;
  if (!ptrs.empty()) {
    auto objPtrs = torch::stack(ptrs, 0);  // [N,B,C]
    auto objPos = m.objPtrTposEnc(torch::tensor(posList, torch::kInt64), numFrames);  // [N,Cm]
    objPos = objPos.unsqueeze(1).expand({-1, B, Cm});
    if (Cm < C) {
      objPtrs = objPtrs.reshape({-1, B, C / Cm, Cm}).permute({0, 2, 1, 3}).flatten(0, 1);
      objPos = objPos.repeat_interleave(C / Cm, 0);
    }
    mem.push_back(objPtrs);
    memPos.push_back(objPos);
    numPtrTokens = objPtrs.size(0);
  }
  auto memory = torch::cat(mem, 0);
  auto memoryPos = torch::cat(memPos, 0);
  if (capture) *capture = MemInputs{curr, currPos, memory, memoryPos, numPtrTokens};
  auto out = m.memoryAttention(curr, memory, currPos, memoryPos, numPtrTokens);
  return out.permute({1, 2, 0}).reshape({B, C, H, W});
}

void encodeMemory(const Sam2Model& m, const ImageFeatures& f, FrameOutput& out, bool isMaskFromPts) {
  const auto& cfg = m.config();
  Tensor hr = out.highResMasks;
  if (!hr.defined())
    hr = F::interpolate(out.predMasks, F::InterpolateFuncOptions()
                                           .size(std::vector<int64_t>{cfg.imageSize, cfg.imageSize})
                                           .mode(torch::kBilinear)
                                           .align_corners(false));
  Tensor mk = isMaskFromPts ? (hr > 0).to(torch::kFloat32) : torch::sigmoid(hr);
  mk = mk * cfg.sigmoidScale;
  mk = mk + cfg.sigmoidBias;
  out.memEncMasks = mk;
  auto [feat, pos] = m.memoryEncoder(f.visionFeatures(), mk);
  auto appearing = (out.objScore > 0).to(torch::kFloat32).view({-1, 1, 1, 1});
  auto noObj = m.w("no_obj_embed_spatial").view({1, -1, 1, 1});
  feat = feat + (1 - appearing) * noObj.expand_as(feat);
  out.maskmemFeatures = feat.to(torch::kBFloat16);
  out.maskmemPosEnc = pos;
  out.highResMasks = Tensor();
}

FrameOutput trackStep(const Sam2Model& m, const ImageFeatures& f, int frame, bool isCond, const PointPrompt* pts,
                      const Tensor& maskInput, const Sam2ObjectTrack& track, int numFrames, bool reverse,
                      bool runMemEncoder, const Tensor& prevMaskLogits) {
  FrameOutput out;
  SamHeadsOut sam;
  if (maskInput.defined()) {  // use_mask_input_as_output_without_sam
    sam = m.useMaskAsOutput(f.visionFeatures(), f.highRes0, f.highRes1, maskInput);
    out.highResMasks = sam.highRes;
  } else {
    auto pix = prepareMemoryConditioned(m, f, frame, isCond, track, numFrames, reverse);
    out.pixFeatWithMem = pix;
    Tensor coords, labels;
    int64_t nPts = 0;
    if (pts && !pts->labels.empty()) {
      nPts = static_cast<int64_t>(pts->labels.size());
      coords = torch::tensor(pts->xy, torch::kFloat32).view({1, nPts, 2});
      labels = torch::tensor(std::vector<int64_t>(pts->labels.begin(), pts->labels.end()), torch::kInt64).view({1, nPts});
    }
    // multimask_output_in_sam, multimask_output_for_tracking, min 0 / max 1 points
    const bool multimask = nPts <= 1;
    sam = m.forwardSamHeads(pix, coords, labels, prevMaskLogits, f.highRes0, f.highRes1, multimask);
  }
  out.predMasks = sam.lowRes;
  out.multimasks = sam.lowResMulti;
  out.ious = sam.ious;
  out.objPtr = sam.objPtr;
  out.objScore = sam.objScore;
  if (runMemEncoder) encodeMemory(m, f, out, pts != nullptr && !pts->labels.empty());
  return out;
}

}  // namespace cs::detail::sam2
