// arena/store.h: the arena's persistence inside the workspace SQLite file. Tables are prefixed
// arena_ and created IF NOT EXISTS beside the workspace's own tables; the arena schema version lives
// in arena_meta (PRAGMA user_version belongs to the workspace). WAL mode and a busy timeout let the
// GUI and the CLI share the file; every vote is one IMMEDIATE transaction, and vote rows are
// immutable (triggers refuse UPDATE and DELETE).
// Ownership: a Store owns its SQLite connection. Threading: a Store is not thread-safe; use one
// Store per thread or process (several may open the same file at once).
// Errors: methods throw std::runtime_error: arena::StoreError for arena-level problems (unknown match,
// invalid vote, newer schema), SQLite::Exception for database failures (e.g. a lock held past the timeout).
#pragma once

#include "arena/vote.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace SQLite { class Database; }

namespace arena {

class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Session {
    std::int64_t id = 0;
    std::string name;
    int k = 4;
    VoteMode mode = VoteMode::Rank;
    std::vector<std::string> models;
    std::vector<std::string> prompts;  // prompt keys
    std::string outputRoot;            // output set folder ("" when outputs come from the studio)
    double created = 0;
};

struct Match {
    std::int64_t id = 0;
    std::int64_t sessionId = 0;
    std::string prompt;
    std::vector<std::string> candidates;  // model per slot, in slot order (hidden until revealed)
    std::string judge;
    double created = 0;
    double revealed = 0;  // 0 = identities still hidden
    std::string state = "open";  // open | voted | skipped
};

struct PromptInfo {
    std::string key;
    std::string text;
    int classId = -1;
    std::int64_t seed = 0;
};

class Store {
public:
    static constexpr int kSchemaVersion = 1;
    static constexpr int kBusyTimeoutMs = 10000;

    // Opens or creates the file (":memory:" works too) and creates the arena tables.
    explicit Store(const std::string& path);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    int schemaVersion() const;
    std::string journalMode() const;
    std::string integrityCheck() const;  // "ok" when PRAGMA integrity_check passes

    void ensureModel(const std::string& name, const std::string& kind = {}, const std::string& ref = {});
    std::vector<std::string> models() const;

    void upsertPrompt(const PromptInfo& p);
    std::optional<PromptInfo> prompt(const std::string& key) const;

    std::int64_t createSession(const Session& s);
    std::optional<Session> session(std::int64_t id) const;
    std::vector<Session> sessions() const;

    std::int64_t createMatch(const Match& m);
    std::optional<Match> match(std::int64_t id) const;
    void reveal(std::int64_t matchId);  // identities shown: a later vote on it is not counted
    void skip(std::int64_t matchId);

    // Casts the vote on a match in one transaction, then marks it voted and revealed.
    // ranks are per slot. Throws if the match is unknown or already voted. The returned vote has
    // counted == false when the identities had been revealed before the vote.
    Vote castVote(std::int64_t matchId, const std::vector<int>& ranks, VoteMode mode, const std::string& judge);

    // Appends a vote record (imports, simulations). One transaction.
    std::int64_t insertVote(const Vote& v);
    // Appends many votes in a single transaction (all or nothing).
    std::vector<std::int64_t> insertVotes(const std::vector<Vote>& votes);

    // sessionId 0: all votes. Ordered by id.
    std::vector<Vote> votes(std::int64_t sessionId = 0) const;
    std::int64_t voteCount() const;

private:
    void createSchema();
    std::int64_t insertVoteNoTx(const Vote& v);
    std::unique_ptr<SQLite::Database> db_;
};

double nowSeconds();

}  // namespace arena
