// Activation capture with streamed statistics (diagnose.h): inputs per task, one
// observer that feeds running histograms, per-channel/per-token Welford moments, the
// channel x token magnitude map and per-timestep ranges, without keeping activations.
#include <chrono>
#include <filesystem>
#include <random>
#include <set>

#include "../calibration.h"
#include "compression/diagnose.h"
#include "diagnose_internal.h"
#include "engine/llm.h"
#include "engine/torch/tensors.h"
#include "engine/torch/unet.h"

namespace cs {
namespace fs = std::filesystem;
using detail::TapKind;

namespace detail {

const char* kindName(TapKind k) {
  switch (k) {
    case TapKind::LayerInput: return "input";
    case TapKind::LayerOutput: return "output";
    case TapKind::Softmax: return "softmax";
    case TapKind::NormOutput: return "norm";
    case TapKind::BlockOutput: return "block";
  }
  return "?";
}

std::vector<int64_t> guessInputShape(const Model& model) {
  for (auto& l : model.layers()) {
    if (!l.quantizable || l.weightShape.size() < 2) continue;
    if (l.weightShape.size() == 4) return {l.weightShape[1], 32, 32};
    if (l.weightShape.size() == 3) return {l.weightShape[1], 64};
    return {16, l.weightShape[1]};  // [T, D]; callers fall back to [D] if this fails
  }
  return {};
}

Result<EvalInputs> modelInputs(const Model& model, int samples, int seed, int batch, std::vector<int64_t> shape) {
  EvalInputs in;
  if (samples < 1) return Error::badArgument("samples must be >= 1");
  batch = std::max(1, batch);
  auto split = [&](const torch::Tensor& all) {
    for (int64_t i = 0; i < all.size(0); i += batch)
      in.batches.push_back(all.slice(0, i, std::min<int64_t>(i + batch, all.size(0))));
  };
  const Task task = model.task();
  if (task == Task::ImageClassification) {
    auto c = calibrationImages(samples, seed);
    if (!c) return c.error();
    split(c->inputs);
    in.description = std::to_string(samples) + " Fashion-MNIST train images, seed " + std::to_string(seed) +
                     " (hash " + c->hash + ")";
    return in;
  }
  if (task == Task::LanguageModel) {
    auto lm = LanguageModel::fromModel(model);
    if (!lm) return lm.error();
    auto corpus = loadFortunesCorpus();
    if (!corpus) return corpus.error();
    const int T = std::min(64, lm->contextLength());
    std::vector<int> stream;
    for (size_t i = 0; i < corpus->heldOut.size() && stream.size() < size_t(samples * T * 4 + T); ++i) {
      auto ids = lm->tokenizer().encode(corpus->heldOut[i], true);
      stream.insert(stream.end(), ids.begin(), ids.end());
    }
    const int64_t windows = int64_t(stream.size()) / T;
    if (windows < 1) return Error::failed("fortunes held-out text too short for one window");
    std::vector<int64_t> starts;
    for (int64_t w = 0; w < windows; ++w) starts.push_back(w * T);
    std::mt19937_64 rng{static_cast<uint64_t>(seed)};
    std::shuffle(starts.begin(), starts.end(), rng);
    starts.resize(std::min<int64_t>(samples, windows));
    std::vector<int64_t> flat;
    for (auto s : starts)
      for (int j = 0; j < T; ++j) flat.push_back(stream[size_t(s + j)]);
    split(torch::tensor(flat, torch::kLong).reshape({int64_t(starts.size()), T}));
    in.description = std::to_string(starts.size()) + " windows of " + std::to_string(T) +
                     " tokens from the fortunes held-out split, seed " + std::to_string(seed);
    return in;
  }
  if (task == Task::ImageGeneration) {
    // Autoregressive image models (ar-fmnist): real images in [-1, 1]; the model's forward
    // VQ-encodes them and runs the transformer teacher-forced over their codes (null class).
    auto c = calibrationImages(samples, seed);
    if (!c) return c.error();
    split((c->inputs * detail::kFmnistStd + detail::kFmnistMean) * 2 - 1);
    in.description = std::to_string(samples) + " Fashion-MNIST train images in [-1, 1], VQ-encoded and teacher-forced "
                     "(null class), seed " + std::to_string(seed) + " (hash " + c->hash + ")";
    return in;
  }
  if (task == Task::Diffusion) return Error{Error::Code::Unsupported, "diffusion inputs come from the sampler"};
  // Unknown task: seeded N(0,1) inputs of the given or guessed per-sample shape.
  std::vector<std::vector<int64_t>> candidates;
  if (!shape.empty()) candidates.push_back(shape);
  else {
    auto g = guessInputShape(model);
    if (g.empty()) return Error{Error::Code::Unsupported, model.name() + ": no input shape given and none can be guessed"};
    candidates.push_back(g);
    if (g.size() == 2) candidates.push_back({g[1]});
  }
  torch::Generator gen = at::detail::createCPUGenerator(uint64_t(seed));
  for (size_t ci = 0; ci < candidates.size(); ++ci) {
    std::vector<int64_t> full{1};
    full.insert(full.end(), candidates[ci].begin(), candidates[ci].end());
    try {
      torch::InferenceMode g;
      (void)model.impl()->run(torch::randn(full, gen));
    } catch (const std::exception& e) {
      if (ci + 1 < candidates.size()) continue;
      return Error::failed(model.source() + ": the model does not accept inputs of shape " + [&] {
        std::string s;
        for (auto d : candidates[ci]) s += (s.empty() ? "[N," : ",") + std::to_string(d);
        return s + "] (" + errorFromException(e).message + "); give the input shape";
      }());
    }
    full[0] = samples;
    split(torch::randn(full, gen));
    std::string s;
    for (auto d : candidates[ci]) s += "," + std::to_string(d);
    in.description = std::to_string(samples) + " N(0,1) inputs of shape [N" + s + "], seed " + std::to_string(seed);
    return in;
  }
  return Error::failed("no input");
}

}  // namespace detail

namespace {

struct PointAcc {
  PointStats st;
  RunningHistogram hist{4096};
  GroupMoments channel, token;
  bool channelOk = true, tokenOk = true;
  struct Step {
    int64_t t = 0;
    float mn = std::numeric_limits<float>::infinity(), mx = -std::numeric_limits<float>::infinity();
    double sumAbs = 0, p999 = 0;
    int64_t n = 0;
  };
  std::map<int, Step> steps;
  // Row reservoir for the what-if sample (Vitter's algorithm R over rows).
  int64_t rowsSeen = 0, capRows = 0;
  std::mt19937_64 rng{12345};
  bool sampleOk = true;

  void sampleRows(const float* p, int64_t rows, int64_t cols, int64_t capValues) {
    if (!sampleOk || capValues <= 0 || rows <= 0 || cols <= 0) return;
    if (st.sampleCols == 0) {
      st.sampleCols = cols;
      capRows = std::max<int64_t>(1, capValues / cols);
    } else if (st.sampleCols != cols) {
      sampleOk = false;  // the channel count changed between calls: keep what was sampled
      return;
    }
    for (int64_t r = 0; r < rows; ++r, ++rowsSeen) {
      const float* row = p + r * cols;
      if (rowsSeen < capRows) {
        st.sample.insert(st.sample.end(), row, row + cols);
      } else {
        const int64_t j = int64_t(rng() % uint64_t(rowsSeen + 1));
        if (j < capRows) std::copy(row, row + cols, st.sample.begin() + j * cols);
      }
    }
  }
};

struct Capture {
  explicit Capture(const CaptureOptions& o) : opt(o) {}
  const CaptureOptions& opt;
  std::set<std::string> wanted;  // "point@kind"
  bool all = false;
  std::map<std::string, PointAcc> acc;
  std::vector<std::string> order;
  int step = -1;
  int64_t timestep = 0;
  int64_t values = 0;

  bool want(const std::string& point, TapKind k) const {
    if (all) return true;
    return wanted.count(point + "@" + detail::kindName(k)) > 0;
  }

  double statsSeconds = 0;
  torch::Tensor operator()(const std::string& point, TapKind kind, const torch::Tensor& x) {
    if (!x.is_floating_point() || x.dim() < 1 || !want(point, kind)) return x;
    const auto t0 = std::chrono::steady_clock::now();
    observe(point, kind, x);
    statsSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return x;
  }

  void observe(const std::string& point, TapKind kind, const torch::Tensor& x) {
    const std::string key = point + "@" + detail::kindName(kind);
    auto [it, fresh] = acc.try_emplace(key);
    PointAcc& a = it->second;
    if (fresh) {
      order.push_back(key);
      a.st.point = point;
      a.st.kind = detail::kindName(kind);
      if (opt.magnitude) a.st.magnitude = std::make_shared<MagnitudeMap>(opt.maxChannels, opt.maxTokens);
    }
    auto c = x.detach().to(torch::kFloat).contiguous();
    const float* p = c.data_ptr<float>();
    const size_t n = size_t(c.numel());
    a.st.shape = c.sizes().vec();
    a.st.calls += 1;
    a.st.values += int64_t(n);
    values += int64_t(n);
    a.hist.add(p, n);
    const auto shape = c.sizes().vec();
    // Per channel: dim 1 of [B,C,H,W], else the last dim.
    if (a.channelOk) {
      try {
        a.channel.add(p, shape, c.dim() == 4 ? 1 : int(c.dim()) - 1);
      } catch (const std::invalid_argument&) {
        a.channelOk = false;
      }
    }
    // Per token: [B,T,C] -> T; [B,C,H,W] -> H*W positions.
    torch::Tensor btc;
    if (c.dim() == 3) btc = c;
    else if (c.dim() == 4) btc = c.flatten(2).transpose(1, 2).contiguous();
    if (btc.defined()) {
      const float* q = btc.data_ptr<float>();
      if (a.tokenOk) {
        try {
          a.token.add(q, btc.sizes().vec(), 1);
        } catch (const std::invalid_argument&) {
          a.tokenOk = false;
        }
      }
      if (a.st.magnitude) {
        try {
          a.st.magnitude->add(q, btc.size(0), btc.size(1), btc.size(2));
        } catch (const std::invalid_argument&) {
          a.st.magnitude.reset();
        }
      }
    }
    if (btc.defined()) a.sampleRows(btc.data_ptr<float>(), btc.size(0) * btc.size(1), btc.size(2), opt.sampleValues);
    else if (c.dim() >= 2) a.sampleRows(p, int64_t(n) / c.size(-1), c.size(-1), opt.sampleValues);
    else a.sampleRows(p, 1, int64_t(n), opt.sampleValues);
    if (step >= 0) {
      auto& s = a.steps[step];
      s.t = timestep;
      auto ab = c.abs().flatten();
      s.mn = std::min(s.mn, c.min().item<float>());
      s.mx = std::max(s.mx, c.max().item<float>());
      s.sumAbs += ab.sum().item<double>();
      s.n += int64_t(n);
      const int64_t k = std::max<int64_t>(1, int64_t(std::ceil(0.999 * double(n))));
      s.p999 = std::max(s.p999, double(std::get<0>(ab.kthvalue(k)).item<float>()));
    }
  }

  CaptureResult finish() {
    CaptureResult r;
    for (auto& key : order) {
      auto& a = acc[key];
      a.st.histogram = a.hist.histogram(opt.bins);
      a.st.range = a.hist.range();
      if (a.channelOk) a.st.perChannel = summarize(a.channel);
      if (a.tokenOk) a.st.perToken = summarize(a.token);
      for (auto& [i, s] : a.steps)
        a.st.perStep.push_back({i, s.t, s.mn, s.mx, s.n ? s.sumAbs / double(s.n) : 0.0, s.p999, s.n});
      r.points.push_back(std::move(a.st));
    }
    r.valuesSeen = values;
    return r;
  }
};

}  // namespace

Result<Model> openExploreModel(const std::string& nameOrPath, JobContext& job) {
  const bool unetDir = fs::is_directory(nameOrPath) && fs::exists(fs::path(nameOrPath) / "config.json") &&
                       (fs::exists(fs::path(nameOrPath) / "diffusion_pytorch_model.safetensors") ||
                        fs::exists(fs::path(nameOrPath) / "diffusion_pytorch_model.bin"));
  if (!unetDir) return openModel(nameOrPath, job);
  auto u = detail::loadUNet2D(nameOrPath);
  if (!u) return u.error();
  (*u)->name = fs::path(nameOrPath).filename().string();
  (*u)->source = nameOrPath;
  return Model(std::shared_ptr<const detail::ModelImpl>(*u));
}

Result<std::vector<TapPointInfo>> listTapPoints(const Model& model, JobContext& job) {
  if (!model.valid()) return Error::badArgument("no model");
  if (!model.impl()->supportsTaps())
    return Error{Error::Code::Unsupported, model.name() + ": this model has no activation taps"};
  CS_TRY_RESULT(model.source(), {
    std::vector<TapPointInfo> out;
    std::map<std::string, size_t> idx;
    detail::TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) {
      const std::string key = p + "@" + detail::kindName(k);
      auto it = idx.find(key);
      if (it == idx.end()) {
        idx[key] = out.size();
        out.push_back({p, detail::kindName(k), x.sizes().vec(), 1});
      } else {
        out[it->second].calls += 1;
      }
      return x;
    };
    torch::InferenceMode g;
    if (model.task() == Task::Diffusion) {
      auto* u = dynamic_cast<const detail::UNet2DModel*>(model.impl().get());
      if (!u) return Error{Error::Code::Unsupported, model.name() + ": diffusion family without a UNet2DModel"};
      const auto& c = u->config();
      auto x = torch::randn({1, c.inChannels, c.sampleSize, c.sampleSize});
      torch::Tensor y;
      if (c.numClassEmbeds > 0) y = torch::zeros({1}, torch::kLong);
      detail::ForwardCtx ctx{&u->inputTransforms, &obs};
      (void)u->forward(x, torch::full({1}, int64_t(c.numTrainTimesteps / 2)), y, ctx);
    } else {
      auto in = detail::modelInputs(model, 1, 0, 1, {});
      if (!in) return in.error();
      (void)model.impl()->run(in->batches.at(0), &obs);
    }
    job.progress(1.0, "listed taps");
    return out;
  })
}

Result<CaptureResult> captureActivations(const Model& model, const CaptureOptions& opt, JobContext& job) {
  if (!model.valid()) return Error::badArgument("no model");
  if (!model.impl()->supportsTaps())
    return Error{Error::Code::Unsupported, model.name() + ": this model has no activation taps" +
                                               (model.properties().count("taps.error")
                                                    ? " (" + model.properties().at("taps.error") + ")"
                                                    : std::string())};
  const auto t0 = std::chrono::steady_clock::now();
  CS_TRY_RESULT(model.source(), {
    Capture cap(opt);
    if (opt.points.empty()) {
      for (auto& l : model.layers())
        if (l.quantizable) cap.wanted.insert(l.name + "@input");
    }
    for (auto& p : opt.points) {
      if (p == "*") cap.all = true;
      else cap.wanted.insert(p.find('@') == std::string::npos ? p + "@input" : p);
    }
    detail::TapObserver obs = [&](const std::string& p, TapKind k, const torch::Tensor& x) { return cap(p, k, x); };
    std::string data;
    double inputSeconds = 0;
    if (model.task() == Task::Diffusion) {
      auto* u = dynamic_cast<const detail::UNet2DModel*>(model.impl().get());
      if (!u) return Error{Error::Code::Unsupported, model.name() + ": diffusion family without a UNet2DModel"};
      torch::InferenceMode g;
      const auto& c = u->config();
      auto sched = detail::NoiseSchedule::linear(c.numTrainTimesteps);
      detail::SamplerOptions so;
      so.steps = std::max(1, opt.diffusionSteps);
      so.seed = uint64_t(opt.seed);
      so.onStep = [&](int step, int64_t t) {
        cap.step = step;
        cap.timestep = t;
        job.progress(double(step) / so.steps, "sampling step " + std::to_string(step + 1));
      };
      so.cancelled = [&] { return job.cancelled(); };
      torch::Tensor labels;
      if (c.numClassEmbeds > 0) labels = torch::arange(opt.samples, torch::kLong).remainder(c.numClassEmbeds);
      detail::ForwardCtx ctx{&u->inputTransforms, &obs};
      auto x = detail::sampleUNet(*u, sched, opt.samples, labels, so, ctx);
      if (job.cancelled() || !x.defined()) return Error::cancelled();
      data = std::to_string(opt.samples) + " DDIM samples x " + std::to_string(so.steps) + " steps, seed " +
             std::to_string(opt.seed);
    } else {
      const auto ti = std::chrono::steady_clock::now();
      auto in = detail::modelInputs(model, opt.samples, opt.seed, opt.batch, opt.inputShape);
      if (!in) return in.error();
      inputSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - ti).count();
      torch::InferenceMode g;
      for (size_t i = 0; i < in->batches.size(); ++i) {
        if (job.cancelled()) return Error::cancelled();
        (void)model.impl()->run(in->batches[i], &obs);
        job.progress(double(i + 1) / in->batches.size(), "capturing activations");
      }
      data = in->description;
    }
    auto r = cap.finish();
    if (r.points.empty()) return Error::notFound(model.name() + ": none of the requested tap points fired");
    r.data = data;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.inputSeconds = inputSeconds;
    r.statsSeconds = cap.statsSeconds;
    return r;
  })
}

namespace {
nlohmann::json groupJson(const GroupSummary& g) {
  return {{"mean", g.mean}, {"std", g.stddev}, {"min", g.min}, {"max", g.max}, {"absmax", g.absmax},
          {"outliers", g.outliers()}};
}
}  // namespace

nlohmann::json toJson(const PointStats& p, bool withMagnitude) {
  nlohmann::json j = {{"point", p.point}, {"kind", p.kind}, {"shape", p.shape}, {"calls", p.calls},
                      {"values", p.values}, {"min", p.range.min}, {"max", p.range.max}};
  j["histogram"] = {{"lo", p.histogram.lo}, {"hi", p.histogram.hi}, {"counts", p.histogram.counts}};
  if (!p.perChannel.mean.empty()) j["per_channel"] = groupJson(p.perChannel);
  if (!p.perToken.mean.empty()) j["per_token"] = groupJson(p.perToken);
  if (withMagnitude && p.magnitude && p.magnitude->rows() > 0) {
    auto& m = *p.magnitude;
    nlohmann::json rows = nlohmann::json::array();
    for (int r = 0; r < m.rows(); ++r) {
      std::vector<double> row(m.cols());
      for (int c = 0; c < m.cols(); ++c) row[c] = m.meanAbs(r, c);
      rows.push_back(row);
    }
    j["magnitude"] = {{"channels", m.channels()}, {"tokens", m.tokens()}, {"channels_per_row", m.channelsPerRow()},
                      {"tokens_per_col", m.tokensPerCol()}, {"mean_abs", rows}};
  }
  if (!p.perStep.empty()) {
    nlohmann::json s = nlohmann::json::array();
    for (auto& t : p.perStep)
      s.push_back({{"step", t.step}, {"t", t.timestep}, {"min", t.min}, {"max", t.max}, {"mean_abs", t.meanAbs},
                   {"p999_abs", t.p999Abs}});
    j["per_step"] = s;
  }
  return j;
}

}  // namespace cs
