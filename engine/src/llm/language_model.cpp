// The LanguageModel facade: open, generate (greedy/sampled, KV cache), perplexity.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/llm.h"
#include "engine/torch/llm_impl.h"

namespace fs = std::filesystem;

namespace cs {

using detail::DecoderLM;

namespace {

const DecoderLM& lmOf(const Model& m) { return static_cast<const DecoderLM&>(*m.impl()); }

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0); }

// Picks the next token from a logits row (float32, contiguous).
int pickToken(const float* logits, int vocab, const GenerateOptions& opt, std::mt19937_64& rng) {
  if (opt.temperature <= 0.0) {
    int best = 0;
    for (int i = 1; i < vocab; ++i)
      if (logits[i] > logits[best]) best = i;
    return best;
  }
  std::vector<int> idx(vocab);
  for (int i = 0; i < vocab; ++i) idx[i] = i;
  int keep = vocab;
  if (opt.topK > 0 && opt.topK < vocab) {
    keep = opt.topK;
    std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(), [&](int a, int b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    idx.resize(keep);
    std::sort(idx.begin(), idx.end());
  }
  double mx = -1e300;
  for (int i : idx) mx = std::max(mx, static_cast<double>(logits[i]) / opt.temperature);
  std::vector<double> p(idx.size());
  double sum = 0;
  for (size_t k = 0; k < idx.size(); ++k) sum += p[k] = std::exp(static_cast<double>(logits[idx[k]]) / opt.temperature - mx);
  double u = uniform01(rng) * sum, acc = 0;
  for (size_t k = 0; k < idx.size(); ++k) {
    acc += p[k];
    if (u < acc) return idx[k];
  }
  return idx.back();
}

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

Result<LanguageModel> LanguageModel::open(const std::string& nameOrPath, JobContext& job) {
  std::string path = nameOrPath;
  std::error_code ec;
  if (!fs::exists(path, ec) && path.find('/') == std::string::npos) {
    for (const auto& z : zooModels()) {
      if (z.name != nameOrPath) continue;
      if (!z.available) return Error::notFound("zoo model " + z.name + " has no weights yet (" + z.weights +
                                               "); run `cstudio train " + z.name + "`");
      path = z.weights;
    }
  }
  job.progress(0.0, "loading " + nameOrPath);
  return detail::guarded(path, [&]() -> Result<LanguageModel> {
    auto impl = detail::loadDecoderLM(path);
    if (impl->name.empty()) impl->name = fs::path(path).stem().string();
    if (path != nameOrPath) impl->name = nameOrPath;
    impl->properties["architecture"] = impl->config().arch;
    job.progress(1.0, "loaded");
    return LanguageModel(Model(std::shared_ptr<const detail::ModelImpl>(impl)));
  });
}

Result<LanguageModel> LanguageModel::fromModel(const Model& model) {
  if (!model.valid() || !dynamic_cast<const DecoderLM*>(model.impl().get()))
    return Error::badArgument("model " + (model.valid() ? model.name() : std::string("(none)")) +
                              " is not a decoder language model");
  return LanguageModel(model);
}

const Tokenizer& LanguageModel::tokenizer() const { return *lmOf(model_).tokenizer(); }

int LanguageModel::contextLength() const { return static_cast<int>(lmOf(model_).config().maxSeq); }

std::string LanguageModel::describe() const {
  const auto& c = lmOf(model_).config();
  std::ostringstream o;
  o << c.arch << ": dim " << c.dim << ", " << c.layers << " layers, " << c.heads << " heads";
  if (c.kvHeads != c.heads) o << " (" << c.kvHeads << " kv)";
  o << ", ffn " << c.hidden << ", vocab " << c.vocab << ", context " << c.maxSeq << ", "
    << model_.parameterCount() << " parameters, tokenizer " << tokenizer().kind();
  return o.str();
}

Result<GenerateResult> LanguageModel::generate(const GenerateOptions& opt, JobContext& job) const {
  if (!valid()) return Error::badArgument("no model");
  const auto& lm = lmOf(model_);
  return detail::guarded(lm.source, [&]() -> Result<GenerateResult> {
    c10::InferenceMode guard;
    const auto& tok = *lm.tokenizer();
    GenerateResult r;
    std::vector<int> ids = tok.encode(opt.prompt, opt.addBos);
    if (ids.empty()) {
      if (tok.bos() < 0) return Error::badArgument("empty prompt and the tokenizer has no BOS token");
      ids.push_back(tok.bos());
    }
    r.promptTokens = static_cast<int>(ids.size());
    const int steps = std::min<int>(opt.steps, static_cast<int>(lm.config().maxSeq));
    const int vocab = static_cast<int>(lm.config().vocab);
    detail::ForwardCtx ctx{&lm.inputTransforms, nullptr};
    detail::KvCache cache;
    std::mt19937_64 rng(opt.seed);
    auto t0 = std::chrono::steady_clock::now();
    auto toTensor = [](const std::vector<int>& v, size_t from) {
      std::vector<int64_t> x(v.begin() + static_cast<long>(from), v.end());
      return torch::tensor(x, torch::kLong).unsqueeze(0);
    };
    int token = ids[0];
    size_t fed = 0;  // tokens already in the cache
    int pos = std::max(0, r.promptTokens - 1);
    torch::Tensor logits;
    while (pos < steps) {
      if (job.cancelled()) return Error::cancelled();
      // Feed everything not yet seen (prefill or one new token).
      if (opt.useCache) {
        logits = lm.forwardTokens(toTensor(ids, fed), ctx, &cache);
        fed = ids.size();
      } else {
        logits = lm.forwardTokens(toTensor(ids, 0), ctx);
      }
      auto last = logits[0][logits.size(1) - 1].contiguous();
      int next = pickToken(last.data_ptr<float>(), vocab, opt, rng);
      ++pos;
      if (opt.stopAtBos && (next == tok.bos() || next == tok.eos())) break;
      token = ids.back();
      auto piece = tok.piece(token, next);
      r.text += piece;
      if (opt.onPiece) opt.onPiece(piece);
      ids.push_back(next);
      ++r.generatedTokens;
      job.progress(static_cast<double>(pos) / steps, "generating");
    }
    r.tokens = ids;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.tokensPerSecond = r.seconds > 0 ? r.generatedTokens / r.seconds : 0;
    return r;
  });
}

Result<PerplexityResult> LanguageModel::perplexityTokens(const std::vector<std::vector<int>>& docs,
                                                         const PerplexityOptions& opt, JobContext& job) const {
  if (!valid()) return Error::badArgument("no model");
  const auto& lm = lmOf(model_);
  return detail::guarded(lm.source, [&]() -> Result<PerplexityResult> {
    c10::InferenceMode guard;
    PerplexityResult r;
    r.context = opt.context > 0 ? opt.context : static_cast<int>(std::min<int64_t>(lm.config().maxSeq, 1024));
    r.context = std::min<int>(r.context, static_cast<int>(lm.config().maxSeq));
    r.stride = opt.stride > 0 ? std::min(opt.stride, r.context) : r.context;
    if (r.context < 2) return Error::badArgument("context must be at least 2 tokens");
    detail::ForwardCtx ctx{&lm.inputTransforms, nullptr};
    auto t0 = std::chrono::steady_clock::now();
    double total = 0;
    int64_t planned = 0, done = 0;
    for (const auto& d : docs) planned += static_cast<int64_t>(d.size());
    for (const auto& ids : docs) {
      const int64_t N = static_cast<int64_t>(ids.size());
      if (N < 2) continue;
      ++r.documents;
      int64_t prevEnd = 0;
      for (int64_t begin = 0;; begin += r.stride) {
        if (job.cancelled()) return Error::cancelled();
        const int64_t end = std::min<int64_t>(begin + r.context, N);
        std::vector<int64_t> x(ids.begin() + begin, ids.begin() + end);
        auto input = torch::tensor(x, torch::kLong).unsqueeze(0);
        auto logp = torch::log_softmax(lm.forwardTokens(input, ctx)[0].to(torch::kFloat64), -1);
        const int64_t from = std::max(prevEnd, begin + 1);
        if (from < end) {
          auto rows = logp.narrow(0, from - 1 - begin, end - from);
          auto tgt = input[0].narrow(0, from - begin, end - from).unsqueeze(1);
          total -= rows.gather(1, tgt).sum().item<double>();
          r.tokens += end - from;
        }
        ++r.windows;
        done += end - prevEnd;
        prevEnd = end;
        job.progress(planned ? static_cast<double>(done) / planned : 1.0, "perplexity");
        if (end == N || opt.truncate) break;
      }
    }
    if (r.tokens == 0) return Error::badArgument("no tokens to score");
    r.meanNll = total / r.tokens;
    r.ppl = std::exp(r.meanNll);
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.bytes = 0;
    return r;
  });
}

Result<PerplexityResult> LanguageModel::perplexity(const std::string& text, const PerplexityOptions& opt,
                                                   JobContext& job) const {
  if (!valid()) return Error::badArgument("no model");
  std::vector<std::string> docs;
  if (opt.separator.empty()) {
    docs.push_back(opt.stripDocuments ? trim(text) : text);
  } else {
    size_t start = 0;
    while (true) {
      auto at = text.find(opt.separator, start);
      auto d = text.substr(start, at == std::string::npos ? std::string::npos : at - start);
      if (opt.stripDocuments) d = trim(d);
      if (!d.empty()) docs.push_back(d);
      if (at == std::string::npos) break;
      start = at + opt.separator.size();
    }
  }
  const auto& tok = tokenizer();
  std::vector<std::vector<int>> ids;
  int64_t bytes = 0;
  const int ctxLen = opt.context > 0 ? opt.context : contextLength();
  for (const auto& d : docs) {
    ids.push_back(tok.encode(d, opt.addBos && tok.bos() >= 0));
    if (opt.truncate && static_cast<int>(ids.back().size()) > ctxLen) {
      ids.back().resize(ctxLen);
      bytes += static_cast<int64_t>(tok.decode(ids.back()).size());
    } else {
      bytes += static_cast<int64_t>(d.size());
    }
  }
  auto r = perplexityTokens(ids, opt, job);
  if (!r) return r;
  r->bytes = bytes;
  if (bytes > 0) {
    r->bytePpl = std::exp(r->meanNll * r->tokens / bytes);
    r->bitsPerByte = r->meanNll * r->tokens / bytes / std::log(2.0);
  }
  return r;
}

Result<AgreementResult> LanguageModel::agreement(const LanguageModel& reference, const std::string& text,
                                                 const PerplexityOptions& opt, JobContext& job) const {
  if (!valid() || !reference.valid()) return Error::badArgument("no model");
  const auto& a = lmOf(model_);
  const auto& b = lmOf(reference.model_);
  if (a.config().vocab != b.config().vocab) return Error::badArgument("the models have different vocabularies");
  return detail::guarded(a.source, [&]() -> Result<AgreementResult> {
    c10::InferenceMode guard;
    const auto ids = tokenizer().encode(opt.stripDocuments ? trim(text) : text, opt.addBos && tokenizer().bos() >= 0);
    const int64_t N = static_cast<int64_t>(ids.size());
    int64_t ctxLen = opt.context > 0 ? opt.context : std::min<int64_t>(1024, a.config().maxSeq);
    ctxLen = std::min({ctxLen, a.config().maxSeq, b.config().maxSeq});
    const int64_t stride = opt.stride > 0 ? std::min<int64_t>(opt.stride, ctxLen) : ctxLen;
    if (N < 2) return Error::badArgument("text too short");
    AgreementResult r;
    double agree = 0, kl = 0;
    detail::ForwardCtx ca{&a.inputTransforms, nullptr}, cb{&b.inputTransforms, nullptr};
    int64_t prevEnd = 0;
    for (int64_t begin = 0;; begin += stride) {
      if (job.cancelled()) return Error::cancelled();
      const int64_t end = std::min<int64_t>(begin + ctxLen, N);
      std::vector<int64_t> x(ids.begin() + begin, ids.begin() + end);
      auto input = torch::tensor(x, torch::kLong).unsqueeze(0);
      const int64_t from = std::max(prevEnd, begin + 1);
      if (from < end) {
        auto la = torch::log_softmax(a.forwardTokens(input, ca)[0], -1).narrow(0, from - 1 - begin, end - from);
        auto lb = torch::log_softmax(b.forwardTokens(input, cb)[0], -1).narrow(0, from - 1 - begin, end - from);
        agree += la.argmax(-1).eq(lb.argmax(-1)).sum().item<double>();
        kl += (lb.exp() * (lb - la)).sum().item<double>();
        r.tokens += end - from;
      }
      ++r.windows;
      job.progress(static_cast<double>(end) / N, "agreement");
      prevEnd = end;
      if (end == N || opt.truncate) break;
    }
    r.top1 = agree / r.tokens;
    r.meanKl = kl / r.tokens;
    return r;
  });
}

Result<PerplexityResult> LanguageModel::perplexityFile(const std::string& path, const PerplexityOptions& opt,
                                                       JobContext& job) const {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::notFound(path + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return perplexity(text, opt, job);
}

}  // namespace cs
