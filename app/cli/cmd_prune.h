// Pruning verbs of `cstudio`: prune, and `report sparsity` (docs/results/sparsity.md).
#pragma once
#include <CLI/CLI.hpp>

void addPruneCommands(CLI::App& app);
