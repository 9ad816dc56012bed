// `cstudio train ddpm-fmnist` (registered by a static initializer), and the image side
// of `cstudio generate` / `cstudio eval` (cmd_diffusion.h; dispatched from cmd_lm.cpp).
#include "cmd_diffusion.h"

#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "engine/diffusion.h"
#include "engine/metrics.h"
#include "engine/train.h"

namespace cs {
// Defined in engine/src/diffusion/train_ddpm.cpp and engine/src/ar/train_ar.cpp (plain C++
// signatures, no torch).
Result<TrainReport> trainDdpmFmnist(const TrainOptions& o, JobContext& job);
Result<TrainReport> trainVqFmnist(const TrainOptions& o, JobContext& job);
Result<TrainReport> trainArFmnist(const TrainOptions& o, JobContext& job);
}  // namespace cs

namespace cs::cli {
namespace {

int trainDdpm(const TrainArgs& a) {
  auto job = progressJob();
  TrainOptions o;
  o.epochs = a.epochs > 0 ? a.epochs : 30;
  o.seed = a.seed;
  o.outDir = a.outDir;
  o.maxTrainSamples = a.maxSamples;
  o.command = a.commandLine;
  o.device = a.device;
  auto r = trainDdpmFmnist(o, job);
  if (!r) return fail(r.error());
  nlohmann::json out = {{"model", "ddpm-fmnist"}, {"weights", r->weightsPath}, {"card", r->cardPath},
                        {"seconds", r->seconds},   {"parameters", r->parameters}, {"epoch_train_loss", r->epochTrainLoss}};
  if (a.json)
    printJson(out);
  else
    std::cout << "ddpm-fmnist: final train loss " << std::setprecision(4)
              << (r->epochTrainLoss.empty() ? 0.0 : r->epochTrainLoss.back()) << " after " << r->seconds
              << " s; weights " << r->weightsPath << "\n";
  return 0;
}

// vq-fmnist (the tokenizer) and ar-fmnist (the transformer over its tokens).
int trainAr(const TrainArgs& a, bool vq) {
  auto job = progressJob();
  TrainOptions o;
  o.epochs = a.epochs;
  o.seed = a.seed;
  o.outDir = a.outDir;
  o.maxTrainSamples = a.maxSamples;
  o.command = a.commandLine;
  o.device = a.device;
  const std::string name = vq ? "vq-fmnist" : "ar-fmnist";
  auto r = vq ? trainVqFmnist(o, job) : trainArFmnist(o, job);
  if (!r) return fail(r.error());
  nlohmann::json out = {{"model", name},          {"weights", r->weightsPath},   {"card", r->cardPath},
                        {"seconds", r->seconds}, {"parameters", r->parameters}, {"epoch_train_loss", r->epochTrainLoss}};
  if (vq)
    out["codebook_used_fraction"] = r->testAccuracy;
  else
    out["epoch_test_nll"] = r->epochTestAccuracy;
  if (a.json)
    printJson(out);
  else
    std::cout << name << ": final train loss " << std::setprecision(4)
              << (r->epochTrainLoss.empty() ? 0.0 : r->epochTrainLoss.back()) << " after " << r->seconds
              << " s; weights " << r->weightsPath << "; card " << r->cardPath << "\n";
  return 0;
}

const bool registered = [] {
  trainers()["ddpm-fmnist"] = trainDdpm;
  trainers()["vq-fmnist"] = [](const TrainArgs& a) { return trainAr(a, true); };
  trainers()["ar-fmnist"] = [](const TrainArgs& a) { return trainAr(a, false); };
  return true;
}();

}  // namespace
}  // namespace cs::cli

namespace cs::cli {

std::vector<int64_t> parseIndexList(const std::string& s, int64_t allCount) {
  std::vector<int64_t> out;
  if (s == "all") {
    for (int64_t i = 0; i < allCount; ++i) out.push_back(i);
    return out;
  }
  std::stringstream ss(s);
  std::string part;
  try {
    while (std::getline(ss, part, ',')) {
      if (part.empty()) return {};
      const auto dash = part.find('-', 1);
      size_t used = 0;
      if (dash == std::string::npos) {
        out.push_back(std::stoll(part, &used));
        if (used != part.size()) return {};
      } else {
        const std::string a = part.substr(0, dash), b = part.substr(dash + 1);
        size_t ua = 0, ub = 0;
        const int64_t lo = std::stoll(a, &ua), hi = std::stoll(b, &ub);
        if (ua != a.size() || ub != b.size() || hi < lo || hi - lo > 1000000) return {};
        for (int64_t i = lo; i <= hi; ++i) out.push_back(i);
      }
    }
  } catch (const std::exception&) {
    return {};
  }
  return out;
}

namespace {

ImageGenOptions resolveOptions(const Model& m, const std::string& sampler, int steps, double eta, double guidance,
                               int batch, const std::string& device, double temperature = -1, int topK = -1) {
  auto o = defaultImageGenOptions(m);
  if (temperature >= 0) o.temperature = temperature;
  if (topK >= 0) o.topK = topK;
  o.device = device;
  o.sampler = sampler;
  if (steps > 0) o.steps = steps;
  if (eta >= 0) o.eta = eta;
  if (guidance >= 0) o.guidance = guidance;
  if (batch > 0) o.batch = batch;
  return o;
}

bool isAutoregressive(const Model& m) { return m.family() == "ar-image"; }

nlohmann::json settingsJson(const Model& m, const ImageGenOptions& o) {
  if (isAutoregressive(m))
    return {{"sampler", "autoregressive"}, {"temperature", o.temperature}, {"top_k", o.topK},
            {"guidance", o.guidance},      {"batch", o.batch},             {"device", o.device}};
  return {{"sampler", o.sampler}, {"steps", o.steps}, {"eta", o.eta},
          {"guidance", o.guidance}, {"batch", o.batch}, {"device", o.device}};
}

// One line describing the sampler settings.
std::string settingsText(const Model& m, const ImageGenOptions& o) {
  std::ostringstream s;
  if (isAutoregressive(m))
    s << "autoregressive, temperature " << o.temperature << ", top-k " << o.topK << ", guidance " << o.guidance;
  else
    s << o.sampler << " " << o.steps << " steps, eta " << o.eta << ", guidance " << o.guidance;
  return s.str();
}

}  // namespace

int runImageGenerate(const Model& model, const ImageGenArgs& a) {
  const int classes = diffusionClassCount(model);
  auto cls = classes > 0 ? parseIndexList(a.classes, classes) : std::vector<int64_t>{-1};
  if (cls.empty()) return fail(Error::badArgument("--class: cannot read '" + a.classes + "' (e.g. 3, 0-9, 1,4 or all)"));
  auto sd = parseIndexList(a.seeds, 0);
  if (sd.empty()) return fail(Error::badArgument("--seeds: cannot read '" + a.seeds + "' (e.g. 0-15 or 0,5,9)"));
  std::vector<int> labels;
  std::vector<uint64_t> seeds;
  for (auto c : cls)
    for (auto s : sd) {
      if (s < 0) return fail(Error::badArgument("--seeds: seeds must be >= 0"));
      labels.push_back(int(c));
      seeds.push_back(uint64_t(s));
    }
  const auto o = resolveOptions(model, a.sampler, a.steps, a.eta, a.guidance, a.batch, a.device, a.temperature, a.topK);
  auto job = progressJob(a.json);
  auto r = generateImages(model, classes > 0 ? labels : std::vector<int>{}, seeds, o, job);
  if (!r) return fail(r.error());
  if (!a.out.empty()) {
    auto w = writePngGrid(a.out, *r, a.cols > 0 ? a.cols : int(sd.size()));
    if (!w) return fail(w.error());
  }
  const double ips = r->seconds > 0 ? r->n / r->seconds : 0;
  if (a.json) {
    auto j = settingsJson(model, o);
    j["model"] = model.name();
    j["images"] = r->n;
    j["classes"] = cls;
    j["seeds"] = sd;
    j["size"] = {r->h, r->w};
    j["seconds"] = r->seconds;
    j["images_per_second"] = ips;
    j["out"] = a.out;
    printJson(j);
  } else {
    std::cout << model.name() << ": " << r->n << " images (" << r->h << "x" << r->w << ", " << settingsText(model, o)
              << ", batch " << o.batch << ") in "
              << std::fixed << std::setprecision(2) << r->seconds << " s = " << ips << " images/s"
              << (a.out.empty() ? "" : "; grid " + a.out) << "\n";
  }
  return 0;
}

int runImageEval(const Model& model, const ImageEvalArgs& a) {
  const std::string& mt = a.metric;
  const bool all = mt == "all", wantFid = all || mt == "fid", wantSfid = all || mt == "sfid",
             wantIs = all || mt == "is", wantCc = all || mt == "class-consistency";
  if (!(wantFid || wantSfid || wantIs || wantCc))
    return fail(Error::badArgument("unknown metric '" + mt + "' for an image generator (fid, sfid, is, class-consistency, all)"));
  if (a.samples < 2) return fail(Error::badArgument("--samples must be >= 2"));
  auto job = progressJob(a.json);
  auto clf = openModel(a.classifier, job);
  if (!clf) return fail(clf.error());
  const int classes = diffusionClassCount(model);
  if (wantCc && classes == 0 && !all)
    return fail(Error::badArgument(model.name() + ": class consistency needs a class-conditional model"));
  std::vector<int> labels;
  std::vector<uint64_t> seeds;
  for (int i = 0; i < a.samples; ++i) {
    if (classes > 0) labels.push_back(i % classes);
    seeds.push_back(a.seed + uint64_t(i));
  }
  const auto o = resolveOptions(model, a.sampler, a.steps, a.eta, a.guidance, a.batch, a.device, a.temperature, a.topK);
  auto gen = generateImages(model, labels, seeds, o, job);
  if (!gen) return fail(gen.error());
  if (!a.samplesOut.empty()) {
    GeneratedImages head = *gen;
    head.n = std::min(gen->n, 100);
    head.pixels.resize(size_t(head.n) * head.channels * head.h * head.w);
    auto w = writePngGrid(a.samplesOut, head, 10);
    if (!w) return fail(w.error());
  }
  nlohmann::json j = settingsJson(model, o);
  j["model"] = model.name();
  j["classifier"] = a.classifier;
  j["samples"] = gen->n;
  j["seed_first"] = a.seed;
  j["sampling_seconds"] = gen->seconds;
  std::ostringstream txt;
  txt << std::fixed << std::setprecision(4);
  txt << model.name() << " (" << gen->n << " samples, " << settingsText(model, o) << "; classifier " << a.classifier
      << ")\n";
  if (wantIs || (wantCc && classes > 0)) {
    auto probs = classifyImages(*clf, gen->pixels, gen->n, gen->h, gen->w, job);
    if (!probs) return fail(probs.error());
    if (wantCc && classes > 0) {
      auto cc = classConsistency(*probs, labels);
      if (!cc) return fail(cc.error());
      j["class_consistency"] = *cc;
      txt << "  class consistency: " << *cc << "\n";
    }
    if (wantIs) {
      auto is = inceptionScore(*probs, a.splits);
      if (!is) return fail(is.error());
      j["inception_score"] = is->mean;
      j["inception_score_std"] = is->std;
      j["is_splits"] = a.splits;
      txt << "  inception-style score (FMNIST classifier): " << is->mean << " (splits " << a.splits << ")\n";
    }
  }
  if (wantFid || wantSfid || wantIs) {
    auto test = fashionMnistTestImages();
    if (!test) return fail(test.error());
    j["reference"] = "fashion-mnist test (" + std::to_string(test->n) + " images)";
    if (wantIs) {
      auto tp = classifyImages(*clf, test->pixels, test->n, test->h, test->w, job);
      if (!tp) return fail(tp.error());
      auto tis = inceptionScore(*tp, a.splits);
      if (!tis) return fail(tis.error());
      j["inception_score_test_set"] = tis->mean;
      txt << "  inception-style score of the " << test->n << " test images: " << tis->mean << "\n";
    }
    for (int k = 0; k < 2; ++k) {
      if (!(k == 0 ? wantFid : wantSfid)) continue;
      const auto kind = k == 0 ? FeatureKind::Pooled : FeatureKind::Spatial;
      const std::string key = k == 0 ? "fid_fmnist" : "sfid_fmnist";
      auto fg = imageFeatures(*clf, gen->pixels, gen->n, gen->h, gen->w, kind, job);
      if (!fg) return fail(fg.error());
      auto ft = imageFeatures(*clf, test->pixels, test->n, test->h, test->w, kind, job);
      if (!ft) return fail(ft.error());
      auto sg = gaussianStats(*fg), st = gaussianStats(*ft);
      if (!sg) return fail(sg.error());
      if (!st) return fail(st.error());
      auto fd = frechetDistance(*sg, *st);
      if (!fd) return fail(fd.error());
      // Floor: the test set's two halves against each other.
      FeatureSet h1, h2;
      h1.dim = h2.dim = ft->dim;
      h1.n = ft->n / 2;
      h2.n = ft->n - h1.n;
      h1.data.assign(ft->data.begin(), ft->data.begin() + size_t(h1.n) * ft->dim);
      h2.data.assign(ft->data.begin() + size_t(h1.n) * ft->dim, ft->data.end());
      auto s1 = gaussianStats(h1), s2 = gaussianStats(h2);
      if (!s1 || !s2) return fail(Error::failed("test-half statistics failed"));
      auto floor = frechetDistance(*s1, *s2);
      if (!floor) return fail(floor.error());
      j[key] = *fd;
      j[key + "_floor_test_halves"] = *floor;
      j[key + "_dims"] = ft->dim;
      txt << "  " << (k == 0 ? "FID-FMNIST" : "sFID-FMNIST") << " vs " << test->n << " test images: " << *fd
          << " (floor, test half vs half " << h1.n << "/" << h2.n << ": " << *floor << "; " << ft->dim
          << "-dim features)\n";
    }
  }
  if (a.json)
    printJson(j);
  else
    std::cout << txt.str();
  return 0;
}

}  // namespace cs::cli
