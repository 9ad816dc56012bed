// Distribution-explorer verbs of `cstudio` (sensitivity, explore); see cmd_explore.cpp.
#pragma once
#include <CLI/CLI.hpp>

namespace cs::cli {
void addExploreCommands(CLI::App& app);
}  // namespace cs::cli
