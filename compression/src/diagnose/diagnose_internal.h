// Internal to compression/src/diagnose: model inputs per task, tap kind names.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/result.h"
#include "engine/torch/model_impl.h"

namespace cs::detail {

struct EvalInputs {
  std::vector<torch::Tensor> batches;
  std::string description;
};
const char* kindName(TapKind k);
// Per-sample shape guessed from the first quantizable layer (unknown-task models).
std::vector<int64_t> guessInputShape(const Model& model);
// Inputs for `model`: Fashion-MNIST train images (classifiers), fortunes held-out token
// windows (language models), seeded N(0,1) of `shape` (or a guess) otherwise.
Result<EvalInputs> modelInputs(const Model& model, int samples, int seed, int batch, std::vector<int64_t> shape);

// (noisy image, timestep) pairs for a diffusion UNet: Fashion-MNIST images of `split`
// in [-1, 1], padded (or resized) to the UNet's sample size and repeated to its input
// channels, noised with seeded N(0,1) at timesteps spread over the schedule (t = 0.1,
// 0.3, 0.6, 0.9 x T, cycled over the images). Test split: the first `samples` images;
// train split: a seeded random subset. The true noise is kept for the noise-prediction
// error; class labels are the images' labels when the UNet is class-conditional.
struct DiffusionPairs {
  std::vector<torch::Tensor> noisy, timesteps, labels, noise;  // per batch
  std::string description;
};
Result<DiffusionPairs> diffusionPairs(const Model& model, int samples, int seed, const std::string& split, int batch);
// The UNet's noise prediction for batch i of `pairs` with `impl`'s input transforms and
// an optional observer. Throws if impl is not a UNet2DModel.
torch::Tensor runDiffusionPair(const ModelImpl& impl, const DiffusionPairs& pairs, size_t i,
                               const TapObserver* observer = nullptr);

}  // namespace cs::detail
