// SAM 2.1 sizes, the official state_dict layout of each, and weight loading with
// name/shape checks (see engine/torch/sam2.h).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>
#include <sstream>

#include "engine/sam2.h"
#include "engine/torch/sam2.h"
#include "engine/torch/sam2_train.h"
#include "engine/torch/checkpoint.h"
#include "engine/torch/tensors.h"

namespace cs::detail::sam2 {
namespace fs = std::filesystem;

std::vector<int> Sam2Config::stageDims() const {
  std::vector<int> d;
  int e = embedDim;
  for (size_t i = 0; i < stages.size(); ++i) {
    d.push_back(e);
    e *= 2;
  }
  return d;
}

std::vector<int> Sam2Config::stageEnds() const {
  std::vector<int> ends;
  int s = 0;
  for (int n : stages) {
    s += n;
    ends.push_back(s - 1);
  }
  return ends;
}

int Sam2Config::depth() const {
  int s = 0;
  for (int n : stages) s += n;
  return s;
}

Sam2Config Sam2Config::tiny() { return Sam2Config{}; }

Sam2Config Sam2Config::small() {
  Sam2Config c;
  c.name = "small";
  c.stages = {1, 2, 11, 2};
  c.globalAttBlocks = {7, 10, 13};
  return c;
}

Sam2Config Sam2Config::basePlus() {
  Sam2Config c;
  c.name = "base_plus";
  c.embedDim = 112;
  c.numHeads = 2;
  c.stages = {2, 3, 16, 3};
  c.globalAttBlocks = {12, 16, 20};
  c.bkgPosH = c.bkgPosW = 14;
  return c;
}

Sam2Config Sam2Config::large() {
  Sam2Config c;
  c.name = "large";
  c.embedDim = 144;
  c.numHeads = 2;
  c.stages = {2, 6, 36, 4};
  c.globalAttBlocks = {23, 33, 43};
  c.windowSpec = {8, 4, 16, 8};
  return c;
}

Sam2Config Sam2Config::mini() {
  Sam2Config c;
  c.name = "mini";
  c.imageSize = 256;
  c.embedDim = 16;
  c.dModel = 64;
  c.memDim = 16;
  c.memAttnFF = 256;
  return c;
}

// sam2-micro, the studio's own trained model (resources/zoo/sam2-micro, engine/src/sam2/train_sam2.cpp):
// the mini widths (trunk 16, hidden 64, memory 16) at 128 pixels with a shorter trunk
// (stages 1-2-4-1, the stride-16 stage has windows 4 so its 8x8 map holds a 2x2 window
// grid; globals 4 and 6 mirror tiny's middle and final global blocks) and 2 memory-attention
// layers. Distinct tensor shapes (8 trunk blocks, 2 memory layers), so "auto" finds it.
Sam2Config sam2MicroConfig() {
  Sam2Config c;
  c.name = "micro";
  c.imageSize = 128;
  c.embedDim = 16;
  c.stages = {1, 2, 4, 1};
  c.globalAttBlocks = {4, 6};
  c.windowSpec = {8, 4, 4, 4};
  c.dModel = 64;
  c.memDim = 16;
  c.memAttnLayers = 2;
  c.memAttnFF = 256;
  return c;
}

Sam2Config Sam2Config::byName(const std::string& name) {
  if (name == "micro" || name == "sam2-micro") return sam2MicroConfig();
  if (name == "tiny" || name == "sam2.1_hiera_tiny") return tiny();
  if (name == "small" || name == "sam2.1_hiera_small") return small();
  if (name == "base_plus" || name == "sam2.1_hiera_base_plus") return basePlus();
  if (name == "large" || name == "sam2.1_hiera_large") return large();
  if (name == "mini" || name == "sam2_mini") return mini();
  throw EngineError(
      Error::badArgument("unknown SAM 2.1 size '" + name + "' (tiny, small, base_plus, large, mini, micro)"));
}

ShapeList expectedTensors(const Sam2Config& c) {
  ShapeList L;
  auto add = [&](const std::string& n, std::vector<int64_t> s) { L.emplace_back(n, std::move(s)); };
  auto lin = [&](const std::string& p, int64_t out, int64_t in) {
    add(p + ".weight", {out, in});
    add(p + ".bias", {out});
  };
  auto norm = [&](const std::string& p, int64_t d) {
    add(p + ".weight", {d});
    add(p + ".bias", {d});
  };
  auto conv = [&](const std::string& p, int64_t out, int64_t in, int64_t k) {
    add(p + ".weight", {out, in, k, k});
    add(p + ".bias", {out});
  };
  const int64_t D = c.dModel, M = c.memDim, E = c.embedDim;
  add("maskmem_tpos_enc", {c.numMaskmem, 1, 1, M});
  add("no_mem_embed", {1, 1, D});
  add("no_mem_pos_enc", {1, 1, D});
  add("no_obj_ptr", {1, D});
  add("no_obj_embed_spatial", {1, M});
  // trunk
  const std::string t = "image_encoder.trunk.";
  add(t + "pos_embed", {1, E, c.bkgPosH, c.bkgPosW});
  add(t + "pos_embed_window", {1, E, c.windowSpec[0], c.windowSpec[0]});
  conv(t + "patch_embed.proj", E, 3, 7);
  auto ends = c.stageEnds();
  int64_t dim = E;
  for (int i = 0; i < c.depth(); ++i) {
    int64_t dimOut = dim;
    for (size_t s = 0; s + 1 < ends.size(); ++s)
      if (i - 1 == ends[s]) dimOut = dim * 2;
    const std::string b = t + "blocks." + std::to_string(i) + ".";
    norm(b + "norm1", dim);
    lin(b + "attn.qkv", 3 * dimOut, dim);
    lin(b + "attn.proj", dimOut, dimOut);
    norm(b + "norm2", dimOut);
    lin(b + "mlp.layers.0", 4 * dimOut, dimOut);
    lin(b + "mlp.layers.1", dimOut, 4 * dimOut);
    if (dim != dimOut) lin(b + "proj", dimOut, dim);
    dim = dimOut;
  }
  auto dims = c.stageDims();
  for (int k = 0; k < 4; ++k) conv("image_encoder.neck.convs." + std::to_string(k) + ".conv", D, dims[3 - k], 1);
  conv("mask_downsample", 1, 1, 4);
  // memory attention
  for (int l = 0; l < c.memAttnLayers; ++l) {
    const std::string p = "memory_attention.layers." + std::to_string(l) + ".";
    for (const char* a : {"q_proj", "k_proj", "v_proj", "out_proj"}) lin(p + "self_attn." + a, D, D);
    lin(p + "cross_attn_image.q_proj", D, D);
    lin(p + "cross_attn_image.k_proj", D, M);
    lin(p + "cross_attn_image.v_proj", D, M);
    lin(p + "cross_attn_image.out_proj", D, D);
    lin(p + "linear1", c.memAttnFF, D);
    lin(p + "linear2", D, c.memAttnFF);
    norm(p + "norm1", D);
    norm(p + "norm2", D);
    norm(p + "norm3", D);
  }
  norm("memory_attention.norm", D);
  // memory encoder
  const std::string me = "memory_encoder.";
  int64_t in = 1;
  for (int k = 0; k < 4; ++k) {
    conv(me + "mask_downsampler.encoder." + std::to_string(3 * k), in * 4, in, 3);
    norm(me + "mask_downsampler.encoder." + std::to_string(3 * k + 1), in * 4);
    in *= 4;
  }
  conv(me + "mask_downsampler.encoder.12", D, in, 1);
  conv(me + "pix_feat_proj", D, D, 1);
  for (int l = 0; l < 2; ++l) {
    const std::string p = me + "fuser.layers." + std::to_string(l) + ".";
    add(p + "gamma", {D});
    add(p + "dwconv.weight", {D, 1, 7, 7});
    add(p + "dwconv.bias", {D});
    norm(p + "norm", D);
    lin(p + "pwconv1", 4 * D, D);
    lin(p + "pwconv2", D, 4 * D);
  }
  conv(me + "out_proj", M, D, 1);
  // prompt encoder
  const std::string pe = "sam_prompt_encoder.";
  add(pe + "pe_layer.positional_encoding_gaussian_matrix", {2, D / 2});
  for (int k = 0; k < 4; ++k) add(pe + "point_embeddings." + std::to_string(k) + ".weight", {1, D});
  add(pe + "not_a_point_embed.weight", {1, D});
  const int64_t mic = Sam2Config::kMaskInChans;
  conv(pe + "mask_downscaling.0", mic / 4, 1, 2);
  norm(pe + "mask_downscaling.1", mic / 4);
  conv(pe + "mask_downscaling.3", mic, mic / 4, 2);
  norm(pe + "mask_downscaling.4", mic);
  conv(pe + "mask_downscaling.6", D, mic, 1);
  add(pe + "no_mask_embed.weight", {1, D});
  // mask decoder
  const std::string md = "sam_mask_decoder.";
  auto attn = [&](const std::string& p, int64_t internal) {
    lin(p + ".q_proj", internal, D);
    lin(p + ".k_proj", internal, D);
    lin(p + ".v_proj", internal, D);
    lin(p + ".out_proj", D, internal);
  };
  for (int l = 0; l < 2; ++l) {
    const std::string p = md + "transformer.layers." + std::to_string(l) + ".";
    attn(p + "self_attn", D);
    norm(p + "norm1", D);
    attn(p + "cross_attn_token_to_image", D / 2);
    norm(p + "norm2", D);
    lin(p + "mlp.layers.0", Sam2Config::kDecoderMlpDim, D);
    lin(p + "mlp.layers.1", D, Sam2Config::kDecoderMlpDim);
    norm(p + "norm3", D);
    norm(p + "norm4", D);
    attn(p + "cross_attn_image_to_token", D / 2);
  }
  attn(md + "transformer.final_attn_token_to_image", D / 2);
  norm(md + "transformer.norm_final_attn", D);
  add(md + "iou_token.weight", {1, D});
  add(md + "mask_tokens.weight", {4, D});
  add(md + "obj_score_token.weight", {1, D});
  add(md + "output_upscaling.0.weight", {D, D / 4, 2, 2});
  add(md + "output_upscaling.0.bias", {D / 4});
  norm(md + "output_upscaling.1", D / 4);
  add(md + "output_upscaling.3.weight", {D / 4, D / 8, 2, 2});
  add(md + "output_upscaling.3.bias", {D / 8});
  conv(md + "conv_s0", D / 8, D, 1);
  conv(md + "conv_s1", D / 4, D, 1);
  for (int k = 0; k < 4; ++k) {
    const std::string p = md + "output_hypernetworks_mlps." + std::to_string(k) + ".layers.";
    lin(p + "0", D, D);
    lin(p + "1", D, D);
    lin(p + "2", D / 8, D);
  }
  const int64_t ih = Sam2Config::kIouHidden;
  lin(md + "iou_prediction_head.layers.0", ih, D);
  lin(md + "iou_prediction_head.layers.1", ih, ih);
  lin(md + "iou_prediction_head.layers.2", 4, ih);
  lin(md + "pred_obj_score_head.layers.0", D, D);
  lin(md + "pred_obj_score_head.layers.1", D, D);
  lin(md + "pred_obj_score_head.layers.2", 1, D);
  for (int k = 0; k < 3; ++k) lin("obj_ptr_proj.layers." + std::to_string(k), D, D);
  lin("obj_ptr_tpos_proj", M, D);
  return L;
}

static std::string shapeStr(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? "," : "") << s[i];
  o << "]";
  return o.str();
}

std::string checkTensors(const Sam2Config& cfg, const ShapeList& found, const std::string& file) {
  std::map<std::string, std::vector<int64_t>> f(found.begin(), found.end());
  std::ostringstream err;
  int n = 0;
  std::set<std::string> expectedNames;
  for (const auto& [name, shape] : expectedTensors(cfg)) {
    expectedNames.insert(name);
    auto it = f.find(name);
    if (it == f.end()) {
      err << (n++ ? "; " : "") << file << ": missing tensor " << name << " (expected " << shapeStr(shape) << ")";
    } else if (it->second != shape) {
      err << (n++ ? "; " : "") << file << ": tensor " << name << " has shape " << shapeStr(it->second)
          << ", expected " << shapeStr(shape) << " for SAM 2.1 " << cfg.name;
    }
  }
  for (const auto& [name, shape] : found)
    if (!expectedNames.count(name))
      err << (n++ ? "; " : "") << file << ": unexpected tensor " << name << " " << shapeStr(shape)
          << " for SAM 2.1 " << cfg.name;
  return err.str();
}

std::shared_ptr<const Sam2Model> Sam2Model::loadSafetensors(const Sam2Config& cfg, const std::string& path) {
  auto st = readSafeTensors(path);
  if (!st.ok()) throw EngineError(st.error());
  std::unordered_map<std::string, torch::Tensor> w;
  for (auto& [name, t] : st->tensors) w[name] = t.to(torch::kFloat32).contiguous();
  return std::make_shared<const Sam2Model>(cfg, std::move(w), path);
}

static NamedTensorList readSam2StateDict(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".safetensors") {
    auto st = readSafeTensors(path);
    if (!st.ok()) throw EngineError(st.error());
    return std::move(st->tensors);
  }
  // The official releases: torch.save({"model": state_dict}, ...) zip archives.
  CheckpointOptions opt;
  opt.key = "model";
  auto sd = readTorchCheckpoint(path, opt);
  if (!sd.ok()) {
    // Some conversions save the bare state dict.
    CheckpointOptions bare;
    auto flat = readTorchCheckpoint(path, bare);
    if (!flat.ok()) throw EngineError(sd.error());
    return std::move(*flat);
  }
  return std::move(*sd);
}

std::shared_ptr<const Sam2Model> Sam2Model::load(const std::string& path, const std::string& size) {
  auto sd = readSam2StateDict(path);
  ShapeList found;
  for (auto& [n, t] : sd) found.emplace_back(n, t.sizes().vec());
  Sam2Config cfg;
  if (size.empty() || size == "auto") {
    // The sizes differ in the trunk's width and depth: the one whose every name and
    // shape matches is the checkpoint's.
    bool matched = false;
    for (const char* name : {"tiny", "small", "base_plus", "large", "mini", "micro"}) {
      auto c = Sam2Config::byName(name);
      if (checkTensors(c, found, path).empty()) {
        cfg = c;
        matched = true;
        break;
      }
    }
    if (!matched)
      throw EngineError(Error::badFile(path, "matches none of the SAM 2.1 sizes (tiny, small, base_plus, large, "
                                             "mini, micro); open it with an explicit size to see the mismatching "
                                             "tensors"));
  } else {
    cfg = Sam2Config::byName(size);
  }
  std::unordered_map<std::string, torch::Tensor> w;
  for (auto& [name, t] : sd) w[name] = t.to(torch::kFloat32).contiguous();
  return std::make_shared<const Sam2Model>(cfg, std::move(w), path);
}

}  // namespace cs::detail::sam2

// ---------------------------------------------------------------- plain facade parts

namespace cs {
namespace fs = std::filesystem;

Result<std::shared_ptr<const Sam2>> Sam2::open(const std::string& path, const std::string& size) {
  try {
    torch::NoGradGuard ng;
    if (!fs::exists(path)) return Error::notFound(path + ": no such SAM 2 checkpoint");
    return std::make_shared<const Sam2>(detail::sam2::Sam2Model::load(path, size));
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return Error::badFile(path, e.what());
  }
}

std::string Sam2::size() const { return impl_->config().name; }
int Sam2::imageSize() const { return impl_->config().imageSize; }

std::vector<uint8_t> Sam2ObjectMask::binary() const {
  std::vector<uint8_t> b(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) b[i] = logits[i] > 0 ? 1 : 0;
  return b;
}

}  // namespace cs
