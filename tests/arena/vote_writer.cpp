// Test helper: casts votes in a loop into a workspace and prints "committed <n>" after each commit.
// Usage: arena_vote_writer <db> <writer-tag> <count>
#include "arena/store.h"

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
    if (argc < 4) return 2;
    arena::Store store(argv[1]);
    const std::string tag = argv[2];
    const int count = std::stoi(argv[3]);
    for (int i = 0; i < count; ++i) {
        arena::Vote v;
        v.models = {"m" + std::to_string(i % 7), "m" + std::to_string((i + 1) % 7), "m" + std::to_string((i + 3) % 7),
                    "m" + std::to_string((i + 5) % 7)};
        v.ranks = {1 + i % 4, 1 + (i + 1) % 4, 1 + (i + 2) % 4, 1 + (i + 3) % 4};
        v.judge = tag;
        v.prompt = tag + ":" + std::to_string(i);
        store.insertVote(v);
        std::printf("committed %s:%d\n", tag.c_str(), i);
        std::fflush(stdout);
    }
    return 0;
}
