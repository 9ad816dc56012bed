// `cstudio train vq-fmnist` and `cstudio train ar-fmnist` (declared for the CLI in
// app/cli/cmd_diffusion.cpp with plain C++ signatures).
//
// vq-fmnist: the VQ-VAE tokenizer on Fashion-MNIST train (pixels in [-1, 1]); MSE
// reconstruction + 0.25 x commitment loss with a straight-through estimator; the codebook
// is updated by exponential moving averages (decay 0.99, Laplace smoothing), initialised
// from encoder outputs of the first batch, and codes unused for a while are restarted on
// random encoder outputs of the current batch. Reports test reconstruction MSE and
// codebook usage.
// ar-fmnist: tokenizes Fashion-MNIST train with the trained vq-fmnist (each image and its
// mirror image), then trains the class-conditional adaLN transformer with next-token
// cross-entropy, 10 % label dropout to the null class (classifier-free guidance), AdamW
// with warm-up and cosine decay, and an EMA (0.999) of the weights, which is saved with
// the VQ-VAE in one file. Both are deterministic given the seed on CPU; after every epoch
// weights, zoo.json and card are (re)written.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "engine/model.h"
#include "engine/torch/ar.h"
#include "engine/train.h"

namespace cs {
namespace fs = std::filesystem;

Result<TrainReport> trainVqFmnist(const TrainOptions& o, JobContext& job);
Result<TrainReport> trainArFmnist(const TrainOptions& o, JobContext& job);

namespace {

struct Data {
  torch::Tensor x, y;  // [N,1,28,28] in [-1,1], [N]
};

Result<Data> loadSplit(const std::string& split, int maxSamples) {
  auto d = detail::fashionMnistTensors(split);
  if (!d) return d.error();
  Data out{(d->images * detail::kFmnistStd + detail::kFmnistMean) * 2 - 1, d->labels};
  if (maxSamples > 0 && maxSamples < out.x.size(0)) {
    out.x = out.x.slice(0, 0, maxSamples);
    out.y = out.y.slice(0, 0, maxSamples);
  }
  return out;
}

std::string fmt(double v, int prec = 4) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(prec) << v;
  return s.str();
}

std::string lossList(const std::vector<double>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt(v[i]);
  return s;
}

// Test-set figures of a VQ-VAE: reconstruction MSE (pixels in [-1,1]) and code usage.
struct VqEval {
  double mse = 0, usedFraction = 0, perplexity = 0;
  int used = 0;
};
VqEval evalVq(const detail::VqVae& vq, const torch::Tensor& x, torch::Device dev) {
  torch::NoGradGuard ng;
  VqEval r;
  auto counts = torch::zeros({vq.config().codes}, torch::kDouble);
  double se = 0;
  for (int64_t i = 0; i < x.size(0); i += 500) {
    auto xb = x.slice(0, i, std::min<int64_t>(i + 500, x.size(0))).to(dev);
    auto codes = vq.nearestCodes(vq.encode(xb, {}));
    auto rec = vq.decodeCodes(codes, {});
    se += (rec - xb).pow(2).sum().item<double>();
    counts += torch::bincount(codes.reshape({-1}).cpu(), {}, vq.config().codes).to(torch::kDouble);
  }
  r.mse = se / double(x.numel());
  r.used = int((counts > 0).sum().item<int64_t>());
  r.usedFraction = double(r.used) / vq.config().codes;
  auto p = counts / counts.sum();
  r.perplexity = std::exp(-(p * (p + 1e-12).log()).sum().item<double>());
  return r;
}

}  // namespace

Result<TrainReport> trainVqFmnist(const TrainOptions& o, JobContext& job) {
  CS_TRY_RESULT("", {
    const auto t0 = std::chrono::steady_clock::now();
    auto train = loadSplit("train", o.maxTrainSamples);
    if (!train) return train.error();
    // Quick runs (--max-samples) evaluate on as many test images.
    auto test = loadSplit("test", o.maxTrainSamples > 0 ? std::min(o.maxTrainSamples, 10000) : 0);
    if (!test) return test.error();
    const bool cuda = o.device == "cuda";
    if (cuda && !torch::cuda::is_available()) return Error::badArgument("--device cuda: this LibTorch build has no CUDA device");
    const torch::Device dev = cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    torch::manual_seed(o.seed);
    auto X = train->x.to(dev);
    detail::VqConfig cfg;
    detail::VqVae m(cfg);
    m.initRandom(o.seed + 1);
    m.table().to(dev);
    std::vector<torch::Tensor> params;
    for (auto& n : m.table().order)
      if (n != "codebook.embed") params.push_back(m.table().p[n].requires_grad_(true));
    const int epochs = o.epochs > 0 ? o.epochs : 15;
    const int B = std::min<int>(o.batch > 0 ? std::max(o.batch, 256) : 256, int(X.size(0)));
    torch::optim::Adam opt(params, torch::optim::AdamOptions(o.lr > 0 ? o.lr : 1e-3));
    auto gen = at::detail::createCPUGenerator(o.seed + 2);
    auto& E = m.table().p["codebook.embed"];
    const int64_t K = cfg.codes, Dz = cfg.latentDim;
    auto clusterSize = torch::zeros({K}, E.options()), embedSum = torch::zeros({K, Dz}, E.options());
    const double decay = 0.99, eps = 1e-5, beta = 0.25;
    TrainReport rep;
    for (auto& p : params) rep.parameters += p.numel();
    rep.parameters += E.numel();
    const int64_t N = X.size(0), steps = (N + B - 1) / B;
    const std::string dir = o.outDir.empty() ? (fs::path(zooDirectory()) / "vq-fmnist").string() : o.outDir;
    fs::create_directories(dir);
    rep.weightsPath = (fs::path(dir) / "model.safetensors").string();
    rep.cardPath = (fs::path(dir) / "MODEL_CARD.md").string();
    int64_t restarts = 0;
    bool initialised = false;
    VqEval ev;
    auto save = [&](int epochsDone) -> Status {
      rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::map<std::string, std::string> meta = {{"seed", std::to_string(o.seed)},
                                                 {"epochs", std::to_string(epochsDone)},
                                                 {"test_mse", fmt(ev.mse, 6)},
                                                 {"codes_used", std::to_string(ev.used)},
                                                 {"pixel_range", "[-1,1], 28x28"},
                                                 {"command", o.command}};
      auto w = detail::saveVqVae(m, rep.weightsPath, meta);
      if (!w) return w.error();
      std::ofstream(fs::path(dir) / "zoo.json")
          << "{\n  \"family\": \"vqvae\",\n  \"name\": \"vq-fmnist\",\n  \"summary\": \"VQ-VAE tokenizer for "
             "Fashion-MNIST (28x28 -> 7x7 codes of 256)\",\n  \"task\": \"tokenizer\",\n  \"weights\": "
             "\"model.safetensors\"\n}\n";
      std::ostringstream card;
      card << "# vq-fmnist\n\nVQ-VAE image tokenizer for Fashion-MNIST (engine/src/ar/vqvae.cpp), the tokenizer of "
              "ar-fmnist. Written by `cstudio train vq-fmnist` (engine/src/ar/train_ar.cpp).\n\n| | |\n|---|---|\n"
           << "| Architecture | encoder conv3x3 1->" << cfg.channels << ", two conv4x4 stride 2 (28->14->7), residual "
              "block, conv1x1 -> "
           << cfg.latentDim << "; codebook " << K << " x " << cfg.latentDim
           << " (nearest neighbour, EMA updates, dead-code restarts); decoder mirrors it with transposed convs; "
              "SiLU |\n"
           << "| Parameters | " << rep.parameters << " (fp16 on disk) |\n"
           << "| Data | Debian dataset-fashion-mnist, train split"
           << (o.maxTrainSamples > 0 ? " (first " + std::to_string(o.maxTrainSamples) + " images)" : " (60,000 images)")
           << ", pixels in [-1, 1] |\n"
           << "| Training | MSE + 0.25 commitment, straight-through; Adam lr " << (o.lr > 0 ? o.lr : 1e-3)
           << "; batch " << B << "; EMA codebook decay 0.99; seed " << o.seed << "; epochs " << epochsDone << " of "
           << epochs << "; " << restarts << " code restarts |\n"
           << "| Command | `" << o.command << "` |\n| Time / hardware | " << fmt(rep.seconds, 1) << " s on "
           << (cuda ? "CUDA" : "CPU") << " |\n"
           << "| Train loss by epoch | " << lossList(rep.epochTrainLoss) << " |\n"
           << "| Test reconstruction MSE | " << fmt(ev.mse, 5) << " (pixels in [-1,1]; " << fmt(ev.mse / 4, 5)
           << " in [0,1]) on " << test->x.size(0) << " test images |\n"
           << "| Codebook usage (test) | " << ev.used << " of " << K << " codes used, perplexity "
           << fmt(ev.perplexity, 1) << " |\n";
      std::ofstream(rep.cardPath) << card.str();
      return okStatus();
    };
    for (int e = 0; e < epochs; ++e) {
      auto perm = torch::randperm(N, gen, torch::kLong).to(dev);
      double lossSum = 0;
      int64_t seen = 0;
      for (int64_t s = 0; s < steps; ++s) {
        if (job.cancelled()) return Error::cancelled();
        auto xb = X.index_select(0, perm.slice(0, s * B, std::min<int64_t>((s + 1) * B, N)));
        auto ze = m.encode(xb, {});
        auto z = ze.permute({0, 2, 3, 1}).reshape({-1, Dz});
        if (!initialised) {
          torch::NoGradGuard ng;
          auto pick = torch::randperm(z.size(0), gen, torch::kLong).slice(0, 0, K).to(dev);
          E.copy_(z.detach().index_select(0, pick));
          embedSum.copy_(E);
          clusterSize.fill_(1.0);
          initialised = true;
        }
        torch::Tensor idx;
        {
          torch::NoGradGuard ng;
          auto zd = z.detach();
          idx = (zd.pow(2).sum(1, true) - 2 * torch::matmul(zd, E.t()) + E.pow(2).sum(1).unsqueeze(0)).argmin(1);
        }
        auto zq = E.index_select(0, idx);
        auto commit = torch::mse_loss(z, zq.detach());
        auto zst = (z + (zq - z).detach()).view({ze.size(0), ze.size(2), ze.size(3), Dz}).permute({0, 3, 1, 2});
        auto rec = m.decode(zst, {});
        auto recLoss = torch::mse_loss(rec, xb);
        auto loss = recLoss + beta * commit;
        opt.zero_grad();
        loss.backward();
        opt.step();
        {
          torch::NoGradGuard ng;
          auto zd = z.detach();
          auto onehot = torch::zeros({zd.size(0), K}, zd.options()).scatter_(1, idx.unsqueeze(1), 1.0);
          clusterSize.mul_(decay).add_(onehot.sum(0), 1 - decay);
          embedSum.mul_(decay).add_(torch::matmul(onehot.t(), zd), 1 - decay);
          const double n = clusterSize.sum().item<double>();
          auto smoothed = (clusterSize + eps) / (n + double(K) * eps) * n;
          E.copy_(embedSum / smoothed.unsqueeze(1));
          if (s % 50 == 49) {  // dead-code restarts on random encoder outputs of this batch
            auto dead = (clusterSize < 0.03).nonzero().reshape({-1});
            const int64_t nd = dead.size(0);
            if (nd > 0) {
              auto pick = torch::randint(0, zd.size(0), {nd}, gen, torch::kLong).to(dev);
              auto fresh = zd.index_select(0, pick);
              E.index_copy_(0, dead, fresh);
              embedSum.index_copy_(0, dead, fresh);
              clusterSize.index_fill_(0, dead, 1.0);
              restarts += nd;
            }
          }
        }
        lossSum += recLoss.item<double>() * double(xb.size(0));
        seen += xb.size(0);
        job.progress((e + double(s + 1) / steps) / epochs, "vq-fmnist epoch " + std::to_string(e + 1) + "/" +
                                                               std::to_string(epochs) + " mse " +
                                                               fmt(lossSum / double(seen)));
      }
      rep.epochTrainLoss.push_back(lossSum / double(std::max<int64_t>(seen, 1)));
      ev = evalVq(m, test->x, dev);
      rep.testAccuracy = ev.usedFraction;
      auto w = save(e + 1);
      if (!w) return w.error();
    }
    return rep;
  })
}

// ---------------------------------------------------------------------------- ar-fmnist
Result<TrainReport> trainArFmnist(const TrainOptions& o, JobContext& job) {
  CS_TRY_RESULT("", {
    const auto t0 = std::chrono::steady_clock::now();
    std::string vqPath = (fs::path(zooDirectory()) / "vq-fmnist" / "model.safetensors").string();
    if (const char* p = std::getenv("CSTUDIO_VQ")) vqPath = p;
    if (!fs::exists(vqPath))
      return Error::notFound(vqPath + ": no vq-fmnist tokenizer (train it first: `cstudio train vq-fmnist`)");
    auto vqr = detail::loadVqVae(vqPath);
    if (!vqr) return vqr.error();
    auto vq = *vqr;
    auto train = loadSplit("train", o.maxTrainSamples);
    if (!train) return train.error();
    auto test = loadSplit("test", o.maxTrainSamples > 0 ? std::min(o.maxTrainSamples, 10000) : 0);
    if (!test) return test.error();
    const bool cuda = o.device == "cuda";
    if (cuda && !torch::cuda::is_available()) return Error::badArgument("--device cuda: this LibTorch build has no CUDA device");
    const torch::Device dev = cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    torch::manual_seed(o.seed);
    vq->table().to(dev);
    auto tokenize = [&](const torch::Tensor& x) {
      torch::NoGradGuard ng;
      std::vector<torch::Tensor> parts;
      for (int64_t i = 0; i < x.size(0); i += 1000)
        parts.push_back(vq->nearestCodes(vq->encode(x.slice(0, i, std::min<int64_t>(i + 1000, x.size(0))).to(dev), {}))
                            .reshape({-1, vq->config().grid() * vq->config().grid()}));
      return torch::cat(parts);
    };
    job.progress(0.0, "tokenizing Fashion-MNIST with " + vqPath);
    auto codes = tokenize(train->x), codesFlip = tokenize(train->x.flip({3})), testCodes = tokenize(test->x);
    auto Y = train->y.to(dev), testY = test->y.to(dev);
    detail::ArConfig cfg;
    cfg.vocab = vq->config().codes;
    cfg.seqLen = vq->config().grid() * vq->config().grid();
    auto model = std::make_shared<detail::ArImageModel>(cfg, vq->config());
    model->vq->table().copyFrom(vq->table());
    auto& ar = model->ar;
    ar.initRandom(o.seed + 1);
    ar.table().to(dev);
    std::vector<torch::Tensor> params, decay, noDecay;
    std::vector<std::string> names;
    for (auto& n : ar.table().order) {
      if (ar.table().buffers.count(n)) continue;
      auto& t = ar.table().p[n];
      t.requires_grad_(true);
      params.push_back(t);
      names.push_back(n);
      (t.dim() == 2 && n.find("embed") == std::string::npos && n != "class_token.weight" ? decay : noDecay).push_back(t);
    }
    std::vector<torch::Tensor> ema;
    for (auto& p : params) ema.push_back(p.detach().clone());
    const int epochs = o.epochs > 0 ? o.epochs : 40;
    const int B = std::min<int>(o.batch > 0 ? std::max(o.batch, 256) : 256, int(codes.size(0)));
    const double lr = o.lr > 0 ? 5e-4 * (o.lr / 1e-3) : 5e-4;
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(lr).weight_decay(0.05).betas({0.9, 0.95})));
    groups.emplace_back(noDecay, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(lr).weight_decay(0.0).betas({0.9, 0.95})));
    torch::optim::AdamW opt(std::move(groups));
    auto gen = at::detail::createCPUGenerator(o.seed + 2);
    const int64_t N = codes.size(0), steps = (N + B - 1) / B, total = steps * epochs, warm = std::min<int64_t>(500, total / 10 + 1);
    TrainReport rep;
    for (auto& p : params) rep.parameters += p.numel();
    const std::string dir = o.outDir.empty() ? (fs::path(zooDirectory()) / "ar-fmnist").string() : o.outDir;
    fs::create_directories(dir);
    rep.weightsPath = (fs::path(dir) / "model.safetensors").string();
    rep.cardPath = (fs::path(dir) / "MODEL_CARD.md").string();
    std::vector<double> testNll;
    auto evalNll = [&]() {
      torch::NoGradGuard ng;
      double sum = 0;
      for (int64_t i = 0; i < testCodes.size(0); i += 1000) {
        auto c = testCodes.slice(0, i, std::min<int64_t>(i + 1000, testCodes.size(0)));
        auto lg = ar.logits(testY.slice(0, i, i + c.size(0)), c.slice(1, 0, cfg.seqLen - 1), {});
        sum += torch::cross_entropy_loss(lg.reshape({-1, cfg.vocab}), c.reshape({-1}), {}, at::Reduction::Sum).item<double>();
      }
      return sum / double(testCodes.numel());
    };
    auto save = [&](int epochsDone) -> Status {
      rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      {
        torch::NoGradGuard ng;  // the EMA weights go into the file; training continues on the raw ones
        for (size_t i = 0; i < params.size(); ++i) std::swap(ar.table().p[names[i]], ema[i]);
      }
      std::map<std::string, std::string> meta = {{"seed", std::to_string(o.seed)},
                                                 {"epochs", std::to_string(epochsDone)},
                                                 {"default_guidance", "2"},
                                                 {"default_temperature", "1"},
                                                 {"default_top_k", "0"},
                                                 {"tokenizer", vqPath},
                                                 {"command", o.command}};
      auto w = detail::saveArImageModel(*model, rep.weightsPath, meta);
      for (size_t i = 0; i < params.size(); ++i) std::swap(ar.table().p[names[i]], ema[i]);
      if (!w) return w.error();
      std::ofstream(fs::path(dir) / "zoo.json")
          << "{\n  \"family\": \"ar-image\",\n  \"name\": \"ar-fmnist\",\n  \"summary\": \"Class-conditional "
             "autoregressive transformer (adaLN, CFG, KV cache) over vq-fmnist tokens, Fashion-MNIST 28x28\",\n  "
             "\"task\": \"autoregressive-image\",\n  \"weights\": \"model.safetensors\"\n}\n";
      std::ostringstream card;
      card << "# ar-fmnist (as written by the trainer)\n\n"
           << "- Transformer: dim " << cfg.dim << ", depth " << cfg.depth << ", heads " << cfg.heads << ", MLP x"
           << cfg.mlpRatio << ", class embedding " << cfg.condDim << " -> adaLN in every block, sequence "
           << cfg.seqLen << " tokens (7x7 raster), vocabulary " << cfg.vocab << "\n"
           << "- Parameters: " << rep.parameters << " transformer + VQ-VAE " << vq->table().order.size()
           << " tensors (fp16 on disk)\n"
           << "- Data: Fashion-MNIST train" << (o.maxTrainSamples > 0 ? " (first " + std::to_string(o.maxTrainSamples) + ")" : "")
           << ", tokenized by " << vqPath << " (each image or its mirror image, chosen per epoch)\n"
           << "- Training: next-token cross-entropy, 10 % label dropout, AdamW lr " << lr << " (warm-up " << warm
           << " steps, cosine), weight decay 0.05, batch " << B << ", EMA 0.999 saved; seed " << o.seed << "; epochs "
           << epochsDone << " of " << epochs << "\n"
           << "- Command: `" << o.command << "`\n- Time: " << fmt(rep.seconds, 1) << " s on " << (cuda ? "CUDA" : "CPU")
           << "\n- Train loss by epoch (nats/token): " << lossList(rep.epochTrainLoss)
           << "\n- Test NLL by epoch (nats/token, EMA weights): " << lossList(testNll) << "\n";
      std::ofstream(rep.cardPath) << card.str();
      return okStatus();
    };
    int64_t it = 0;
    for (int e = 0; e < epochs; ++e) {
      auto perm = torch::randperm(N, gen, torch::kLong).to(dev);
      auto flip = (torch::rand({N}, gen) < 0.5).to(dev);
      double lossSum = 0;
      int64_t seen = 0;
      for (int64_t s = 0; s < steps; ++s, ++it) {
        if (job.cancelled()) return Error::cancelled();
        auto idx = perm.slice(0, s * B, std::min<int64_t>((s + 1) * B, N));
        const int64_t b = idx.size(0);
        auto c = torch::where(flip.index_select(0, idx).unsqueeze(1), codesFlip.index_select(0, idx), codes.index_select(0, idx));
        auto y = Y.index_select(0, idx);
        auto drop = (torch::rand({b}, gen) < 0.1).to(dev);
        y = torch::where(drop, torch::full_like(y, cfg.nullClass()), y);
        const double f = it < warm ? double(it + 1) / double(warm)
                                   : 0.5 * (1 + std::cos(M_PI * double(it - warm) / double(std::max<int64_t>(1, total - warm))));
        for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr * f);
        auto lg = ar.logits(y, c.slice(1, 0, cfg.seqLen - 1), {});
        auto loss = torch::cross_entropy_loss(lg.reshape({-1, cfg.vocab}), c.reshape({-1}));
        opt.zero_grad();
        loss.backward();
        torch::nn::utils::clip_grad_norm_(params, 1.0);
        opt.step();
        {
          torch::NoGradGuard ng;
          for (size_t i = 0; i < params.size(); ++i) ema[i].mul_(0.999).add_(params[i].detach(), 0.001);
        }
        lossSum += loss.item<double>() * double(b);
        seen += b;
        job.progress((e + double(s + 1) / steps) / epochs, "ar-fmnist epoch " + std::to_string(e + 1) + "/" +
                                                               std::to_string(epochs) + " loss " +
                                                               fmt(lossSum / double(seen)));
      }
      rep.epochTrainLoss.push_back(lossSum / double(std::max<int64_t>(seen, 1)));
      {
        torch::NoGradGuard ng;
        for (size_t i = 0; i < params.size(); ++i) std::swap(ar.table().p[names[i]], ema[i]);
        testNll.push_back(evalNll());
        for (size_t i = 0; i < params.size(); ++i) std::swap(ar.table().p[names[i]], ema[i]);
      }
      rep.epochTestAccuracy.push_back(testNll.back());
      auto w = save(e + 1);
      if (!w) return w.error();
    }
    return rep;
  })
}

}  // namespace cs
