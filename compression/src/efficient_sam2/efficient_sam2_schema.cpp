// Efficient-SAM2 parameter schema (compression/efficient_sam2.h).
#include <filesystem>

#include "compression/efficient_sam2.h"

namespace cs {

const MethodInfo& efficientSam2Method() {
  static const MethodInfo m = [] {
    MethodInfo i;
    i.id = "efficient-sam2";
    i.name = "Efficient-SAM2 (sparse window routing + sparse memory retrieval)";
    i.kind = "acceleration";
    i.description =
        "SAM 2.1 video tracking: background windows of the stride-16 Hiera stage skip the routed blocks "
        "through a bottleneck shortcut adapter (SWR); older memory frames keep only their most attended "
        "tokens, measured once when they were the newest memory (SMR).";
    using T = ParamSpec::Type;
    i.params = {
        {"swr", "Sparse window routing", T::Bool, 0, 0, 1, {}, false, "Route background windows through the shortcut"},
        {"dilate", "Mask dilation (px)", T::Int, 0, 63, 1, {}, 5, "Max-pool kernel on the previous low-res masks"},
        {"theta", "Saliency mass", T::Float, 0.01, 1.0, 0.05, {}, 0.7,
         "Cumulative decoder-attention mass of the saliency windows"},
        {"obj_theta", "Low-confidence score", T::Float, -100, 100, 0.5, {}, 5.0,
         "Saliency windows are added when an object score logit is below this"},
        {"smr", "Sparse memory retrieval", T::Bool, 0, 0, 1, {}, false, "Prune older memory frames"},
        {"keep_ratio", "Kept memory tokens", T::Float, 0.001, 1.0, 0.01, {}, 0.05,
         "Fraction of tokens kept per pruned memory frame (s = 1 - keep_ratio)"},
        {"force_full", "Force full pass", T::Bool, 0, 0, 1, {}, false, "Every frame through the full model"},
    };
    i.presets = {{"paper", {{"swr", true}, {"smr", true}, {"theta", 0.7}, {"keep_ratio", 0.05}}},
                 {"swr", {{"swr", true}}},
                 {"smr", {{"smr", true}}}};
    return i;
  }();
  return m;
}

Result<Sam2Efficiency> efficientSam2Options(nlohmann::json p) {
  auto err = efficientSam2Method().validate(p);
  if (!err.empty()) return Error::badArgument(err);
  Sam2Efficiency e;
  e.swr = p["swr"].get<bool>();
  e.dilate = p["dilate"].get<int>();
  e.theta = p["theta"].get<double>();
  e.objTheta = p["obj_theta"].get<double>();
  e.smr = p["smr"].get<bool>();
  e.keepRatio = p["keep_ratio"].get<double>();
  e.forceFull = p["force_full"].get<bool>();
  return e;
}

std::string swrAdapterPathFor(const std::string& modelPath) {
  std::filesystem::path p(modelPath);
  return (p.parent_path() / (p.stem().string() + ".swr_adapter.safetensors")).string();
}

}  // namespace cs
