// Calibration sequences (fortunes training split, model-generated text, or a text file;
// seeded and hashed) and the perplexity evaluations of the pruning facade.
#include "prune/calib.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <vector>

namespace fs = std::filesystem;

namespace cs::prunedetail {

namespace {
uint64_t fnv1a(const torch::Tensor& t) {
  auto c = t.contiguous();
  const int64_t* p = c.data_ptr<int64_t>();
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < c.numel(); ++i) {
    uint64_t v = static_cast<uint64_t>(p[i]);
    for (int b = 0; b < 8; ++b) {
      h ^= (v >> (8 * b)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  return h;
}

torch::Tensor windowsOf(const std::vector<int64_t>& stream, int n, int L, int seed, const std::string& what) {
  if (static_cast<int64_t>(stream.size()) < L + 1)
    throw EngineError(Error::badArgument(what + ": too little text for calibration windows of " + std::to_string(L) + " tokens"));
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 7919 + 17);
  std::uniform_int_distribution<int64_t> pick(0, static_cast<int64_t>(stream.size()) - L);
  auto out = torch::empty({n, L}, torch::kLong);
  auto* o = out.data_ptr<int64_t>();
  for (int i = 0; i < n; ++i) {
    const int64_t s = pick(rng);
    for (int j = 0; j < L; ++j) o[static_cast<int64_t>(i) * L + j] = stream[static_cast<size_t>(s + j)];
  }
  return out;
}
}  // namespace

bool isFortunesModel(const detail::DecoderLM& m) {
  // the zoo model and its variants (named "lm-fortunes-<method>-<pattern>" by prune())
  return m.name.rfind("lm-fortunes", 0) == 0 || m.source.find("lm-fortunes") != std::string::npos ||
         (m.properties.count("meta.name") && m.properties.at("meta.name").rfind("lm-fortunes", 0) == 0);
}

std::string sharedTextDir(const detail::DecoderLM& m) {
  std::error_code ec;
  std::vector<fs::path> dirs = {fs::path(m.source).parent_path() / ".." / ".." / "text"};
  // a reopened variant of stories260K: beside the tokenizer of its source
  if (auto it = m.properties.find("meta.tokenizer_file"); it != m.properties.end())
    dirs.push_back(fs::path(it->second).parent_path() / ".." / ".." / "text");
  for (auto& dir : dirs)
    if (fs::exists(dir / "tinystories_sample.txt", ec)) return fs::weakly_canonical(dir, ec).string();
  return {};
}

Result<Calibration> makeCalibrationUncached(const LanguageModel& lm, const std::string& source0, int n, int L,
                                            int seed, JobContext& job);

Result<Calibration> makeCalibration(const LanguageModel& lm, const std::string& source, int n, int L, int seed,
                                    JobContext& job) {
  // Cache: the same model file, source, count, length and seed give the same tokens.
  static std::mutex mu;
  static std::map<std::string, Calibration> cache;
  const auto& m = *lm.model().impl();
  const std::string key = m.source + "|" + m.name + "|" + source + "|" + std::to_string(n) + "|" + std::to_string(L) +
                          "|" + std::to_string(seed);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  auto c = makeCalibrationUncached(lm, source, n, L, seed, job);
  if (c.ok()) {
    std::lock_guard<std::mutex> lock(mu);
    if (cache.size() > 16) cache.clear();
    cache[key] = *c;
  }
  return c;
}

Result<Calibration> makeCalibrationUncached(const LanguageModel& lm, const std::string& source0, int n, int L,
                                            int seed, JobContext& job) {
  const auto& m = static_cast<const detail::DecoderLM&>(*lm.model().impl());
  if (n < 1 || L < 2) return Error::badArgument("calibration needs at least 1 sequence of 2 tokens");
  if (L > m.config().maxSeq)
    return Error::badArgument("calibration length " + std::to_string(L) + " exceeds the model's context of " +
                              std::to_string(m.config().maxSeq));
  std::string source = source0;
  if (source == "auto") source = isFortunesModel(m) ? "fortunes" : "generated";
  return detail::guarded(source, [&]() -> Result<Calibration> {
    Calibration c;
    const auto& tok = lm.tokenizer();
    if (source == "fortunes") {
      auto corpus = loadFortunesCorpus();
      if (!corpus) return corpus.error();
      std::vector<int64_t> stream;
      for (const auto& f : corpus->train) {
        for (int id : tok.encode(f, true)) stream.push_back(id);
        if (tok.eos() >= 0) stream.push_back(tok.eos());
      }
      c.tokens = windowsOf(stream, n, L, seed, "fortunes training split");
      c.source = "fortunes-train";
    } else if (source == "generated") {
      // Sampled from the dense model (temperature 1), starting at BOS; batched with a KV cache.
      torch::NoGradGuard ng;
      auto gen = at::detail::createCPUGenerator(static_cast<uint64_t>(seed) * 104729 + 7);
      const int bos = tok.bos() >= 0 ? tok.bos() : 0;
      const int64_t B = 32;
      std::vector<torch::Tensor> rows;
      for (int64_t b0 = 0; b0 < n; b0 += B) {
        const int64_t nb = std::min<int64_t>(B, n - b0);
        detail::KvCache cache;
        auto cur = torch::full({nb, 1}, bos, torch::kLong);
        std::vector<torch::Tensor> seq{cur};
        detail::ForwardCtx ctx;
        for (int t = 1; t < L; ++t) {
          if (job.cancelled()) return Error::cancelled();
          auto logits = m.forwardTokens(cur, ctx, &cache).select(1, 0);
          auto probs = torch::softmax(logits.to(torch::kFloat64), -1);
          cur = torch::multinomial(probs, 1, false, gen);
          seq.push_back(cur);
        }
        rows.push_back(torch::cat(seq, 1));
        job.progress(static_cast<double>(b0 + nb) / n, "generating calibration text");
      }
      c.tokens = torch::cat(rows, 0);
      c.source = "generated";
    } else {
      std::ifstream in(source, std::ios::binary);
      if (!in) return Error::notFound(source + ": cannot open calibration text");
      std::string text((std::istreambuf_iterator<char>(in)), {});
      std::vector<int64_t> stream;
      for (int id : tok.encode(text, true)) stream.push_back(id);
      c.tokens = windowsOf(stream, n, L, seed, source);
      c.source = source;
    }
    c.hash = fnv1a(c.tokens);
    return c;
  });
}

std::vector<EvalSpec> evalSpecs(const detail::DecoderLM& m, const PruneOptions& o) {
  std::vector<EvalSpec> out;
  if (!o.evalText.empty()) {
    EvalSpec e;
    e.context = o.evalContext;
    e.maxBytes = o.evalMaxBytes;
    e.separator = o.evalSeparator;
    if (o.evalText == "auto" || o.evalText == "fortunes-heldout") {
      if (o.evalText == "fortunes-heldout" || isFortunesModel(m)) {
        e.file = "fortunes-heldout";
        e.label = "fortunes-heldout";
        if (!e.context) e.context = 256;
      } else if (auto dir = sharedTextDir(m); !dir.empty()) {
        e.file = dir + "/tinystories_sample.txt";
        e.label = "tinystories_sample";
        e.separator = "<|endoftext|>";
        e.truncate = true;
        if (!e.context) e.context = 512;
      }
    } else {
      e.file = o.evalText;
      e.label = fs::path(o.evalText).filename().string();
    }
    if (!e.file.empty()) out.push_back(e);
  }
  for (auto& f : o.extraEvalTexts) {
    EvalSpec e;
    e.file = f;
    e.label = fs::path(f).filename().string();
    e.context = o.evalContext;
    e.maxBytes = o.evalMaxBytes;
    out.push_back(e);
  }
  for (auto& e : out)
    if (!e.context) e.context = std::min<int>(512, static_cast<int>(m.config().maxSeq));
  return out;
}

Result<PerplexityResult> evaluate(const LanguageModel& lm, const EvalSpec& e, JobContext& job) {
  if (e.file == "fortunes-heldout" && e.maxBytes <= 0)
    return fortunesHeldOutPerplexity(lm, "/usr/share/games/fortunes", e.context, e.context / 2, job);
  if (e.file == "fortunes-heldout") {
    // Fast protocol for reports: the first held-out fortunes up to maxBytes as one stream
    // [BOS] fortune [EOS] ..., cut into non-overlapping windows of `context`, scored in one batch.
    auto corpus = loadFortunesCorpus();
    if (!corpus) return corpus.error();
    const auto& tok = lm.tokenizer();
    std::vector<int64_t> stream;
    int64_t bytes = 0;
    for (const auto& f : corpus->heldOut) {
      if (bytes >= e.maxBytes) break;
      for (int id : tok.encode(f, true)) stream.push_back(id);
      if (tok.eos() >= 0) stream.push_back(tok.eos());
      bytes += static_cast<int64_t>(f.size());
    }
    const int64_t T = e.context, W = static_cast<int64_t>(stream.size()) / T;
    if (W < 1) return Error::badArgument("fortunes-heldout: fewer tokens than one window");
    return detail::guarded("fortunes-heldout", [&]() -> Result<PerplexityResult> {
      c10::InferenceMode im;
      const auto& m = static_cast<const detail::DecoderLM&>(*lm.model().impl());
      auto t0 = std::chrono::steady_clock::now();
      auto ids = torch::tensor(std::vector<int64_t>(stream.begin(), stream.begin() + W * T), torch::kLong).reshape({W, T});
      double nll = 0;
      int64_t n = 0;
      for (int64_t b0 = 0; b0 < W; b0 += 16) {
        if (job.cancelled()) return Error::cancelled();
        auto x = ids.narrow(0, b0, std::min<int64_t>(16, W - b0));
        auto logits = m.forward(x, detail::ForwardCtx{&m.inputTransforms, nullptr});
        auto lp = torch::log_softmax(logits.narrow(1, 0, T - 1).to(torch::kFloat64), -1);
        auto tgt = x.narrow(1, 1, T - 1).unsqueeze(-1);
        nll -= lp.gather(-1, tgt).sum().item<double>();
        n += x.size(0) * (T - 1);
      }
      PerplexityResult r;
      r.meanNll = nll / static_cast<double>(n);
      r.ppl = std::exp(r.meanNll);
      r.tokens = n;
      r.bytes = bytes;
      r.windows = static_cast<int>(W);
      r.context = static_cast<int>(T);
      r.stride = static_cast<int>(T);
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return r;
    });
  }
  std::ifstream in(e.file, std::ios::binary);
  if (!in) return Error::notFound(e.file + ": cannot open evaluation text");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  if (e.maxBytes > 0 && static_cast<int64_t>(text.size()) > e.maxBytes) text.resize(static_cast<size_t>(e.maxBytes));
  PerplexityOptions po;
  po.context = e.context;
  po.separator = e.separator;
  po.truncate = e.truncate;
  auto r = lm.perplexity(text, po, job);
  if (!r) return Error::badFile(e.file, r.error().message);
  return r;
}

}  // namespace cs::prunedetail
