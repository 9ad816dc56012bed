// Fashion-MNIST as normalized tensors, cached per split (read-only after load).
#include <mutex>

#include "engine/torch/model_impl.h"
#include "engine/torch/tensors.h"

namespace cs::detail {

Result<FmnistTensors> fashionMnistTensors(const std::string& split) {
  static std::mutex mu;
  static std::map<std::string, FmnistTensors> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(split); it != cache.end()) return it->second;
  auto set = loadFashionMnist(split);
  if (!set) return set.error();
  FmnistTensors t;
  auto u8 = torch::from_blob(set->pixels.data(), {set->count, 1, set->rows, set->cols}, torch::kUInt8);
  t.images = ((u8.to(torch::kFloat) / 255.0 - kFmnistMean) / kFmnistStd).contiguous();
  t.labels = torch::from_blob(set->labels.data(), {set->count}, torch::kUInt8).to(torch::kLong).clone();
  cache[split] = t;
  return t;
}

}  // namespace cs::detail
