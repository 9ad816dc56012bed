// app/cli/cmd_arena.h: the `cstudio arena ...` verbs (new-session, match, vote, leaderboard, import,
// export, simulate, eval). Qt-free; depends on CLI11 and the arena/ library only.
// Conventions: results on stdout (JSON with --json), progress on stderr, failures print one line
// `cstudio: error: ...` and exit non-zero (CLI::RuntimeError). Registration only; single-threaded.
#pragma once

namespace CLI { class App; }

void addArenaCommands(CLI::App& app);
