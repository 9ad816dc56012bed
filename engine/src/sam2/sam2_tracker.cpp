// The SAM 2.1 video tracking step (memory conditioning, SAM heads, memory encoding),
// following SAM2Base.track_step and the video predictor's bf16 memory storage.
#include <chrono>
#include <cmath>

#include <torch/cuda.h>

#include "engine/torch/sam2.h"
#include "engine/torch/tensors.h"

namespace cs::detail::sam2 {
namespace F = torch::nn::functional;
using torch::Tensor;

Tensor prepareMemoryConditioned(const Sam2Model& m, const ImageFeatures& f, int frame, bool isCond,
                                const Sam2ObjectTrack& track, int numFrames, bool reverse, MemInputs* capture,
                                const SmrOptions* smr, StepStats* stats) {
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
  // SMR layout, derived from the bank (not hard-coded offsets): one chunk of H*W tokens per
  // memory frame in bank order; the conditioning frames and the newest frame stay dense.
  struct Chunk {
    int tp, frame;
    const FrameOutput* out;
  };
  std::vector<Chunk> chunks;
  for (const auto& [tp, out] : tpos) {
    if (!out || !out->maskmemFeatures.defined()) continue;
    int fr = -1;
    if (tp > 0) fr = reverse ? frame + (cfg.numMaskmem - tp) : frame - (cfg.numMaskmem - tp);
    chunks.push_back({tp, fr, out});
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
  const int64_t HW = H * W, L = cfg.memAttnLayers;
  SmrPlan plan;
  std::vector<Tensor> importance;
  int newestFrame = -1;
  int64_t kept = 0, total = 0;
  const bool useSmr = smr && smr->keepRatio < 1.0;
  if (useSmr) {
    // the newest memory frame is the previous frame (slot num_maskmem-1)
    int64_t newestStart = -1;
    std::vector<std::vector<Tensor>> parts(static_cast<size_t>(L));
    bool anyPruned = false;
    for (size_t c = 0; c < chunks.size(); ++c) {
      const auto& ch = chunks[c];
      const int64_t off = static_cast<int64_t>(c) * HW;
      const bool newest = ch.tp == cfg.numMaskmem - 1;
      if (newest) newestStart = off;
      const bool prune = ch.tp > 0 && !newest && static_cast<int64_t>(ch.out->smrKeep.size()) == L;
      for (int64_t l = 0; l < L; ++l) {
        if (prune) parts[l].push_back(ch.out->smrKeep[l] + off);
        else parts[l].push_back(torch::arange(off, off + HW, torch::TensorOptions(vis.device()).dtype(torch::kInt64)));
      }
      if (prune) {
        anyPruned = true;
        if (stats) stats->prunedFrames.emplace_back(ch.frame, static_cast<int>(ch.out->smrKeep[0].numel()));
      }
    }
    if (anyPruned)
      for (int64_t l = 0; l < L; ++l) plan.keep.push_back(torch::cat(parts[l]));
    for (int64_t l = 0; l < L; ++l) kept += plan.keep.empty() ? static_cast<int64_t>(chunks.size()) * HW : plan.keep[l].numel();
    const auto& newestOut = newestStart >= 0 ? chunks[static_cast<size_t>(newestStart / HW)].out : nullptr;
    if (newestOut && newestOut->smrKeep.empty()) {  // first use as the newest memory: measure it
      plan.newestStart = newestStart;
      plan.newestLen = HW;
      plan.importance = &importance;
      newestFrame = chunks[static_cast<size_t>(newestStart / HW)].frame;
    }
  } else {
    kept = static_cast<int64_t>(chunks.size()) * HW * L;
  }
  total = static_cast<int64_t>(chunks.size()) * HW * L;
  const bool sync = stats && vis.is_cuda();  // CUDA: time the kernels, not their launch
  if (sync) torch::cuda::synchronize();
  const auto t0 = std::chrono::steady_clock::now();
  auto out = m.memoryAttention(curr, memory, currPos, memoryPos, numPtrTokens, useSmr ? &plan : nullptr);
  if (sync) torch::cuda::synchronize();
  if (stats) {
    stats->memAttnMs += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    stats->memTokens += total;
    stats->memTokensKept += kept;
    if (newestFrame >= 0 && static_cast<int64_t>(importance.size()) == L) {
      const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(std::floor(smr->keepRatio * static_cast<double>(HW))));
      stats->newestFrame = newestFrame;
      stats->newestKeep.clear();
      for (const auto& imp : importance) stats->newestKeep.push_back(std::get<0>(std::get<1>(imp.topk(k)).sort()));
    }
  }
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
                      bool runMemEncoder, const Tensor& prevMaskLogits, const SmrOptions* smr, StepStats* stats) {
  FrameOutput out;
  SamHeadsOut sam;
  if (maskInput.defined()) {  // use_mask_input_as_output_without_sam
    sam = m.useMaskAsOutput(f.visionFeatures(), f.highRes0, f.highRes1, maskInput);
    out.highResMasks = sam.highRes;
  } else {
    auto pix = prepareMemoryConditioned(m, f, frame, isCond, track, numFrames, reverse, nullptr, smr, stats);
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
  out.decAttn = sam.decAttn;
  if (runMemEncoder) encodeMemory(m, f, out, pts != nullptr && !pts->labels.empty());
  return out;
}

// ---------------------------------------------------------------- Efficient-SAM2 SWR

SwrGeometry swrGeometry(const Sam2Config& cfg) {
  if (cfg.stages.size() != 4 || cfg.windowSpec.size() != 4)
    throw EngineError(Error::badArgument("SWR: SAM 2.1 " + cfg.name + " has no 4-stage Hiera"));
  const auto ends = cfg.stageEnds();
  SwrGeometry g;
  g.entryBlock = ends[1] + 1;  // q-pool block of the stride-16 stage
  g.routeBlock = g.entryBlock + 1;
  g.finalGlobal = -1;
  for (int b : cfg.globalAttBlocks)
    if (b >= g.routeBlock && b <= ends[2]) g.finalGlobal = std::max(g.finalGlobal, b);
  if (g.finalGlobal <= g.routeBlock)
    throw EngineError(Error::badArgument("SWR: SAM 2.1 " + cfg.name + " has no global block after the routing block"));
  for (int b : cfg.globalAttBlocks)
    if (b >= g.routeBlock && b < g.finalGlobal) g.midGlobals.push_back(b);
  std::sort(g.midGlobals.begin(), g.midGlobals.end());
  g.window = cfg.windowSpec[2];
  g.featH = g.featW = cfg.imageSize / 16;
  g.padH = (g.featH + g.window - 1) / g.window * g.window;
  g.padW = (g.featW + g.window - 1) / g.window * g.window;
  g.gridH = g.padH / g.window;
  g.gridW = g.padW / g.window;
  g.dim = cfg.stageDims()[2];
  return g;
}

SwrAdapter SwrAdapter::init(int dim, uint64_t seed) {
  torch::NoGradGuard ng;
  auto gen = at::detail::createCPUGenerator(seed);
  SwrAdapter a;
  const int hid = dim / 2;
  a.lnW = torch::ones({dim});
  a.lnB = torch::zeros({dim});
  // Kaiming normal (fan_in, gain sqrt 2) for the down projection
  a.downW = at::normal(0.0, std::sqrt(2.0 / dim), {hid, dim}, gen);
  a.downB = torch::zeros({hid});
  a.upW = at::normal(0.0, 1e-3, {dim, hid}, gen);
  a.upB = torch::zeros({dim});
  return a;
}

Tensor SwrAdapter::forward(const Tensor& x, double dropout, bool train) const {
  auto y = torch::layer_norm(x, {x.size(-1)}, lnW, lnB, 1e-6);
  y = torch::relu(torch::linear(y, downW, downB));
  if (train && dropout > 0) y = torch::dropout(y, dropout, true);
  return x + torch::linear(y, upW, upB);
}

std::vector<Tensor> SwrAdapter::parameters() const { return {lnW, lnB, downW, downB, upW, upB}; }

SwrAdapter SwrAdapter::to(torch::Device device) const {
  SwrAdapter a;
  if (!defined()) return a;
  a.lnW = lnW.to(device);
  a.lnB = lnB.to(device);
  a.downW = downW.to(device);
  a.downB = downB.to(device);
  a.upW = upW.to(device);
  a.upB = upB.to(device);
  return a;
}

void SwrAdapter::save(const std::string& path, const std::map<std::string, std::string>& meta) const {
  auto st = writeSafeTensors(path,
                             {{"ln.weight", lnW.detach().contiguous()}, {"ln.bias", lnB.detach().contiguous()},
                              {"down.weight", downW.detach().contiguous()}, {"down.bias", downB.detach().contiguous()},
                              {"up.weight", upW.detach().contiguous()}, {"up.bias", upB.detach().contiguous()}},
                             meta);
  if (!st) throw EngineError(st.error());
}

SwrAdapter SwrAdapter::load(const std::string& path, int expectDim) {
  auto r = readSafeTensors(path);
  if (!r) throw EngineError(r.error());
  SwrAdapter a;
  auto get = [&](const std::string& n, std::vector<int64_t> shape) {
    if (!r->has(n)) throw EngineError(Error::badFile(path, "SWR adapter: no tensor " + n));
    auto t = r->get(n).to(torch::kFloat32);
    if (t.sizes().vec() != shape) {
      std::ostringstream o;
      o << "SWR adapter: tensor " << n << " has shape " << t.sizes() << ", expected " << c10::IntArrayRef(shape)
        << " for a stage of width " << expectDim;
      throw EngineError(Error::badFile(path, o.str()));
    }
    return t;
  };
  const int64_t d = expectDim, hd = expectDim / 2;
  a.lnW = get("ln.weight", {d});
  a.lnB = get("ln.bias", {d});
  a.downW = get("down.weight", {hd, d});
  a.downB = get("down.bias", {hd});
  a.upW = get("up.weight", {d, hd});
  a.upB = get("up.bias", {d});
  return a;
}

Tensor selectWindows(const SwrGeometry& g, const std::vector<RouterObject>& objs, const SwrOptions& o) {
  const int64_t nW = g.numWindows();
  torch::Device dev = torch::kCPU;  // the device of the router's tensors
  for (const auto& ob : objs)
    if (ob.multimasks.defined()) dev = ob.multimasks.device();
    else if (ob.decAttn.defined()) dev = ob.decAttn.device();
  auto sel = torch::zeros({nW}, torch::TensorOptions(dev).dtype(torch::kBool));
  if (objs.empty()) return sel.fill_(true);
  // consistency cue: all objects, all candidates, logit > 0, dilated, any pixel per window
  Tensor fg;
  bool lowConf = false;
  for (const auto& ob : objs) {
    if (ob.multimasks.defined()) {
      auto b = (ob.multimasks > 0).any(1, true).to(torch::kFloat32);  // [1,1,4h,4w]
      fg = fg.defined() ? torch::maximum(fg, b) : b;
    }
    if (!ob.objScore.defined() || ob.objScore.min().item<float>() < o.objTheta) lowConf = true;
  }
  if (fg.defined()) {
    if (o.dilate > 1) fg = torch::max_pool2d(fg, {o.dilate, o.dilate}, {1, 1}, {o.dilate / 2, o.dilate / 2});
    const int64_t mh = fg.size(2), s = mh / g.featH;  // mask pixels per feature token (4)
    const int64_t wpx = g.window * s;
    fg = torch::constant_pad_nd(fg, {0, g.padW * s - fg.size(3), 0, g.padH * s - fg.size(2)}, 0);
    auto win = torch::max_pool2d(fg, {wpx, wpx}, {wpx, wpx});  // [1,1,gridH,gridW]
    sel = sel | (win.flatten() > 0);
  }
  const bool noMask = !sel.any().item<bool>();
  if (noMask || lowConf) {  // saliency cue: cumulative decoder-attention mass, per object
    for (const auto& ob : objs) {
      if (!ob.decAttn.defined()) continue;
      auto a = ob.decAttn.to(torch::kFloat32).view({1, 1, ob.decAttn.size(-2), ob.decAttn.size(-1)});
      a = torch::constant_pad_nd(a, {0, g.padW - a.size(3), 0, g.padH - a.size(2)}, 0);
      auto mass = torch::avg_pool2d(a, {g.window, g.window}, {g.window, g.window}).flatten() *
                  static_cast<double>(g.window * g.window);
      auto [vals, order] = mass.sort(0, true);
      auto cum = vals.cumsum(0);
      // shortest prefix reaching theta (all windows if the mass never reaches it)
      int64_t n = (cum < o.theta).sum().item<int64_t>() + 1;
      n = std::min<int64_t>(n, nW);
      sel.index_fill_(0, order.slice(0, 0, n), true);
    }
  }
  if (!sel.any().item<bool>()) sel.fill_(true);
  return sel;
}

}  // namespace cs::detail::sam2
