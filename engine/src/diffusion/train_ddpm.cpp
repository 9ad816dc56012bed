// `cstudio train ddpm-fmnist`: trains the zoo's class-conditional UNet2DModel noise
// predictor on Fashion-MNIST (28x28 padded to 32, pixels in [-1, 1]) with label dropout
// (class 10 = "no class") for classifier-free guidance, and writes fp16 safetensors
// plus a model card. Deterministic given the seed on CPU. Keeps an exponential moving
// average (decay 0.999) of the weights and saves the average; the LR is constant, so a
// run of k epochs equals the first k epochs of a longer run. After every epoch the
// weights, zoo.json and card are (re)written, so an interrupted run leaves a usable model
// whose card names the epochs actually done.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/model.h"
#include "engine/torch/unet.h"
#include "engine/train.h"

namespace cs {
namespace fs = std::filesystem;

// Declared for the CLI in app/cli/cmd_diffusion.cpp (plain C++ signature).
Result<TrainReport> trainDdpmFmnist(const TrainOptions& o, JobContext& job);

namespace {
detail::UNetConfig zooConfig() {
  detail::UNetConfig c;
  c.sampleSize = 32;
  c.inChannels = c.outChannels = 1;
  c.blockOutChannels = {32, 64, 64};
  c.downBlockTypes = {"DownBlock2D", "AttnDownBlock2D", "DownBlock2D"};
  c.upBlockTypes = {"UpBlock2D", "AttnUpBlock2D", "UpBlock2D"};
  c.layersPerBlock = 1;
  c.normNumGroups = 8;
  c.numClassEmbeds = 11;  // 10 classes + the null class for guidance
  c.flipSinToCos = true;
  c.freqShift = 0;
  c.downsamplePadding = 1;
  return c;
}
}  // namespace

Result<TrainReport> trainDdpmFmnist(const TrainOptions& o, JobContext& job) {
  CS_TRY_RESULT("", {
    const auto t0 = std::chrono::steady_clock::now();
    auto train = detail::fashionMnistTensors("train");
    if (!train) return train.error();
    const bool cuda = o.device == "cuda";
    if (cuda && !torch::cuda::is_available()) return Error::badArgument("--device cuda: this LibTorch build has no CUDA device");
    const torch::Device dev = cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    torch::manual_seed(o.seed);
    // Back to [0,1], then [-1,1], padded to 32x32 with the background value.
    auto X = train->images * detail::kFmnistStd + detail::kFmnistMean;
    X = torch::constant_pad_nd(X * 2 - 1, {2, 2, 2, 2}, -1.0);
    auto Y = train->labels;
    if (o.maxTrainSamples > 0 && o.maxTrainSamples < X.size(0)) {
      X = X.slice(0, 0, o.maxTrainSamples);
      Y = Y.slice(0, 0, o.maxTrainSamples);
    }
    X = X.to(dev);
    Y = Y.to(dev);
    detail::UNet2DModel m(zooConfig());
    m.initRandom(o.seed + 1);
    m.to(dev);
    std::vector<torch::Tensor> params;
    for (const auto& n : m.paramNames()) {
      m.param(n).requires_grad_(true);
      params.push_back(m.param(n));
    }
    std::vector<torch::Tensor> ema;
    for (auto& p : params) ema.push_back(p.detach().clone());
    const double emaDecay = 0.999;
    const int epochs = o.epochs > 0 ? o.epochs : 30;
    const int B = o.batch > 0 ? std::min<int>(o.batch, int(X.size(0))) : 128;
    torch::optim::AdamW opt(params, torch::optim::AdamWOptions(o.lr > 0 ? 2e-4 * (o.lr / 1e-3) : 2e-4).weight_decay(0.0));
    auto sched = detail::NoiseSchedule::linear();
    auto abar = sched.alphasCumprod.to(torch::kFloat).to(dev);
    auto gen = at::detail::createCPUGenerator(o.seed + 2);
    TrainReport rep;
    const int64_t N = X.size(0), steps = (N + B - 1) / B;
    const std::string dir = o.outDir.empty() ? (fs::path(zooDirectory()) / "ddpm-fmnist").string() : o.outDir;
    fs::create_directories(dir);
    rep.weightsPath = (fs::path(dir) / "model.safetensors").string();
    rep.cardPath = (fs::path(dir) / "MODEL_CARD.md").string();
    for (auto& p : params) rep.parameters += p.numel();
    // Writes the EMA weights (fp16; loaders convert back to float32), zoo.json and the card.
    auto save = [&](int epochsDone) -> Status {
      rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::vector<std::pair<std::string, torch::Tensor>> half;
      for (size_t i = 0; i < params.size(); ++i)
        half.emplace_back(m.paramNames()[i], ema[i].detach().to(torch::kCPU).to(torch::kHalf).contiguous());
      std::map<std::string, std::string> meta = {{"family", "unet2d"},
                                                 {"unet_config", zooConfig().toJson()},
                                                 {"null_class", "10"},
                                                 {"pixel_range", "[-1,1], 28x28 padded to 32 with -1"},
                                                 {"seed", std::to_string(o.seed)},
                                                 {"epochs", std::to_string(epochsDone)},
                                                 {"ema_decay", "0.999"},
                                                 {"command", o.command}};
      auto w = detail::writeSafeTensors(rep.weightsPath, half, meta);
      if (!w) return w.error();
      std::ofstream(fs::path(dir) / "zoo.json")
          << "{\n  \"family\": \"unet2d\",\n  \"name\": \"ddpm-fmnist\",\n  \"summary\": \"Class-conditional DDPM "
             "UNet for Fashion-MNIST (32x32, channels 32/64/64, CFG)\",\n  \"task\": \"diffusion\",\n  \"weights\": "
             "\"model.safetensors\"\n}\n";
      std::ostringstream card;
      card << "# ddpm-fmnist\n\nClass-conditional DDPM noise predictor (diffusers UNet2DModel layout) for "
              "Fashion-MNIST, 28x28 padded to 32, pixels in [-1, 1].\n\n"
           << "- Architecture: block_out_channels (32, 64, 64), DownBlock2D / AttnDownBlock2D / DownBlock2D, one "
              "ResNet per down block (two per up block), GroupNorm 8, attention at 16x16, class embedding of 11 "
              "entries (10 = null class for classifier-free guidance, trained with 10% label dropout).\n"
           << "- Parameters: " << rep.parameters << " (fp16 on disk)\n- Data: Debian dataset-fashion-mnist, train split"
           << (o.maxTrainSamples > 0 ? " (first " + std::to_string(o.maxTrainSamples) + " images)" : "") << "\n"
           << "- Schedule: linear betas 1e-4..0.02, T = 1000; eps-prediction, MSE loss; AdamW lr 2e-4 (constant), "
              "weights saved as an EMA (decay 0.999).\n"
           << "- Seed: " << o.seed << ", epochs done: " << epochsDone << " of " << epochs << " requested, batch: " << B
           << "\n- Command: `" << o.command << "`\n- Time: " << rep.seconds << " s on "
           << (cuda ? "CUDA" : "CPU") << "\n- Final train loss: "
           << (rep.epochTrainLoss.empty() ? 0.0 : rep.epochTrainLoss.back()) << "\n";
      std::ofstream(rep.cardPath) << card.str();
      return okStatus();
    };
    for (int e = 0; e < epochs; ++e) {
      auto perm = torch::randperm(N, gen, torch::kLong).to(dev);
      double lossSum = 0;
      int64_t seen = 0;
      for (int64_t s = 0; s < steps; ++s) {
        if (job.cancelled()) return Error::cancelled();
        auto idx = perm.slice(0, s * B, std::min<int64_t>((s + 1) * B, N));
        auto x0 = X.index_select(0, idx);
        auto y = Y.index_select(0, idx);
        const int64_t b = x0.size(0);
        auto t = torch::randint(0, sched.steps(), {b}, gen, torch::kLong).to(dev);
        auto drop = torch::rand({b}, gen).to(dev) < 0.1;
        y = torch::where(drop, torch::full_like(y, 10), y);
        auto eps = torch::randn(x0.sizes(), gen, torch::kFloat).to(dev);
        auto a = abar.index_select(0, t).view({-1, 1, 1, 1});
        auto xt = a.sqrt() * x0 + (1 - a).sqrt() * eps;
        auto pred = m.forward(xt, t, y, detail::ForwardCtx{});
        auto loss = torch::mse_loss(pred, eps);
        opt.zero_grad();
        loss.backward();
        opt.step();
        {
          torch::NoGradGuard ng;
          for (size_t i = 0; i < params.size(); ++i) ema[i].mul_(emaDecay).add_(params[i].detach(), 1 - emaDecay);
        }
        lossSum += loss.item<double>() * double(b);
        seen += b;
        job.progress((e + double(s + 1) / steps) / epochs,
                     "epoch " + std::to_string(e + 1) + "/" + std::to_string(epochs) + " loss " +
                         std::to_string(lossSum / double(seen)));
      }
      rep.epochTrainLoss.push_back(lossSum / double(std::max<int64_t>(seen, 1)));
      auto w = save(e + 1);
      if (!w) return w.error();
    }
    return rep;
  })
}

}  // namespace cs
