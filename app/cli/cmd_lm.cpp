// `cstudio generate` and `cstudio eval --metric ppl` for decoder LMs, and the
// `cstudio train lm-fortunes` trainer.
#include "cmd_lm.h"

#include <fstream>
#include <iomanip>
#include <iostream>

#include "cli_common.h"
#include "engine/llm.h"

namespace cs::cli {
namespace {

struct GenArgs {
  std::string model, prompt;
  int steps = 128, topK = 0;
  double temperature = 0;
  uint64_t seed = 42;
  bool noCache = false, json = false, noBos = false;
};

struct EvalArgs {
  std::string model, metric = "ppl", text, separator, reference;
  int context = 0, stride = 0;
  bool truncate = false, noBos = false, json = false;
};

int runGenerate(const GenArgs& a) {
  auto job = progressJob(true);
  auto lm = LanguageModel::open(a.model, job);
  if (!lm) return fail(lm.error());
  GenerateOptions o;
  o.prompt = a.prompt;
  o.steps = a.steps;
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
  auto* gen = app.add_subcommand("generate", "Generate text with a language model (greedy or sampled, KV cache)");
  gen->add_option("model", g.model, "Zoo name, HF directory, studio .safetensors or llama2.c .bin")->required();
  gen->add_option("--prompt", g.prompt, "Prompt text (empty: start from BOS)");
  gen->add_option("--steps", g.steps, "Forward steps, prompt included (llama2.c convention)");
  gen->add_option("--temperature", g.temperature, "0 = greedy");
  gen->add_option("--top-k", g.topK, "Keep the k most likely tokens (0 = all)");
  gen->add_option("--seed", g.seed, "Sampling seed");
  gen->add_flag("--no-cache", g.noCache, "Recompute the whole prefix each step (no KV cache)");
  gen->add_flag("--no-bos", g.noBos, "Do not prepend BOS to the prompt");
  gen->add_flag("--json", g.json, "JSON output");
  gen->callback([] {
    int rc = runGenerate(g);
    if (rc != 0) std::exit(rc);
  });
}

void addEvalVerb(CLI::App& app) {
  static EvalArgs e;
  auto* ev = app.add_subcommand("eval", "Evaluate a model with a metric (language models: --metric ppl)");
  ev->add_option("model", e.model, "Zoo name or model path")->required();
  ev->add_option("--metric", e.metric, "Metric: ppl (perplexity, token and byte level) or agreement (with --reference)");
  ev->add_option("--reference", e.reference, "Reference model for --metric agreement");
  ev->add_option("--text", e.text, "Text file, or fortunes:heldout[:DIR] for lm-fortunes' held-out split")->required();
  ev->add_option("--context", e.context, "Window length in tokens (default: the model's context)");
  ev->add_option("--stride", e.stride, "Window step in tokens (default: the context, non-overlapping)");
  ev->add_option("--separator", e.separator, "Split the text into documents at this string (e.g. '<|endoftext|>')");
  ev->add_flag("--truncate", e.truncate, "Score only the first window of each document");
  ev->add_flag("--no-bos", e.noBos, "Do not prepend BOS to each document");
  ev->add_flag("--json", e.json, "JSON output");
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
