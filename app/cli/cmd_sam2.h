// `cstudio segment`: SAM 2.1 video object segmentation (engine/sam2.h).
#pragma once
#include <CLI/CLI.hpp>

namespace cs::cli {
void addSegmentCommands(CLI::App& app);
}
