// `cstudio train sam2-micro` and its evaluation: a SAM 2.1-architecture model (size
// "micro", sam2_config.cpp) trained from scratch on synthetic videos (synth_video.cpp)
// with autograd through the port's own forward (sam2_model.cpp, sam2_tracker.cpp).
//
// Stage 1, single frames: a click (one positive point, multimask output, loss on the best
// of the three masks as in SAM) or a box (two corner points, single-mask path) on frame 0.
// Stage 2, clips of `clipFrames` frames: the prompt on frame 0, then the official
// propagation with the memory bank (memory encoder, memory attention, object pointers);
// loss on every frame, including frames where the object is hidden or gone (there only
// the object-score term, whose target is "absent").
// Loss per frame: 20 x focal + dice on the mask with the lowest such loss among the
// candidates, MSE between predicted and actual IoU of every candidate, BCE of the
// object score against "visible" (SAM 2's weights 20:1:1:1).
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "engine/model.h"
#include "engine/sam2.h"
#include "engine/sam2_micro.h"
#include "engine/torch/sam2_train.h"
#include "engine/torch/tensors.h"

namespace cs::detail::sam2 {
namespace fs = std::filesystem;
using torch::Tensor;

std::vector<SamHeadsOut> trackClips(const Sam2Model& m, const Tensor& images, const Tensor& coords,
                                    const Tensor& labels, bool multimaskClick) {
  const int64_t B = images.size(0), T = images.size(1);
  auto all = m.forwardImage(images.flatten(0, 1));
  auto pick = [B, T](const Tensor& x, int64_t t) {
    auto s = x.sizes().vec();
    s[0] = T;
    s.insert(s.begin(), B);
    return x.reshape(s).select(1, t);
  };
  Sam2ObjectTrack track;
  std::vector<SamHeadsOut> outs;
  for (int64_t t = 0; t < T; ++t) {
    ImageFeatures f;
    for (auto& x : all.trunk) f.trunk.push_back(pick(x, t));
    for (auto& x : all.fpn) f.fpn.push_back(pick(x, t));
    for (auto& x : all.pos) f.pos.push_back(pick(x, t));
    f.highRes0 = pick(all.highRes0, t);
    f.highRes1 = pick(all.highRes1, t);
    const bool cond = t == 0;
    auto pix = prepareMemoryConditioned(m, f, static_cast<int>(t), cond, track, static_cast<int>(T), false);
    SamHeadsOut sam = cond ? m.forwardSamHeads(pix, coords, labels, Tensor(), f.highRes0, f.highRes1, coords.size(1) == 1 && multimaskClick)
                           : m.forwardSamHeads(pix, Tensor(), Tensor(), Tensor(), f.highRes0, f.highRes1, true);
    if (t + 1 < T) {
      FrameOutput o;
      o.predMasks = sam.lowRes;
      o.objPtr = sam.objPtr;
      o.objScore = sam.objScore;
      o.highResMasks = sam.highRes;
      encodeMemory(m, f, o, cond);
      if (cond)
        track.cond[0] = std::move(o);
      else
        track.nonCond[static_cast<int>(t)] = std::move(o);
    }
    outs.push_back(std::move(sam));
  }
  return outs;
}

namespace {

uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Initial weights by the official modules' rules: linear/conv weights uniform in
// +-1/sqrt(fan_in), biases 0, norms 1/0, prompt and decoder token embeddings N(0,1), the
// SAM 2 parameters (no_mem_embed, tpos, ...) N(0, 0.02^2), layer-scale gammas 1e-6.
std::unordered_map<std::string, Tensor> initWeights(const Sam2Config& cfg) {
  std::unordered_map<std::string, Tensor> w;
  auto ends = [](const std::string& s, const std::string& suf) {
    return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
  };
  for (const auto& [name, shape] : expectedTensors(cfg)) {
    Tensor t;
    const bool isNorm = name.find("norm") != std::string::npos ||
                        name.find("mask_downscaling.1.") != std::string::npos ||
                        name.find("mask_downscaling.4.") != std::string::npos ||
                        name.find("output_upscaling.1.") != std::string::npos ||
                        (name.find("mask_downsampler.encoder.") != std::string::npos && shape.size() == 1 &&
                         (name.find(".1.") != std::string::npos || name.find(".4.") != std::string::npos ||
                          name.find(".7.") != std::string::npos || name.find(".10.") != std::string::npos));
    if (ends(name, ".gamma")) {
      t = torch::full(shape, 1e-6);
    } else if (isNorm) {
      t = ends(name, ".weight") ? torch::ones(shape) : torch::zeros(shape);
    } else if (ends(name, ".bias")) {
      t = torch::zeros(shape);
    } else if (name.rfind("sam_prompt_encoder.point_embeddings", 0) == 0 ||
               name.rfind("sam_prompt_encoder.not_a_point", 0) == 0 ||
               name.rfind("sam_prompt_encoder.no_mask_embed", 0) == 0 || ends(name, "_token.weight") ||
               ends(name, "mask_tokens.weight") || ends(name, "positional_encoding_gaussian_matrix")) {
      t = torch::randn(shape);
    } else if (shape.size() >= 2 && name.find("pos_embed") == std::string::npos &&
               name != "maskmem_tpos_enc" && name.rfind("no_", 0) != 0) {
      int64_t fanIn = 1;
      for (size_t i = 1; i < shape.size(); ++i) fanIn *= shape[i];
      if (name.find("output_upscaling") != std::string::npos) fanIn = shape[0] * shape[2] * shape[3];
      const double b = 1.0 / std::sqrt(static_cast<double>(fanIn));
      t = torch::rand(shape) * (2 * b) - b;
    } else {
      t = torch::randn(shape) * 0.02;
    }
    w[name] = t.to(torch::kFloat32).contiguous();
  }
  return w;
}

Tensor focalDiceLoss(const Tensor& logits, const Tensor& tgt) {  // [B,M,S,S] -> [B,M]
  auto p = torch::sigmoid(logits);
  auto ce = torch::binary_cross_entropy_with_logits(logits, tgt, {}, {}, at::Reduction::None);
  auto pt = p * tgt + (1 - p) * (1 - tgt);
  auto at = 0.25 * tgt + 0.75 * (1 - tgt);
  auto focal = (at * ce * (1 - pt).pow(2)).mean({2, 3});
  auto num = 2 * (p * tgt).sum({2, 3});
  auto den = p.sum({2, 3}) + tgt.sum({2, 3});
  auto dice = 1 - (num + 1) / (den + 1);
  return 20 * focal + dice;
}

// One frame's loss; gt [B,S,S] 0/1. Returns the total; adds the parts to `parts`.
// Mask term: SAM's min over the candidates plus allWeight x their mean (normalised by
// 1 + allWeight). With the min alone, nothing ties a candidate slot to a kind of mask on
// these unambiguous objects: one arbitrary slot per input wins and the others stay empty,
// so the IoU head has to guess the winner and learns only the mean (0.3); see MODEL_CARD.
Tensor frameLoss(const SamHeadsOut& o, const Tensor& gt, double* parts, double iouWeight, double allWeight) {
  auto present = (gt.flatten(1).sum(1) > 0).to(torch::kFloat32);
  const auto& logits = o.highResMulti;
  auto tgt = gt.unsqueeze(1).expand_as(logits);
  auto lm = focalDiceLoss(logits, tgt);
  auto best = lm.detach().argmin(1, true);
  auto maskL = (lm.gather(1, best).squeeze(1) + allWeight * lm.mean(1)) / (1 + allWeight);
  Tensor iouT;
  {
    torch::NoGradGuard ng;
    auto pb = logits > 0;
    auto tb = tgt > 0.5;
    auto inter = (pb & tb).sum({2, 3}).to(torch::kFloat32);
    auto uni = (pb | tb).sum({2, 3}).to(torch::kFloat32);
    iouT = inter / uni.clamp_min(1);
  }
  auto iouL = (o.ious - iouT).pow(2).mean(1);
  auto objL = torch::binary_cross_entropy_with_logits(o.objScore.squeeze(1), present);
  auto nP = present.sum().clamp_min(1);
  auto mL = (maskL * present).sum() / nP, iL = (iouL * present).sum() / nP;
  if (parts) {
    parts[0] += mL.item<double>();
    parts[1] += iL.item<double>();
    parts[2] += objL.item<double>();
  }
  return mL + iouWeight * iL + objL;
}

// Target object per clip: a random object with at least minArea visible pixels on frame
// 0 (else the largest). masks [B,T,K,S,S] -> gt [B,T,S,S].
Tensor pickTargets(const Tensor& masks, uint64_t seed, bool largest, std::vector<int>* chosen = nullptr) {
  auto area = masks.select(1, 0).sum({2, 3}).to(torch::kCPU);  // [B,K]
  const int64_t B = masks.size(0), K = masks.size(2);
  std::vector<int64_t> idx;
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> ok;
    int64_t best = 0;
    for (int64_t k = 0; k < K; ++k) {
      if (area[b][k].item<float>() >= 30) ok.push_back(k);
      if (area[b][k].item<float>() > area[b][best].item<float>()) best = k;
    }
    int64_t k = largest || ok.empty() ? best : ok[mix64(seed + b) % ok.size()];
    idx.push_back(k);
    if (chosen) chosen->push_back(static_cast<int>(k));
  }
  auto ix = torch::tensor(idx, torch::kInt64).to(masks.device());
  return masks.gather(2, ix.view({B, 1, 1, 1, 1}).expand({B, masks.size(1), 1, masks.size(3), masks.size(4)}))
      .squeeze(2);
}

// Prompts on the frame-0 masks gt0 [B,S,S]. kind 0: one positive click (the deepest pixel
// for a third of the clips, as the evaluation clicks, else a random pixel of the mask);
// 1: a jittered box; 2: two points (a second positive, or a negative on the background).
std::pair<Tensor, Tensor> samplePrompts(const Tensor& gt0, int kind, uint64_t seed) {
  const int64_t B = gt0.size(0), S = gt0.size(-1);
  auto cpu = gt0.to(torch::kCPU);
  auto deep = deepestPixel(cpu);
  std::vector<float> xy;
  std::vector<int64_t> lab;
  auto pickIn = [](const Tensor& nz, uint64_t r) {
    auto p = nz[static_cast<int64_t>(r % static_cast<uint64_t>(nz.size(0)))];
    return std::make_pair(p[1].item<float>(), p[0].item<float>());
  };
  for (int64_t b = 0; b < B; ++b) {
    auto nz = torch::nonzero(cpu[b] > 0);  // [n,2] y,x
    const int64_t n = nz.size(0);
    uint64_t r = mix64(seed * 1315423911ull + b);
    if (n == 0) {  // no visible object (rare): a click in the centre / the whole frame
      if (kind == 1) {
        xy.insert(xy.end(), {0.f, 0.f, float(S - 1), float(S - 1)});
        lab.insert(lab.end(), {2, 3});
      } else {
        xy.insert(xy.end(), {float(S / 2), float(S / 2)});
        lab.push_back(1);
        if (kind == 2) xy.insert(xy.end(), {float(S / 2), float(S / 2)}), lab.push_back(1);
      }
      continue;
    }
    if (kind != 1) {
      auto [x, y] = mix64(r ^ 0xD1CE) % 3 == 0 ? std::make_pair(deep[b][0].item<float>(), deep[b][1].item<float>())
                                              : pickIn(nz, r);
      xy.push_back(x);
      xy.push_back(y);
      lab.push_back(1);
      if (kind == 2) {
        const bool neg = mix64(r ^ 0x2E6) % 2 == 0;
        auto bgz = torch::nonzero(cpu[b] <= 0);
        auto [x2, y2] = neg && bgz.size(0) > 0 ? pickIn(bgz, mix64(r + 17)) : pickIn(nz, mix64(r + 29));
        xy.push_back(x2);
        xy.push_back(y2);
        lab.push_back(neg && bgz.size(0) > 0 ? 0 : 1);
      }
    } else {
      auto mn = std::get<0>(nz.min(0)), mx = std::get<0>(nz.max(0));
      const float y0 = mn[0].item<float>(), x0 = mn[1].item<float>(), y1 = mx[0].item<float>(), x1 = mx[1].item<float>();
      auto jit = [&](int sh, float side) {
        return (static_cast<float>((r >> sh) & 1023) / 1023.f - 0.5f) * 0.2f * side;
      };
      const float w = x1 - x0 + 1, h = y1 - y0 + 1;
      xy.insert(xy.end(), {x0 + jit(0, w), y0 + jit(10, h), x1 + jit(20, w), y1 + jit(30, h)});
      lab.push_back(2);
      lab.push_back(3);
    }
  }
  const int64_t P = kind == 0 ? 1 : 2;
  auto coords = torch::tensor(xy, torch::kFloat32).view({B, P, 2}).clamp(0, S - 1).to(gt0.device());
  auto labels = torch::tensor(lab, torch::kInt64).view({B, P}).to(gt0.device());
  return {coords, labels};
}

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2) return 0;
  double ma = 0, mb = 0, cov = 0, va = 0, vb = 0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i] / a.size(), mb += b[i] / a.size();
  for (size_t i = 0; i < a.size(); ++i)
    cov += (a[i] - ma) * (b[i] - mb), va += (a[i] - ma) * (a[i] - ma), vb += (b[i] - mb) * (b[i] - mb);
  return va > 0 && vb > 0 ? cov / std::sqrt(va * vb) : 0;
}

std::string fmt(double v, int p = 4) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(p) << v;
  return s.str();
}

std::shared_ptr<const Sam2Model> onDevice(const Sam2Model& m, torch::Device dev) {
  std::unordered_map<std::string, Tensor> w;
  for (const auto& [name, shape] : expectedTensors(m.config())) w[name] = m.w(name).detach().to(dev);
  return std::make_shared<const Sam2Model>(m.config(), std::move(w), "sam2-micro");
}

}  // namespace

HeadCheck checkHeads(const Sam2Model& m, const SynthBatch& b) {
  torch::InferenceMode im;
  const int64_t T = b.frames.size(1), S = b.frames.size(-1);
  auto area = b.masks.select(1, 0).sum({2, 3}).to(torch::kCPU);
  std::vector<int64_t> vid, obj;
  for (int64_t i = 0; i < area.size(0); ++i)
    for (int64_t k = 0; k < area.size(1); ++k)
      if (area[i][k].item<float>() >= 30) vid.push_back(i), obj.push_back(k);
  HeadCheck hc;
  if (vid.empty()) return hc;
  const int64_t N = static_cast<int64_t>(vid.size());
  auto dev = b.frames.device();
  auto vi = torch::tensor(vid, torch::kInt64).to(dev), ki = torch::tensor(obj, torch::kInt64).to(dev);
  auto imgs = sam2Normalize(b.frames.index_select(0, vi).flatten(0, 1)).view({N, T, 3, S, S});
  auto gt = b.masks.index_select(0, vi).gather(2, ki.view({N, 1, 1, 1, 1}).expand({N, T, 1, S, S})).squeeze(2);
  auto coords = deepestPixel(gt.select(1, 0)).unsqueeze(1);
  auto outs = trackClips(m, imgs, coords, torch::ones({N, 1}, torch::TensorOptions(dev).dtype(torch::kInt64)));
  std::vector<double> pr, re;
  double presentPos = 0;
  int used = 0;
  for (int64_t t = 0; t < T; ++t) {
    auto g = gt.select(1, t) > 0.5;                                   // [N,S,S]
    auto present = (g.flatten(1).sum(1) > 0).to(torch::kCPU);         // [N]
    auto score = outs[t].objScore.squeeze(1).to(torch::kCPU);
    auto pb = outs[t].highResMulti > 0;                               // [N,M,S,S]
    auto gg = g.unsqueeze(1);
    auto iou = ((pb & gg).sum({2, 3}).to(torch::kFloat32) / (pb | gg).sum({2, 3}).clamp_min(1).to(torch::kFloat32))
                   .to(torch::kCPU);
    auto ch = outs[t].highRes.select(1, 0) > 0;
    auto chJ = ((ch & g).sum({1, 2}).to(torch::kFloat32) / (ch | g).sum({1, 2}).clamp_min(1).to(torch::kFloat32))
                   .to(torch::kCPU);
    auto pi = outs[t].ious.to(torch::kCPU);
    for (int64_t n = 0; n < N; ++n) {
      const bool p = present[n].item<bool>();
      const float sc = score[n].item<float>();
      if (!p) {
        hc.absentFrames++;
        hc.absentNegative += sc <= 0;
        continue;
      }
      hc.presentFrames++;
      presentPos += sc > 0;
      if (sc > 0)
        for (int64_t c = 0; c < iou.size(1); ++c) pr.push_back(pi[n][c].item<float>()), re.push_back(iou[n][c].item<float>());
      if (t > 0) {
        hc.chosenJ += chJ[n].item<float>();
        hc.bestJ += iou[n].max().item<float>();
        ++used;
      }
    }
  }
  hc.sequences = static_cast<int>(N);
  if (used) hc.chosenJ /= used, hc.bestJ /= used;
  if (hc.absentFrames) hc.absentNegative /= hc.absentFrames;
  if (hc.presentFrames) hc.presentPositive = presentPos / hc.presentFrames;
  if (!pr.empty()) {
    double mp = 0, mr = 0, mae = 0;
    for (size_t i = 0; i < pr.size(); ++i)
      mp += pr[i] / pr.size(), mr += re[i] / pr.size(), mae += std::abs(pr[i] - re[i]) / pr.size();
    hc.iouPearson = pearson(pr, re);
    hc.iouMae = mae;
    hc.meanPredIou = mp;
    hc.meanRealIou = mr;
  }
  return hc;
}

Tensor sam2FrameLoss(const SamHeadsOut& o, const Tensor& gt, double* parts, double iouWeight, double allWeight) {
  return frameLoss(o, gt, parts, iouWeight, allWeight);
}

Sam2MicroEval evaluateModel(const Sam2Model& m, int videos, int frames, torch::Device dev, JobContext& job,
                            bool absentEvents) {
  SynthOptions so;
  if (absentEvents) so.leaveProb = so.occluderProb = 0.5;
  torch::InferenceMode im;
  const auto t0 = std::chrono::steady_clock::now();
  const int S = m.config().imageSize;
  auto sprites = synthSprites("test");
  Sam2MicroEval ev;
  ev.videos = videos;
  ev.frames = frames;
  double sj = 0, sf = 0, s0 = 0, sb = 0, absentOk = 0, clickPairs = 0, clickN = 0;
  std::vector<double> pred, real;
  const int chunk = 8;
  for (int v0 = 0; v0 < videos; v0 += chunk) {
    if (job.cancelled()) throw EngineError(Error::cancelled());
    std::vector<uint64_t> seeds;
    for (int v = v0; v < std::min(videos, v0 + chunk); ++v) seeds.push_back(kHeldOutSeed0 + v);
    auto b = synthClips(sprites, seeds, frames, S, dev, so);
    {
      auto cc = checkClicks(m, SynthBatch{b.frames.narrow(1, 0, 1), b.masks.narrow(1, 0, 1), {}, {}, {}});
      ev.clickSameSlotIou += cc.sameSlotIou * cc.pairs;
      ev.clickOnClicked += cc.slotOnClicked * cc.clicks;
      clickPairs += cc.pairs;
      clickN += cc.clicks;
    }
    // every object with at least 30 visible pixels on frame 0 is one sequence
    auto area = b.masks.select(1, 0).sum({2, 3}).to(torch::kCPU);
    std::vector<int64_t> vid, obj;
    for (int64_t i = 0; i < area.size(0); ++i)
      for (int64_t k = 0; k < area.size(1); ++k)
        if (area[i][k].item<float>() >= 30) {
          vid.push_back(i);
          obj.push_back(k);
        }
    if (vid.empty()) continue;
    const int64_t N = static_cast<int64_t>(vid.size());
    auto vi = torch::tensor(vid, torch::kInt64).to(dev), ki = torch::tensor(obj, torch::kInt64).to(dev);
    auto imgs = sam2Normalize(b.frames.index_select(0, vi).flatten(0, 1)).view({N, frames, 3, S, S});
    auto gt = b.masks.index_select(0, vi);  // [N,T,K,S,S]
    gt = gt.gather(2, ki.view({N, 1, 1, 1, 1}).expand({N, frames, 1, S, S})).squeeze(2);
    auto coords = deepestPixel(gt.select(1, 0)).unsqueeze(1);
    auto labels = torch::ones({N, 1}, torch::TensorOptions(dev).dtype(torch::kInt64));
    auto outs = trackClips(m, imgs, coords, labels);
    auto gtc = gt.to(torch::kCPU).to(torch::kUInt8).contiguous();
    std::vector<Tensor> candIou(frames), predIou(frames), score(frames);
    for (int t = 0; t < frames; ++t) {
      auto pb = outs[t].highResMulti > 0;
      auto g = (gt.select(1, t) > 0.5).unsqueeze(1);
      candIou[t] = ((pb & g).sum({2, 3}).to(torch::kFloat32) / (pb | g).sum({2, 3}).clamp_min(1).to(torch::kFloat32))
                       .to(torch::kCPU);
      predIou[t] = outs[t].ious.to(torch::kCPU, torch::kFloat32);
      score[t] = outs[t].objScore.to(torch::kCPU, torch::kFloat32);
    }
    for (int64_t n = 0; n < N; ++n) {
      double bj = 0;
      double js = 0, fs = 0;
      for (int t = 0; t < frames; ++t) {
        auto pr = (outs[t].highRes[n][0] > 0).to(torch::kCPU).to(torch::kUInt8).contiguous();
        BinaryMask P{S, S, std::vector<uint8_t>(pr.data_ptr<uint8_t>(), pr.data_ptr<uint8_t>() + S * S)};
        auto g = gtc[n][t];
        BinaryMask G{S, S, std::vector<uint8_t>(g.data_ptr<uint8_t>(), g.data_ptr<uint8_t>() + S * S)};
        const double j = regionSimilarityJ(P, G);
        bool empty = true;
        for (auto x : G.data) empty = empty && x == 0;
        if (!empty && score[t][n][0].item<float>() > 0)
          for (int64_t c = 0; c < candIou[t].size(1); ++c)
            pred.push_back(predIou[t][n][c].item<float>()), real.push_back(candIou[t][n][c].item<float>());
        if (t == 0) {
          s0 += j;
          continue;
        }
        js += j;
        fs += boundaryF(P, G);
        bj += empty ? j : candIou[t][n].max().item<float>();
        if (empty) {
          ev.absentFrames++;
          absentOk += outs[t].objScore[n][0].item<float>() <= 0 ? 1 : 0;
        }
      }
      const int used = std::max(1, frames - 1);
      sj += js / used;
      sf += fs / used;
      sb += bj / used;
      ev.sequences++;
    }
    job.progress(double(std::min(videos, v0 + chunk)) / videos, "evaluating on held-out videos");
  }
  if (ev.sequences > 0) {
    ev.J = sj / ev.sequences;
    ev.F = sf / ev.sequences;
    ev.frame0J = s0 / ev.sequences;
    ev.bestJ = sb / ev.sequences;
  }
  ev.iouPearson = pearson(pred, real);
  if (clickPairs > 0) ev.clickSameSlotIou /= clickPairs;
  if (clickN > 0) ev.clickOnClicked /= clickN;
  ev.JF = (ev.J + ev.F) / 2;
  ev.absentAccuracy = ev.absentFrames ? absentOk / ev.absentFrames : 1.0;
  ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ev;
}

}  // namespace cs::detail::sam2

namespace cs {
namespace fs = std::filesystem;
using torch::Tensor;
using namespace detail::sam2;

std::string sam2MicroPath() { return (fs::path(zooDirectory()) / "sam2-micro" / "model.safetensors").string(); }

Result<Sam2MicroEval> evalSam2Micro(const std::string& weights, int videos, int frames, const std::string& device,
                                    JobContext& job, bool absentEvents) {
  if (videos < 1 || frames < 2) return Error::badArgument("eval: need at least 1 video and 2 frames");
  try {
    torch::Device dev(device == "cuda" ? torch::kCUDA : torch::kCPU);
    if (dev.is_cuda() && !torch::cuda::is_available()) return Error::badArgument("--device cuda: no CUDA device");
    std::shared_ptr<const Sam2Model> m;
    {
      torch::NoGradGuard ng;
      if (!fs::exists(weights)) return Error::notFound(weights + ": no such SAM 2 checkpoint");
      m = Sam2Model::load(weights, "auto");
      if (dev.is_cuda()) m = onDevice(*m, dev);
    }
    return evaluateModel(*m, videos, frames, dev, job, absentEvents);
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::failed(std::string("sam2-micro eval: ") + e.what());
  }
}

namespace {
std::string card(const Sam2MicroTrainOptions& o, const Sam2MicroReport& r, const Sam2Config& cfg, double fileMB,
                 const std::string& deviceName) {
  std::ostringstream c;
  auto list = [](const std::vector<double>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + detail::sam2::fmt(v[i], 3);
    return s;
  };
  c << "# sam2-micro\n\n"
    << "A SAM 2.1-architecture video segmentation model small enough to train in minutes and ship in the repo,\n"
    << "trained from scratch by the studio's own command on synthetic videos (no official weights can be\n"
    << "downloaded here). It opens with `Sam2::open(path, \"auto\")` (size `micro`) and is the default model of\n"
    << "`cstudio segment`. It has only seen Fashion-MNIST objects over procedural backgrounds: on real\n"
    << "videos it is a demo and a test model (for Efficient-SAM2), not a segmenter.\n\n"
    << "| | |\n|---|---|\n"
    << "| Architecture | SAM 2.1 (official state_dict names and layout), size `micro`: " << cfg.imageSize
    << " px input; Hiera trunk width " << cfg.embedDim << ", stages 1-2-4-1, windows 8-4-4-4, global blocks 4 and 6; "
    << "FPN/hidden width " << cfg.dModel << "; memory width " << cfg.memDim << ", " << cfg.memAttnLayers
    << " memory-attention layers (RoPE, FF " << cfg.memAttnFF << "), 7 memory frames, 16 object pointers; "
    << "decoder as in every SAM 2.1 (2 two-way layers, MLP 2048, 3+1 masks, IoU and object-score heads) |\n"
    << "| Parameters | " << r.parameters << " (fp16 on disk, " << detail::sam2::fmt(fileMB, 2)
    << " MB; loaded as float32) |\n"
    << "| Data | synthetic videos (engine/src/sam2/synth_video.cpp): 3 Fashion-MNIST items per clip (3-" << 3 + o.extraObjects << " in training; Debian "
    << "`dataset-fashion-mnist`, train split for training), coloured and shaded, moving (a fifth fast enough to "
    << "leave the frame), scaling, rotating and occluding each other over gradient + stripes + smooth-noise "
    << "backgrounds; exact masks from the compositing alphas. A new clip for every sample (seeded by run seed, "
    << "step and index) |\n"
    << "| Training | AdamW lr " << o.lr << " (warm-up 100 steps, cosine to 5 % over the run; a resumed run "
    << "restarts warm-up and schedule), weight decay " << o.weightDecay
    << ", gradient norm clipped at 1; stage 1 (" << int(o.stage1Fraction * 100) << " % of the run): " << o.batchFrames
    << " single frames per step, one positive click (multimask output; the deepest pixel for a third of the "
    << "clips, else a random pixel of the object), a jittered box (" << int(o.boxFraction * 100)
    << " % of steps) or two points (" << int(o.pointsFraction * 100) << " %; box and two points train the "
    << "single-mask slot); stage 2: " << o.batchClips << " clips of " << o.clipFrames
    << " frames per step, prompt on frame 0 then the official propagation with memory, loss on every frame; "
    << "training clips add absent-object events (each object leaves the frame with p " << o.leaveProb
    << ", half of them return; an opaque band crosses an object's path in " << int(o.occluderProb * 100)
    << " % of clips)"
    << (o.extraObjects > 0 ? "; clutter: 0.." + std::to_string(o.extraObjects) +
                                 " more (smaller) objects per clip, half of them the same item as one of the first three"
                           : std::string())
    << (o.singleClickFraction > 0 ? "; " + std::to_string(int(o.singleClickFraction * 100)) +
                                        " % of the click steps train the single-mask slot from the click"
                                  : std::string())
    << ". Loss per frame: 20 x focal + dice on the best candidate plus " << o.allMaskWeight
    << " x its mean over the candidates (normalised), IoU-prediction MSE (all candidates), object-score BCE "
    << "(target: the object is visible); mask and IoU terms only where the object is visible. " << r.steps
    << " steps, seed " << o.seed << " |\n"
    << "| Command | `" << o.command << "` |\n"
    << "| Time / hardware | " << detail::sam2::fmt(r.seconds, 0) << " s on " << deviceName
    << ". GPU training is not bit-reproducible; CPU training is, given `--seed` (without `--minutes`) |\n"
    << "| Stage 1 loss (per tenth) | " << list(r.stage1Loss) << " |\n"
    << "| Stage 2 loss (per tenth) | " << list(r.stage2Loss) << " |\n\n"
    << "## Metrics (held-out synthetic videos, written by the trainer)\n\n"
    << "Videos from the Fashion-MNIST **test** split with seeds 1,000,000 + i (training uses the train split and\n"
    << "other seeds). Every object with at least 30 visible pixels on frame 0 is one sequence: one click on its\n"
    << "deepest pixel on frame 0, then propagation. J (region similarity) and F (boundary accuracy, DAVIS\n"
    << "definitions, engine/src/sam2/sam2_metrics.cpp) per frame, averaged over frames 1..T-1 of each\n"
    << "sequence, then over sequences; these are the fp16 weights as saved.\n\n"
    << "| | |\n|---|---|\n"
    << "| Videos / sequences / frames | " << r.eval.videos << " / " << r.eval.sequences << " / " << r.eval.frames
    << " |\n"
    << "| **J&F** | **" << detail::sam2::fmt(r.eval.JF, 3) << "** (J " << detail::sam2::fmt(r.eval.J, 3) << ", F "
    << detail::sam2::fmt(r.eval.F, 3) << ") |\n"
    << "| J on the prompted frame | " << detail::sam2::fmt(r.eval.frame0J, 3) << " |\n"
    << "| J of the best of the candidates (what a perfect IoU head would give) | " << detail::sam2::fmt(r.eval.bestJ, 3)
    << " |\n"
    << "| IoU head: Pearson r of predicted vs real IoU of its candidates | " << detail::sam2::fmt(r.eval.iouPearson, 3)
    << " |\n"
    << "| Click check (prompted frame, every object clicked in turn): IoU of the same candidate slot between "
    << "clicks on different objects (1 = the click is ignored) | " << detail::sam2::fmt(r.eval.clickSameSlotIou, 3)
    << "; candidates on the clicked object " << detail::sam2::fmt(r.eval.clickOnClicked * 100, 1) << " % |\n"
    << "| Frames where the object is fully hidden or gone | " << r.eval.absentFrames << ", object score <= 0 on "
    << detail::sam2::fmt(r.eval.absentAccuracy * 100, 1) << " % of them |\n"
    << "| Reproduce | `cstudio eval-sam2 resources/zoo/sam2-micro/model.safetensors --videos " << r.eval.videos
    << " --frames " << r.eval.frames << "` |\n"
    << "| Held-out clips with absent-object events (leave p 0.5, band p 0.5) | " << r.absentEval.videos
    << " videos, " << r.absentEval.sequences << " sequences: J&F " << detail::sam2::fmt(r.absentEval.JF, 3) << "; "
    << r.absentEval.absentFrames << " absent frames, object score <= 0 on "
    << detail::sam2::fmt(r.absentEval.absentAccuracy * 100, 1) << " % (`--absent-events`) |\n";
  return c.str();
}
}  // namespace

Result<Sam2MicroReport> trainSam2Micro(const Sam2MicroTrainOptions& o, JobContext& job) {
  if (o.steps < 1 || o.batchFrames < 1 || o.batchClips < 1 || o.clipFrames < 2)
    return Error::badArgument("train sam2-micro: steps, batches >= 1 and clip frames >= 2");
  try {
    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    torch::Device dev(o.device == "cuda" ? torch::kCUDA : torch::kCPU);
    if (dev.is_cuda() && !torch::cuda::is_available()) return Error::badArgument("--device cuda: no CUDA device");
    torch::manual_seed(o.seed);
    const auto cfg = sam2MicroConfig();
    const int S = cfg.imageSize;
    std::unordered_map<std::string, Tensor> w;
    int startStep = 0;
    if (!o.resume.empty()) {
      auto st = detail::readSafeTensors(o.resume);
      if (!st) return st.error();
      for (auto& [n, t] : st->tensors) w[n] = t.to(torch::kFloat32).contiguous();
      auto it = st->metadata.find("step");
      if (it != st->metadata.end()) startStep = std::stoi(it->second);
      auto err = checkTensors(cfg, [&] {
        ShapeList f;
        for (auto& [n, t] : w) f.emplace_back(n, t.sizes().vec());
        return f;
      }(), o.resume);
      if (!err.empty()) return Error::badFile(o.resume, "not a sam2-micro checkpoint: " + err);
      if (o.reinitDecoder) {  // keep the image encoder and memory path, relearn prompt -> mask from scratch
        auto fresh = initWeights(cfg);
        for (auto& [n, t] : w)
          if (n.rfind("sam_mask_decoder.", 0) == 0 || n.rfind("sam_prompt_encoder.", 0) == 0) t = fresh.at(n);
      }
    } else {
      w = initWeights(cfg);
    }
    std::vector<Tensor> params;
    int64_t nParams = 0;
    for (auto& [n, t] : w) {
      t = t.to(dev);
      nParams += t.numel();
      if (n.find("positional_encoding_gaussian_matrix") != std::string::npos) continue;  // a buffer
      t.set_requires_grad(true);
      params.push_back(t);
    }
    Sam2Model model(cfg, w, "sam2-micro (training)");
    torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr).weight_decay(o.weightDecay));
    auto sprites = synthSprites("train");
    const std::string dir = o.outDir.empty() ? (fs::path(zooDirectory()) / "sam2-micro").string() : o.outDir;
    fs::create_directories(dir);
    auto save = [&](const std::string& path, bool half, int step) {
      std::vector<std::pair<std::string, Tensor>> out;
      for (const auto& [name, shape] : expectedTensors(cfg)) {
        auto t = w.at(name).detach().to(torch::kCPU);
        out.emplace_back(name, half ? t.to(torch::kHalf).contiguous() : t.contiguous());
      }
      auto st = detail::writeSafeTensors(path, out, {{"format", "sam2.1"}, {"size", "micro"}, {"step", std::to_string(step)},
                                             {"seed", std::to_string(o.seed)}});
      if (!st.ok()) throw EngineError(st.error());
    };

    Sam2MicroReport rep;
    rep.parameters = nParams;
    std::vector<double> l1, l2;
    double lastCkpt = 0;
    int step = startStep;
    for (;; ++step) {
      double p = double(step - startStep) / o.steps;  // a resumed run: --steps more steps
      if (o.maxSeconds > 0) p = std::max(p, elapsed() / o.maxSeconds);
      if (p >= 1) break;
      if (job.cancelled()) return Error::cancelled();
      const double lr = step - startStep < 100 ? o.lr * (step - startStep + 1) / 100.0 : o.lr * (0.05 + 0.95 * 0.5 * (1 + std::cos(M_PI * p)));
      for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      const bool stage1 = p < o.stage1Fraction;
      const uint64_t base = mix64(o.seed * 0x100000001B3ull + static_cast<uint64_t>(step));
      const double u = double(mix64(base ^ 0xB0C5) % 1000) / 1000;
      const int kind = u < o.boxFraction ? 1 : u < o.boxFraction + o.pointsFraction ? 2 : 0;
      // one click, single-mask output: the one slot has to be the clicked object
      const bool singleClick = kind == 0 && double(mix64(base ^ 0x51C1) % 1000) / 1000 < o.singleClickFraction;
      const int B = stage1 ? o.batchFrames : o.batchClips, T = stage1 ? 1 : o.clipFrames;
      std::vector<uint64_t> seeds;
      for (int i = 0; i < B; ++i) seeds.push_back(mix64(base + static_cast<uint64_t>(i) * 7919));
      SynthOptions so;
      so.leaveProb = o.leaveProb;
      so.occluderProb = o.occluderProb;
      so.extraObjects = o.extraObjects;
      auto batch = synthClips(sprites, seeds, T, S, dev, so);
      auto gt = pickTargets(batch.masks, base, false);  // [B,T,S,S]
      auto [coords, labels] = samplePrompts(gt.select(1, 0), kind, base);
      auto imgs = sam2Normalize(batch.frames.flatten(0, 1)).view({B, T, 3, S, S});
      std::vector<SamHeadsOut> outs;
      {
        Sam2TrainingMode trainingMode;
        outs = trackClips(model, imgs, coords, labels, !singleClick);
      }
      double parts[3] = {0, 0, 0};
      Tensor loss;
      for (int t = 0; t < T; ++t) {
        auto l = frameLoss(outs[t], gt.select(1, t), parts, o.iouWeight, o.allMaskWeight);
        loss = loss.defined() ? loss + l : l;
      }
      loss = loss / T;
      opt.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(params, 1.0);
      opt.step();
      const double lv = loss.item<double>();
      (stage1 ? l1 : l2).push_back(lv);
      if (step % 10 == 0) {
        std::ostringstream s;
        s << "stage " << (stage1 ? 1 : 2) << " step " << step << " loss " << fmt(lv) << " (mask " << fmt(parts[0] / T)
          << ", iou " << fmt(parts[1] / T) << ", obj " << fmt(parts[2] / T) << ") lr " << fmt(lr, 6) << " "
          << fmt(elapsed(), 0) << " s";
        job.progress(p, s.str());
      }
      if (elapsed() - lastCkpt > 120) {
        save((fs::path(dir) / "checkpoint.safetensors").string(), false, step + 1);
        lastCkpt = elapsed();
      }
    }
    rep.steps = step;
    auto tenths = [](const std::vector<double>& v) {
      std::vector<double> r;
      if (v.empty()) return r;
      for (int i = 0; i < 10; ++i) {
        size_t a = v.size() * i / 10, b = std::max(a + 1, v.size() * (i + 1) / 10);
        double s = 0;
        for (size_t j = a; j < b && j < v.size(); ++j) s += v[j];
        r.push_back(s / double(std::min(b, v.size()) - a));
      }
      return r;
    };
    rep.stage1Loss = tenths(l1);
    rep.stage2Loss = tenths(l2);
    save((fs::path(dir) / "checkpoint.safetensors").string(), false, step);
    rep.weightsPath = (fs::path(dir) / "model.safetensors").string();
    save(rep.weightsPath, true, step);
    rep.seconds = elapsed();
    // evaluate the saved fp16 weights
    auto saved = Sam2Model::load(rep.weightsPath, "auto");
    if (dev.is_cuda()) saved = onDevice(*saved, dev);
    auto sub = job.sub(0.99, 1.0);
    rep.eval = evaluateModel(*saved, o.evalVideos, o.evalFrames, dev, sub, false);
    rep.absentEval = evaluateModel(*saved, std::max(1, o.evalVideos / 2), o.evalFrames, dev, sub, true);
    const double mb = double(fs::file_size(rep.weightsPath)) / 1e6;
    std::string devName = dev.is_cuda() ? "the GPU machine (CUDA LibTorch, CS_MINIMAL build)" : "CPU";
    rep.cardPath = (fs::path(dir) / "MODEL_CARD.md").string();
    std::ofstream(rep.cardPath) << card(o, rep, cfg, mb, devName);
    return rep;
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::failed(std::string("train sam2-micro: ") + e.what());
  }
}

}  // namespace cs
