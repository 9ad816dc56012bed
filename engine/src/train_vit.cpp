// `cstudio train vit-fmnist`: trains the zoo ViT on Fashion-MNIST and writes its
// weights (safetensors) and model card.
#include <chrono>
#include <filesystem>
#include <numeric>
#include <fstream>
#include <random>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "engine/model.h"
#include "engine/runtime.h"
#include "engine/torch/tensors.h"
#include "engine/torch/vit.h"
#include "engine/train.h"

namespace cs {
namespace fs = std::filesystem;
using detail::VitConfig;
using detail::VitModel;

namespace {

double evalAccuracy(const VitModel& m, const torch::Tensor& images, const torch::Tensor& labels) {
  torch::InferenceMode guard;
  int64_t correct = 0;
  for (int64_t i = 0; i < images.size(0); i += 500) {
    auto x = images.slice(0, i, std::min<int64_t>(i + 500, images.size(0)));
    auto y = labels.slice(0, i, std::min<int64_t>(i + 500, images.size(0)));
    correct += m.run(x).argmax(1).eq(y).sum().item<int64_t>();
  }
  return double(correct) / images.size(0);
}

std::string cpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// Random shift by up to 2 pixels (pad + crop) and horizontal flip, per sample,
// vectorized as one gather so it costs the same on CPU and CUDA.
torch::Tensor augment(const torch::Tensor& x, std::mt19937& rng) {
  const int64_t B = x.size(0);
  auto padded = torch::constant_pad_nd(x.squeeze(1), {2, 2, 2, 2}, (0.0 - detail::kFmnistMean) / detail::kFmnistStd);
  std::vector<int64_t> dy(B), dx(B), flip(B);
  std::uniform_int_distribution<int> shift(0, 4), coin(0, 1);
  for (int64_t b = 0; b < B; ++b) {
    dy[b] = shift(rng);
    dx[b] = shift(rng);
    flip[b] = coin(rng);
  }
  auto opt = torch::TensorOptions().dtype(torch::kLong);
  auto ar = torch::arange(28, opt);
  auto tdy = torch::tensor(dy, opt).view({B, 1, 1}), tdx = torch::tensor(dx, opt).view({B, 1, 1});
  auto tflip = torch::tensor(flip, opt).view({B, 1, 1});
  auto rows = tdy + ar.view({1, 28, 1});
  auto cols = tdx + torch::where(tflip.eq(1), 27 - ar, ar);  // [B, 1, 28]
  auto bidx = torch::arange(B, opt).view({B, 1, 1});
  auto dev = x.device();
  return padded.index({bidx.to(dev), rows.to(dev), cols.to(dev)}).unsqueeze(1);
}

}  // namespace

Result<TrainReport> trainVitFmnist(const TrainOptions& o, JobContext& job) {
  CS_TRY_RESULT("", {
    const auto t0 = std::chrono::steady_clock::now();
    auto train = detail::fashionMnistTensors("train");
    if (!train) return train.error();
    auto test = detail::fashionMnistTensors("test");
    if (!test) return test.error();
    torch::manual_seed(o.seed);
    const bool cuda = o.device == "cuda";
    if (cuda && !torch::cuda::is_available()) return Error::badArgument("--device cuda: this LibTorch build has no CUDA device");
    const torch::Device dev = cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    auto trainX = train->images.to(dev), trainY = train->labels.to(dev);
    auto testX = test->images.to(dev), testY = test->labels.to(dev);
    std::mt19937 rng(static_cast<uint32_t>(o.seed));

    VitConfig cfg;
    auto model = std::make_shared<VitModel>(cfg);
    model->initRandom(o.seed);
    model->to(dev);
    std::vector<torch::Tensor> params;
    std::vector<torch::Tensor> decay, noDecay;
    for (auto& n : model->paramNames()) {
      auto& p = model->param(n);
      p.set_requires_grad(true);
      (p.dim() >= 2 && n != "pos_embed" && n != "cls_token" ? decay : noDecay).push_back(p);
    }
    params = decay;
    params.insert(params.end(), noDecay.begin(), noDecay.end());
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(o.weightDecay)));
    groups.emplace_back(noDecay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(0.0)));
    torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(o.lr));

    int64_t N = train->images.size(0);
    if (o.maxTrainSamples > 0) N = std::min<int64_t>(N, o.maxTrainSamples);
    const int64_t stepsPerEpoch = (N + o.batch - 1) / o.batch;
    const int64_t totalSteps = stepsPerEpoch * o.epochs;
    const int64_t warmup = std::min<int64_t>(stepsPerEpoch, totalSteps / 10 + 1);
    TrainReport rep;
    int64_t step = 0;
    std::vector<int64_t> order(N);
    for (int epoch = 0; epoch < o.epochs; ++epoch) {
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      auto idx = torch::from_blob(order.data(), {N}, torch::kLong).clone().to(dev);
      auto lossSum = torch::zeros({}, torch::TensorOptions().device(dev));  // summed on the device: no sync per step
      for (int64_t s = 0; s < stepsPerEpoch; ++s, ++step) {
        if (job.cancelled()) return Error::cancelled();
        auto bi = idx.slice(0, s * o.batch, std::min<int64_t>((s + 1) * o.batch, N));
        auto x = augment(trainX.index_select(0, bi), rng);
        auto y = trainY.index_select(0, bi);
        // Linear warm-up, then cosine decay to 1% of the peak rate.
        double lr = step < warmup ? o.lr * (step + 1) / warmup
                                  : o.lr * (0.01 + 0.99 * 0.5 * (1 + std::cos(M_PI * double(step - warmup) / double(totalSteps - warmup))));
        for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
        auto logits = model->run(x);
        // Cross-entropy with label smoothing 0.1.
        auto logp = torch::log_softmax(logits, 1);
        auto nll = -logp.gather(1, y.unsqueeze(1)).squeeze(1);
        auto loss = (0.9 * nll - 0.1 * logp.mean(1)).mean();
        opt.zero_grad();
        loss.backward();
        torch::nn::utils::clip_grad_norm_(params, 1.0);
        opt.step();
        lossSum += loss.detach();
        if (s % 20 == 0)
          job.progress(double(step) / totalSteps, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs) +
                                                      " loss " + std::to_string(lossSum.item<double>() / (s + 1)).substr(0, 6));
      }
      double acc = evalAccuracy(*model, testX, testY);
      rep.epochTestAccuracy.push_back(acc);
      rep.epochTrainLoss.push_back(lossSum.item<double>() / stepsPerEpoch);
      job.progress(double(step) / totalSteps, "epoch " + std::to_string(epoch + 1) + " test accuracy " + std::to_string(acc));
    }
    for (auto& n : model->paramNames()) model->param(n).set_requires_grad(false);
    model->to(torch::kCPU);
    rep.testAccuracy = rep.epochTestAccuracy.empty() ? 0 : rep.epochTestAccuracy.back();
    rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (auto& [n, t] : model->namedTensors()) rep.parameters += t.numel();

    const std::string dir = o.outDir.empty() ? zooDirectory() + "/vit-fmnist" : o.outDir;
    fs::create_directories(dir);
    rep.weightsPath = dir + "/model.safetensors";
    auto meta = cfg.toMetadata();
    meta["name"] = "vit-fmnist";
    meta["seed"] = std::to_string(o.seed);
    meta["test_accuracy"] = std::to_string(rep.testAccuracy);
    auto w = detail::writeSafeTensors(rep.weightsPath, model->namedTensors(), meta);
    if (!w) return w.error();
    {
      std::ofstream z(dir + "/zoo.json");
      z << nlohmann::json{{"name", "vit-fmnist"}, {"family", "vit"}, {"task", "image-classification"},
                          {"weights", "model.safetensors"},
                          {"summary", "ViT classifier for Fashion-MNIST (patch 4, dim 64, depth 4)"}}
               .dump(2)
        << "\n";
    }
    rep.cardPath = dir + "/MODEL_CARD.md";
    std::ofstream c(rep.cardPath);
    c << "# vit-fmnist\n\nA Vision Transformer classifier for Fashion-MNIST, implemented natively in LibTorch "
         "(engine/src/vit.cpp, timm tensor names) and trained by the studio's own command.\n\n"
      << "| | |\n|---|---|\n"
      << "| Architecture | ViT: " << cfg.imgSize << "x" << cfg.imgSize << " input, patch " << cfg.patch << " (" << cfg.tokens() - 1
      << " patches + CLS), dim " << cfg.dim << ", depth " << cfg.depth << ", heads " << cfg.heads << ", MLP " << cfg.mlpDim
      << ", GELU, pre-LN, learned positions |\n"
      << "| Parameters | " << rep.parameters << " |\n"
      << "| Data | Debian `dataset-fashion-mnist` (60,000 train / 10,000 test, 28x28 grey), normalized with mean "
      << detail::kFmnistMean << ", std " << detail::kFmnistStd << "; augmentation: random shift of up to 2 px, horizontal flip |\n"
      << "| Training | AdamW, lr " << o.lr << " (warm-up 1 epoch, cosine), weight decay " << o.weightDecay << ", batch "
      << o.batch << ", " << o.epochs << " epochs, label smoothing 0.1, grad-norm clip 1.0, seed " << o.seed << " |\n"
      << "| Command | `" << (o.command.empty() ? "cstudio train vit-fmnist" : o.command) << "` |\n"
      << "| Time | " << static_cast<int>(rep.seconds) << " s |\n"
      << "| Hardware | " << cpuModel() << ", " << runtimeInfo().threads << " CPU threads, device " << o.device << ", LibTorch " << TORCH_VERSION << " |\n"
      << "| Test accuracy (10,000 images) | " << rep.testAccuracy * 100 << " % |\n"
      << "| Weights | `model.safetensors`, float32, config in the safetensors metadata |\n\n"
      << "Test accuracy after each epoch: ";
    for (size_t i = 0; i < rep.epochTestAccuracy.size(); ++i) c << (i ? ", " : "") << rep.epochTestAccuracy[i] * 100;
    c << "\n";
    return rep;
  })
}

}  // namespace cs
