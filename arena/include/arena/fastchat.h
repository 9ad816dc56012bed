// arena/fastchat.h: import and export of battle logs in the FastChat / GenAI-Arena shape (a JSON list
// or JSON lines of {model_a, model_b, winner in {model_a, model_b, tie, tie (bothbad)}, anony,
// tstamp, judge}), plus the studio's K-tuple form ({models, ranks, mode, judge, tstamp, prompt}).
// Pure functions over strings and plain values; thread-safe.
#pragma once

#include "arena/vote.h"

#include <string>
#include <vector>

namespace arena {

struct ImportOptions {
    bool includeNonAnonymous = false;  // FastChat hygiene: only anonymous battles count by default
    std::string defaultJudge = "import";
};

struct ImportResult {
    std::vector<Vote> votes;      // pairwise battles become K=2 votes; K-tuples keep their K
    int pairwise = 0;             // records read in the pairwise shape
    int ktuples = 0;              // records read in the K-tuple shape
    int skippedNonAnonymous = 0;
    int skippedInvalid = 0;
    std::vector<std::string> problems;  // first few reasons for skipped records
};

// Accepts a JSON list or JSON lines; each record may be pairwise or a K-tuple.
// Throws std::runtime_error on text that is neither.
ImportResult parseBattleLog(const std::string& text, const ImportOptions& opt = {});

enum class ExportShape { Pairwise, KTuple };

// Counted votes only. jsonLines: one object per line, else one JSON list.
std::string exportVotes(const std::vector<Vote>& votes, ExportShape shape, bool jsonLines);

}  // namespace arena
