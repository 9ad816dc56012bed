// arena/session.h: running a voting session on top of the Store: plan the next match (matchmaking
// over the session's current K-Sort ratings, shuffled anonymous slots, a prompt for which all K
// candidates have outputs) and report pair counts. Functions take the Store by reference and
// inherit its threading contract (one Store per thread).
#pragma once

#include "arena/matchmaking.h"
#include "arena/outputset.h"
#include "arena/rating.h"
#include "arena/store.h"

#include <cstdint>
#include <string>
#include <vector>

namespace arena {

struct PlanOptions {
    MatchmakingParams matchmaking;
    KSortParams ksort;
    std::uint64_t seed = 0;  // 0: seed from the clock
};

// Comparison counts between the given models from counted votes.
PairCounts pairCountsFrom(const std::vector<Vote>& votes, const std::vector<std::string>& models);

// Creates and stores the next match of a session. `outputs` (may be null) restricts prompts to those
// every chosen candidate has an output for. Throws StoreError when the session is unknown or no
// prompt fits.
Match planMatch(Store& store, std::int64_t sessionId, const std::string& judge, const PlanOptions& opt,
                const OutputSet* outputs = nullptr);

}  // namespace arena
