// SAM 2.1 modules in LibTorch: Hiera trunk, FPN neck, position encodings, prompt
// encoder, mask decoder, memory encoder, memory attention (see engine/torch/sam2.h).
#include <cmath>
#include <set>
#include <sstream>

#include "engine/torch/sam2.h"

namespace cs::detail::sam2 {
namespace F = torch::nn::functional;
using torch::Tensor;

// Set by sam2-micro training (declared and guarded in engine/torch/sam2_train.h).
thread_local bool tSam2Training = false;

namespace {
std::string shapeOf(const Tensor& t) {
  std::ostringstream o;
  o << t.sizes();
  return o.str();
}

Tensor geluF(const Tensor& x) { return torch::gelu(x); }

Tensor maxPool2(const Tensor& bhwc) {  // do_pool: (B,H,W,C) -> (B,H/2,W/2,C)
  auto x = bhwc.permute({0, 3, 1, 2});
  x = torch::max_pool2d(x, {2, 2}, {2, 2});
  return x.permute({0, 2, 3, 1});
}

std::pair<Tensor, std::pair<int64_t, int64_t>> windowPartition(const Tensor& x, int64_t ws) {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const int64_t ph = (ws - H % ws) % ws, pw = (ws - W % ws) % ws;
  Tensor y = x;
  if (ph > 0 || pw > 0) y = torch::constant_pad_nd(x, {0, 0, 0, pw, 0, ph}, 0);
  const int64_t Hp = H + ph, Wp = W + pw;
  y = y.view({B, Hp / ws, ws, Wp / ws, ws, C}).permute({0, 1, 3, 2, 4, 5}).contiguous().view({-1, ws, ws, C});
  return {y, {Hp, Wp}};
}

Tensor windowUnpartition(const Tensor& win, int64_t ws, std::pair<int64_t, int64_t> padHW, int64_t H, int64_t W) {
  const int64_t Hp = padHW.first, Wp = padHW.second;
  const int64_t B = win.size(0) / (Hp * Wp / ws / ws);
  auto x = win.view({B, Hp / ws, Wp / ws, ws, ws, -1}).permute({0, 1, 3, 2, 4, 5}).contiguous().view({B, Hp, Wp, -1});
  if (Hp > H || Wp > W) x = x.slice(1, 0, H).slice(2, 0, W).contiguous();
  return x;
}

Tensor sdpa(const Tensor& q, const Tensor& k, const Tensor& v, Tensor* probs = nullptr) {  // [B,h,L,d]
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  auto a = torch::matmul(q, k.transpose(-2, -1)) * scale;
  auto p = torch::softmax(a, -1);
  if (probs) *probs = p;
  return torch::matmul(p, v);
}

// compute_axial_cis as (cos, sin), each [end_x*end_y, dim/2]
std::pair<Tensor, Tensor> axialRope(int64_t dim, int64_t endX, int64_t endY, torch::Device device,
                                    double theta = 10000.0) {
  const auto fo = torch::TensorOptions(device).dtype(torch::kFloat32);
  auto idx = torch::arange(0, dim, 4, torch::TensorOptions(device).dtype(torch::kInt64)).slice(0, 0, dim / 4).to(torch::kFloat32) /
             static_cast<double>(dim);
  auto freqs = 1.0 / torch::pow(theta, idx);
  auto t = torch::arange(endX * endY, fo);
  auto tx = torch::fmod(t, static_cast<double>(endX));
  auto ty = torch::floor(t / static_cast<double>(endX));
  auto fx = torch::outer(tx, freqs), fy = torch::outer(ty, freqs);
  auto ang = torch::cat({fx, fy}, -1);
  return {torch::cos(ang), torch::sin(ang)};
}

Tensor applyRope(const Tensor& x, const Tensor& cos, const Tensor& sin) {  // x [B,h,L,d]; cos/sin [L,d/2]
  auto shp = x.sizes().vec();
  auto xr = x.reshape({shp[0], shp[1], shp[2], shp[3] / 2, 2});
  auto a = xr.select(-1, 0), b = xr.select(-1, 1);
  auto re = a * cos - b * sin;
  auto im = a * sin + b * cos;
  return torch::stack({re, im}, -1).flatten(3);
}
}  // namespace

Sam2Model::Sam2Model(Sam2Config cfg, std::unordered_map<std::string, Tensor> weights, const std::string& file)
    : cfg_(std::move(cfg)), w_(std::move(weights)) {
  ShapeList found;
  for (const auto& [n, t] : w_) found.emplace_back(n, t.sizes().vec());
  std::sort(found.begin(), found.end());
  auto err = checkTensors(cfg_, found, file);
  if (!err.empty())  // err names the file on every item
    throw EngineError(Error{Error::Code::BadFile, "SAM 2.1 " + cfg_.name + " weights do not match: " + err});
  auto ends = cfg_.stageEnds();
  std::set<int> global(cfg_.globalAttBlocks.begin(), cfg_.globalAttBlocks.end());
  std::set<int> pool;
  for (size_t s = 0; s + 1 < ends.size(); ++s) pool.insert(ends[s] + 1);
  int cur = 1, dim = cfg_.embedDim, heads = cfg_.numHeads;
  for (int i = 0; i < cfg_.depth(); ++i) {
    int dimOut = dim;
    int ws = cfg_.windowSpec[cur - 1];
    if (global.count(i)) ws = 0;
    if (std::find(ends.begin(), ends.end(), i - 1) != ends.end() && i - 1 != ends.back()) {
      dimOut = dim * 2;
      heads *= 2;
      ++cur;
    }
    blockDim_.push_back(dim);
    blockDimOut_.push_back(dimOut);
    blockHeads_.push_back(heads);
    blockWindow_.push_back(ws);
    blockPool_.push_back(pool.count(i) > 0);
    dim = dimOut;
  }
}

const Tensor& Sam2Model::w(const std::string& name) const {
  auto it = w_.find(name);
  if (it == w_.end()) throw EngineError(Error::failed("SAM 2.1: no weight named " + name));
  return it->second;
}

Tensor Sam2Model::linear(const Tensor& x, const std::string& p) const {
  return torch::linear(x, w(p + ".weight"), w(p + ".bias"));
}

Tensor Sam2Model::layerNorm(const Tensor& x, const std::string& p, double eps) const {
  return torch::layer_norm(x, {x.size(-1)}, w(p + ".weight"), w(p + ".bias"), eps);
}

Tensor Sam2Model::layerNorm2d(const Tensor& x, const std::string& p, double eps) const {
  auto u = x.mean(1, true);
  auto s = (x - u).pow(2).mean(1, true);
  auto y = (x - u) / torch::sqrt(s + eps);
  return w(p + ".weight").view({-1, 1, 1}) * y + w(p + ".bias").view({-1, 1, 1});
}

Tensor Sam2Model::mlp(const Tensor& x, const std::string& p, int layers, bool useGelu, bool sigmoidOut) const {
  Tensor y = x;
  for (int i = 0; i < layers; ++i) {
    y = linear(y, p + ".layers." + std::to_string(i));
    if (i < layers - 1) y = useGelu ? geluF(y) : torch::relu(y);
  }
  if (sigmoidOut) y = torch::sigmoid(y);
  return y;
}

// ---------------------------------------------------------------- image encoder

Tensor Sam2Model::hieraBlock(const Tensor& xin, int i) const {
  const std::string p = "image_encoder.trunk.blocks." + std::to_string(i) + ".";
  const int64_t dim = blockDim_[i], dimOut = blockDimOut_[i], heads = blockHeads_[i];
  const bool pool = blockPool_[i];
  const int64_t window = blockWindow_[i];
  Tensor shortcut = xin;
  Tensor x = layerNorm(xin, p + "norm1", 1e-6);
  if (dim != dimOut) {
    shortcut = linear(x, p + "proj");
    if (pool) shortcut = maxPool2(shortcut);
  }
  int64_t ws = window;
  int64_t H = x.size(1), W = x.size(2);
  std::pair<int64_t, int64_t> padHW{H, W};
  if (ws > 0) std::tie(x, padHW) = windowPartition(x, ws);
  {  // MultiScaleAttention
    const int64_t B = x.size(0), h = x.size(1), ww = x.size(2);
    auto qkv = linear(x, p + "attn.qkv").reshape({B, h * ww, 3, heads, -1});
    auto q = qkv.select(2, 0), k = qkv.select(2, 1), v = qkv.select(2, 2);
    int64_t qh = h, qw = ww;
    if (pool) {
      q = maxPool2(q.reshape({B, h, ww, -1}));
      qh = q.size(1);
      qw = q.size(2);
      q = q.reshape({B, qh * qw, heads, -1});
    }
    auto o = sdpa(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2));
    o = o.transpose(1, 2).reshape({B, qh, qw, -1});
    x = linear(o, p + "attn.proj");
  }
  if (pool) {
    ws = window / 2;
    H = shortcut.size(1);
    W = shortcut.size(2);
    if (ws > 0) padHW = {H + (ws - H % ws) % ws, W + (ws - W % ws) % ws};
  }
  if (window > 0) x = windowUnpartition(x, ws, padHW, H, W);
  x = shortcut + x;
  x = x + mlp(layerNorm(x, p + "norm2", 1e-6), p + "mlp", 2, true);
  return x;
}

Tensor Sam2Model::hieraBlockTokens(const Tensor& xin, int i, const Tensor& valid) const {
  const std::string p = "image_encoder.trunk.blocks." + std::to_string(i) + ".";
  const int64_t heads = blockHeads_[i];
  const int64_t N = xin.size(0), L = xin.size(1);
  Tensor x = layerNorm(xin, p + "norm1", 1e-6);
  if (valid.defined()) x = x * valid.unsqueeze(-1).to(x.dtype());  // padding is zero after norm1
  auto qkv = linear(x, p + "attn.qkv").reshape({N, L, 3, heads, -1});
  auto q = qkv.select(2, 0), k = qkv.select(2, 1), v = qkv.select(2, 2);
  auto o = sdpa(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2));
  o = o.transpose(1, 2).reshape({N, L, -1});
  x = xin + linear(o, p + "attn.proj");
  return x + mlp(layerNorm(x, p + "norm2", 1e-6), p + "mlp", 2, true);
}

// Patch embedding plus the interpolated absolute and tiled window position embeddings: [B,h,w,C].
Tensor Sam2Model::patchEmbed(const Tensor& img) const {
  const std::string t = "image_encoder.trunk.";
  auto x = torch::conv2d(img, w(t + "patch_embed.proj.weight"), w(t + "patch_embed.proj.bias"), {4, 4}, {3, 3});
  x = x.permute({0, 2, 3, 1});
  const int64_t h = x.size(1), ww = x.size(2);
  auto pe = F::interpolate(w(t + "pos_embed"),
                           F::InterpolateFuncOptions().size(std::vector<int64_t>{h, ww}).mode(torch::kBicubic).align_corners(false));
  const auto& win = w(t + "pos_embed_window");
  pe = pe + win.tile({1, 1, h / win.size(2), ww / win.size(3)});
  return x + pe.permute({0, 2, 3, 1});
}

std::vector<Tensor> Sam2Model::trunk(const Tensor& img, const SwrPlan* plan) const {
  if (plan) return trunkRouted(img, *plan);
  auto x = patchEmbed(img);
  auto ends = cfg_.stageEnds();
  std::vector<Tensor> outs;
  for (int i = 0; i < cfg_.depth(); ++i) {
    x = hieraBlock(x, i);
    if (std::find(ends.begin(), ends.end(), i) != ends.end()) outs.push_back(x.permute({0, 3, 1, 2}).contiguous());
  }
  return outs;
}

Tensor Sam2Model::sinePE(int64_t channels, int64_t h, int64_t w, int64_t batch, torch::Device device) {
  const int64_t npf = channels / 2;
  const double scale = 2 * M_PI, eps = 1e-6;
  const auto fo = torch::TensorOptions(device).dtype(torch::kFloat32);
  auto yEmbed = torch::arange(1, h + 1, fo).view({1, -1, 1}).repeat({batch, 1, w});
  auto xEmbed = torch::arange(1, w + 1, fo).view({1, 1, -1}).repeat({batch, h, 1});
  yEmbed = yEmbed / (yEmbed.slice(1, h - 1, h) + eps) * scale;
  xEmbed = xEmbed / (xEmbed.slice(2, w - 1, w) + eps) * scale;
  auto dimT = torch::arange(npf, fo);
  dimT = torch::pow(10000, 2 * torch::floor(dimT / 2) / npf);
  auto px = xEmbed.unsqueeze(-1) / dimT;
  auto py = yEmbed.unsqueeze(-1) / dimT;
  using torch::indexing::None;
  using torch::indexing::Slice;
  px = torch::stack({px.index({"...", Slice(0, None, 2)}).sin(), px.index({"...", Slice(1, None, 2)}).cos()}, 4).flatten(3);
  py = torch::stack({py.index({"...", Slice(0, None, 2)}).sin(), py.index({"...", Slice(1, None, 2)}).cos()}, 4).flatten(3);
  return torch::cat({py, px}, 3).permute({0, 3, 1, 2}).contiguous();
}

std::vector<Tensor> Sam2Model::trunkRouted(const Tensor& img, const SwrPlan& plan) const {
  const auto g = swrGeometry(cfg_);
  if (img.size(0) != 1) throw EngineError(Error::badArgument("SWR routes one frame at a time (batch 1)"));
  auto x = patchEmbed(img);
  auto ends = cfg_.stageEnds();
  auto isEnd = [&](int i) { return std::find(ends.begin(), ends.end(), i) != ends.end(); };
  std::vector<Tensor> outs;
  for (int i = 0; i < g.routeBlock; ++i) {
    x = hieraBlock(x, i);
    if (isEnd(i)) outs.push_back(x.permute({0, 3, 1, 2}).contiguous());
  }
  // routing block: partition, split selected / background (frozen at this input)
  const int64_t ws = g.window, C = x.size(3), L = ws * ws, nW = g.numWindows();
  auto [xw, padHW] = windowPartition(x, ws);
  xw = xw.reshape({nW, L, C});
  auto ones = torch::ones({1, x.size(1), x.size(2), 1}, x.options());
  auto valid = windowPartition(ones, ws).first.reshape({nW, L});
  Tensor sel = plan.selected.to(x.device(), torch::kInt64).flatten();
  Tensor xs = xw.index_select(0, sel), vs = valid.index_select(0, sel);
  const int64_t nS = sel.numel();
  std::set<int> mids(g.midGlobals.begin(), g.midGlobals.end());
  if (nS > 0) {
    auto idx = torch::nonzero(vs.reshape({-1}) > 0.5).flatten();  // real tokens of the selected windows
    for (int i = g.routeBlock; i < g.finalGlobal; ++i) {
      if (mids.count(i)) {
        auto flat = xs.reshape({nS * L, C});
        auto tok = hieraBlockTokens(flat.index_select(0, idx).unsqueeze(0), i, Tensor()).squeeze(0);
        xs = flat.index_copy(0, idx, tok).view({nS, L, C});
      } else {
        xs = hieraBlockTokens(xs, i, vs);
      }
    }
  }
  // final global block: background through the shortcut, selected windows written back
  auto isSel = torch::zeros({nW}, torch::TensorOptions(x.device()).dtype(torch::kBool));
  if (nS > 0) isSel.index_fill_(0, sel, true);
  auto bgIdx = torch::nonzero(~isSel).flatten();
  Tensor y = xw;
  if (bgIdx.numel() > 0 && plan.adapter && plan.adapter->defined())
    y = y.index_copy(0, bgIdx, plan.adapter->forward(xw.index_select(0, bgIdx), plan.dropout, plan.dropout > 0));
  if (nS > 0) y = y.index_copy(0, sel, xs);
  x = windowUnpartition(y.view({nW, ws, ws, C}), ws, padHW, x.size(1), x.size(2));
  for (int i = g.finalGlobal; i < cfg_.depth(); ++i) {
    x = hieraBlock(x, i);
    if (isEnd(i)) outs.push_back(x.permute({0, 3, 1, 2}).contiguous());
  }
  return outs;
}

ImageFeatures Sam2Model::forwardImage(const Tensor& img, const SwrPlan* plan) const {
  return neck(trunk(img, plan));
}

ImageFeatures Sam2Model::neck(std::vector<Tensor> trunkOuts) const {
  ImageFeatures f;
  f.trunk = std::move(trunkOuts);
  const auto& xs = f.trunk;
  const int n = 3;
  std::vector<Tensor> out(4), pos(4);
  Tensor prev;
  for (int i = n; i >= 0; --i) {
    auto lateral = torch::conv2d(xs[i], w("image_encoder.neck.convs." + std::to_string(n - i) + ".conv.weight"),
                                 w("image_encoder.neck.convs." + std::to_string(n - i) + ".conv.bias"));
    if ((i == 2 || i == 3) && prev.defined()) {
      auto td = F::interpolate(prev, F::InterpolateFuncOptions()
                                         .size(std::vector<int64_t>{prev.size(2) * 2, prev.size(3) * 2})
                                         .mode(torch::kNearest));
      prev = lateral + td;
    } else {
      prev = lateral;
    }
    out[i] = prev;
    pos[i] = sinePE(prev.size(1), prev.size(2), prev.size(3), prev.size(0), prev.device());
  }
  f.fpn = {out[0], out[1], out[2]};
  f.pos = {pos[0], pos[1], pos[2]};
  f.highRes0 = torch::conv2d(out[0], w("sam_mask_decoder.conv_s0.weight"), w("sam_mask_decoder.conv_s0.bias"));
  f.highRes1 = torch::conv2d(out[1], w("sam_mask_decoder.conv_s1.weight"), w("sam_mask_decoder.conv_s1.bias"));
  return f;
}

// ---------------------------------------------------------------- SAM heads

Tensor Sam2Model::attention(const Tensor& q0, const Tensor& k0, const Tensor& v0, const std::string& p,
                            int heads, Tensor* probs) const {
  auto q = linear(q0, p + ".q_proj"), k = linear(k0, p + ".k_proj"), v = linear(v0, p + ".v_proj");
  auto sep = [heads](const Tensor& x) {
    return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
  };
  auto o = sdpa(sep(q), sep(k), sep(v), probs);
  o = o.transpose(1, 2);
  o = o.reshape({o.size(0), o.size(1), -1});
  return linear(o, p + ".out_proj");
}

namespace {
Tensor peEncoding(const Tensor& coords01, const Tensor& gauss) {  // [...,2] in [0,1]
  auto c = 2 * coords01 - 1;
  c = torch::matmul(c, gauss);
  c = (2 * M_PI) * c;
  return torch::cat({torch::sin(c), torch::cos(c)}, -1);
}
}  // namespace

SamHeadsOut Sam2Model::forwardSamHeads(const Tensor& feat, const Tensor& coordsIn, const Tensor& labelsIn,
                                       const Tensor& maskInput, const Tensor& hr0, const Tensor& hr1,
                                       bool multimask) const {
  const int64_t B = feat.size(0), S = cfg_.imageSize, hw = cfg_.featSize();
  const std::string pe = "sam_prompt_encoder.", md = "sam_mask_decoder.";
  const auto& gauss = w(pe + "pe_layer.positional_encoding_gaussian_matrix");
  Tensor coords = coordsIn, labels = labelsIn;
  const auto dev = feat.device();
  if (!coords.defined()) {
    coords = torch::zeros({B, 1, 2}, feat.options());
    labels = -torch::ones({B, 1}, torch::TensorOptions(dev).dtype(torch::kInt64));
  }
  // prompt encoder: points (padded with a not-a-point since no boxes go separately)
  auto pts = coords.to(dev, torch::kFloat32) + 0.5;
  auto lab = labels.to(dev, torch::kInt64);
  pts = torch::cat({pts, torch::zeros({B, 1, 2}, pts.options())}, 1);
  lab = torch::cat({lab, -torch::ones({B, 1}, lab.options())}, 1);
  auto scaled = torch::stack({pts.select(2, 0) / static_cast<double>(S), pts.select(2, 1) / static_cast<double>(S)}, 2);
  auto sparse = peEncoding(scaled, gauss);  // [B,P,D]
  auto is = [&](int v) { return (lab == v).unsqueeze(-1); };
  sparse = torch::where(is(-1), torch::zeros_like(sparse) + w(pe + "not_a_point_embed.weight"), sparse);
  for (int k = 0; k < 4; ++k)
    sparse = torch::where(is(k), sparse + w(pe + "point_embeddings." + std::to_string(k) + ".weight"), sparse);
  Tensor dense;
  if (maskInput.defined()) {
    Tensor mk = maskInput.to(torch::kFloat32);
    if (mk.size(-1) != 4 * hw || mk.size(-2) != 4 * hw)
      mk = at::_upsample_bilinear2d_aa(mk, {4 * hw, 4 * hw}, false, c10::nullopt, c10::nullopt);
    auto x = torch::conv2d(mk, w(pe + "mask_downscaling.0.weight"), w(pe + "mask_downscaling.0.bias"), {2, 2});
    x = geluF(layerNorm2d(x, pe + "mask_downscaling.1"));
    x = torch::conv2d(x, w(pe + "mask_downscaling.3.weight"), w(pe + "mask_downscaling.3.bias"), {2, 2});
    x = geluF(layerNorm2d(x, pe + "mask_downscaling.4"));
    dense = torch::conv2d(x, w(pe + "mask_downscaling.6.weight"), w(pe + "mask_downscaling.6.bias"));
  } else {
    dense = w(pe + "no_mask_embed.weight").reshape({1, -1, 1, 1}).expand({B, -1, hw, hw});
  }
  // dense PE
  auto grid = torch::ones({hw, hw}, feat.options());
  auto ye = (grid.cumsum(0) - 0.5) / static_cast<double>(hw);
  auto xe = (grid.cumsum(1) - 0.5) / static_cast<double>(hw);
  auto densePe = peEncoding(torch::stack({xe, ye}, -1), gauss).permute({2, 0, 1}).unsqueeze(0);

  // mask decoder
  auto outTok = torch::cat({w(md + "obj_score_token.weight"), w(md + "iou_token.weight"), w(md + "mask_tokens.weight")}, 0);
  auto tokens = torch::cat({outTok.unsqueeze(0).expand({B, -1, -1}), sparse}, 1);
  auto src = feat + dense;
  auto posSrc = densePe.repeat({B, 1, 1, 1});
  const int64_t c = src.size(1), h = src.size(2), ww = src.size(3);
  // two-way transformer
  auto keys = src.flatten(2).permute({0, 2, 1});
  auto keyPe = posSrc.flatten(2).permute({0, 2, 1});
  auto queries = tokens;
  const auto& qpe = tokens;
  const int H8 = Sam2Config::kDecoderHeads;
  // Efficient-SAM2 saliency: token->image attention averaged over heads and the first 7
  // query tokens, then over the two layers and the final attention.
  Tensor attnSum;
  auto addAttn = [&](const Tensor& pr) {  // [B,heads,Nq,HW]
    auto a = pr.mean(1).slice(1, 0, std::min<int64_t>(7, pr.size(2))).mean(1);
    attnSum = attnSum.defined() ? attnSum + a : a;
  };
  for (int l = 0; l < 2; ++l) {
    const std::string p = md + "transformer.layers." + std::to_string(l) + ".";
    if (l == 0) {
      queries = attention(queries, queries, queries, p + "self_attn", H8);
    } else {
      auto q = queries + qpe;
      queries = queries + attention(q, q, queries, p + "self_attn", H8);
    }
    queries = layerNorm(queries, p + "norm1", 1e-5);
    auto q = queries + qpe;
    auto k = keys + keyPe;
    Tensor pr;
    queries = queries + attention(q, k, keys, p + "cross_attn_token_to_image", H8, &pr);
    addAttn(pr);
    queries = layerNorm(queries, p + "norm2", 1e-5);
    queries = queries + mlp(queries, p + "mlp", 2, false);
    queries = layerNorm(queries, p + "norm3", 1e-5);
    q = queries + qpe;
    k = keys + keyPe;
    keys = keys + attention(k, q, queries, p + "cross_attn_image_to_token", H8);
    keys = layerNorm(keys, p + "norm4", 1e-5);
  }
  {
    auto q = queries + qpe;
    auto k = keys + keyPe;
    Tensor pr;
    queries = queries + attention(q, k, keys, md + "transformer.final_attn_token_to_image", H8, &pr);
    addAttn(pr);
    queries = layerNorm(queries, md + "transformer.norm_final_attn", 1e-5);
  }
  auto hs = queries;
  auto iouTokenOut = hs.select(1, 1);
  auto maskTokensOut = hs.slice(1, 2, 6);
  auto srcOut = keys.transpose(1, 2).reshape({B, c, h, ww});
  auto up = torch::conv_transpose2d(srcOut, w(md + "output_upscaling.0.weight"), w(md + "output_upscaling.0.bias"), {2, 2});
  up = geluF(layerNorm2d(up + hr1, md + "output_upscaling.1"));
  up = torch::conv_transpose2d(up, w(md + "output_upscaling.3.weight"), w(md + "output_upscaling.3.bias"), {2, 2});
  up = geluF(up + hr0);
  std::vector<Tensor> hyper;
  for (int i = 0; i < 4; ++i)
    hyper.push_back(mlp(maskTokensOut.select(1, i), md + "output_hypernetworks_mlps." + std::to_string(i), 3, false));
  auto hyperIn = torch::stack(hyper, 1);
  const int64_t uc = up.size(1), uh = up.size(2), uw = up.size(3);
  auto masks = torch::matmul(hyperIn, up.view({B, uc, uh * uw})).view({B, -1, uh, uw});
  auto iouPred = mlp(iouTokenOut, md + "iou_prediction_head", 3, false, true);
  auto objScore = mlp(hs.select(1, 0), md + "pred_obj_score_head", 3, false);

  Tensor lowMulti, ious, samTokens;
  if (multimask) {
    lowMulti = masks.slice(1, 1, 4);
    ious = iouPred.slice(1, 1, 4);
    samTokens = maskTokensOut.slice(1, 1, 4);
  } else if (tSam2Training) {  // the official decoder uses the stability switch only `not self.training`
    lowMulti = masks.slice(1, 0, 1);
    ious = iouPred.slice(1, 0, 1);
    samTokens = maskTokensOut.slice(1, 0, 1);
  } else {
    // dynamic multimask via stability (video predictor override)
    auto single = masks.slice(1, 0, 1);
    auto flat = single.flatten(-2);
    auto areaI = (flat > cfg_.stabilityDelta).sum(-1).to(torch::kFloat32);
    auto areaU = (flat > -cfg_.stabilityDelta).sum(-1).to(torch::kFloat32);
    auto stab = torch::where(areaU > 0, areaI / areaU, torch::ones_like(areaI));
    auto stable = stab >= cfg_.stabilityThresh;  // [B,1]
    auto mm = masks.slice(1, 1, 4), mi = iouPred.slice(1, 1, 4);
    auto best = mi.argmax(-1);
    auto bi = torch::arange(B, torch::TensorOptions(masks.device()).dtype(torch::kInt64));
    auto bestMask = mm.index({bi, best}).unsqueeze(1);
    auto bestIou = mi.index({bi, best}).unsqueeze(1);
    lowMulti = torch::where(stable.view({B, 1, 1, 1}).expand_as(single), single, bestMask);
    ious = torch::where(stable.expand_as(bestIou), iouPred.slice(1, 0, 1), bestIou);
    samTokens = maskTokensOut.slice(1, 0, 1);
  }
  SamHeadsOut o;
  o.decAttn = (attnSum / 3.0).view({B, h, ww});
  auto appearing = objScore > 0;  // [B,1]
  lowMulti = torch::where(appearing.view({B, 1, 1, 1}), lowMulti, torch::full_like(lowMulti, kNoObjScore));
  o.lowResMulti = lowMulti.to(torch::kFloat32);
  o.highResMulti = F::interpolate(o.lowResMulti, F::InterpolateFuncOptions()
                                                     .size(std::vector<int64_t>{S, S})
                                                     .mode(torch::kBilinear)
                                                     .align_corners(false));
  o.ious = ious;
  Tensor token = samTokens.select(1, 0);
  if (multimask) {
    auto best = ious.argmax(-1);
    auto bi = torch::arange(B, torch::TensorOptions(masks.device()).dtype(torch::kInt64));
    o.lowRes = o.lowResMulti.index({bi, best}).unsqueeze(1);
    o.highRes = o.highResMulti.index({bi, best}).unsqueeze(1);
    if (samTokens.size(1) > 1) token = samTokens.index({bi, best});
  } else {
    o.lowRes = o.lowResMulti;
    o.highRes = o.highResMulti;
  }
  auto ptr = mlp(token, "obj_ptr_proj", 3, false);
  auto lam = appearing.to(torch::kFloat32);
  ptr = lam * ptr;  // fixed_no_obj_ptr
  ptr = ptr + (1 - lam) * w("no_obj_ptr");
  o.objPtr = ptr;
  o.objScore = objScore;
  return o;
}

SamHeadsOut Sam2Model::useMaskAsOutput(const Tensor& feat, const Tensor& hr0, const Tensor& hr1,
                                       const Tensor& mask) const {
  const float outScale = 20.f, outBias = -10.f;
  auto mf = mask.to(torch::kFloat32);
  auto highRes = mf * outScale + outBias;
  auto lowRes = at::_upsample_bilinear2d_aa(highRes, {highRes.size(-2) / 4, highRes.size(-1) / 4}, false,
                                            c10::nullopt, c10::nullopt);
  auto ious = torch::ones({mask.size(0), 1}, mf.options());
  auto down = torch::conv2d(mf, w("mask_downsample.weight"), w("mask_downsample.bias"), {4, 4});
  auto sam = forwardSamHeads(feat, Tensor(), Tensor(), down, hr0, hr1, false);
  auto appearing = (mf.flatten(1) > 0).any(1).unsqueeze(-1).to(torch::kFloat32);
  SamHeadsOut o;
  o.lowResMulti = o.lowRes = lowRes;
  o.highResMulti = o.highRes = highRes;
  o.ious = ious;
  o.objScore = outScale * appearing + outBias;
  o.objPtr = appearing * sam.objPtr + (1 - appearing) * w("no_obj_ptr");
  return o;
}

// ---------------------------------------------------------------- memory

std::pair<Tensor, Tensor> Sam2Model::memoryEncoder(const Tensor& pixFeat, const Tensor& masks) const {
  const std::string me = "memory_encoder.", ds = "memory_encoder.mask_downsampler.encoder.";
  Tensor m = masks;
  for (int k = 0; k < 4; ++k) {
    m = torch::conv2d(m, w(ds + std::to_string(3 * k) + ".weight"), w(ds + std::to_string(3 * k) + ".bias"), {2, 2},
                      {1, 1});
    m = geluF(layerNorm2d(m, ds + std::to_string(3 * k + 1)));
  }
  m = torch::conv2d(m, w(ds + "12.weight"), w(ds + "12.bias"));
  auto x = torch::conv2d(pixFeat, w(me + "pix_feat_proj.weight"), w(me + "pix_feat_proj.bias"));
  x = x + m;
  for (int l = 0; l < 2; ++l) {
    const std::string p = me + "fuser.layers." + std::to_string(l) + ".";
    auto in = x;
    auto y = torch::conv2d(x, w(p + "dwconv.weight"), w(p + "dwconv.bias"), {1, 1}, {3, 3}, {1, 1}, x.size(1));
    y = layerNorm2d(y, p + "norm");
    y = y.permute({0, 2, 3, 1});
    y = linear(geluF(linear(y, p + "pwconv1")), p + "pwconv2");
    y = w(p + "gamma") * y;
    y = y.permute({0, 3, 1, 2});
    x = in + y;
  }
  x = torch::conv2d(x, w(me + "out_proj.weight"), w(me + "out_proj.bias"));
  auto pos = sinePE(x.size(1), x.size(2), x.size(3), x.size(0), x.device());
  return {x, pos};
}

Tensor Sam2Model::ropeAttention(const Tensor& q0, const Tensor& k0In, const Tensor& v0In, const std::string& p,
                                int64_t numKExcludeRope, bool repeatK, const Tensor& keep, int64_t measureStart,
                                int64_t measureLen, Tensor* importance) const {
  Tensor k0 = k0In, v0 = v0In;
  const int64_t LkFull = k0In.size(1);
  const int64_t nRopeFull = LkFull - numKExcludeRope;
  if (keep.defined()) {  // SMR: gather the kept spatial keys/values (and, below, their RoPE rows)
    auto idx = torch::cat({keep, torch::arange(nRopeFull, LkFull, keep.options())});
    k0 = k0In.index_select(1, idx);
    v0 = v0In.index_select(1, idx);
    if (measureStart >= 0) measureStart = (keep < measureStart).sum().item<int64_t>();
  }
  auto q = linear(q0, p + ".q_proj"), k = linear(k0, p + ".k_proj"), v = linear(v0, p + ".v_proj");
  // one head (every official memory attention uses num_heads 1)
  q = q.unsqueeze(1);
  k = k.unsqueeze(1);
  v = v.unsqueeze(1);
  const int64_t Lq = q.size(2), Lk = k.size(2);
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(Lq))));
  auto [cs, sn] = axialRope(q.size(-1), side, side, q.device());
  q = applyRope(q, cs, sn);
  const int64_t nRope = Lk - numKExcludeRope;
  if (nRope > 0) {
    if (!repeatK && nRope != Lq) throw EngineError(Error::failed("SAM 2.1 RoPE: key length differs from query length"));
    const int64_t r = nRopeFull / Lq;
    if (r * Lq != nRopeFull)
      throw EngineError(Error::failed("SAM 2.1 RoPE: memory length is not a multiple of the frame"));
    auto kc = cs.repeat({r, 1}), ks = sn.repeat({r, 1});
    if (keep.defined()) {  // pruned keys keep their original 2-D positions
      kc = kc.index_select(0, keep);
      ks = ks.index_select(0, keep);
    }
    auto kr = applyRope(k.slice(2, 0, nRope), kc, ks);
    k = numKExcludeRope > 0 ? torch::cat({kr, k.slice(2, nRope, Lk)}, 2) : kr;
  }
  Tensor o;
  if (importance && measureStart >= 0 && measureLen > 0) {
    // first recollection: softmax over the measured frame's keys only, mean over queries
    const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    auto logits = torch::matmul(q, k.transpose(-2, -1)) * scale;  // [B,1,Lq,Lk]
    *importance = torch::softmax(logits.slice(-1, measureStart, measureStart + measureLen), -1).mean({0, 1, 2});
    o = torch::matmul(torch::softmax(logits, -1), v).squeeze(1);
  } else {
    o = sdpa(q, k, v).squeeze(1);
  }
  return linear(o, p + ".out_proj");
}

Tensor Sam2Model::memoryAttention(const Tensor& curr, const Tensor& memory, const Tensor& currPos,
                                  const Tensor& memoryPos, int64_t numObjPtrTokens, const SmrPlan* smr) const {
  auto out = curr + 0.1 * currPos;
  out = out.transpose(0, 1);
  auto mem = memory.transpose(0, 1);
  auto memPos = memoryPos.transpose(0, 1);
  auto memK = mem + memPos;
  for (int l = 0; l < cfg_.memAttnLayers; ++l) {
    const std::string p = "memory_attention.layers." + std::to_string(l) + ".";
    auto t2 = layerNorm(out, p + "norm1", 1e-5);
    out = out + ropeAttention(t2, t2, t2, p + "self_attn", 0, false);
    t2 = layerNorm(out, p + "norm2", 1e-5);
    if (smr) {
      Tensor keep = static_cast<size_t>(l) < smr->keep.size() ? smr->keep[l] : Tensor();
      Tensor imp;
      out = out + ropeAttention(t2, memK, mem, p + "cross_attn_image", numObjPtrTokens, true, keep, smr->newestStart,
                                smr->newestLen, smr->importance ? &imp : nullptr);
      if (smr->importance) smr->importance->push_back(imp);
    } else {
      out = out + ropeAttention(t2, memK, mem, p + "cross_attn_image", numObjPtrTokens, true);
    }
    t2 = layerNorm(out, p + "norm3", 1e-5);
    out = out + linear(torch::relu(linear(t2, p + "linear1")), p + "linear2");
  }
  return layerNorm(out, "memory_attention.norm", 1e-5).transpose(0, 1);
}

Tensor Sam2Model::objPtrTposEnc(const Tensor& relPos, int64_t numFrames) const {
  const int64_t maxPtrs = std::min<int64_t>(numFrames, cfg_.maxObjPtrs);
  const int64_t tdm = std::max<int64_t>(maxPtrs - 1, 1);
  const auto& projW = w("obj_ptr_tpos_proj.weight");
  auto pos = relPos.to(projW.device(), torch::kFloat32) / static_cast<double>(tdm);
  const int64_t peDim = cfg_.dModel / 2;
  auto dimT = torch::arange(peDim, pos.options());
  dimT = torch::pow(10000, 2 * torch::floor(dimT / 2) / peDim);
  auto pe = pos.unsqueeze(-1) / dimT;
  pe = torch::cat({pe.sin(), pe.cos()}, -1);
  return linear(pe, "obj_ptr_tpos_proj");
}

}  // namespace cs::detail::sam2
