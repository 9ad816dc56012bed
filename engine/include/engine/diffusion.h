// Image generation with diffusion models (plain C++ facade, no torch).
//
// generateImages() runs DDIM or DDPM sampling of a class-conditional UNet2DModel (the
// zoo's ddpm-fmnist, or any studio unet2d safetensors), or autoregressive token sampling
// (top-k/temperature, guidance on the logits, KV cache) of a VQ + transformer model (the
// zoo's ar-fmnist; its tokens are decoded by the VQ-VAE), for (class, seed) pairs: image i
// starts from noise seeded by seeds[i] alone, so it is the same in any batch. Pixels
// come back in [0, 1] (model range [-1, 1] mapped linearly), [n][h][w] per channel.
// Classifier-free guidance uses the model's null class (metadata "null_class", else the
// last class embedding). Progress is reported per step; cancel is checked per step.
// Threading: reentrant; the Model is only read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/job.h"
#include "engine/model.h"
#include "engine/result.h"

namespace cs {

struct ImageGenOptions {
  std::string sampler = "ddim";  // "ddim" or "ddpm"
  int steps = 50;
  double eta = 0.0;       // DDIM only
  double guidance = 2.0;  // classifier-free guidance scale (1: conditional only)
  int batch = 64;         // images per sampler call
  // Autoregressive models (ar-fmnist): token sampling settings; sampler/steps/eta are ignored.
  double temperature = 1.0;  // softmax temperature of the next-token distribution (> 0)
  int topK = 0;              // sample among the k most likely tokens (0: all tokens)
  std::string device = "cpu";  // "cuda": sample on a CUDA copy of the model (CUDA LibTorch builds)
};

struct GeneratedImages {
  int n = 0, channels = 1, h = 0, w = 0;
  std::vector<float> pixels;  // n*channels*h*w in [0, 1]
  std::vector<int> labels;    // conditioning class per image (-1: unconditional)
  std::vector<uint64_t> seeds;
  double seconds = 0;         // wall time of the sampling
};

// The default sampler settings of a diffusion or AR image model (its metadata may override them).
ImageGenOptions defaultImageGenOptions(const Model& model);

// labels: one class per image (empty: unconditional; a conditional model then uses its
// null class); seeds: one per image. Sizes must match when labels is not empty.
Result<GeneratedImages> generateImages(const Model& model, const std::vector<int>& labels,
                                       const std::vector<uint64_t>& seeds, const ImageGenOptions& opt,
                                       JobContext& job = nullJob());

// Writes images as one PNG grid (8-bit grey or RGB, `cols` per row, 2-pixel gaps).
Status writePngGrid(const std::string& path, const GeneratedImages& images, int cols = 8);

// Number of classes a conditional model takes (0: unconditional or not an image generator).
int diffusionClassCount(const Model& model);

}  // namespace cs
