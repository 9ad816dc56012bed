// `cstudio synth-video` and `cstudio eval-sam2` (sam2-micro's synthetic videos).
#pragma once
#include <CLI/CLI.hpp>

namespace cs::cli {
void addSynthCommands(CLI::App& app);
}
