#include "core/GenerateJobs.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/data.h"
#include "engine/metrics.h"

namespace cs::gen {

namespace {
std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return {};
  const auto b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

bool parseInt(const std::string& s, int64_t& v) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  if (s.size() > 12) return false;
  v = std::stoll(s);
  return true;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double secondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

nlohmann::json optionsJson(const Model& m, const ImageGenOptions& o) {
  nlohmann::json j;
  j["guidance"] = o.guidance;
  if (m.task() == Task::ImageGeneration) {
    j["temperature"] = o.temperature;
    j["top_k"] = o.topK;
  } else {
    j["sampler"] = o.sampler;
    j["steps"] = o.steps;
    j["eta"] = o.eta;
  }
  return j;
}
}  // namespace

std::vector<int64_t> parseIndexRange(const std::string& text, int64_t maxValue, std::string* error) {
  std::vector<int64_t> out;
  auto bad = [&](const std::string& why) {
    if (error) *error = why;
    return std::vector<int64_t>{};
  };
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    part = trim(part);
    if (part.empty()) continue;
    const auto dash = part.find('-');
    int64_t a = 0, b = 0;
    if (dash == std::string::npos) {
      if (!parseInt(part, a)) return bad("'" + part + "' is not a number");
      b = a;
    } else if (!parseInt(trim(part.substr(0, dash)), a) || !parseInt(trim(part.substr(dash + 1)), b)) {
      return bad("'" + part + "' is not a range like 0-7");
    }
    if (b < a) return bad("'" + part + "': the range runs backwards");
    if (maxValue >= 0 && b > maxValue) return bad("'" + part + "': values go up to " + std::to_string(maxValue));
    if (b - a > 100000) return bad("'" + part + "': too many values");
    for (int64_t v = a; v <= b; ++v) out.push_back(v);
  }
  if (out.empty()) return bad("nothing selected");
  if (error) error->clear();
  return out;
}

std::vector<std::string> classNames(int classes) {
  const auto& fm = fashionMnistClassNames();
  std::vector<std::string> out;
  for (int c = 0; c < classes; ++c)
    out.push_back(classes == int(fm.size()) ? fm[size_t(c)] : "class " + std::to_string(c));
  return out;
}

bool isImageGenerator(Task t) { return t == Task::Diffusion || t == Task::ImageGeneration; }
bool isLanguageModel(Task t) { return t == Task::LanguageModel; }

Result<GeneratedImages> sampleImages(const Model& model, const ImageSampleRequest& req, JobContext& job) {
  if (!isImageGenerator(model.task())) return Error::badArgument(model.name() + " is not an image generator");
  if (req.seeds.empty()) return Error::badArgument("no seeds selected");
  const int classes = diffusionClassCount(model);
  std::vector<int> labels;
  std::vector<uint64_t> seeds;
  if (classes > 0) {
    if (req.classes.empty()) return Error::badArgument("no classes selected");
    for (int c : req.classes) {
      if (c < 0 || c >= classes)
        return Error::badArgument("class " + std::to_string(c) + " is outside 0.." + std::to_string(classes - 1));
      for (auto s : req.seeds) {
        labels.push_back(c);
        seeds.push_back(s);
      }
    }
  } else {
    seeds = req.seeds;
  }
  return generateImages(model, labels, seeds, req.options, job);
}

std::vector<std::string> sampleLabels(const GeneratedImages& images, int classes) {
  const auto names = classNames(classes);
  std::vector<std::string> out;
  for (int i = 0; i < images.n; ++i) {
    const int c = i < int(images.labels.size()) ? images.labels[size_t(i)] : -1;
    const std::string cls = c >= 0 && c < int(names.size()) ? names[size_t(c)] : std::string("unconditional");
    const auto seed = i < int(images.seeds.size()) ? images.seeds[size_t(i)] : uint64_t(0);
    out.push_back(cls + " \xC2\xB7 seed " + std::to_string(seed));
  }
  return out;
}

Result<MetricFigure> imageMetric(const Model& generator, const ImageMetricRequest& req, JobContext& job) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string& mt = req.metric;
  if (mt != "class-consistency" && mt != "is" && mt != "fid" && mt != "sfid")
    return Error::badArgument("unknown image metric '" + mt + "' (class-consistency, is, fid, sfid)");
  if (req.samples < 2) return Error::badArgument("the sample count must be at least 2");
  if (!isImageGenerator(generator.task())) return Error::badArgument(generator.name() + " is not an image generator");
  const int classes = diffusionClassCount(generator);
  if (mt == "class-consistency" && classes == 0)
    return Error::badArgument(generator.name() + ": class consistency needs a class-conditional model");
  auto jobOpen = job.sub(0.0, 0.02);
  auto clf = openModel(req.classifier, jobOpen);
  if (!clf) return clf.error();

  std::vector<int> labels;
  std::vector<uint64_t> seeds;
  for (int i = 0; i < req.samples; ++i) {
    if (classes > 0) labels.push_back(i % classes);
    seeds.push_back(req.firstSeed + uint64_t(i));
  }
  const bool needsTest = mt == "fid" || mt == "sfid";
  auto jobGen = job.sub(0.02, needsTest ? 0.6 : 0.9);
  auto gen = generateImages(generator, labels, seeds, req.options, jobGen);
  if (!gen) return gen.error();
  if (job.cancelled()) return Error::cancelled();

  MetricFigure f;
  f.metric = mt;
  f.samples = gen->n;
  nlohmann::json j = optionsJson(generator, req.options);
  j["model"] = generator.name();
  j["metric"] = mt;
  j["classifier"] = req.classifier;
  j["samples"] = gen->n;
  j["seed_first"] = req.firstSeed;
  j["sampling_seconds"] = gen->seconds;

  if (!needsTest) {
    auto jobClf = job.sub(0.9, 1.0);
    auto probs = classifyImages(*clf, gen->pixels, gen->n, gen->h, gen->w, jobClf);
    if (!probs) return probs.error();
    if (mt == "class-consistency") {
      auto cc = classConsistency(*probs, labels);
      if (!cc) return cc.error();
      f.title = "class consistency";
      f.value = *cc;
      j["class_consistency"] = *cc;
      f.text = "class consistency " + fixed(100.0 * *cc, 1) + "% on " + std::to_string(gen->n) + " samples";
    } else {
      auto is = inceptionScore(*probs, 1);
      if (!is) return is.error();
      f.title = "Inception-style score";
      f.value = is->mean;
      j["inception_score"] = is->mean;
      f.text = "Inception-style score (FMNIST classifier) " + fixed(is->mean, 3) + " on " + std::to_string(gen->n) +
               " samples";
    }
  } else {
    const auto kind = mt == "fid" ? FeatureKind::Pooled : FeatureKind::Spatial;
    const std::string name = mt == "fid" ? "FID-FMNIST" : "sFID-FMNIST";
    auto test = fashionMnistTestImages();
    if (!test) return test.error();
    auto jobFg = job.sub(0.6, 0.7);
    auto fg = imageFeatures(*clf, gen->pixels, gen->n, gen->h, gen->w, kind, jobFg);
    if (!fg) return fg.error();
    auto jobFt = job.sub(0.7, 1.0);
    auto ft = imageFeatures(*clf, test->pixels, test->n, test->h, test->w, kind, jobFt);
    if (!ft) return ft.error();
    auto sg = gaussianStats(*fg), st = gaussianStats(*ft);
    if (!sg) return sg.error();
    if (!st) return st.error();
    auto fd = frechetDistance(*sg, *st);
    if (!fd) return fd.error();
    FeatureSet h1, h2;
    h1.dim = h2.dim = ft->dim;
    h1.n = ft->n / 2;
    h2.n = ft->n - h1.n;
    h1.data.assign(ft->data.begin(), ft->data.begin() + ptrdiff_t(size_t(h1.n) * size_t(ft->dim)));
    h2.data.assign(ft->data.begin() + ptrdiff_t(size_t(h1.n) * size_t(ft->dim)), ft->data.end());
    auto s1 = gaussianStats(h1), s2 = gaussianStats(h2);
    if (!s1) return s1.error();
    if (!s2) return s2.error();
    auto floor = frechetDistance(*s1, *s2);
    if (!floor) return floor.error();
    f.title = name;
    f.value = *fd;
    f.floor = *floor;
    j[mt + "_fmnist"] = *fd;
    j[mt + "_fmnist_floor_test_halves"] = *floor;
    j["reference"] = "fashion-mnist test (" + std::to_string(test->n) + " images)";
    f.text = name + " " + fixed(*fd, 3) + " on " + std::to_string(gen->n) + " samples vs " + std::to_string(test->n) +
             " test images (floor, test half vs half: " + fixed(*floor, 3) + ")";
  }
  f.seconds = secondsSince(t0);
  j["seconds"] = f.seconds;
  f.json = j.dump();
  job.progress(1.0, "done");
  return f;
}

Result<MetricFigure> textMetric(const Model& model, const TextMetricRequest& req, JobContext& job) {
  const auto t0 = std::chrono::steady_clock::now();
  if (req.metric != "ppl" && req.metric != "agreement")
    return Error::badArgument("unknown language metric '" + req.metric + "' (ppl, agreement)");
  if (req.documents < 0) return Error::badArgument("the document count must be >= 0");
  if (req.context < 8) return Error::badArgument("the context must be at least 8 tokens");
  auto lm = LanguageModel::fromModel(model);
  if (!lm) return lm.error();
  auto corpus = req.fortunesDir.empty() ? loadFortunesCorpus() : loadFortunesCorpus(req.fortunesDir);
  if (!corpus) return corpus.error();
  std::vector<std::string> docs = corpus->heldOut;
  if (req.documents > 0 && req.documents < int(docs.size())) docs.resize(size_t(req.documents));
  if (docs.empty()) return Error::failed("the fortunes corpus has no held-out fortunes");

  MetricFigure f;
  f.metric = req.metric;
  f.samples = int(docs.size());
  nlohmann::json j;
  j["model"] = model.name();
  j["metric"] = req.metric;
  j["text"] = "fortunes held-out";
  j["documents"] = f.samples;
  j["documents_available"] = corpus->heldOut.size();
  j["context"] = req.context;
  j["stride"] = req.context / 2;
  PerplexityOptions o;
  o.context = req.context;
  o.stride = req.context / 2;
  if (req.metric == "ppl") {
    // As fortunesHeldOutPerplexity: each fortune its own document, [BOS] + its tokens.
    std::vector<std::vector<int>> toks;
    int64_t bytes = 0;
    for (const auto& d : docs) {
      toks.push_back(lm->tokenizer().encode(d, true));
      bytes += int64_t(d.size());
    }
    auto r = lm->perplexityTokens(toks, o, job);
    if (!r) return r.error();
    f.title = "held-out perplexity";
    f.value = r->ppl;
    f.tokens = r->tokens;
    const double bpb = bytes > 0 ? r->meanNll * double(r->tokens) / double(bytes) / std::log(2.0) : 0;
    j["ppl"] = r->ppl;
    j["mean_nll"] = r->meanNll;
    j["tokens"] = r->tokens;
    j["bytes"] = bytes;
    j["bits_per_byte"] = bpb;
    f.text = "held-out perplexity " + fixed(r->ppl, 3) + " (" + fixed(bpb, 3) + " bits/byte) on " +
             std::to_string(f.samples) + " fortunes, " + std::to_string(r->tokens) + " tokens";
  } else {
    auto jobRef = job.sub(0.0, 0.05);
    LanguageModel ref = *lm;
    std::string refName = model.name();
    if (!req.reference.empty()) {
      auto r = LanguageModel::open(req.reference, jobRef);
      if (!r) return r.error();
      ref = *r;
      refName = req.reference;
    }
    std::string text;
    const std::string sep = "\n%\n";
    for (size_t i = 0; i < docs.size(); ++i) text += (i ? sep : std::string()) + docs[i];
    o.separator = sep;
    auto jobAgree = job.sub(0.05, 1.0);
    auto r = lm->agreement(ref, text, o, jobAgree);
    if (!r) return r.error();
    f.title = "top-1 agreement";
    f.value = r->top1;
    f.tokens = r->tokens;
    j["reference"] = refName;
    j["top1_agreement"] = r->top1;
    j["mean_kl"] = r->meanKl;
    j["tokens"] = r->tokens;
    f.text = "top-1 agreement with " + refName + " " + fixed(100.0 * r->top1, 2) + "% (mean KL " +
             fixed(r->meanKl, 4) + " nats) on " + std::to_string(f.samples) + " fortunes, " +
             std::to_string(r->tokens) + " tokens";
  }
  f.seconds = secondsSince(t0);
  j["seconds"] = f.seconds;
  f.json = j.dump();
  job.progress(1.0, "done");
  return f;
}

}  // namespace cs::gen
