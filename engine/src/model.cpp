// cs::Model handle, the zoo, and openModel() dispatch.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/model.h"
#include "engine/torch/ar.h"
#include "engine/torch/model_impl.h"
#include "engine/torch/open_hooks.h"
#include "engine/torch/tensors.h"
#include "engine/torch/unet.h"
#include "engine/torch/vit.h"
#include "torchscript_model.h"
#if __has_include("engine/torch/llm_impl.h")
#include "engine/torch/llm_impl.h"
#define CS_HAVE_LLM 1
#endif

namespace cs {
namespace fs = std::filesystem;

Model::Model(std::shared_ptr<const detail::ModelImpl> impl) : impl_(std::move(impl)) {}
std::string Model::name() const { return impl_ ? impl_->name : std::string(); }
std::string Model::family() const { return impl_ ? impl_->family() : std::string(); }
std::string Model::source() const { return impl_ ? impl_->source : std::string(); }
Task Model::task() const { return impl_ ? impl_->task() : Task::Unknown; }
std::vector<LayerInfo> Model::layers() const { return impl_ ? impl_->layers() : std::vector<LayerInfo>{}; }
std::map<std::string, std::string> Model::properties() const {
  return impl_ ? impl_->properties : std::map<std::string, std::string>{};
}

int64_t Model::parameterCount() const {
  int64_t n = 0;
  if (impl_)
    for (auto& l : impl_->layers()) n += l.params;
  return n;
}

Result<TensorData> Model::weight(const std::string& layer) const {
  if (!impl_) return Error::badArgument("no model");
  CS_TRY_RESULT(source(), {
    auto w = impl_->layerWeight(layer);
    if (!w.defined()) return Error::notFound("layer '" + layer + "' has no weight");
    return detail::toTensorData(w);
  })
}

std::string zooDirectory() {
  if (const char* d = std::getenv("CSTUDIO_ZOO")) return d;
  return CS_ZOO_DIR;
}

std::vector<ZooEntry> zooModels() {
  std::vector<ZooEntry> out;
  std::error_code ec;
  for (auto& dir : fs::directory_iterator(zooDirectory(), ec)) {
    auto meta = dir.path() / "zoo.json";
    if (!fs::exists(meta)) continue;
    std::ifstream f(meta);
    auto j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_discarded()) continue;
    ZooEntry e;
    e.name = j.value("name", dir.path().filename().string());
    e.family = j.value("family", "");
    e.summary = j.value("summary", "");
    e.weights = (dir.path() / j.value("weights", "model.safetensors")).string();
    e.card = (dir.path() / "MODEL_CARD.md").string();
    e.available = fs::exists(e.weights);
    out.push_back(e);
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
  return out;
}

namespace {

std::shared_ptr<detail::ModelImpl> openNativeSafetensors(const std::string& path) {
  auto st = detail::readSafeTensors(path);
  if (!st) throw EngineError(st.error());
  auto fam = st->metadata.find("family");
  if (fam == st->metadata.end() && detail::looksLikeTimmVit(*st)) return detail::openTimmVit(*st, path);
  if (fam == st->metadata.end())
    throw EngineError(Error::badFile(path, "safetensors file has no 'family' in its metadata; "
                                           "the studio cannot tell which architecture it holds"));
  if (fam->second == "vit") {
    auto m = std::make_shared<detail::VitModel>(detail::VitConfig::fromMetadata(st->metadata));
    m->load(*st, path);
    for (auto& [k, v] : st->metadata) m->properties[k] = v;
    return m;
  }
  if (fam->second == "unet2d") {  // diffusion UNet (config in metadata "unet_config")
    auto u = detail::loadUNet2D(path);
    if (!u) throw EngineError(u.error());
    return *u;
  }
  if (fam->second == "ar-image") {  // autoregressive image generator + its VQ-VAE (engine/torch/ar.h)
    auto m = detail::loadArImageModel(path);
    if (!m) throw EngineError(m.error());
    return *m;
  }
  if (fam->second == "vqvae") {
    auto m = detail::loadVqVae(path);
    if (!m) throw EngineError(m.error());
    return *m;
  }
#ifdef CS_HAVE_LLM
  if (fam->second == "llama" || fam->second == "opt") return detail::openLanguageModel(path);
#endif
  throw EngineError(Error::badFile(path, "unsupported model family '" + fam->second + "'"));
}

}  // namespace

Result<Model> openModel(const std::string& nameOrPath, JobContext& job) {
  std::string path = nameOrPath;
  std::string name = fs::path(nameOrPath).stem().string();
  bool fromZoo = false;
  if (!fs::exists(path)) {
    for (auto& z : zooModels())
      if (z.name == nameOrPath) {
        if (!z.available)
          return Error::notFound("zoo model '" + z.name + "' has no weights at " + z.weights + " (train it with `cstudio train " +
                                 z.name + "`)");
        path = z.weights;
        name = z.name;
        fromZoo = true;
      }
    if (!fromZoo) return Error::notFound(nameOrPath + ": no such file or zoo model");
  }
  CS_TRY_RESULT(path, {
    job.progress(0.0, "loading " + name);
    std::shared_ptr<detail::ModelImpl> impl;
    const std::string ext = fs::path(path).extension().string();
#ifdef CS_HAVE_LLM
    if (fs::is_directory(path) || ext == ".bin") impl = detail::openLanguageModel(path);
#endif
    if (!impl && fs::is_directory(path)) return Error::badFile(path, "is a directory, not a model file");
    if (!impl && ext == ".safetensors") impl = openNativeSafetensors(path);
    if (!impl) impl = detail::openTorchScript(path);
    impl->name = name;
    impl->source = path;
    detail::applyModelOpenHooks(*impl, path);  // e.g. a quantized variant's activation quantizers
    job.progress(1.0, "loaded " + name);
    return Model(std::shared_ptr<const detail::ModelImpl>(std::move(impl)));
  })
}

}  // namespace cs
