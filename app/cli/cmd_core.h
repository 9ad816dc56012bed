// Core verbs of `cstudio` (info, stats, quantize, train, bench).
#pragma once
#include <CLI/CLI.hpp>

namespace cs::cli {
void addModelCommands(CLI::App& app);     // info, stats
void addQuantizeCommands(CLI::App& app);  // quantize
void addTrainCommands(CLI::App& app);     // train
void addBenchCommands(CLI::App& app);     // bench
void addReportCommands(CLI::App& app);    // report (results tables under docs/results/)
}  // namespace cs::cli
