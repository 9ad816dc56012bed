// Dev-only entry point: `cstudio_arena_dev arena ...` behaves like `cstudio arena ...`.
#include "cmd_arena.h"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    CLI::App app{"cstudio (arena verbs only, dev build)", "cstudio"};
    app.require_subcommand(1);
    addArenaCommands(app);
    CLI11_PARSE(app, argc, argv);
    return 0;
}
