// lm-fortunes: a small LLaMA-style byte-level model trained on Debian's fortunes.
// Deterministic given the seed and thread count (CPU).
#include <cstdlib>
#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "engine/llm.h"
#include "engine/torch/llm_impl.h"

namespace fs = std::filesystem;

namespace cs {

namespace {
constexpr int kBos = 256, kEos = 257, kVocab = 258;

std::string trimNewlines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t b = 0;
  while (b < s.size() && s[b] == '\n') ++b;
  return s.substr(b);
}

std::string cpuName() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return trimNewlines(line.substr(line.find(':') + 2));
  return "unknown CPU";
}

std::string fmt(double v, int prec) {
  std::ostringstream o;
  o << std::fixed << std::setprecision(prec) << v;
  return o.str();
}
}  // namespace

Result<FortunesCorpus> loadFortunesCorpus(const std::string& dir0) {
  // CSTUDIO_FORTUNES replaces the Debian default (machines without the fortunes package,
  // e.g. the GPU machine, get a copy of the text files); an explicit directory wins.
  std::string dir = dir0;
  if (const char* env = std::getenv("CSTUDIO_FORTUNES"); env && *env && dir0 == "/usr/share/games/fortunes") dir = env;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Error::notFound(dir + ": no fortunes directory (install Debian's fortunes)");
  FortunesCorpus c;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto p = e.path();
    if (e.is_symlink() || !e.is_regular_file()) continue;
    const auto ext = p.extension().string();
    if (ext == ".dat" || ext == ".u8") continue;
    c.files.push_back(p.string());
  }
  std::sort(c.files.begin(), c.files.end());
  if (c.files.empty()) return Error::notFound(dir + ": no fortune files");
  int64_t index = 0;
  for (const auto& f : c.files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) return Error::badFile(f, "cannot read");
    std::string line, cur;
    auto flush = [&] {
      auto t = trimNewlines(cur);
      cur.clear();
      if (t.empty()) return;
      (index % 20 == 19 ? c.heldOut : c.train).push_back(t);
      ++index;
    };
    while (std::getline(in, line)) {
      if (line == "%") flush();
      else cur += line + "\n";
    }
    flush();
  }
  return c;
}

Result<PerplexityResult> fortunesHeldOutPerplexity(const LanguageModel& lm, const std::string& dir, int context,
                                                   int stride, JobContext& job) {
  auto corpus = loadFortunesCorpus(dir);
  if (!corpus) return corpus.error();
  PerplexityOptions o;
  o.context = context;
  o.stride = stride;
  std::vector<std::vector<int>> docs;
  int64_t bytes = 0;
  for (const auto& f : corpus->heldOut) {
    docs.push_back(lm.tokenizer().encode(f, true));
    bytes += static_cast<int64_t>(f.size());
  }
  auto r = lm.perplexityTokens(docs, o, job);
  if (!r) return r;
  r->bytes = bytes;
  r->bytePpl = std::exp(r->meanNll * r->tokens / bytes);
  r->bitsPerByte = r->meanNll * r->tokens / bytes / std::log(2.0);
  return r;
}

Result<std::string> trainLmFortunes(const TrainLmOptions& opt, JobContext& job) {
  const std::string outDir = opt.outDir.empty() ? (fs::path(zooDirectory()) / "lm-fortunes").string() : opt.outDir;
  auto corpus = loadFortunesCorpus(opt.fortunesDir);
  if (!corpus) return corpus.error();
  return detail::guarded(outDir, [&]() -> Result<std::string> {
    const auto t0 = std::chrono::steady_clock::now();
    const int prevThreads = at::get_num_threads();
    at::set_num_threads(std::max(1, opt.threads));
    // Training stream: [BOS] fortune [EOS] ... in corpus order.
    std::vector<int64_t> stream;
    int64_t trainBytes = 0, heldBytes = 0;
    for (const auto& f : corpus->train) {
      stream.push_back(kBos);
      for (unsigned char ch : f) stream.push_back(ch);
      stream.push_back(kEos);
      trainBytes += static_cast<int64_t>(f.size());
    }
    for (const auto& f : corpus->heldOut) heldBytes += static_cast<int64_t>(f.size());
    const int64_t T = opt.context;
    if (static_cast<int64_t>(stream.size()) < T + 2) return Error::failed("fortunes corpus too small");
    auto data = torch::tensor(stream, torch::kLong);

    detail::LmConfig cfg;
    cfg.arch = "llama";
    cfg.vocab = kVocab;
    cfg.dim = opt.dim;
    cfg.hidden = opt.hidden;
    cfg.layers = opt.layers;
    cfg.heads = opt.heads;
    cfg.kvHeads = opt.heads;
    cfg.headDim = opt.dim / opt.heads;
    cfg.maxSeq = T;
    cfg.normEps = 1e-5;
    cfg.bos = kBos;
    cfg.eos = kEos;
    torch::manual_seed(opt.seed);
    auto model = detail::DecoderLM::randomLlama(cfg, makeByteTokenizer(kBos, kEos, kVocab));
    model->name = "lm-fortunes";
    model->setRequiresGrad(true);
    std::vector<torch::Tensor> decay, noDecay;
    for (auto& [n, t] : model->namedTensors()) (t.dim() >= 2 ? decay : noDecay).push_back(t);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(opt.lr).betas({0.9, 0.95}).weight_decay(opt.weightDecay)));
    groups.emplace_back(noDecay, std::make_unique<torch::optim::AdamWOptions>(
                                     torch::optim::AdamWOptions(opt.lr).betas({0.9, 0.95}).weight_decay(0.0)));
    torch::optim::AdamW optim(std::move(groups), torch::optim::AdamWOptions(opt.lr));

    std::mt19937_64 rng(opt.seed);
    const int64_t maxStart = static_cast<int64_t>(stream.size()) - T - 1;
    detail::ForwardCtx ctx;
    double emaLoss = 0;
    std::vector<std::string> log;
    for (int step = 0; step < opt.steps; ++step) {
      if (job.cancelled()) {
        at::set_num_threads(prevThreads);
        return Error::cancelled();
      }
      double lr = opt.lr;
      if (step < opt.warmup) lr = opt.lr * (step + 1) / opt.warmup;
      else {
        double prog = static_cast<double>(step - opt.warmup) / std::max(1, opt.steps - opt.warmup);
        lr = opt.minLr + 0.5 * (opt.lr - opt.minLr) * (1 + std::cos(M_PI * prog));
      }
      for (auto& g : optim.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      std::vector<torch::Tensor> xs, ys;
      for (int b = 0; b < opt.batch; ++b) {
        const int64_t s = static_cast<int64_t>(rng() % static_cast<uint64_t>(maxStart + 1));
        xs.push_back(data.narrow(0, s, T));
        ys.push_back(data.narrow(0, s + 1, T));
      }
      auto x = torch::stack(xs), y = torch::stack(ys);
      auto logits = model->forwardTokens(x, ctx);
      auto loss = torch::nn::functional::cross_entropy(logits.reshape({-1, kVocab}), y.reshape({-1}));
      optim.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(decay, opt.clip);
      torch::nn::utils::clip_grad_norm_(noDecay, opt.clip);
      optim.step();
      const double l = loss.item<double>();
      emaLoss = step == 0 ? l : 0.98 * emaLoss + 0.02 * l;
      job.progress(static_cast<double>(step + 1) / opt.steps,
                   "step " + std::to_string(step + 1) + "/" + std::to_string(opt.steps) + " loss " + fmt(emaLoss, 3));
      if ((step + 1) % opt.evalEvery == 0 || step + 1 == opt.steps) {
        const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        log.push_back("step " + std::to_string(step + 1) + ": train loss (EMA) " + fmt(emaLoss, 4) + " nats, lr " +
                      fmt(lr, 6) + ", " + fmt(el, 0) + " s");
      }
    }
    const double trainSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    model->setRequiresGrad(false);

    fs::create_directories(outDir);
    const auto weights = (fs::path(outDir) / "model.safetensors").string();
    std::map<std::string, std::string> meta = {{"name", "lm-fortunes"},
                                               {"seed", std::to_string(opt.seed)},
                                               {"steps", std::to_string(opt.steps)}};
    auto st = detail::saveDecoderLM(*model, weights, opt.fp16, meta);
    if (!st) return st.error();
    at::set_num_threads(prevThreads);

    if (!opt.evaluate) {
      job.progress(1.0, "done");
      return weights;
    }
    // Evaluate the saved (fp16-rounded) weights, as users will load them.
    auto lm = LanguageModel::open(weights);
    if (!lm) return lm.error();
    auto sub = job.sub(0.99, 1.0);
    auto ppl = fortunesHeldOutPerplexity(*lm, opt.fortunesDir, static_cast<int>(T), static_cast<int>(T / 2), sub);
    if (!ppl) return ppl.error();
    GenerateOptions g;
    g.steps = 200;
    g.temperature = 0.8;
    g.topK = 40;
    g.seed = 7;
    auto sample = lm->generate(g);
    if (!sample) return sample.error();
    GenerateOptions gg;
    gg.steps = 200;
    auto greedy = lm->generate(gg);
    if (!greedy) return greedy.error();

    nlohmann::json zj = {{"name", "lm-fortunes"},
                         {"family", "llama"},
                         {"summary", "LLaMA-style byte-level language model trained on Debian's fortunes"},
                         {"weights", "model.safetensors"},
                         {"task", "language-model"}};
    std::ofstream(fs::path(outDir) / "zoo.json") << zj.dump(2) << "\n";

    std::ostringstream card;
    card << "# lm-fortunes\n\n"
         << "A small LLaMA-architecture decoder (RMSNorm, RoPE, SwiGLU, untied head) over bytes, trained from "
            "scratch by the studio on the text of Debian's `fortunes` package.\n\n"
         << "## Architecture\n\n"
         << "- " << lm->describe() << "\n"
         << "- dim " << opt.dim << ", " << opt.layers << " layers, " << opt.heads << " heads of " << cfg.headDim
         << ", SwiGLU hidden " << opt.hidden << ", RMSNorm eps 1e-5, RoPE theta 10000 (rotate-half), context " << T
         << "\n- tokenizer: bytes 0-255, BOS 256 (start of a fortune), EOS 257 (end of a fortune); vocab 258\n"
         << "- weights: `model.safetensors`, " << (opt.fp16 ? "float16" : "float32")
         << ", Hugging Face LLaMA tensor names, config in the `lm_config` metadata entry\n\n"
         << "## Data\n\n"
         << "- `" << opt.fortunesDir << "`: " << corpus->files.size()
         << " text files (no .dat/.u8), in sorted name order, split into fortunes at lines that are exactly `%`.\n"
         << "- Fortunes are numbered globally in that order; number i with i % 20 == 19 is held out (5%): "
         << corpus->heldOut.size() << " fortunes, " << heldBytes << " bytes. Training: " << corpus->train.size()
         << " fortunes, " << trainBytes << " bytes, as one stream `[BOS] fortune [EOS] ...`.\n\n"
         << "## Training\n\n"
         << "- Command: `" << opt.command << "` (seed " << opt.seed << ", " << opt.steps
         << " steps, batch " << opt.batch << " x " << T << " tokens, AdamW betas (0.9, 0.95), lr " << opt.lr
         << " with " << opt.warmup << " warm-up steps and cosine decay to " << opt.minLr << ", weight decay "
         << opt.weightDecay << " on matrices, gradient clip " << opt.clip << ", " << opt.threads << " thread(s))\n"
         << "- Training time: " << fmt(trainSeconds / 60.0, 1) << " min on " << cpuName() << ", " << opt.threads
         << " thread(s), LibTorch " << TORCH_VERSION_MAJOR << "." << TORCH_VERSION_MINOR << "." << TORCH_VERSION_PATCH
         << " (CPU)\n- Deterministic given the seed and thread count.\n\n";
    card << "Loss log:\n\n";
    for (const auto& l : log) card << "- " << l << "\n";
    card << "\n## Held-out evaluation\n\n"
         << "Each held-out fortune scored as its own document `[BOS] + bytes` (the BOS is not scored), sliding window "
         << "of " << T << " tokens with stride " << T / 2 << ", weights as saved (" << (opt.fp16 ? "fp16" : "fp32")
         << "), computed in float32:\n\n"
         << "- mean NLL " << fmt(ppl->meanNll, 4) << " nats/byte over " << ppl->tokens << " bytes\n"
         << "- perplexity " << fmt(ppl->ppl, 3) << " (byte-level), " << fmt(ppl->bitsPerByte, 3) << " bits/byte\n"
         << "- reproduce: `cstudio eval lm-fortunes --metric ppl --text fortunes:heldout`\n\n"
         << "## Samples\n\n"
         << "Sampled, temperature 0.8, top-k 40, seed 7, 200 steps from BOS "
         << "(`cstudio generate lm-fortunes --prompt '' --steps 200 --temperature 0.8 --top-k 40 --seed 7`):\n\n"
         << "```\n" << sample->text << "\n```\n\n"
         << "Greedy, 200 steps from BOS (`cstudio generate lm-fortunes --prompt '' --steps 200`):\n\n"
         << "```\n" << greedy->text << "\n```\n";
    std::ofstream(fs::path(outDir) / "MODEL_CARD.md") << card.str();
    job.progress(1.0, "done");
    return weights;
  });
}

}  // namespace cs
