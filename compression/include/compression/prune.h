// Post-training pruning of decoder language models behind a plain-C++ facade (no torch,
// no Qt): Magnitude, Wanda and SparseGPT, each optionally preceded by Sparsity Induction
// (SI: trained, foldable per-channel scale/shift transforms; see docs/pruning.md).
//
// prune() never mutates its input: it clones the model, edits the clone and returns it
// as a new variant with per-layer reports, masks, timings, peak memory and perplexity
// metrics. Long calls take a JobContext (progress per block/layer, cancel between
// layers and SI steps) and run on the caller's thread (the GUI calls them from JobRunner).
//
// Methods (kind "pruning", also listed by cs::methods()): "magnitude", "wanda",
// "sparsegpt". SI is the boolean parameter "si" of each (with si_* options).
// Patterns: "unstructured" at `sparsity`, or N:M ("2:4", "4:8": N weights kept in every
// group of M consecutive input columns; columns beyond the last full group stay dense).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compression/recipe.h"
#include "compression/schema.h"
#include "engine/job.h"
#include "engine/model.h"
#include "engine/result.h"

namespace cs {

const std::vector<MethodInfo>& pruneMethods();
bool isPruneMethod(const std::string& id);

struct PruneOptions {
  // Layer selection: name globs (* and ?) over Linear layer names; empty include = every
  // Linear inside the decoder blocks. Embeddings and the LM head are always excluded.
  std::vector<std::string> include, exclude;
  // Calibration text: "auto" (lm-fortunes: the fortunes training split; any other model:
  // text sampled from the dense model itself, seeded), "fortunes", "generated", or a
  // text file. Sequences: recipe.calibSamples of calibLength tokens, seed recipe.calibSeed.
  std::string calibSource = "auto";
  int calibLength = 128;
  // Evaluation: perplexity of the dense model and of the variant.
  bool evaluate = true;
  bool evaluateDense = true;          // false: only the variant (e.g. a report caches the dense figure)
  // "auto" (lm-fortunes: held-out fortunes; stories260K: tinystories_sample.txt beside
  // ../shared), "fortunes-heldout", or a text file; empty = no perplexity.
  std::string evalText = "auto";
  std::string evalSeparator;          // split a text file into documents ("<|endoftext|>")
  int evalContext = 0;                // 0: 256 for fortunes, 512 for other files
  int64_t evalMaxBytes = 0;           // >0: only the first bytes of a file
  std::vector<std::string> extraEvalTexts;  // more files (e.g. out-of-domain), same windows
  bool keepMasks = true;
  bool siView = false;                // fill PruneResult::siView (scores before/after for one layer)
  std::string siViewLayer;            // default: the first selected layer
};

struct LayerPruneReport {
  std::string layer;
  int64_t rows = 0, cols = 0;
  double sparsity = 0;         // achieved fraction of zero weights
  double outputError = 0;      // isolated relative output error on the calibration inputs
  int64_t denseColumns = 0;    // N:M remainder columns kept dense
  double seconds = 0;
};

struct LayerMask {
  std::string layer;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> keep;   // row-major, 1 = kept
};

// Before/after view of SI for one layer.
struct SiLayerView {
  std::string layer;
  std::vector<float> scale;            // per input channel s
  std::vector<float> shift;            // per input channel delta (original coordinates)
  std::vector<float> scoresBefore, scoresAfter;  // base-metric importance scores
};

struct PruneResult {
  Model variant;                       // new model; the source is untouched
  Recipe recipe;
  std::vector<LayerPruneReport> layers;
  std::vector<LayerMask> masks;
  SiLayerView siView;
  double sparsity = 0;                 // over the pruned layers
  nlohmann::json metrics;              // ppl, calibration, timings, peak memory, SI losses
  double seconds = 0;
};

Result<PruneResult> prune(const Model& model, const Recipe& recipe, const PruneOptions& opts, JobContext& job);

// Writes the variant (studio safetensors, fp32, recipe and report in the metadata) and
// its masks beside it (<path stem>.masks.safetensors, uint8). Errors name the file.
Status savePruned(const PruneResult& r, const std::string& path);

// Peak resident memory of this process since the last reset, in MiB (VmHWM), and a reset
// (writes 5 to /proc/self/clear_refs; returns false where that is not allowed).
double peakRssMiB();
bool resetPeakRss();

}  // namespace cs
