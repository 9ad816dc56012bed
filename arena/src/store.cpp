#include "arena/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <nlohmann/json.hpp>

#include <chrono>

namespace arena {
namespace {

const char* kSchema[] = {
    "CREATE TABLE IF NOT EXISTS arena_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS arena_models (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, "
    "kind TEXT NOT NULL DEFAULT '', ref TEXT NOT NULL DEFAULT '', created REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS arena_prompts (id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, "
    "text TEXT NOT NULL DEFAULT '', class_id INTEGER NOT NULL DEFAULT -1, seed INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS arena_sessions (id INTEGER PRIMARY KEY, name TEXT NOT NULL, k INTEGER NOT NULL, "
    "mode TEXT NOT NULL, models TEXT NOT NULL, prompts TEXT NOT NULL, output_root TEXT NOT NULL DEFAULT '', "
    "created REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS arena_matches (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL, "
    "prompt TEXT NOT NULL, slots TEXT NOT NULL, judge TEXT NOT NULL DEFAULT '', created REAL NOT NULL, "
    "revealed REAL NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'open')",
    "CREATE TABLE IF NOT EXISTS arena_votes (id INTEGER PRIMARY KEY, session_id INTEGER NOT NULL DEFAULT 0, "
    "match_id INTEGER, judge TEXT NOT NULL DEFAULT '', prompt TEXT NOT NULL DEFAULT '', models TEXT NOT NULL, "
    "ranks TEXT NOT NULL, mode TEXT NOT NULL, tstamp REAL NOT NULL, counted INTEGER NOT NULL, "
    "source TEXT NOT NULL DEFAULT '')",
    "CREATE UNIQUE INDEX IF NOT EXISTS arena_votes_match ON arena_votes(match_id) WHERE match_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS arena_votes_session ON arena_votes(session_id)",
    "CREATE TRIGGER IF NOT EXISTS arena_votes_immutable_u BEFORE UPDATE ON arena_votes "
    "BEGIN SELECT RAISE(ABORT, 'arena votes are immutable'); END",
    "CREATE TRIGGER IF NOT EXISTS arena_votes_immutable_d BEFORE DELETE ON arena_votes "
    "BEGIN SELECT RAISE(ABORT, 'arena votes are immutable'); END",
};

std::string toJson(const std::vector<std::string>& v) { return nlohmann::json(v).dump(); }
std::string toJson(const std::vector<int>& v) { return nlohmann::json(v).dump(); }
template <class T>
std::vector<T> fromJson(const std::string& s) {
    return nlohmann::json::parse(s).get<std::vector<T>>();
}

Vote readVote(SQLite::Statement& q) {
    Vote v;
    v.id = q.getColumn(0).getInt64();
    v.sessionId = q.getColumn(1).getInt64();
    v.matchId = q.getColumn(2).isNull() ? 0 : q.getColumn(2).getInt64();
    v.judge = q.getColumn(3).getString();
    v.prompt = q.getColumn(4).getString();
    v.models = fromJson<std::string>(q.getColumn(5).getString());
    v.ranks = fromJson<int>(q.getColumn(6).getString());
    parseVoteMode(q.getColumn(7).getString(), &v.mode);
    v.tstamp = q.getColumn(8).getDouble();
    v.counted = q.getColumn(9).getInt() != 0;
    v.source = q.getColumn(10).getString();
    return v;
}

const char* kVoteCols = "id, session_id, match_id, judge, prompt, models, ranks, mode, tstamp, counted, source";

}  // namespace

double nowSeconds() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count() / 1e6;
}

Store::Store(const std::string& path) {
    try {
        db_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, kBusyTimeoutMs);
        db_->exec("PRAGMA journal_mode=WAL");
        db_->exec("PRAGMA synchronous=FULL");
        db_->exec("PRAGMA foreign_keys=ON");
        createSchema();
    } catch (const SQLite::Exception& e) {
        throw StoreError("cannot open arena store '" + path + "': " + e.what());
    }
}

Store::~Store() = default;

void Store::createSchema() {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    for (const char* sql : kSchema) db_->exec(sql);
    SQLite::Statement q(*db_, "SELECT value FROM arena_meta WHERE key='schema_version'");
    if (q.executeStep()) {
        const int v = std::stoi(q.getColumn(0).getString());
        if (v > kSchemaVersion)
            throw StoreError("the workspace's arena schema version " + std::to_string(v) +
                             " is newer than this build supports (" + std::to_string(kSchemaVersion) + ")");
    } else {
        SQLite::Statement ins(*db_, "INSERT INTO arena_meta(key, value) VALUES ('schema_version', ?)");
        ins.bind(1, std::to_string(kSchemaVersion));
        ins.exec();
    }
    tx.commit();
}

int Store::schemaVersion() const {
    SQLite::Statement q(*db_, "SELECT value FROM arena_meta WHERE key='schema_version'");
    return q.executeStep() ? std::stoi(q.getColumn(0).getString()) : 0;
}

std::string Store::journalMode() const {
    SQLite::Statement q(*db_, "PRAGMA journal_mode");
    return q.executeStep() ? q.getColumn(0).getString() : std::string();
}

std::string Store::integrityCheck() const {
    SQLite::Statement q(*db_, "PRAGMA integrity_check");
    std::string out;
    while (q.executeStep()) out += (out.empty() ? "" : "; ") + q.getColumn(0).getString();
    return out;
}

void Store::ensureModel(const std::string& name, const std::string& kind, const std::string& ref) {
    SQLite::Statement q(*db_, "INSERT OR IGNORE INTO arena_models(name, kind, ref, created) VALUES (?, ?, ?, ?)");
    q.bind(1, name);
    q.bind(2, kind);
    q.bind(3, ref);
    q.bind(4, nowSeconds());
    q.exec();
}

std::vector<std::string> Store::models() const {
    std::vector<std::string> out;
    SQLite::Statement q(*db_, "SELECT name FROM arena_models ORDER BY id");
    while (q.executeStep()) out.push_back(q.getColumn(0).getString());
    return out;
}

void Store::upsertPrompt(const PromptInfo& p) {
    SQLite::Statement q(*db_, "INSERT INTO arena_prompts(key, text, class_id, seed) VALUES (?, ?, ?, ?) "
                              "ON CONFLICT(key) DO UPDATE SET text=excluded.text, class_id=excluded.class_id, "
                              "seed=excluded.seed");
    q.bind(1, p.key);
    q.bind(2, p.text);
    q.bind(3, p.classId);
    q.bind(4, static_cast<std::int64_t>(p.seed));
    q.exec();
}

std::optional<PromptInfo> Store::prompt(const std::string& key) const {
    SQLite::Statement q(*db_, "SELECT key, text, class_id, seed FROM arena_prompts WHERE key=?");
    q.bind(1, key);
    if (!q.executeStep()) return std::nullopt;
    return PromptInfo{q.getColumn(0).getString(), q.getColumn(1).getString(), q.getColumn(2).getInt(),
                      q.getColumn(3).getInt64()};
}

std::int64_t Store::createSession(const Session& s) {
    if (s.k < 2 || s.k > 6) throw StoreError("K must be between 2 and 6");
    if (static_cast<int>(s.models.size()) < s.k)
        throw StoreError("a session with K=" + std::to_string(s.k) + " needs at least K models");
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    for (const auto& m : s.models) ensureModel(m);
    SQLite::Statement q(*db_, "INSERT INTO arena_sessions(name, k, mode, models, prompts, output_root, created) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, s.name);
    q.bind(2, s.k);
    q.bind(3, toString(s.mode));
    q.bind(4, toJson(s.models));
    q.bind(5, toJson(s.prompts));
    q.bind(6, s.outputRoot);
    q.bind(7, s.created > 0 ? s.created : nowSeconds());
    q.exec();
    const auto id = db_->getLastInsertRowid();
    tx.commit();
    return id;
}

std::optional<Session> Store::session(std::int64_t id) const {
    for (auto& s : sessions())
        if (s.id == id) return s;
    return std::nullopt;
}

std::vector<Session> Store::sessions() const {
    std::vector<Session> out;
    SQLite::Statement q(*db_, "SELECT id, name, k, mode, models, prompts, output_root, created FROM arena_sessions "
                              "ORDER BY id");
    while (q.executeStep()) {
        Session s;
        s.id = q.getColumn(0).getInt64();
        s.name = q.getColumn(1).getString();
        s.k = q.getColumn(2).getInt();
        parseVoteMode(q.getColumn(3).getString(), &s.mode);
        s.models = fromJson<std::string>(q.getColumn(4).getString());
        s.prompts = fromJson<std::string>(q.getColumn(5).getString());
        s.outputRoot = q.getColumn(6).getString();
        s.created = q.getColumn(7).getDouble();
        out.push_back(s);
    }
    return out;
}

std::int64_t Store::createMatch(const Match& m) {
    SQLite::Statement q(*db_, "INSERT INTO arena_matches(session_id, prompt, slots, judge, created) "
                              "VALUES (?, ?, ?, ?, ?)");
    q.bind(1, static_cast<std::int64_t>(m.sessionId));
    q.bind(2, m.prompt);
    q.bind(3, toJson(m.candidates));
    q.bind(4, m.judge);
    q.bind(5, m.created > 0 ? m.created : nowSeconds());
    q.exec();
    return db_->getLastInsertRowid();
}

std::optional<Match> Store::match(std::int64_t id) const {
    SQLite::Statement q(*db_, "SELECT id, session_id, prompt, slots, judge, created, revealed, state "
                              "FROM arena_matches WHERE id=?");
    q.bind(1, static_cast<std::int64_t>(id));
    if (!q.executeStep()) return std::nullopt;
    Match m;
    m.id = q.getColumn(0).getInt64();
    m.sessionId = q.getColumn(1).getInt64();
    m.prompt = q.getColumn(2).getString();
    m.candidates = fromJson<std::string>(q.getColumn(3).getString());
    m.judge = q.getColumn(4).getString();
    m.created = q.getColumn(5).getDouble();
    m.revealed = q.getColumn(6).getDouble();
    m.state = q.getColumn(7).getString();
    return m;
}

void Store::reveal(std::int64_t matchId) {
    SQLite::Statement q(*db_, "UPDATE arena_matches SET revealed=? WHERE id=? AND revealed=0");
    q.bind(1, nowSeconds());
    q.bind(2, static_cast<std::int64_t>(matchId));
    q.exec();
}

void Store::skip(std::int64_t matchId) {
    SQLite::Statement q(*db_, "UPDATE arena_matches SET state='skipped' WHERE id=? AND state='open'");
    q.bind(1, static_cast<std::int64_t>(matchId));
    q.exec();
}

Vote Store::castVote(std::int64_t matchId, const std::vector<int>& ranks, VoteMode mode, const std::string& judge) {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    const auto m = match(matchId);
    if (!m) throw StoreError("no match " + std::to_string(matchId));
    if (m->state == "voted") throw StoreError("match " + std::to_string(matchId) + " already has a vote");
    Vote v;
    v.sessionId = m->sessionId;
    v.matchId = matchId;
    v.judge = judge.empty() ? m->judge : judge;
    v.prompt = m->prompt;
    v.models = m->candidates;
    v.ranks = ranks;
    v.mode = mode;
    v.tstamp = nowSeconds();
    v.counted = m->revealed == 0;
    v.source = "local";
    const std::string err = validateVote(v);
    if (!err.empty()) throw StoreError(err);
    v.id = insertVoteNoTx(v);
    SQLite::Statement up(*db_, "UPDATE arena_matches SET state='voted', revealed=CASE WHEN revealed=0 THEN ? "
                               "ELSE revealed END WHERE id=?");
    up.bind(1, v.tstamp);
    up.bind(2, static_cast<std::int64_t>(matchId));
    up.exec();
    tx.commit();
    return v;
}

std::int64_t Store::insertVoteNoTx(const Vote& v) {
    const std::string err = validateVote(v);
    if (!err.empty()) throw StoreError("invalid vote: " + err);
    for (const auto& m : v.models) ensureModel(m);
    SQLite::Statement q(*db_, "INSERT INTO arena_votes(session_id, match_id, judge, prompt, models, ranks, mode, "
                              "tstamp, counted, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    q.bind(1, static_cast<std::int64_t>(v.sessionId));
    if (v.matchId > 0) q.bind(2, static_cast<std::int64_t>(v.matchId));
    else q.bind(2);
    q.bind(3, v.judge);
    q.bind(4, v.prompt);
    q.bind(5, toJson(v.models));
    q.bind(6, toJson(v.ranks));
    q.bind(7, toString(v.mode));
    q.bind(8, v.tstamp > 0 ? v.tstamp : nowSeconds());
    q.bind(9, v.counted ? 1 : 0);
    q.bind(10, v.source);
    q.exec();
    return db_->getLastInsertRowid();
}

std::int64_t Store::insertVote(const Vote& v) {
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    const auto id = insertVoteNoTx(v);
    tx.commit();
    return id;
}

std::vector<std::int64_t> Store::insertVotes(const std::vector<Vote>& votes) {
    std::vector<std::int64_t> ids;
    SQLite::Transaction tx(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    for (const auto& v : votes) ids.push_back(insertVoteNoTx(v));
    tx.commit();
    return ids;
}

std::vector<Vote> Store::votes(std::int64_t sessionId) const {
    std::vector<Vote> out;
    const std::string sql = std::string("SELECT ") + kVoteCols + " FROM arena_votes" +
                            (sessionId > 0 ? " WHERE session_id=?" : "") + " ORDER BY id";
    SQLite::Statement q(*db_, sql);
    if (sessionId > 0) q.bind(1, static_cast<std::int64_t>(sessionId));
    while (q.executeStep()) out.push_back(readVote(q));
    return out;
}

std::int64_t Store::voteCount() const {
    SQLite::Statement q(*db_, "SELECT COUNT(*) FROM arena_votes");
    q.executeStep();
    return q.getColumn(0).getInt64();
}

}  // namespace arena
