// Decoder language models (LLaMA, OPT) behind a plain-C++ facade: open, tokenize,
// generate (greedy or sampled, with a KV cache), sliding-window perplexity, and the
// training of the zoo model lm-fortunes. No torch, no Qt.
//
// Ownership: a LanguageModel wraps an immutable cs::Model (shared weights) whose impl
// carries its tokenizer; copies are cheap. Threading: every const method may be called
// from several threads at once; each long call reports progress through its JobContext
// from the calling thread and checks cancel once per window/step.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/job.h"
#include "engine/model.h"
#include "engine/result.h"

namespace cs {

// Token <-> text. Implementations: byte-level (ids 0..255 are bytes, then specials) and
// llama2.c's tok<N>.bin BPE. Immutable, thread-safe.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string kind() const = 0;  // "bytes" or "llama2c-bpe"
  virtual int vocabSize() const = 0;
  virtual int bos() const = 0;           // -1 when none
  virtual int eos() const = 0;           // -1 when none
  virtual std::vector<int> encode(const std::string& text, bool addBos) const = 0;
  // Text of `id` printed after `prev` (llama2.c strips the leading space after BOS).
  virtual std::string piece(int prev, int id) const = 0;
  // Concatenation of the pieces (special tokens print nothing).
  std::string decode(const std::vector<int>& ids) const;
};

// Byte-level tokenizer: ids 0..255 are bytes; bos/eos (>= 256, or -1) are specials.
std::shared_ptr<const Tokenizer> makeByteTokenizer(int bos, int eos, int vocabSize);
// llama2.c tokenizer file (tok512.bin, tokenizer.bin). Errors name the file.
Result<std::shared_ptr<const Tokenizer>> loadLlama2cTokenizer(const std::string& path, int vocabSize);

struct GenerateOptions {
  std::string prompt;          // may be empty: generation then starts from BOS alone
  int steps = 128;             // forward passes, llama2.c style (prompt tokens count)
  double temperature = 0.0;    // 0: greedy (argmax)
  int topK = 0;                // 0: no top-k filter
  uint64_t seed = 42;          // sampling seed (std::mt19937_64)
  bool addBos = true;
  bool stopAtBos = true;       // stop when the model emits BOS (llama2.c) or EOS
  bool useCache = true;        // false recomputes the whole prefix each step (for tests)
  std::function<void(const std::string& piece)> onPiece;  // streaming, called per token
};

struct GenerateResult {
  std::string text;            // generated text (the prompt not included)
  std::vector<int> tokens;     // prompt ids followed by generated ids
  int promptTokens = 0, generatedTokens = 0;
  double seconds = 0, tokensPerSecond = 0;  // generated tokens only
};

struct PerplexityOptions {
  int context = 0;             // window length in tokens; 0 = the model's max (<= 1024)
  int stride = 0;              // window step; 0 = context (non-overlapping)
  bool addBos = true;          // prepend BOS to each document
  std::string separator;       // when set, split the text into documents on it
  bool truncate = false;       // score only the first window of each document
  bool stripDocuments = true;  // trim whitespace around each document
};

struct PerplexityResult {
  double meanNll = 0;          // nats per scored token
  double ppl = 0;              // exp(meanNll)
  int64_t tokens = 0;          // scored tokens
  int64_t bytes = 0;           // UTF-8 bytes of the scored documents
  double bytePpl = 0;          // exp(total NLL / bytes)
  double bitsPerByte = 0;
  int documents = 0, windows = 0, context = 0, stride = 0;
  double seconds = 0;
};

// Agreement of a model with a reference model on the same windows (e.g. a compressed
// variant against its original): top-1 agreement of the next-token argmax, and the mean
// KL(reference || model) in nats per position.
struct AgreementResult {
  double top1 = 0;             // fraction of scored positions where the argmaxes agree
  double meanKl = 0;           // nats
  int64_t tokens = 0;
  int windows = 0;
};

class LanguageModel {
 public:
  LanguageModel() = default;
  // A zoo name ("lm-fortunes"), an HF directory, a studio .safetensors, a llama2.c .bin.
  static Result<LanguageModel> open(const std::string& nameOrPath, JobContext& job = nullJob());
  // Wraps a model (e.g. a compressed variant); fails unless it is a decoder LM.
  static Result<LanguageModel> fromModel(const Model& model);

  bool valid() const { return model_.valid(); }
  const Model& model() const { return model_; }
  const Tokenizer& tokenizer() const;
  int contextLength() const;
  std::string describe() const;  // one line: arch, dims, params

  Result<GenerateResult> generate(const GenerateOptions& opt, JobContext& job = nullJob()) const;
  Result<PerplexityResult> perplexity(const std::string& text, const PerplexityOptions& opt,
                                      JobContext& job = nullJob()) const;
  Result<PerplexityResult> perplexityFile(const std::string& path, const PerplexityOptions& opt,
                                          JobContext& job = nullJob()) const;
  // Top-1 agreement and KL against `reference` (same tokenizer) on `text`, windows as in
  // perplexity().
  Result<AgreementResult> agreement(const LanguageModel& reference, const std::string& text,
                                    const PerplexityOptions& opt, JobContext& job = nullJob()) const;
  // Token-level perplexity of a pre-tokenized document list (no BOS added).
  Result<PerplexityResult> perplexityTokens(const std::vector<std::vector<int>>& docs, const PerplexityOptions& opt,
                                            JobContext& job = nullJob()) const;

 private:
  explicit LanguageModel(Model m) : model_(std::move(m)) {}
  Model model_;
};

// ---- lm-fortunes: the zoo's language model ----
struct TrainLmOptions {
  std::string outDir;          // empty: <zooDirectory()>/lm-fortunes
  std::string fortunesDir = "/usr/share/games/fortunes";
  uint64_t seed = 0;
  int dim = 128, layers = 4, heads = 4, hidden = 352, context = 256, batch = 16;
  int steps = 800, warmup = 60;
  double lr = 2e-3, minLr = 1e-4, weightDecay = 0.1, clip = 1.0;
  int threads = 1;             // intra-op threads while training (determinism: fixed)
  int evalEvery = 100;
  bool fp16 = true;
  bool evaluate = true;        // held-out figure and samples in the card (off: weights only, for tests)
  std::string command = "cstudio train lm-fortunes";  // recorded in the model card
};

// The fortunes corpus split: fortunes (text between "%" lines) of every file without
// .dat/.u8 in sorted name order, numbered globally; number i with i % 20 == 19 is held
// out for evaluation (5%), the rest train. Errors name the directory.
struct FortunesCorpus {
  std::vector<std::string> train, heldOut;
  std::vector<std::string> files;
};
Result<FortunesCorpus> loadFortunesCorpus(const std::string& dir = "/usr/share/games/fortunes");

// Held-out figure of lm-fortunes: each held-out fortune as its own document [BOS]+bytes,
// sliding window `context`/`stride`; bytes == scored tokens.
Result<PerplexityResult> fortunesHeldOutPerplexity(const LanguageModel& lm, const std::string& dir, int context,
                                                   int stride, JobContext& job = nullJob());

// Trains lm-fortunes and writes model.safetensors, zoo.json and MODEL_CARD.md into
// outDir. Returns the weights path. Progress per step on `job`, cancel per step.
Result<std::string> trainLmFortunes(const TrainLmOptions& opt, JobContext& job);

}  // namespace cs
