// sam2-micro diagnosis: does the model use the click? On frame 0 of synthetic clips, every
// object visible there (>= 30 px) is clicked in turn on its deepest pixel (multimask
// output, no memory), and the candidate masks are compared across the clicks of a clip and
// against every ground-truth object (see ClickCheck in engine/torch/sam2_train.h).
#include <algorithm>

#include "engine/torch/sam2_train.h"

namespace cs::detail::sam2 {
using torch::Tensor;

namespace {
double iouOf(const Tensor& a, const Tensor& b) {  // bool [S,S]
  const double u = (a | b).sum().item<double>();
  return u > 0 ? (a & b).sum().item<double>() / u : 1.0;
}
}  // namespace

ClickCheck checkClicks(const Sam2Model& m, const SynthBatch& b) {
  torch::InferenceMode im;
  const int64_t S = b.frames.size(-1), K = b.masks.size(2);
  auto masks0 = b.masks.select(1, 0) > 0.5;  // [B,K,S,S]
  auto area = masks0.sum({2, 3}).to(torch::kCPU);
  std::vector<int64_t> vid, obj;
  for (int64_t i = 0; i < area.size(0); ++i) {
    int n = 0;
    for (int64_t k = 0; k < K; ++k) n += area[i][k].item<int64_t>() >= 30;
    if (n < 2) continue;  // a clip needs two clickable objects to compare clicks
    for (int64_t k = 0; k < K; ++k)
      if (area[i][k].item<int64_t>() >= 30) vid.push_back(i), obj.push_back(k);
  }
  ClickCheck c;
  if (vid.empty()) return c;
  const int64_t N = static_cast<int64_t>(vid.size());
  const auto dev = b.frames.device();
  auto vi = torch::tensor(vid, torch::kInt64).to(dev), ki = torch::tensor(obj, torch::kInt64).to(dev);
  auto imgs = sam2Normalize(b.frames.select(1, 0).index_select(0, vi)).view({N, 1, 3, S, S});
  auto gt = masks0.index_select(0, vi).gather(1, ki.view({N, 1, 1, 1}).expand({N, 1, S, S})).squeeze(1);
  auto coords = deepestPixel(gt).unsqueeze(1);
  auto outs = trackClips(m, imgs, coords, torch::ones({N, 1}, torch::TensorOptions(dev).dtype(torch::kInt64)));
  auto cand = (outs[0].highResMulti > 0).to(torch::kCPU);  // [N,M,S,S]
  auto chosen = (outs[0].highRes.select(1, 0) > 0).to(torch::kCPU);
  auto all = masks0.to(torch::kCPU);
  const int64_t M = cand.size(1);
  c.slotObject.assign(static_cast<size_t>(M), std::vector<double>(static_cast<size_t>(K + 1), 0.0));
  // matched[n][s]: the gt object (draw index) candidate s of click n overlaps best (IoU > 0.5), or -1
  std::vector<std::vector<int>> matched(static_cast<size_t>(N), std::vector<int>(static_cast<size_t>(M), -1));
  for (int64_t n = 0; n < N; ++n) {
    const int64_t v = vid[n], a = obj[n];
    double best = 0;
    for (int64_t s = 0; s < M; ++s) {
      double bi = 0.5;
      for (int64_t k = 0; k < K; ++k) {
        const double j = iouOf(cand[n][s], all[v][k]);
        if (k == a) best = std::max(best, j);
        if (j > bi) bi = j, matched[n][s] = static_cast<int>(k);
      }
      c.slotOnClicked += matched[n][s] == a;
      c.slotObject[s][matched[n][s] < 0 ? K : matched[n][s]] += 1.0 / N;
    }
    c.bestJ += best / N;
    c.chosenJ += iouOf(chosen[n], all[v][a]) / N;
    c.clicks++;
  }
  c.slotOnClicked /= double(N * M);
  // pairs of clicks on different objects of the same clip
  // (a slot empty for both clicks says nothing about the click: left out)
  double same = 0, sameN = 0, agree = 0, agreeN = 0;
  for (int64_t p = 0; p < N; ++p)
    for (int64_t q = p + 1; q < N; ++q) {
      if (vid[p] != vid[q]) continue;
      c.pairs++;
      for (int64_t s = 0; s < M; ++s) {
        if ((cand[p][s] | cand[q][s]).any().item<bool>()) same += iouOf(cand[p][s], cand[q][s]), sameN += 1;
        if (matched[p][s] >= 0 || matched[q][s] >= 0) agree += matched[p][s] == matched[q][s], agreeN += 1;
      }
    }
  if (sameN > 0) c.sameSlotIou = same / sameN;
  if (agreeN > 0) c.sameSlotObject = agree / agreeN;
  std::vector<int64_t> seen(vid);
  c.clips = static_cast<int>(std::unique(seen.begin(), seen.end()) - seen.begin());
  return c;
}

}  // namespace cs::detail::sam2
