// Generation facade (engine/diffusion.h): batched DDIM/DDPM sampling of a UNet2DModel, or
// autoregressive token sampling of an ArImageModel (ar-fmnist) decoded by its VQ-VAE, for
// (class, seed) pairs, and a small PNG grid writer (zlib for deflate and CRC).
#include <zlib.h>

#include <chrono>
#include <fstream>

#include "engine/diffusion.h"
#include "engine/torch/ar.h"
#include "engine/torch/unet.h"

namespace cs {
namespace {

const detail::UNet2DModel* asUNet(const Model& m) {
  return dynamic_cast<const detail::UNet2DModel*>(m.impl().get());
}

int64_t nullClassOf(const detail::UNet2DModel& u) {
  const int n = u.config().numClassEmbeds;
  if (n <= 0) return -1;
  auto it = u.properties.find("null_class");
  if (it != u.properties.end()) {
    try {
      const long v = std::stol(it->second);
      if (v >= 0 && v < n) return v;
    } catch (const std::exception&) {
    }
  }
  return n - 1;
}

const detail::ArImageModel* asAr(const Model& m) {
  return dynamic_cast<const detail::ArImageModel*>(m.impl().get());
}

Result<GeneratedImages> generateAr(const Model& model, const detail::ArImageModel& am, const std::vector<int>& labels,
                                   const std::vector<uint64_t>& seeds, const ImageGenOptions& opt, JobContext& job) {
  const auto& cfg = am.ar.config();
  if (opt.batch < 1) return Error::badArgument("batch must be >= 1");
  if (opt.temperature < 0) return Error::badArgument("temperature must be >= 0 (0: greedy)");
  if (opt.topK < 0) return Error::badArgument("top-k must be >= 0 (0: all codes)");
  if (opt.guidance < 0) return Error::badArgument("guidance must be >= 0");
  for (int l : labels)
    if (l < -1 || l >= cfg.classes)
      return Error::badArgument("class " + std::to_string(l) + " out of range for " + model.name() + " (" +
                                std::to_string(cfg.classes) + " classes)");
  if (opt.device != "cpu" && opt.device != "cuda") return Error::badArgument("device must be cpu or cuda");
  CS_TRY_RESULT(model.source(), {
    const auto t0 = std::chrono::steady_clock::now();
    const detail::ArImageModel* m = &am;
    std::shared_ptr<detail::ArImageModel> onDevice;
    if (opt.device == "cuda") {
      if (!torch::cuda::is_available()) return Error::badArgument("--device cuda: this LibTorch build has no CUDA device");
      onDevice = std::dynamic_pointer_cast<detail::ArImageModel>(am.clone());
      onDevice->to(torch::Device(torch::kCUDA));
      m = onDevice.get();
    }
    torch::InferenceMode im;
    const auto dev = opt.device == "cuda" ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    GeneratedImages out;
    out.n = int(seeds.size());
    out.channels = 1;
    out.h = out.w = m->vq->config().imageSize;
    out.seeds = seeds;
    out.labels = labels.empty() ? std::vector<int>(seeds.size(), -1) : labels;
    const int64_t n = out.n, batches = (n + opt.batch - 1) / opt.batch;
    // VQ layers are tapped under their "vq." names (as in ArImageModel::layers()).
    std::map<std::string, detail::TensorTransform> vqTransforms;
    for (auto& [k, f] : m->inputTransforms)
      if (k.rfind("vq.", 0) == 0) vqTransforms[k.substr(3)] = f;
    const detail::ForwardCtx ctx{&m->inputTransforms, nullptr}, vqCtx{&vqTransforms, nullptr};
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t lo = b * opt.batch, hi = std::min<int64_t>(n, lo + opt.batch);
      detail::ArSampleOptions so;
      so.guidance = opt.guidance;
      so.temperature = opt.temperature;
      so.topK = opt.topK;
      so.sampleSeeds.assign(seeds.begin() + lo, seeds.begin() + hi);
      so.cancelled = [&job] { return job.cancelled(); };
      so.onStep = [&](int step) {
        job.progress((double(b) + double(step) / cfg.seqLen) / double(batches),
                     "sampling batch " + std::to_string(b + 1) + "/" + std::to_string(batches) + ", token " +
                         std::to_string(step + 1) + "/" + std::to_string(cfg.seqLen));
      };
      std::vector<int64_t> ls;
      for (int64_t i = lo; i < hi; ++i) ls.push_back(out.labels[size_t(i)] < 0 ? cfg.nullClass() : out.labels[size_t(i)]);
      auto codes = detail::sampleArCodes(m->ar, torch::tensor(ls, torch::kLong).to(dev), so, ctx);
      if (!codes.defined()) return Error::cancelled();
      auto x = m->vq->decodeCodes(codes, vqCtx);
      x = ((x.to(torch::kFloat).cpu() + 1) / 2).clamp(0, 1).contiguous();
      const float* d = x.data_ptr<float>();
      out.pixels.insert(out.pixels.end(), d, d + x.numel());
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    job.progress(1.0, "generated " + std::to_string(n) + " images");
    return out;
  })
}

}  // namespace

int diffusionClassCount(const Model& model) {
  if (const auto* a = asAr(model)) return a->ar.config().classes;
  const auto* u = asUNet(model);
  if (!u || u->config().numClassEmbeds <= 0) return 0;
  // The null class is not a real class.
  return u->config().numClassEmbeds - 1;
}

ImageGenOptions defaultImageGenOptions(const Model& model) {
  ImageGenOptions o;
  const auto props = model.properties();
  auto num = [&](const char* key, auto& field) {
    auto it = props.find(key);
    if (it == props.end()) return;
    try {
      field = static_cast<std::decay_t<decltype(field)>>(std::stod(it->second));
    } catch (const std::exception&) {
    }
  };
  num("default_steps", o.steps);
  num("default_guidance", o.guidance);
  num("default_eta", o.eta);
  num("default_temperature", o.temperature);
  num("default_top_k", o.topK);
  return o;
}

Result<GeneratedImages> generateImages(const Model& model, const std::vector<int>& labels, const std::vector<uint64_t>& seeds,
                                       const ImageGenOptions& opt, JobContext& job) {
  const auto* u = asUNet(model);
  const auto* ar = asAr(model);
  if (!u && !ar)
    return Error::badArgument(model.name() + ": not a diffusion UNet or autoregressive image model (family " +
                              model.family() + ")");
  if (seeds.empty()) return Error::badArgument("no seeds: nothing to generate");
  if (!labels.empty() && labels.size() != seeds.size())
    return Error::badArgument("generate: " + std::to_string(labels.size()) + " classes for " +
                              std::to_string(seeds.size()) + " seeds");
  if (ar) return generateAr(model, *ar, labels, seeds, opt, job);
  if (opt.sampler != "ddim" && opt.sampler != "ddpm")
    return Error::badArgument("sampler must be ddim or ddpm, got '" + opt.sampler + "'");
  const auto& cfg = u->config();
  if (opt.steps < 1 || opt.steps > cfg.numTrainTimesteps)
    return Error::badArgument("steps must be 1.." + std::to_string(cfg.numTrainTimesteps));
  if (opt.batch < 1) return Error::badArgument("batch must be >= 1");
  if (opt.eta < 0) return Error::badArgument("eta must be >= 0");
  const int64_t nullClass = nullClassOf(*u);
  const int classes = diffusionClassCount(model);
  for (int l : labels)
    if (classes == 0 ? l >= 0 : (l < -1 || l >= classes))
      return Error::badArgument("class " + std::to_string(l) + " out of range for " + model.name() + " (" +
                                std::to_string(classes) + " classes)");
  if (opt.device != "cpu" && opt.device != "cuda") return Error::badArgument("device must be cpu or cuda");
  CS_TRY_RESULT(model.source(), {
    const auto t0 = std::chrono::steady_clock::now();
    std::shared_ptr<detail::UNet2DModel> onDevice;  // CUDA copy, when asked for
    if (opt.device == "cuda") {
      if (!torch::cuda::is_available()) return Error::badArgument("--device cuda: this LibTorch build has no CUDA device");
      onDevice = std::dynamic_pointer_cast<detail::UNet2DModel>(u->clone());
      onDevice->to(torch::Device(torch::kCUDA));
      u = onDevice.get();
    }
    torch::InferenceMode im;
    auto sched = detail::NoiseSchedule::linear(cfg.numTrainTimesteps);
    GeneratedImages out;
    out.n = int(seeds.size());
    out.channels = cfg.outChannels;
    out.h = out.w = cfg.sampleSize;
    out.seeds = seeds;
    out.labels = labels.empty() ? std::vector<int>(seeds.size(), -1) : labels;
    out.pixels.reserve(size_t(out.n) * out.channels * out.h * out.w);
    const int64_t n = out.n;
    const int64_t batches = (n + opt.batch - 1) / opt.batch;
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t lo = b * opt.batch, hi = std::min<int64_t>(n, lo + opt.batch);
      detail::SamplerOptions so;
      so.kind = opt.sampler == "ddpm" ? detail::SamplerOptions::Kind::DDPM : detail::SamplerOptions::Kind::DDIM;
      so.steps = opt.steps;
      so.eta = opt.eta;
      so.guidance = opt.guidance;
      so.nullClass = nullClass;
      so.sampleSeeds.assign(seeds.begin() + lo, seeds.begin() + hi);
      so.cancelled = [&job] { return job.cancelled(); };
      so.onStep = [&](int step, int64_t) {
        job.progress((double(b) + double(step) / opt.steps) / double(batches),
                     "sampling batch " + std::to_string(b + 1) + "/" + std::to_string(batches) + ", step " +
                         std::to_string(step + 1) + "/" + std::to_string(opt.steps));
      };
      torch::Tensor y;
      if (classes > 0) {
        std::vector<int64_t> ls;
        for (int64_t i = lo; i < hi; ++i) ls.push_back(out.labels[size_t(i)] < 0 ? nullClass : out.labels[size_t(i)]);
        y = torch::tensor(ls, torch::kLong);
      }
      auto x = detail::sampleUNet(*u, sched, hi - lo, y, so, detail::ForwardCtx{&u->inputTransforms, nullptr});
      if (!x.defined()) return Error::cancelled();
      x = ((x.to(torch::kFloat).cpu() + 1) / 2).clamp(0, 1).contiguous();
      const float* d = x.data_ptr<float>();
      out.pixels.insert(out.pixels.end(), d, d + x.numel());
    }
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    job.progress(1.0, "generated " + std::to_string(n) + " images");
    return out;
  })
}

// ---------------------------------------------------------------------------- PNG
namespace {
void put32(std::string& s, uint32_t v) {
  for (int i = 3; i >= 0; --i) s.push_back(char((v >> (8 * i)) & 0xFF));
}
void chunk(std::string& file, const char* type, const std::string& data) {
  put32(file, uint32_t(data.size()));
  std::string td(type, 4);
  td += data;
  file += td;
  put32(file, uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(td.data()), uInt(td.size()))));
}
}  // namespace

Status writePngGrid(const std::string& path, const GeneratedImages& im, int cols) {
  if (im.n <= 0 || im.h <= 0 || im.w <= 0) return Error::badArgument(path + ": no images to write");
  if (im.channels != 1 && im.channels != 3) return Error::badArgument(path + ": only 1- or 3-channel images");
  if (im.pixels.size() != size_t(im.n) * im.channels * im.h * im.w) return Error::badArgument(path + ": pixel count mismatch");
  cols = std::max(1, std::min(cols, im.n));
  const int rows = (im.n + cols - 1) / cols, gap = 2;
  const int W = cols * im.w + (cols + 1) * gap, H = rows * im.h + (rows + 1) * gap, C = im.channels;
  std::vector<uint8_t> canvas(size_t(W) * H * C, 255);
  for (int i = 0; i < im.n; ++i) {
    const int ox = gap + (i % cols) * (im.w + gap), oy = gap + (i / cols) * (im.h + gap);
    for (int c = 0; c < C; ++c)
      for (int y = 0; y < im.h; ++y)
        for (int x = 0; x < im.w; ++x) {
          const float v = im.pixels[((size_t(i) * C + c) * im.h + y) * im.w + x];
          canvas[(size_t(oy + y) * W + (ox + x)) * C + c] = uint8_t(std::lround(std::clamp(v, 0.0f, 1.0f) * 255.0f));
        }
  }
  std::string raw;
  raw.reserve(size_t(H) * (size_t(W) * C + 1));
  for (int y = 0; y < H; ++y) {
    raw.push_back('\0');  // filter: none
    raw.append(reinterpret_cast<const char*>(canvas.data()) + size_t(y) * W * C, size_t(W) * C);
  }
  uLongf zlen = compressBound(uLong(raw.size()));
  std::string z(zlen, '\0');
  if (compress2(reinterpret_cast<Bytef*>(z.data()), &zlen, reinterpret_cast<const Bytef*>(raw.data()), uLong(raw.size()), 9) !=
      Z_OK)
    return Error::failed(path + ": PNG compression failed");
  z.resize(zlen);
  std::string file("\x89PNG\r\n\x1a\n", 8), ihdr;
  put32(ihdr, uint32_t(W));
  put32(ihdr, uint32_t(H));
  ihdr += char(8);                // bit depth
  ihdr += char(C == 1 ? 0 : 2);   // grey or RGB
  ihdr += std::string(3, '\0');   // deflate, adaptive filter, no interlace
  chunk(file, "IHDR", ihdr);
  chunk(file, "IDAT", z);
  chunk(file, "IEND", "");
  std::ofstream f(path, std::ios::binary);
  if (!f) return Error::badFile(path, "cannot open for writing");
  f.write(file.data(), std::streamsize(file.size()));
  if (!f) return Error::badFile(path, "write failed");
  return okStatus();
}

}  // namespace cs
