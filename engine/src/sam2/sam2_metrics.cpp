// DAVIS region similarity J and boundary accuracy F (engine/sam2.h), written from the
// definitions of the DAVIS evaluation package (Perazzi et al. 2016; davis2017-evaluation).
#include <cmath>
#include <stdexcept>

#include "engine/sam2.h"

namespace cs {
namespace {
void checkSame(const BinaryMask& a, const BinaryMask& b) {
  if (a.width != b.width || a.height != b.height || a.data.size() != b.data.size())
    throw std::invalid_argument("masks of different sizes");
}

// seg2bmap: a pixel is boundary when it differs from its right, lower or lower-right
// neighbour (last row/column compared with what exists, the corner pixel never).
std::vector<uint8_t> boundaryMap(const BinaryMask& m) {
  const int W = m.width, H = m.height;
  auto at = [&](int y, int x) -> uint8_t { return m.data[static_cast<size_t>(y) * W + x] ? 1 : 0; };
  std::vector<uint8_t> b(static_cast<size_t>(W) * H, 0);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      const uint8_t s = at(y, x);
      const uint8_t e = x + 1 < W ? at(y, x + 1) : 0;
      const uint8_t so = y + 1 < H ? at(y + 1, x) : 0;
      const uint8_t se = (x + 1 < W && y + 1 < H) ? at(y + 1, x + 1) : 0;
      uint8_t v = static_cast<uint8_t>((s ^ e) | (s ^ so) | (s ^ se));
      if (y == H - 1) v = s ^ e;
      if (x == W - 1) v = s ^ so;
      if (y == H - 1 && x == W - 1) v = 0;
      b[static_cast<size_t>(y) * W + x] = v;
    }
  return b;
}

std::vector<uint8_t> dilateDisk(const std::vector<uint8_t>& b, int W, int H, int r) {
  std::vector<std::pair<int, int>> offs;
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx)
      if (dx * dx + dy * dy <= r * r) offs.emplace_back(dy, dx);
  std::vector<uint8_t> out(b.size(), 0);
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      if (!b[static_cast<size_t>(y) * W + x]) continue;
      for (auto [dy, dx] : offs) {
        const int yy = y + dy, xx = x + dx;
        if (yy >= 0 && yy < H && xx >= 0 && xx < W) out[static_cast<size_t>(yy) * W + xx] = 1;
      }
    }
  return out;
}
}  // namespace

double regionSimilarityJ(const BinaryMask& pred, const BinaryMask& gt) {
  checkSame(pred, gt);
  size_t inter = 0, uni = 0;
  for (size_t i = 0; i < gt.data.size(); ++i) {
    const bool a = pred.data[i] != 0, b = gt.data[i] != 0;
    inter += (a && b);
    uni += (a || b);
  }
  return uni == 0 ? 1.0 : static_cast<double>(inter) / static_cast<double>(uni);
}

double boundaryF(const BinaryMask& pred, const BinaryMask& gt, double boundThreshold) {
  checkSame(pred, gt);
  const int W = gt.width, H = gt.height;
  const double diag = std::sqrt(static_cast<double>(W) * W + static_cast<double>(H) * H);
  const int r = boundThreshold >= 1 ? static_cast<int>(boundThreshold)
                                    : static_cast<int>(std::ceil(boundThreshold * diag));
  auto fb = boundaryMap(pred), gb = boundaryMap(gt);
  auto fd = dilateDisk(fb, W, H, r), gd = dilateDisk(gb, W, H, r);
  size_t nf = 0, ng = 0, fm = 0, gm = 0;
  for (size_t i = 0; i < fb.size(); ++i) {
    nf += fb[i];
    ng += gb[i];
    fm += (fb[i] && gd[i]);
    gm += (gb[i] && fd[i]);
  }
  double p, rc;
  if (nf == 0 && ng > 0) {
    p = 1;
    rc = 0;
  } else if (nf > 0 && ng == 0) {
    p = 0;
    rc = 1;
  } else if (nf == 0 && ng == 0) {
    p = 1;
    rc = 1;
  } else {
    p = static_cast<double>(fm) / static_cast<double>(nf);
    rc = static_cast<double>(gm) / static_cast<double>(ng);
  }
  return p + rc == 0 ? 0.0 : 2 * p * rc / (p + rc);
}

}  // namespace cs
