// Language-model verbs of `cstudio`: generate, eval --metric ppl, and the lm-fortunes
// trainer registered with `cstudio train`.
#pragma once
#include <CLI/CLI.hpp>

void addLanguageModelCommands(CLI::App& app);
