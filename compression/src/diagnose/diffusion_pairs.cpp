// (noisy image, timestep) evaluation pairs for diffusion UNets (diagnose_internal.h):
// the inputs of UNet sensitivity (noise-prediction error) and of its calibration.
#include <random>

#include "diagnose_internal.h"
#include "engine/torch/tensors.h"
#include "engine/torch/unet.h"

namespace cs::detail {

Result<DiffusionPairs> diffusionPairs(const Model& model, int samples, int seed, const std::string& split, int batch) {
  auto* u = dynamic_cast<const UNet2DModel*>(model.impl().get());
  if (!u) return Error{Error::Code::Unsupported, model.name() + ": diffusion family without a UNet2DModel"};
  if (samples < 1) return Error::badArgument("samples must be >= 1");
  auto data = fashionMnistTensors(split);
  if (!data) return data.error();
  const auto& c = u->config();
  const int64_t N = std::min<int64_t>(samples, data->images.size(0));
  torch::Tensor idx;
  if (split == "test") {
    idx = torch::arange(N, torch::kLong);
  } else {
    torch::Generator g = at::detail::createCPUGenerator(uint64_t(seed) + 77);
    idx = torch::randperm(data->images.size(0), g, torch::kLong).slice(0, 0, N);
  }
  auto x0 = data->images.index_select(0, idx) * kFmnistStd + kFmnistMean;  // [N,1,28,28] in [0,1]
  x0 = x0 * 2 - 1;
  const int64_t S = c.sampleSize;
  if (S > x0.size(-1)) {
    const int64_t lo = (S - x0.size(-1)) / 2, hi = S - x0.size(-1) - lo;
    x0 = torch::constant_pad_nd(x0, {lo, hi, lo, hi}, -1.0);
  } else if (S < x0.size(-1)) {
    x0 = torch::nn::functional::interpolate(
        x0, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{S, S}).mode(torch::kBilinear).align_corners(false));
  }
  if (c.inChannels != 1) x0 = x0.repeat({1, c.inChannels, 1, 1});
  auto labels = data->labels.index_select(0, idx).to(torch::kLong);
  const int T = c.numTrainTimesteps;
  const double fracs[] = {0.1, 0.3, 0.6, 0.9};
  std::vector<int64_t> tv(static_cast<size_t>(N), 0);
  for (int64_t i = 0; i < N; ++i) tv[size_t(i)] = std::min<int64_t>(T - 1, int64_t(fracs[i % 4] * T));
  auto t = torch::tensor(tv, torch::kLong);
  auto sched = NoiseSchedule::linear(T);
  auto abar = sched.alphasCumprod.index_select(0, t).to(torch::kFloat).view({N, 1, 1, 1});
  torch::Generator gen = at::detail::createCPUGenerator(uint64_t(seed) * 7919 + 1);
  auto eps = torch::randn(x0.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat));
  auto xt = abar.sqrt() * x0.to(torch::kFloat) + (1 - abar).sqrt() * eps;
  DiffusionPairs p;
  batch = std::max(1, batch);
  for (int64_t i = 0; i < N; i += batch) {
    const int64_t e = std::min<int64_t>(i + batch, N);
    p.noisy.push_back(xt.slice(0, i, e).contiguous());
    p.timesteps.push_back(t.slice(0, i, e));
    p.noise.push_back(eps.slice(0, i, e).contiguous());
    if (c.numClassEmbeds > 0) p.labels.push_back(labels.slice(0, i, e).clamp(0, c.numClassEmbeds - 1));
    else p.labels.emplace_back();
  }
  p.description = std::to_string(N) + " Fashion-MNIST " + split + " images noised at t = 0.1/0.3/0.6/0.9 x " +
                  std::to_string(T) + ", seed " + std::to_string(seed);
  return p;
}

torch::Tensor runDiffusionPair(const ModelImpl& impl, const DiffusionPairs& pairs, size_t i, const TapObserver* observer) {
  auto* u = dynamic_cast<const UNet2DModel*>(&impl);
  if (!u) throw std::runtime_error("runDiffusionPair: not a UNet2DModel");
  ForwardCtx ctx{&impl.inputTransforms, observer};
  return u->forward(pairs.noisy[i], pairs.timesteps[i], pairs.labels[i], ctx);
}

}  // namespace cs::detail
