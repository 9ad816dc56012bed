// Post-training quantization of decoder language models (LLaMA-style, RMSNorm) behind a
// plain-C++ facade (no torch, no Qt): RTN, percentile, OMSE, SmoothQuant, RepQ-style
// folded per-channel post-RMSNorm quantizers and RepQuant-style learned dual clipping
// (methods/repquant.md §2.4), with perplexity of the full-precision model and of the
// variant. quantize() routes language models here; reports call quantizeLm() directly
// for the evaluation texts and token limits.
//
// Never mutates the input model: the variant is a clone with fake-quantized weights,
// input quantizers on every selected Linear and, where the method says so, a quantizer
// on the attention probabilities. Long calls take a JobContext (progress, cancel).
#pragma once
#include <string>
#include <vector>

#include "compression/quantize.h"

namespace cs {

struct LmQuantOptions {
  // Calibration text: "auto" (lm-fortunes: fortunes training split; other models: text
  // sampled from the FP model, seeded), "fortunes", "generated", or a text file;
  // recipe.calibSamples sequences of calibLength tokens, seed recipe.calibSeed.
  std::string calibSource = "auto";
  int calibLength = 128;
  // Layer selection: by default every Linear inside the decoder blocks; the embedding
  // table and the LM head stay in full precision unless asked for.
  bool quantEmbedding = false, quantHead = false;
  // Perplexity: "auto" (lm-fortunes: held-out fortunes; stories260K: tinystories_sample
  // beside ../shared), "fortunes-heldout", a text file, or "" for none.
  bool evaluate = true;
  bool evaluateFp = true;              // false: only the variant (reports cache the FP figures)
  std::string evalText = "auto";
  std::vector<std::string> extraEvalTexts;
  int evalContext = 0;                 // 0: 256 for fortunes, 512 otherwise
  int64_t evalMaxBytes = 0;            // > 0: only the first bytes of each text (fast protocol)
};

// Quantizes a decoder LM with a registered quantization method ("rtn", "percentile",
// "omse", "smoothquant", "repq-vit"), or "repquant" (RepQ fold after learned dual
// clipping; uses repq-vit's parameters when no "repquant" method is registered).
// metrics: calib_* (samples, seed, length, source, hash, seconds, peak memory),
// fp_ppl / q_ppl on the first evaluation text, "perplexity": {label: {fp, q, tokens}},
// folds (norm, consumers, delta, zero point, r range), notes.
Result<QuantizeResult> quantizeLm(const Model& model, const Recipe& recipe, const LmQuantOptions& opts,
                                  JobContext& job);

// quantize()'s route for language models (registered PTQ methods): quantizeLm() with
// the default texts; without opts.evaluate, perplexity on the first 16 KB only.
Result<QuantizeResult> quantizePtqLm(const Model& model, const Recipe& recipe, const QuantizeOptions& opts,
                                     JobContext& job);

// Whether `model` is a decoder language model quantizeLm() handles.
bool isLanguageModelForPtq(const Model& model);

}  // namespace cs
