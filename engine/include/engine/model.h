// Model handles. A cs::Model is an immutable, shareable handle to a loaded model
// (native family or TorchScript). Copies are cheap and share the same weights.
// Compression never edits a Model: it creates a new one (a variant).
// Threading: every const method may be called from any thread concurrently.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/job.h"
#include "engine/result.h"
#include "engine/tensor_data.h"

namespace cs {
namespace detail {
class ModelImpl;
}

// One node of the layer tree. Names are dotted paths ("blocks.0.attn.qkv");
// the parent of "a.b.c" is "a.b". Containers have params == sum of children.
struct LayerInfo {
  std::string name;
  std::string type;                 // "Linear", "Conv2d", "LayerNorm", "Block", ...
  std::vector<int64_t> weightShape;  // empty when the layer has no weight
  int64_t params = 0;               // parameters directly owned by this layer
  std::string dtype = "float32";
  bool quantizable = false;         // a Linear/Conv whose weight and input can be quantized
};

// What kind of data the model consumes and how it is evaluated.
enum class Task { Unknown, ImageClassification, LanguageModel, Diffusion, ImageGeneration, Segmentation };

class Model {
 public:
  Model() = default;
  explicit Model(std::shared_ptr<const detail::ModelImpl> impl);

  bool valid() const { return impl_ != nullptr; }
  std::string name() const;          // "vit-fmnist", or the file stem
  std::string family() const;        // "vit", "torchscript", ...
  std::string source() const;        // file it came from
  Task task() const;
  std::vector<LayerInfo> layers() const;       // tree in pre-order
  int64_t parameterCount() const;
  Result<TensorData> weight(const std::string& layer) const;  // the layer's weight, float32
  // Free-form facts for the info panel and `cstudio info` (architecture, card fields).
  std::map<std::string, std::string> properties() const;

  const std::shared_ptr<const detail::ModelImpl>& impl() const { return impl_; }

 private:
  std::shared_ptr<const detail::ModelImpl> impl_;
};

struct ZooEntry {
  std::string name;      // "vit-fmnist"
  std::string family;    // "vit"
  std::string summary;   // one line
  std::string weights;   // absolute path of the weights file (may not exist yet)
  std::string card;      // absolute path of the model card (markdown)
  bool available = false;  // weights present
};

// Directory holding the zoo: $CSTUDIO_ZOO, else the build's resources/zoo.
std::string zooDirectory();
std::vector<ZooEntry> zooModels();

// Opens a zoo model by name or a file: TorchScript (.pt/.pth from torch.jit.save) or
// a native checkpoint (.safetensors with a family in its metadata). Errors name the file.
Result<Model> openModel(const std::string& nameOrPath, JobContext& job = nullJob());

}  // namespace cs
