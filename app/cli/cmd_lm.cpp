// `cstudio generate` and `cstudio eval --metric ppl` for decoder LMs, and the
// `cstudio train lm-fortunes` trainer.
#include "cmd_lm.h"

#include <fstream>
#include <optional>
#include <iomanip>
#include <iostream>

#include "cli_common.h"
#include "cmd_diffusion.h"
#include "engine/llm.h"

namespace cs::cli {
namespace {

struct GenArgs {
  std::string model, prompt;
  int steps = -1, topK = 0;  // steps -1: 128 for LMs, the sampler default for images
  double temperature = 0;
  uint64_t seed = 42;
  bool noCache = false, json = false, noBos = false;
  ImageGenArgs image;  // image generators (diffusion)
};

struct EvalArgs {
  std::string model, metric = "ppl", text, separator, reference;
  int context = 0, stride = 0;
  bool truncate = false, noBos = false, json = false;
  ImageEvalArgs image;  // image generators (diffusion)
};

// The model as a cs::Model when it is an image generator (diffusion), else nothing: the
// caller then treats it as a language model (which reports its own open errors).
std::optional<Model> imageGenerator(const std::string& name) {
  auto m = openModel(name);
  if (m && (m->task() == Task::Diffusion || m->task() == Task::ImageGeneration)) return *m;
  return std::nullopt;
}

int runGenerate(const GenArgs& a) {
  if (auto img = imageGenerator(a.model)) {
    auto ia = a.image;
    ia.steps = a.steps;
    ia.json = a.json;
    if (a.temperature > 0) ia.temperature = a.temperature;  // autoregressive image models
    if (a.topK > 0) ia.topK = a.topK;
    return runImageGenerate(*img, ia);
  }
  auto job = progressJob(true);
  auto lm = LanguageModel::open(a.model, job);
  if (!lm) return fail(lm.error());
  GenerateOptions o;
  o.prompt = a.prompt;
  o.steps = a.steps > 0 ? a.steps : 128;
  o.temperature = a.temperature;
  o.topK = a.topK;
  o.seed = a.seed;
  o.useCache = !a.noCache;
  o.addBos = !a.noBos;
  if (!a.json) {
    std::cout << a.prompt << std::flush;
    o.onPiece = [](const std::string& p) { std::cout << p << std::flush; };
  }
  auto r = lm->generate(o, job);
  if (!r) return fail(r.error());
  if (a.json) {
    printJson({{"model", a.model},
               {"prompt", a.prompt},
               {"text", r->text},
               {"tokens", r->tokens},
               {"prompt_tokens", r->promptTokens},
               {"generated_tokens", r->generatedTokens},
               {"seconds", r->seconds},
               {"tokens_per_second", r->tokensPerSecond},
               {"temperature", a.temperature},
               {"top_k", a.topK},
               {"seed", a.seed},
               {"kv_cache", !a.noCache}});
  } else {
    std::cout << "\n";
    std::cerr << r->generatedTokens << " tokens in " << std::fixed << std::setprecision(3) << r->seconds << " s ("
              << std::setprecision(1) << r->tokensPerSecond << " tokens/s)\n";
  }
  return 0;
}

int runEval(const EvalArgs& a) {
  if (auto img = imageGenerator(a.model)) {
    auto ia = a.image;
    ia.metric = a.metric == "ppl" ? "all" : a.metric;  // ppl is only the LM default
    ia.json = a.json;
    return runImageEval(*img, ia);
  }
  if (a.text.empty()) return fail(Error::badArgument("--text FILE is required for a language model"));
  if (a.metric != "ppl" && a.metric != "perplexity" && a.metric != "agreement")
    return fail(Error::badArgument("unknown metric '" + a.metric + "' for a language model (ppl, agreement)"));
  auto job = progressJob();
  auto lm = LanguageModel::open(a.model, job);
  if (!lm) return fail(lm.error());
  if (a.metric == "agreement") {
    if (a.reference.empty()) return fail(Error::badArgument("--metric agreement needs --reference MODEL"));
    auto ref = LanguageModel::open(a.reference, job);
    if (!ref) return fail(ref.error());
    std::ifstream in(a.text, std::ios::binary);
    if (!in) return fail(Error::notFound(a.text + ": cannot open"));
    std::string text((std::istreambuf_iterator<char>(in)), {});
    PerplexityOptions o;
    o.context = a.context;
    o.stride = a.stride;
    o.addBos = !a.noBos;
    auto r = lm->agreement(*ref, text, o, job);
    if (!r) return fail(r.error());
    if (a.json)
      printJson({{"model", a.model}, {"reference", a.reference}, {"metric", "agreement"}, {"text", a.text},
                 {"top1_agreement", r->top1}, {"mean_kl", r->meanKl}, {"tokens", r->tokens}, {"windows", r->windows}});
    else
      std::cout << std::fixed << std::setprecision(4) << a.model << " vs " << a.reference << " on " << a.text
                << ": top-1 agreement " << r->top1 << ", mean KL(ref||model) " << r->meanKl << " nats over "
                << r->tokens << " tokens\n";
    return 0;
  }
  Result<PerplexityResult> r = Error::failed("no text");
  std::string what = a.text;
  if (a.text.rfind("fortunes:heldout", 0) == 0) {
    // The documented held-out split of lm-fortunes; optional ":DIR" after it.
    std::string dir = a.text.size() > 17 ? a.text.substr(17) : "/usr/share/games/fortunes";
    const int ctx = a.context > 0 ? a.context : 256;
    r = fortunesHeldOutPerplexity(*lm, dir, ctx, a.stride > 0 ? a.stride : ctx / 2, job);
  } else {
    PerplexityOptions o;
    o.context = a.context;
    o.stride = a.stride;
    o.separator = a.separator;
    o.truncate = a.truncate;
    o.addBos = !a.noBos;
    r = lm->perplexityFile(a.text, o, job);
  }
  if (!r) return fail(r.error());
  if (a.json) {
    printJson({{"model", a.model},         {"metric", "ppl"},           {"text", what},
               {"mean_nll", r->meanNll},   {"ppl", r->ppl},             {"tokens", r->tokens},
               {"bytes", r->bytes},        {"byte_ppl", r->bytePpl},    {"bits_per_byte", r->bitsPerByte},
               {"documents", r->documents}, {"windows", r->windows},    {"context", r->context},
               {"stride", r->stride},      {"tokenizer", lm->tokenizer().kind()}, {"seconds", r->seconds}});
  } else {
    std::cout << std::fixed << std::setprecision(4) << a.model << " on " << what << ": mean NLL " << r->meanNll
              << " nats/token, PPL " << r->ppl << " over " << r->tokens << " tokens (" << r->documents
              << " documents, " << r->windows << " windows, context " << r->context << ", stride " << r->stride
              << "); byte-level PPL " << r->bytePpl << " (" << r->bitsPerByte << " bits/byte over " << r->bytes
              << " bytes)\n";
  }
  return 0;
}

struct LmTrainExtras {
  int steps = 0, threads = 0;
  std::string fortunesDir;
};

int trainFortunes(const TrainArgs& a, const LmTrainExtras& x) {
  auto job = progressJob();
  TrainLmOptions o;
  o.seed = a.seed;
  o.outDir = a.outDir;
  if (x.steps > 0) o.steps = x.steps;
  if (x.threads > 0) o.threads = x.threads;
  if (!x.fortunesDir.empty()) o.fortunesDir = x.fortunesDir;
  o.command = a.commandLine + (x.steps > 0 ? " --steps " + std::to_string(x.steps) : "") +
              (x.threads > 0 ? " --train-threads " + std::to_string(x.threads) : "") +
              (x.fortunesDir.empty() ? "" : " --fortunes " + x.fortunesDir) +
              (a.outDir.empty() ? "" : " --out " + a.outDir);
  auto r = trainLmFortunes(o, job);
  if (!r) return fail(r.error());
  if (a.json)
    printJson({{"model", "lm-fortunes"}, {"weights", r.value()}});
  else
    std::cout << "lm-fortunes: weights " << r.value() << " (see MODEL_CARD.md beside them)\n";
  return 0;
}

void addGenerateVerb(CLI::App& app) {
  static GenArgs g;
  auto* gen = app.add_subcommand("generate", "Generate text with a language model (greedy or sampled, KV cache), or "
                                             "images with a diffusion model (--class, --seeds, --out grid.png)");
  gen->add_option("model", g.model, "Zoo name, HF directory, studio .safetensors or llama2.c .bin")->required();
  gen->add_option("--prompt", g.prompt, "Prompt text (empty: start from BOS)");
  gen->add_option("--steps", g.steps,
                  "LM: forward steps, prompt included (llama2.c convention, default 128); diffusion: sampler steps");
  gen->add_option("--temperature", g.temperature, "0 = greedy");
  gen->add_option("--top-k", g.topK, "Keep the k most likely tokens (0 = all)");
  gen->add_option("--seed", g.seed, "Sampling seed");
  gen->add_flag("--no-cache", g.noCache, "Recompute the whole prefix each step (no KV cache)");
  gen->add_flag("--no-bos", g.noBos, "Do not prepend BOS to the prompt");
  gen->add_flag("--json", g.json, "JSON output");
  gen->add_option("--class", g.image.classes, "Diffusion: classes (3, 0-9, 1,4 or all); grid rows");
  gen->add_option("--seeds", g.image.seeds, "Diffusion: noise seeds (0-15 or 0,5,9); grid columns");
  gen->add_option("--sampler", g.image.sampler, "Diffusion: ddim or ddpm")->check(CLI::IsMember({"ddim", "ddpm"}));
  gen->add_option("--eta", g.image.eta, "Diffusion: DDIM eta (default 0)");
  gen->add_option("--guidance", g.image.guidance, "Diffusion: classifier-free guidance scale (default: the model's)");
  gen->add_option("--batch", g.image.batch, "Diffusion: images per sampler call (default 64)");
  gen->add_option("--out", g.image.out, "Diffusion: write a PNG grid here");
  gen->add_option("--cols", g.image.cols, "Diffusion: grid columns (default: number of seeds)");
  gen->add_option("--device", g.image.device, "Diffusion: cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  gen->callback([] {
    int rc = runGenerate(g);
    if (rc != 0) std::exit(rc);
  });
}

void addEvalVerb(CLI::App& app) {
  static EvalArgs e;
  auto* ev = app.add_subcommand("eval", "Evaluate a model with a metric (language models: ppl, agreement; image "
                                       "generators: fid, sfid, is, class-consistency, all)");
  ev->add_option("model", e.model, "Zoo name or model path")->required();
  ev->add_option("--metric", e.metric, "Metric: ppl (perplexity, token and byte level) or agreement (with --reference)");
  ev->add_option("--reference", e.reference, "Reference model for --metric agreement");
  ev->add_option("--text", e.text, "LM: text file, or fortunes:heldout[:DIR] for lm-fortunes' held-out split");
  ev->add_option("--context", e.context, "Window length in tokens (default: the model's context)");
  ev->add_option("--stride", e.stride, "Window step in tokens (default: the context, non-overlapping)");
  ev->add_option("--separator", e.separator, "Split the text into documents at this string (e.g. '<|endoftext|>')");
  ev->add_flag("--truncate", e.truncate, "Score only the first window of each document");
  ev->add_flag("--no-bos", e.noBos, "Do not prepend BOS to each document");
  ev->add_flag("--json", e.json, "JSON output");
  ev->add_option("--samples", e.image.samples, "Image generators: samples to generate (class i % classes, seed i)");
  ev->add_option("--classifier", e.image.classifier, "Image generators: feature/classifier network (default vit-fmnist)");
  ev->add_option("--guidance", e.image.guidance, "Image generators: classifier-free guidance (default: the model's)");
  ev->add_option("--sampler-steps", e.image.steps, "Image generators: sampler steps (default 50)");
  ev->add_option("--sampler", e.image.sampler, "Image generators: ddim or ddpm")->check(CLI::IsMember({"ddim", "ddpm"}));
  ev->add_option("--eta", e.image.eta, "Image generators: DDIM eta");
  ev->add_option("--temperature", e.image.temperature, "Autoregressive image generators: sampling temperature");
  ev->add_option("--top-k", e.image.topK, "Autoregressive image generators: keep the k most likely codes (0 = all)");
  ev->add_option("--batch", e.image.batch, "Image generators: images per sampler call");
  ev->add_option("--seed", e.image.seed, "Image generators: seed of the first sample");
  ev->add_option("--splits", e.image.splits, "Image generators: splits of the inception-style score");
  ev->add_option("--samples-out", e.image.samplesOut, "Image generators: PNG grid of the first 100 samples");
  ev->add_option("--device", e.image.device, "Image generators: sample on cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  ev->callback([] {
    int rc = runEval(e);
    if (rc != 0) std::exit(rc);
  });
}

}  // namespace
}  // namespace cs::cli

void addLanguageModelCommands(CLI::App& app) {
  using namespace cs::cli;
  // `generate` and `eval` are shared verbs: a family that registered one first owns it.
  auto has = [&app](const std::string& verb) {
    try {
      return app.get_subcommand(verb) != nullptr;
    } catch (const CLI::Error&) {
      return false;
    }
  };
  if (!has("generate")) addGenerateVerb(app);
  if (!has("eval")) addEvalVerb(app);

  // Options of `cstudio train` that only lm-fortunes reads. Each is added only if no other
  // family added one of the same name (CLI11 refuses duplicates).
  static LmTrainExtras x;
  CLI::App* t = nullptr;
  try {
    t = app.get_subcommand("train");
  } catch (const CLI::Error&) {
    t = nullptr;  // no train verb in this build
  }
  auto addOpt = [t](const std::string& name, auto& var, const std::string& help) {
    if (!t) return;
    try {
      t->add_option(name, var, help);
    } catch (const CLI::Error&) {
      // already defined by another family's trainer
    }
  };
  addOpt("--steps", x.steps, "Optimizer steps (lm-fortunes; default: its recipe)");
  addOpt("--train-threads", x.threads, "Intra-op threads while training lm-fortunes (default 1)");
  addOpt("--fortunes", x.fortunesDir, "Fortunes text directory (lm-fortunes; default /usr/share/games/fortunes)");
  trainers()["lm-fortunes"] = [](const TrainArgs& a) { return trainFortunes(a, x); };
}
