// Torch-facing decoder language models (LLaMA and OPT), for engine/ and compression/
// sources only. A DecoderLM is a cs::detail::ModelImpl: a cs::Model can hold it, and
// compression clones it, edits the clone's weights and publishes the clone.
//
// Weights live in one ordered list under the official Hugging Face names
// ("model.layers.0.self_attn.q_proj.weight", OPT: "model.decoder.layers.0.fc1.weight");
// llama2.c checkpoints are renamed to the same scheme on load. Compute is float32.
// Every Linear input goes through ForwardCtx::tap(<layer>, TapKind::LayerInput, x);
// attention probabilities through tap(<layer>.self_attn, Softmax), each decoder
// layer's output through tap(<layer>, BlockOutput).
//
// Threading: forward()/forwardTokens() are const and reentrant (a KvCache is per call
// sequence and owned by the caller).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/llm.h"
#include "engine/torch/model_impl.h"

namespace cs::detail {

struct LmConfig {
  std::string arch = "llama";      // "llama" or "opt"
  int64_t vocab = 0, dim = 0, hidden = 0, layers = 0, heads = 0, kvHeads = 0, headDim = 0;
  int64_t maxSeq = 2048;
  double normEps = 1e-6;
  double ropeTheta = 10000.0;
  bool ropeInterleaved = false;    // llama2.c: rotate consecutive pairs; HF: rotate halves
  bool tiedHead = false;           // logits = h * embed_tokens^T
  bool attentionBias = false, mlpBias = false;  // LLaMA options (OPT: always biases)
  bool optPreNorm = true;          // OPT do_layer_norm_before
  int64_t optPosOffset = 2;        // OPT learned positions start at row 2
  int64_t wordEmbedDim = 0;        // OPT word_embed_proj_dim (project_in/out when != dim)
  int bos = 1, eos = 2;
  std::string fileDtype = "float32";
  std::string toJson() const;      // for safetensors metadata
  static LmConfig fromJson(const std::string& json, const std::string& file);  // throws EngineError
};

// Per-layer key/value cache for incremental decoding. Keys are stored after RoPE,
// shape [B, kvHeads, T, headDim].
struct KvCache {
  std::vector<torch::Tensor> k, v;
  int64_t length = 0;
};

// Optional replacement of a Linear inside a block forward (pruning/SI training): called
// with the layer name, its (tapped) input, weight and bias (undefined when none).
using LinearFn = std::function<torch::Tensor(const std::string& layer, const torch::Tensor& x,
                                             const torch::Tensor& w, const torch::Tensor& b)>;

class DecoderLM : public ModelImpl {
 public:
  DecoderLM(LmConfig cfg, std::vector<std::pair<std::string, torch::Tensor>> weights,
            std::shared_ptr<const Tokenizer> tokenizer);

  std::string family() const override { return cfg_.arch; }
  Task task() const override { return Task::LanguageModel; }
  std::vector<LayerInfo> layers() const override;
  std::vector<std::pair<std::string, torch::Tensor>> namedTensors() const override;
  std::shared_ptr<ModelImpl> clone() const override;
  // input: int64 token ids [B, T] (or [T]); returns logits [B, T, vocab].
  torch::Tensor forward(const torch::Tensor& input, const ForwardCtx& ctx) const override;

  // Full forward. With a cache, positions continue from cache->length and the cache is
  // extended. With `hidden`, appends: embeddings, each layer's output, final-norm output.
  torch::Tensor forwardTokens(const torch::Tensor& tokens, const ForwardCtx& ctx, KvCache* cache = nullptr,
                              std::vector<torch::Tensor>* hidden = nullptr) const;

  // Block-wise pieces of forwardTokens() (no cache, positions from 0), for layer-sequential
  // calibration and block-wise training: embed(tokens) -> block(0..layers-1) -> head().
  // block() with `lin` routes every Linear of the block through it.
  torch::Tensor embed(const torch::Tensor& tokens, const ForwardCtx& ctx) const;
  torch::Tensor block(int64_t i, const torch::Tensor& h, const ForwardCtx& ctx, const LinearFn* lin = nullptr) const;
  torch::Tensor head(const torch::Tensor& h, const ForwardCtx& ctx) const;
  // Replaces a tensor, or adds it after the tensors of the same module (e.g. a new bias).
  // Only for a clone that is not yet published.
  void setWeight(const std::string& name, torch::Tensor t);
  LmConfig& mutableConfig() { return cfg_; }

  const LmConfig& config() const { return cfg_; }
  const std::shared_ptr<const Tokenizer>& tokenizer() const { return tokenizer_; }
  torch::Tensor weight(const std::string& name) const;  // throws EngineError if missing
  bool hasWeight(const std::string& name) const { return index_.count(name) > 0; }
  // The decoder layer prefix ("model.layers." or "model.decoder.layers.").
  std::string layerPrefix(int64_t i) const;
  // Makes every floating weight a leaf that requires grad (training).
  void setRequiresGrad(bool on);
  // Creates a randomly initialised LLaMA (training); deterministic under torch::manual_seed.
  static std::shared_ptr<DecoderLM> randomLlama(const LmConfig& cfg, std::shared_ptr<const Tokenizer> tok);

 private:
  torch::Tensor linear(const std::string& layer, const torch::Tensor& x, const ForwardCtx& ctx,
                       const LinearFn* lin = nullptr) const;
  torch::Tensor attention(const std::string& p, const torch::Tensor& x, const ForwardCtx& ctx, KvCache* cache,
                          int64_t layer, int64_t pos0, const LinearFn* lin = nullptr) const;
  torch::Tensor llamaBlock(int64_t i, torch::Tensor h, const ForwardCtx& ctx, KvCache* cache, int64_t pos0,
                           const LinearFn* lin) const;
  torch::Tensor optBlock(int64_t i, torch::Tensor h, const ForwardCtx& ctx, KvCache* cache, int64_t pos0,
                         const LinearFn* lin) const;
  torch::Tensor rope(const torch::Tensor& x, int64_t pos0) const;
  torch::Tensor llamaForward(const torch::Tensor& tokens, const ForwardCtx& ctx, KvCache* cache,
                             std::vector<torch::Tensor>* hidden) const;
  torch::Tensor optForward(const torch::Tensor& tokens, const ForwardCtx& ctx, KvCache* cache,
                           std::vector<torch::Tensor>* hidden) const;
  void reindex();

  LmConfig cfg_;
  std::vector<std::pair<std::string, torch::Tensor>> weights_;
  std::unordered_map<std::string, size_t> index_;
  std::shared_ptr<const Tokenizer> tokenizer_;
};

// Opens a language model: a Hugging Face directory (config.json + model.safetensors or
// model.safetensors.index.json), a studio .safetensors with an "lm_config" metadata
// entry (the zoo), a directory holding one, or a llama2.c .bin (tokenizer tok<vocab>.bin
// or tokenizer.bin beside it). Throws EngineError naming the file on failure.
std::shared_ptr<DecoderLM> loadDecoderLM(const std::string& path);
// Same, for openModel() (families "llama"/"opt"); throws EngineError naming the file.
std::shared_ptr<ModelImpl> openLanguageModel(const std::string& path);
// Whether `path` looks like something loadDecoderLM understands.
bool looksLikeLanguageModel(const std::string& path);

// Runs f() (returning Result<T>) and turns exceptions into Errors naming `file`.
template <class F>
auto guarded(const std::string& file, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const EngineError& e) {
    return e.error;
  } catch (const std::exception& e) {
    return errorFromException(e, file);
  }
}

// Writes a model as a studio safetensors (fp16 or fp32) with the config and tokenizer
// kind in the metadata.
Status saveDecoderLM(const DecoderLM& m, const std::string& path, bool fp16,
                     const std::map<std::string, std::string>& extraMetadata = {});

}  // namespace cs::detail
