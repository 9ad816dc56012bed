// cstudio: the command-line twin of Compression Studio. Same engine calls as the GUI.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli_common.h"
#include "cmd_core.h"
#include "engine/runtime.h"
namespace cs::cli {
void addBenchSam2Command(CLI::App& app);  // bench sam2 (cmd_bench_sam2.cpp), after addBenchCommands
}
#if __has_include("cmd_arena.h") && defined(CS_HAVE_ARENA)
#include "cmd_arena.h"
#define CS_CLI_ARENA 1
#endif
#if __has_include("cmd_prune.h")
#include "cmd_prune.h"
#define CS_CLI_PRUNE 1
#endif
#if __has_include("cmd_sam2.h") && !defined(CS_MINIMAL)
#include "cmd_sam2.h"
#define CS_CLI_SEGMENT 1
#endif
#if __has_include("cmd_synth.h") && !defined(CS_MINIMAL)
#include "cmd_synth.h"
#define CS_CLI_SYNTH 1
#endif
#if __has_include("cmd_explore.h") && !defined(CS_MINIMAL)
#include "cmd_explore.h"
#define CS_CLI_EXPLORE 1
#endif
#if __has_include("cmd_lm.h") && __has_include("engine/llm.h")
#include "cmd_lm.h"
#define CS_CLI_LM 1
#endif

int main(int argc, char** argv) {
  CLI::App app{"cstudio: Compression Studio on the command line (results on stdout, progress on stderr)"};
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "Intra-op threads (default: one per core)");
  app.parse_complete_callback([&] { cs::initRuntime(threads); });
  cs::cli::addModelCommands(app);
#ifndef CS_MINIMAL
  cs::cli::addQuantizeCommands(app);  // needs the workspace (SQLite)
#endif
  cs::cli::addReportCommands(app);
  void addRepquantLmCommands(CLI::App&); addRepquantLmCommands(app);  // report repquant-lm (cmd_repquant_lm.cpp)
  cs::cli::addTrainCommands(app);
  cs::cli::addBenchCommands(app);
  cs::cli::addBenchSam2Command(app);  // bench sam2 (cmd_bench_sam2.cpp)
#ifdef CS_CLI_ARENA
  addArenaCommands(app);
#endif
#ifdef CS_CLI_LM
  addLanguageModelCommands(app);
#endif
#ifdef CS_CLI_SEGMENT
  cs::cli::addSegmentCommands(app);
#endif
#ifdef CS_CLI_SYNTH
  cs::cli::addSynthCommands(app);  // synth-video, eval-sam2
#endif
#ifdef CS_CLI_EXPLORE
  cs::cli::addExploreCommands(app);  // explore, sensitivity
#endif
#ifdef CS_CLI_PRUNE
  addPruneCommands(app);  // after addReportCommands: adds `report sparsity`
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const cs::EngineError& e) {
    return cs::cli::fail(e.error);
  } catch (const std::exception& e) {
    return cs::cli::fail(e.what());
  }
  return 0;
}
