// Synthetic videos for sam2-micro (see engine/torch/sam2_train.h): Fashion-MNIST objects
// moving over procedural backgrounds, with exact per-object masks. Torch only (no
// OpenCV), so the CS_MINIMAL build trains on them.
#include <algorithm>
#include <cmath>

#include "engine/sam2_micro.h"
#include "engine/torch/sam2_train.h"
#include "engine/torch/tensors.h"

namespace cs::detail::sam2 {
namespace F = torch::nn::functional;
using torch::Tensor;

namespace {

// splitmix64: a portable, seedable stream (std distributions differ between libraries).
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull) {}
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uni(double a = 0, double b = 1) { return a + (b - a) * static_cast<double>(next() >> 11) * 0x1.0p-53; }
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

void hsv(double h, double s, double v, float* rgb) {
  h = std::fmod(h, 1.0) * 6;
  const int i = static_cast<int>(h);
  const double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  const double tab[6][3] = {{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}};
  for (int c = 0; c < 3; ++c) rgb[c] = static_cast<float>(tab[i % 6][c]);
}

// Per-clip parameters, drawn in a fixed order from the clip's seed.
struct ClipParams {
  // background
  float c[3][3];
  float gradAngle, stripeAngle, stripeFreq, stripePhase, stripeSpeed, wGrad, wStripe, wNoise;
  std::vector<float> noise;  // 3 x 6 x 6
  // objects
  int64_t sprite[kSynthMaxObjects];
  float colour[kSynthMaxObjects][3];
  float scale[kSynthMaxObjects], dscale[kSynthMaxObjects], angle[kSynthMaxObjects], dangle[kSynthMaxObjects];
  float cx[kSynthMaxObjects], cy[kSynthMaxObjects], vx[kSynthMaxObjects], vy[kSynthMaxObjects];
  float turn[kSynthMaxObjects];  // frame where the object turns back (leave-and-return); huge: never
  // occluding band drawn over every object (SynthOptions::occluderProb)
  bool band = false, bandVertical = false;
  float bandPos = 0, bandVel = 0, bandHalf = 0, bandColour[3] = {0, 0, 0}, bandFreq = 0;
};

// Position of object k at frame t (linear, or back along the same path after `turn`).
double along(const ClipParams& p, int k, int t) { return t <= p.turn[k] ? t : 2.0 * p.turn[k] - t; }

ClipParams drawParams(uint64_t seed, int64_t numSprites, int size, int frames, const SynthOptions& opt) {
  Rng r(seed);
  ClipParams p;
  const double hue0 = r.uni();
  for (auto& col : p.c) hsv(hue0 + r.uni(-0.25, 0.25), r.uni(0.1, 0.7), r.uni(0.25, 0.95), col);
  p.gradAngle = static_cast<float>(r.uni(0, 2 * M_PI));
  p.stripeAngle = static_cast<float>(r.uni(0, M_PI));
  p.stripeFreq = static_cast<float>(r.uni(2, 12));
  p.stripePhase = static_cast<float>(r.uni(0, 2 * M_PI));
  p.stripeSpeed = static_cast<float>(r.uni(-0.4, 0.4));
  float w[3] = {static_cast<float>(r.uni(0.1, 1)), static_cast<float>(r.uni(0, 1)), static_cast<float>(r.uni(0, 1))};
  const float ws = w[0] + w[1] + w[2];
  p.wGrad = w[0] / ws;
  p.wStripe = w[1] / ws;
  p.wNoise = w[2] / ws;
  p.noise.resize(3 * 36);
  for (auto& v : p.noise) v = static_cast<float>(r.uni());
  const double objHue = r.uni();
  const double px = size / 128.0;
  for (int k = 0; k < kSynthObjects; ++k) {
    p.sprite[k] = r.below(numSprites);
    hsv(objHue + k / 3.0 + r.uni(-0.08, 0.08), r.uni(0.55, 1.0), r.uni(0.6, 1.0), p.colour[k]);
    p.scale[k] = static_cast<float>(r.uni(1.2, 2.2) * px);
    p.dscale[k] = static_cast<float>(r.uni(-0.025, 0.025));
    p.angle[k] = static_cast<float>(r.uni(-0.35, 0.35));
    p.dangle[k] = static_cast<float>(r.uni(-0.05, 0.05));
    p.cx[k] = static_cast<float>(r.uni(0.2, 0.8) * size);
    p.cy[k] = static_cast<float>(r.uni(0.2, 0.8) * size);
    const double vmax = r.uni() < 0.2 ? 8.0 : 3.0;  // a fifth of the objects are fast (they may leave)
    p.vx[k] = static_cast<float>(r.uni(-vmax, vmax) * px);
    p.vy[k] = static_cast<float>(r.uni(-vmax, vmax) * px);
    p.turn[k] = 1e9f;
  }
  // Absent-object events (training): drawn after everything above, so with the options off
  // a clip is what it always was. Leave: the object heads straight out of the frame, gone
  // by frame te; half of them turn back and re-enter. Band: an opaque bar crossing the
  // path of one object, hiding whatever passes behind it.
  if (opt.leaveProb > 0 || opt.occluderProb > 0) {
    for (int k = 0; k < kSynthObjects; ++k) {
      const bool leave = r.uni() < opt.leaveProb && frames >= 4;
      const double dir = r.uni(0, 2 * M_PI), te = std::floor(r.uni(2, std::max(2.0, frames - 1.5)));
      const double back = r.uni() < 0.5 ? std::floor(r.uni(1, 3)) : -1;
      if (!leave) continue;
      const double dx = std::cos(dir), dy = std::sin(dir), margin = 0.75 * 28.0 * p.scale[k];
      auto exitDist = [&](double c, double d) {  // distance along d until c leaves [-margin, size+margin]
        if (std::abs(d) < 1e-6) return 1e9;
        return d > 0 ? (size + margin - c) / d : (c + margin) / -d;
      };
      const double dist = std::min(exitDist(p.cx[k], dx), exitDist(p.cy[k], dy));
      const double speed = dist / std::max(te, dist / (24.0 * px));  // at most 24 px per frame (at 128 px)
      p.vx[k] = static_cast<float>(speed * dx);
      p.vy[k] = static_cast<float>(speed * dy);
      p.dscale[k] = 0;
      if (back > 0) p.turn[k] = static_cast<float>(std::ceil(dist / speed) + back - 1);
    }
    p.band = r.uni() < opt.occluderProb;
    const int k0 = static_cast<int>(r.below(kSynthObjects));
    const double to = r.uni(1, std::max(1.0, frames - 1.0));
    p.bandVertical = r.uni() < 0.5;
    p.bandHalf = static_cast<float>(r.uni(0.12, 0.24) * size);
    p.bandVel = static_cast<float>(r.uni(-1.5, 1.5) * px);
    const double c = p.bandVertical ? p.cx[k0] + p.vx[k0] * along(p, k0, static_cast<int>(to))
                                    : p.cy[k0] + p.vy[k0] * along(p, k0, static_cast<int>(to));
    p.bandPos = static_cast<float>(c - p.bandVel * to);
    hsv(r.uni(), r.uni(0.2, 0.8), r.uni(0.3, 0.9), p.bandColour);
    p.bandFreq = static_cast<float>(r.uni(3, 10));
  }
  // Extra objects (training clutter, SynthOptions::extraObjects), drawn last for the same
  // reason: 0..extra of them per clip, smaller, drawn above the first three; half of them
  // copy the sprite of one of those (same class and shape, another colour). An unused slot
  // is parked far outside the frame (empty mask).
  const int extra = std::clamp(opt.extraObjects, 0, kSynthMaxObjects - kSynthObjects);
  if (extra > 0) {
    const int used = static_cast<int>(r.below(extra + 1));
    for (int k = kSynthObjects; k < kSynthObjects + extra; ++k) {
      p.sprite[k] = r.uni() < 0.5 ? p.sprite[r.below(kSynthObjects)] : r.below(numSprites);
      hsv(r.uni(), r.uni(0.55, 1.0), r.uni(0.6, 1.0), p.colour[k]);
      p.scale[k] = static_cast<float>(r.uni(0.9, 1.8) * px);
      p.dscale[k] = static_cast<float>(r.uni(-0.025, 0.025));
      p.angle[k] = static_cast<float>(r.uni(-0.35, 0.35));
      p.dangle[k] = static_cast<float>(r.uni(-0.05, 0.05));
      p.cx[k] = static_cast<float>(r.uni(0.1, 0.9) * size);
      p.cy[k] = static_cast<float>(r.uni(0.1, 0.9) * size);
      p.vx[k] = static_cast<float>(r.uni(-3, 3) * px);
      p.vy[k] = static_cast<float>(r.uni(-3, 3) * px);
      p.turn[k] = 1e9f;
      if (k >= kSynthObjects + used) p.cx[k] = p.cy[k] = static_cast<float>(-100.0 * size), p.vx[k] = p.vy[k] = 0;
    }
  }
  return p;
}

}  // namespace

Tensor synthSprites(const std::string& split) {
  auto d = fashionMnistTensors(split);
  if (!d) throw EngineError(d.error());
  return (d->images.squeeze(1) * kFmnistStd + kFmnistMean).clamp(0, 1).contiguous();
}

SynthBatch synthClips(const Tensor& sprites, const std::vector<uint64_t>& seeds, int T, int S, torch::Device dev,
                      const SynthOptions& sopt) {
  torch::NoGradGuard ng;
  const int64_t B = static_cast<int64_t>(seeds.size()),
                K = kSynthObjects + std::clamp(sopt.extraObjects, 0, kSynthMaxObjects - kSynthObjects);
  const int64_t N = sprites.size(0);
  std::vector<ClipParams> ps;
  for (auto s : seeds) ps.push_back(drawParams(s, N, S, T, sopt));
  // ---- background [B,T,3,S,S]
  auto opt = torch::TensorOptions().dtype(torch::kFloat32);
  std::vector<float> cols(B * 9), scal(B * 8), noise(B * 108);
  std::vector<int64_t> idx(B * K);
  std::vector<float> theta(B * T * K * 6), colour(B * K * 3);
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = ps[b];
    for (int i = 0; i < 3; ++i)
      for (int c = 0; c < 3; ++c) cols[b * 9 + i * 3 + c] = p.c[i][c];
    const float sc[8] = {p.gradAngle, p.stripeAngle, p.stripeFreq, p.stripePhase,
                         p.stripeSpeed, p.wGrad,       p.wStripe,    p.wNoise};
    std::copy(sc, sc + 8, scal.begin() + b * 8);
    std::copy(p.noise.begin(), p.noise.end(), noise.begin() + b * 108);
    for (int k = 0; k < K; ++k) {
      idx[b * K + k] = p.sprite[k];
      for (int c = 0; c < 3; ++c) colour[(b * K + k) * 3 + c] = p.colour[k][c];
      for (int t = 0; t < T; ++t) {
        // Output pixel -> sprite coordinates (affine_grid, normalised, align_corners false):
        // sprite = R(-a) (out - centre) * S / L, with L = 28 * scale the sprite's side in pixels.
        const double sc2 = p.scale[k] * std::exp(p.dscale[k] * t), a = p.angle[k] + p.dangle[k] * t;
        const double L = 28.0 * sc2, f = S / L;
        const double u = along(p, k, t);
        const double cxn = 2.0 * (p.cx[k] + p.vx[k] * u) / S - 1, cyn = 2.0 * (p.cy[k] + p.vy[k] * u) / S - 1;
        const double m00 = f * std::cos(a), m01 = f * std::sin(a), m10 = -f * std::sin(a), m11 = f * std::cos(a);
        float* th = &theta[((b * T + t) * K + k) * 6];
        th[0] = static_cast<float>(m00);
        th[1] = static_cast<float>(m01);
        th[2] = static_cast<float>(-(m00 * cxn + m01 * cyn));
        th[3] = static_cast<float>(m10);
        th[4] = static_cast<float>(m11);
        th[5] = static_cast<float>(-(m10 * cxn + m11 * cyn));
      }
    }
  }
  auto C = torch::from_blob(cols.data(), {B, 3, 3}, opt).clone().to(dev);          // [B,i,c]
  auto P = torch::from_blob(scal.data(), {B, 8}, opt).clone().to(dev);
  auto Nz = torch::from_blob(noise.data(), {B, 3, 6, 6}, opt).clone().to(dev);
  auto Th = torch::from_blob(theta.data(), {B * T * K, 2, 3}, opt).clone().to(dev);
  auto Col = torch::from_blob(colour.data(), {B, 1, K, 3, 1, 1}, opt).clone().to(dev);
  auto Ix = torch::from_blob(idx.data(), {B * K}, torch::kInt64).clone();

  auto lin = (torch::arange(S, opt.device(dev)) + 0.5) / S;  // [S]
  auto yy = lin.view({1, 1, S, 1}), xx = lin.view({1, 1, 1, S});
  auto col = [&](int i) { return C.select(1, i).reshape({B, 1, 3, 1, 1}); };
  auto par = [&](int j) { return P.select(1, j).reshape({B, 1, 1, 1, 1}); };
  auto tt = torch::arange(T, opt.device(dev)).view({1, T, 1, 1, 1});
  auto g = (xx * torch::cos(par(0)) + yy * torch::sin(par(0)));
  g = (g - g.amin({3, 4}, true)) / (g.amax({3, 4}, true) - g.amin({3, 4}, true) + 1e-6);  // [B,1,1,S,S]
  auto grad = col(0) * (1 - g) + col(1) * g;
  auto u = xx * torch::cos(par(1)) + yy * torch::sin(par(1));
  auto stripe = 0.5 + 0.5 * torch::sin(2 * M_PI * par(2) * u + par(3) + par(4) * tt);  // [B,T,1,S,S]
  auto stripes = col(2) * stripe + col(0) * 0.5 * (1 - stripe);
  auto smooth = F::interpolate(Nz, F::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>{S, S})
                                       .mode(torch::kBicubic)
                                       .align_corners(false))
                    .clamp(0, 1)
                    .unsqueeze(1);  // [B,1,3,S,S]
  auto bg = (par(5) * grad + par(6) * stripes + par(7) * smooth).clamp(0, 1).expand({B, T, 3, S, S}).contiguous();

  // ---- objects: warped sprites, hard alpha, shaded colour
  auto spr = sprites.index_select(0, Ix).to(dev).view({B, 1, K, 28, 28}).expand({B, T, K, 28, 28});
  spr = spr.reshape({B * T * K, 1, 28, 28});
  auto grid = F::affine_grid(Th, {B * T * K, 1, S, S}, false);
  auto warped = F::grid_sample(spr, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false))
                    .view({B, T, K, S, S});
  auto alpha = (warped > 0.2).to(torch::kFloat32);
  auto layers = Col * (0.35 + 0.65 * warped.unsqueeze(3));  // [B,T,K,3,S,S]
  auto frame = bg.clone();
  for (int64_t k = 0; k < K; ++k) {
    auto a = alpha.select(2, k).unsqueeze(2);
    frame = frame * (1 - a) + layers.select(2, k) * a;
  }
  // occluding bands (over every object): [B,T,1,S,S] coverage and colours
  Tensor bandA;
  bool anyBand = false;
  for (const auto& p : ps) anyBand = anyBand || p.band;
  if (anyBand) {
    std::vector<float> bp(B * 7, 0.f);
    for (int64_t b = 0; b < B; ++b) {
      const auto& p = ps[b];
      const float v[7] = {p.band ? 1.f : 0.f, p.bandVertical ? 1.f : 0.f, p.bandPos, p.bandVel, p.bandHalf, p.bandFreq, 0.f};
      std::copy(v, v + 7, bp.begin() + b * 7);
    }
    auto Bp = torch::from_blob(bp.data(), {B, 7}, opt).clone().to(dev);
    auto bpar = [&](int j) { return Bp.select(1, j).reshape({B, 1, 1, 1, 1}); };
    auto coord = bpar(1) * (xx * S) + (1 - bpar(1)) * (yy * S);             // [B,1,1,S,S] pixels
    auto centre = bpar(2) + bpar(3) * tt;                                   // [B,T,1,1,1]
    bandA = ((coord - centre).abs() <= bpar(4)).to(torch::kFloat32) * bpar(0);  // [B,T,1,S,S]
    std::vector<float> bc(B * 3);
    for (int64_t b = 0; b < B; ++b)
      for (int c = 0; c < 3; ++c) bc[b * 3 + c] = ps[b].bandColour[c];
    auto Bc = torch::from_blob(bc.data(), {B, 1, 3, 1, 1}, opt).clone().to(dev);
    auto other = bpar(1) * (yy * S) + (1 - bpar(1)) * (xx * S);             // along the band
    auto bandRgb = Bc * (0.75 + 0.25 * torch::sin(other * bpar(5) * (2 * M_PI / S)));
    frame = frame * (1 - bandA) + bandRgb * bandA;
  }
  std::vector<Tensor> vis(K);
  auto above = bandA.defined() ? bandA.squeeze(2).expand({B, T, S, S}).contiguous() : torch::zeros({B, T, S, S}, opt.device(dev));
  for (int64_t k = K - 1; k >= 0; --k) {
    vis[k] = alpha.select(2, k) * (1 - above);
    above = torch::maximum(above, alpha.select(2, k));
  }
  SynthBatch out;
  out.frames = frame;
  out.masks = torch::stack(vis, 2);
  out.alpha = alpha;
  out.layers = layers;
  out.background = bg;
  return out;
}

Tensor sam2Normalize(const Tensor& x) {
  auto mean = torch::tensor({0.485f, 0.456f, 0.406f}, x.options()).view({1, 3, 1, 1});
  auto stdv = torch::tensor({0.229f, 0.224f, 0.225f}, x.options()).view({1, 3, 1, 1});
  return (x - mean) / stdv;
}

Tensor deepestPixel(const Tensor& masks) {
  torch::NoGradGuard ng;
  auto m = masks.to(torch::kFloat32).unsqueeze(1);
  auto depth = m.clone();
  for (int i = 0; i < 64; ++i) {
    m = -torch::max_pool2d(-m, {3, 3}, {1, 1}, {1, 1});
    if (m.sum().item<double>() == 0) break;
    depth = depth + m;
  }
  const int64_t S = masks.size(-1);
  auto flat = depth.flatten(1);
  auto best = flat.argmax(1);
  return torch::stack({best % S, torch::div(best, S, "floor")}, 1).to(torch::kFloat32);
}

}  // namespace cs::detail::sam2

namespace cs {

Result<SynthVideo> synthVideo(uint64_t seed, int frames, const std::string& split, int size) {
  if (frames < 1 || frames > 10000) return Error::badArgument("synthetic video: frames must be 1..10000");
  if (size < 32 || size > 2048) return Error::badArgument("synthetic video: size must be 32..2048");
  if (split != "train" && split != "test") return Error::badArgument("synthetic video: split is train or test");
  try {
    torch::NoGradGuard ng;
    auto sprites = detail::sam2::synthSprites(split);
    auto b = detail::sam2::synthClips(sprites, {seed}, frames, size, torch::kCPU);
    SynthVideo v;
    v.size = size;
    v.frames = frames;
    v.objects = detail::sam2::kSynthObjects;
    auto rgb = (b.frames[0] * 255).round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
    auto lab = torch::zeros({frames, size, size}, torch::kUInt8);
    for (int k = 0; k < v.objects; ++k)
      lab = torch::where(b.masks[0].select(1, k) > 0, torch::full_like(lab, k + 1), lab);
    for (int t = 0; t < frames; ++t) {
      auto r = rgb[t];
      auto l = lab[t].contiguous();
      v.rgb.emplace_back(r.data_ptr<uint8_t>(), r.data_ptr<uint8_t>() + r.numel());
      v.label.emplace_back(l.data_ptr<uint8_t>(), l.data_ptr<uint8_t>() + l.numel());
    }
    return v;
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::failed(std::string("synthetic video: ") + e.what());
  }
}

std::pair<int, int> synthDeepestPixel(const SynthVideo& v, int object, int frame) {
  torch::NoGradGuard ng;
  const auto& lab = v.label.at(static_cast<size_t>(frame));
  auto m = torch::from_blob(const_cast<uint8_t*>(lab.data()), {1, v.size, v.size}, torch::kUInt8) == (object + 1);
  auto p = detail::sam2::deepestPixel(m.to(torch::kFloat32));
  return {static_cast<int>(p[0][0].item<float>()), static_cast<int>(p[0][1].item<float>())};
}

}  // namespace cs
