// Saving and reopening quantized variants (compression/quant_variant.h).
#include <ATen/CPUGeneratorImpl.h>

#include <cctype>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "compression/quant_variant.h"
#include "engine/torch/open_hooks.h"
#include "engine/torch/tensors.h"
#include "engine/torch/vit.h"
#include "variant_io.h"

namespace fs = std::filesystem;

namespace cs::detail {

std::shared_ptr<const QuantVariantInfo> ptqVariantInfo(const PtqOutcome& o) {
  auto info = std::make_shared<QuantVariantInfo>();
  info->weightQuantizers = o.weightQuantizers;
  info->inputQuantizers = o.inputQuantizers;
  info->folds = o.folds;
  return info;
}

TensorTransform transformFor(const ActQuantDesc& d) {
  if (d.kind == ActQuantDesc::Kind::Log) {
    auto q = d.log;
    return [q](const torch::Tensor& x) { return fakeQuantLog(x, q); };
  }
  if (d.kind == ActQuantDesc::Kind::TwinUniform) {
    auto q = d.twin;
    return [q](const torch::Tensor& x) { return fakeQuantTwinUniform(x, q); };
  }
  auto q = d.uniform;
  q.axis = -1;  // scalar, or [C] broadcast on the last dim (as the PTQ pipeline attaches them)
  return [q](const torch::Tensor& x) { return fakeQuant(x, q); };
}

std::optional<ActQuantDesc> probeTransform(const TensorTransform& t, int bitsHint) {
  try {
    torch::NoGradGuard ng;
    auto f = [&](const torch::Tensor& x) { return t(x).to(torch::kFloat); };
    const float big = 1e20f;
    const float hiOut = f(torch::tensor({big})).item<float>();
    const float loOut = f(torch::tensor({-big})).item<float>();
    const double span = std::max({double(std::abs(hiOut)), double(std::abs(loOut)), 1e-6});
    auto gen = at::detail::createCPUGenerator(1234);
    auto V = torch::cat({torch::linspace(-1.5 * span, 1.5 * span, 1 << 16), torch::logspace(-40, 6, 4096),
                         -torch::logspace(-40, 6, 4096), torch::randn({1 << 14}, gen) * span,
                         torch::tensor({0.0f, -0.0f, big, -big})});
    const auto TV = f(V);
    auto same = [&](const ActQuantDesc& d) {
      auto y = transformFor(d)(V);
      return y.sizes() == TV.sizes() && torch::equal(y.to(torch::kFloat), TV);
    };
    std::vector<int> bitOrder;
    if (bitsHint >= 2 && bitsHint <= 16) bitOrder.push_back(bitsHint);
    for (int b = 2; b <= 16; ++b)
      if (b != bitsHint) bitOrder.push_back(b);

    // Uniform: outputs are k*s for integers k in [qmin - z, qmax - z].
    {
      const double lo = std::min(0.0, double(loOut)), hi = std::max(0.0, double(hiOut));
      auto out = f(torch::linspace(lo - 0.01 * span, hi + 0.01 * span, 1 << 20));
      auto pos = out.masked_select(out > 0), neg = out.masked_select(out < 0);
      float s = 0;
      if (pos.numel() > 0) s = pos.min().item<float>();
      else if (neg.numel() > 0) s = -neg.max().item<float>();
      if (s > 0) {
        const double kLo = std::nearbyint(double(loOut) / s), kHi = std::nearbyint(double(hiOut) / s);
        const int64_t levels = int64_t(kHi - kLo);
        for (int b : bitOrder) {
          for (bool sym : {false, true}) {
            const int64_t want = sym ? (int64_t(1) << b) - 2 : (int64_t(1) << b) - 1;
            if (levels != want) continue;
            ActQuantDesc d;
            d.probed = true;
            d.uniform.bits = b;
            d.uniform.symmetric = sym;
            d.uniform.scale = torch::tensor(s);
            d.uniform.zero = torch::tensor(float(sym ? 0.0 : -kLo));
            d.uniform.axis = -1;
            if (same(d)) return d;
          }
        }
      }
    }
    // log2 / log-sqrt2: delta is the output for anything above it.
    if (hiOut > 0 && loOut == 0) {
      for (bool sqrt2 : {true, false})
        for (int b : bitOrder) {
          ActQuantDesc d;
          d.kind = ActQuantDesc::Kind::Log;
          d.probed = true;
          d.log = LogQuantizer{b, sqrt2, double(hiOut)};
          if (same(d)) return d;
        }
      // twin-uniform: the output at +infinity is the coarse range's last code, (2^(b-1) - 1) 2^-(b-1)
      for (int b : bitOrder) {
        const TwinUniformQuantizer t0{b, 0};
        if (std::abs(double(hiOut) - (std::ldexp(1.0, b - 1) - 1) * t0.d2()) > 1e-6 * t0.d2()) continue;
        for (int m = 0; m <= 24; ++m) {
          ActQuantDesc d;
          d.kind = ActQuantDesc::Kind::TwinUniform;
          d.probed = true;
          d.twin = TwinUniformQuantizer{b, m};
          if (same(d)) return d;
        }
      }
    }
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

namespace {

using TensorList = std::vector<std::pair<std::string, torch::Tensor>>;
const char* kLoader = "quantized-variant";
const char* kFormat = "cstudio-quant/1";

std::string sanitize(const std::string& s) {
  std::string o;
  for (char c : s) o += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  while (o.find("__") != std::string::npos) o.erase(o.find("__"), 1);
  while (!o.empty() && o.back() == '_') o.pop_back();
  return o.empty() ? "variant" : o;
}

torch::Tensor f32(const torch::Tensor& t) { return t.detach().to(torch::kFloat).contiguous().clone(); }

nlohmann::json uniformJson(const UniformQuantizer& q, const std::string& prefix, TensorList& out) {
  out.emplace_back(prefix + ".scale", f32(q.scale).reshape({-1}));
  out.emplace_back(prefix + ".zero", f32(q.zero).reshape({-1}));
  return {{"bits", q.bits},
          {"symmetric", q.symmetric},
          {"per_channel", q.scale.numel() > 1},
          {"scale", prefix + ".scale"},
          {"zero", prefix + ".zero"}};
}

UniformQuantizer uniformFrom(const nlohmann::json& j, const SafeTensors& st, const std::string& file, int axis,
                             bool scalarIfOne) {
  UniformQuantizer q;
  q.bits = j.at("bits").get<int>();
  q.symmetric = j.at("symmetric").get<bool>();
  const std::string sn = j.at("scale").get<std::string>(), zn = j.at("zero").get<std::string>();
  if (!st.has(sn) || !st.has(zn)) throw EngineError(Error::badFile(file, "missing quantizer tensor '" + sn + "'"));
  q.scale = st.get(sn).to(torch::kFloat).contiguous().clone();
  q.zero = st.get(zn).to(torch::kFloat).contiguous().clone();
  if (q.bits < 2 || q.bits > 16 || q.scale.numel() != q.zero.numel() || q.scale.numel() == 0)
    throw EngineError(Error::badFile(file, "bad quantizer '" + sn + "'"));
  if (scalarIfOne && q.scale.numel() == 1 && !j.value("per_channel", false)) {
    q.scale = q.scale.reshape(std::vector<int64_t>{});
    q.zero = q.zero.reshape(std::vector<int64_t>{});
  }
  q.axis = axis;
  return q;
}

// The open hook: re-attaches the activation quantizers of a saved variant.
void openQuantizedVariant(ModelImpl& model, const std::string& path) {
  auto fmt = model.properties.find("quant_format");
  if (fmt == model.properties.end() || fmt->second != kFormat)
    throw EngineError(Error::badFile(path, "quantized variant without a known 'quant_format' (this build reads " +
                                               std::string(kFormat) + ")"));
  auto st = readSafeTensors(path);
  if (!st) throw EngineError(st.error());
  nlohmann::json points;
  try {
    points = nlohmann::json::parse(model.properties.at("quant_points"));
  } catch (const std::exception& e) {
    throw EngineError(Error::badFile(path, std::string("unreadable 'quant_points' metadata: ") + e.what()));
  }
  try {
    for (auto& p : points) {
      ActQuantDesc d;
      const std::string kind = p.at("kind").get<std::string>();
      if (kind == "uniform") {
        d.uniform = uniformFrom(p, *st, path, -1, true);
      } else if (kind == "log2" || kind == "log-sqrt2") {
        d.kind = ActQuantDesc::Kind::Log;
        d.log = LogQuantizer{p.at("bits").get<int>(), kind == "log-sqrt2", p.at("delta").get<double>()};
      } else if (kind == "twin-uniform") {
        d.kind = ActQuantDesc::Kind::TwinUniform;
        d.twin = TwinUniformQuantizer{p.at("bits").get<int>(), p.at("m").get<int>()};
        if (d.twin.bits < 2 || d.twin.bits > 16 || d.twin.m < 0 || d.twin.m > 24)
          throw EngineError(Error::badFile(path, "bad twin-uniform quantizer at '" + p.at("point").get<std::string>() + "'"));
      } else {
        throw EngineError(Error::badFile(path, "unknown activation quantizer kind '" + kind + "'"));
      }
      model.inputTransforms[p.at("point").get<std::string>()] = transformFor(d);
    }
  } catch (const nlohmann::json::exception& e) {
    throw EngineError(Error::badFile(path, std::string("bad 'quant_points' metadata: ") + e.what()));
  }
  int nw = 0;
  try {
    nw = int(nlohmann::json::parse(model.properties.at("quant_weights")).size());
  } catch (const std::exception&) {
  }
  // Bulky descriptions stay in the file; the info panel gets a summary.
  for (auto k : {"quant_points", "quant_weights", "quant_folds", "quant_metrics"}) model.properties.erase(k);
  model.properties["quantization"] = std::to_string(points.size()) + " activation quantizers, " + std::to_string(nw) +
                                     " weight quantizers (simulated: fake-quant)";
}

struct AutoRegister {
  AutoRegister() { registerModelOpenHook(kLoader, openQuantizedVariant); }
};
const AutoRegister autoRegister;

}  // namespace
}  // namespace cs::detail

namespace cs {

void registerQuantizedVariantLoader() { detail::registerModelOpenHook(detail::kLoader, detail::openQuantizedVariant); }

Result<std::string> saveQuantizedVariant(const QuantizeResult& r, const std::string& where) {
  using namespace detail;
  if (!r.variant.valid()) return Error::badArgument("no variant to save");
  std::string path = where;
  if (fs::path(where).extension() != ".safetensors") path = (fs::path(where) / (sanitize(r.variant.name()) + ".safetensors")).string();
  CS_TRY_RESULT(path, {
    const auto& v = *r.variant.impl();
    if (!dynamic_cast<const VitModel*>(&v))
      return Error{Error::Code::Unsupported, r.variant.name() + ": saving quantized variants is implemented for the "
                                                                "native ViT only (this is a " + v.family() + " model)"};
    const QuantVariantInfo* info = r.saveInfo.get();
    TensorList tensors;
    for (auto& [n, t] : v.namedTensors()) tensors.emplace_back(n, f32(t));

    const int abits = r.recipe.params.value("abits", 8);
    nlohmann::json points = nlohmann::json::array();
    for (auto& [point, tf] : v.inputTransforms) {
      nlohmann::json p = {{"point", point}};
      const std::string prefix = "quant.act." + point;
      if (info && info->inputQuantizers.count(point)) {
        p.update(uniformJson(info->inputQuantizers.at(point), prefix, tensors));
        p["kind"] = "uniform";
        p["source"] = "recorded";
      } else {
        auto d = probeTransform(tf, abits);
        if (!d)
          return Error{Error::Code::Unsupported,
                       path + ": cannot save the activation quantizer at '" + point +
                           "': it is not a uniform, log2/log-sqrt2 or twin-uniform per-tensor quantizer this format can describe"};
        if (d->kind == ActQuantDesc::Kind::Log) {
          p["kind"] = d->log.sqrt2 ? "log-sqrt2" : "log2";
          p["bits"] = d->log.bits;
          p["delta"] = d->log.delta;
        } else if (d->kind == ActQuantDesc::Kind::TwinUniform) {
          p["kind"] = "twin-uniform";
          p["bits"] = d->twin.bits;
          p["m"] = d->twin.m;
        } else {
          p.update(uniformJson(d->uniform, prefix, tensors));
          p["kind"] = "uniform";
        }
        p["source"] = "probed";  // recovered from the transform and verified bit-exact
      }
      points.push_back(p);
    }
    nlohmann::json weights = nlohmann::json::array(), folds = nlohmann::json::array();
    if (info) {
      for (auto& [layer, q] : info->weightQuantizers) {
        auto j = uniformJson(q, "quant.weight." + layer, tensors);
        j["layer"] = layer;
        j["granularity"] = q.scale.numel() > 1 ? "per-channel" : "per-tensor";
        weights.push_back(j);
      }
      for (auto& fo : info->folds) {
        const std::string pre = "quant.fold." + fo.consumer;
        tensors.emplace_back(pre + ".r", f32(fo.r));
        tensors.emplace_back(pre + ".b", f32(fo.b));
        tensors.emplace_back(pre + ".delta_c", f32(fo.deltaC));
        tensors.emplace_back(pre + ".zero_c", f32(fo.zeroC));
        folds.push_back({{"norm", fo.norm}, {"consumer", fo.consumer}, {"delta", fo.delta}, {"zero_point", fo.zero},
                         {"r", pre + ".r"}, {"b", pre + ".b"}, {"delta_c", pre + ".delta_c"}, {"zero_c", pre + ".zero_c"}});
      }
    }
    std::map<std::string, std::string> meta;
    for (auto& [k, val] : v.properties)
      if (k.rfind("quant", 0) != 0 && k != "requires_loader") meta[k] = val;
    meta["name"] = r.variant.name();
    meta["requires_loader"] = kLoader;
    meta["quant_format"] = kFormat;
    meta["quant_recipe"] = r.recipe.toJson().dump();
    meta["quant_source_model"] = v.properties.count("variant_of") ? v.properties.at("variant_of") : std::string();
    meta["quant_source_file"] = v.source;
    for (auto k : {"calib_hash", "calib_samples", "calib_seed"})
      if (r.metrics.contains(k)) meta[std::string("quant_") + k] = r.metrics[k].is_string() ? r.metrics[k].get<std::string>() : r.metrics[k].dump();
    meta["quant_metrics"] = r.metrics.dump();
    meta["quant_points"] = points.dump();
    meta["quant_weights"] = weights.dump();
    meta["quant_folds"] = folds.dump();
    meta["quant_weights_stored"] = "fake-quantized float32 (dequantized values), plus per-layer scale/zero point";
    if (!fs::path(path).parent_path().empty()) fs::create_directories(fs::path(path).parent_path());
    if (auto s = writeSafeTensors(path, tensors, meta); !s) return s.error();
    return path;
  })
}

}  // namespace cs
