// SQLite workspace store (see engine/workspace.h). Torch-free.
#include "engine/workspace.h"

#include <SQLiteCpp/SQLiteCpp.h>

#include <cstdlib>
#include <filesystem>

namespace cs {
namespace fs = std::filesystem;

namespace {
const char* kSchemaV1 = R"SQL(
CREATE TABLE IF NOT EXISTS models(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
  added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')));
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY, model TEXT NOT NULL, method TEXT NOT NULL,
  recipe TEXT NOT NULL, metrics TEXT NOT NULL, layers TEXT NOT NULL DEFAULT '[]',
  variant_path TEXT NOT NULL DEFAULT '', seconds REAL NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'done',
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')));
CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value TEXT NOT NULL);
)SQL";

template <class F>
auto guarded(const std::string& path, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Error::badFile(path, e.what());
  }
}

RunRecord readRun(SQLite::Statement& q) {
  RunRecord r;
  r.id = q.getColumn(0).getInt64();
  r.model = q.getColumn(1).getString();
  r.method = q.getColumn(2).getString();
  r.recipeJson = q.getColumn(3).getString();
  r.metricsJson = q.getColumn(4).getString();
  r.layersJson = q.getColumn(5).getString();
  r.variantPath = q.getColumn(6).getString();
  r.seconds = q.getColumn(7).getDouble();
  r.status = q.getColumn(8).getString();
  r.createdAt = q.getColumn(9).getString();
  return r;
}
const char* kRunCols = "id, model, method, recipe, metrics, layers, variant_path, seconds, status, created_at";
}  // namespace

Result<std::unique_ptr<Workspace>> Workspace::open(const std::string& path) {
  return guarded(path, [&]() -> Result<std::unique_ptr<Workspace>> {
    std::unique_ptr<Workspace> w(new Workspace);
    w->path_ = path;
    auto parent = fs::path(path).parent_path();
    if (!parent.empty()) fs::create_directories(parent);
    w->db_ = std::make_unique<SQLite::Database>(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    w->db_->setBusyTimeout(5000);
    // Reading the schema version fails with "file is not a database" on foreign files.
    int version = w->db_->execAndGet("PRAGMA user_version").getInt();
    if (version > kSchemaVersion)
      return Error::badFile(path, "workspace schema version " + std::to_string(version) +
                                      " is newer than this studio understands (" + std::to_string(kSchemaVersion) + ")");
    w->db_->exec("PRAGMA journal_mode=WAL");
    w->db_->exec("PRAGMA synchronous=NORMAL");
    w->db_->exec("PRAGMA foreign_keys=ON");
    if (version < kSchemaVersion) {
      SQLite::Transaction tx(*w->db_);
      w->db_->exec(kSchemaV1);
      w->db_->exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
      tx.commit();
    }
    return w;
  });
}

Workspace::~Workspace() = default;

SQLite::Database& Workspace::database() { return *db_; }

Result<int64_t> Workspace::addModel(const std::string& name, const std::string& source) {
  return guarded(path_, [&]() -> Result<int64_t> {
    SQLite::Transaction tx(*db_);
    SQLite::Statement q(*db_, "INSERT INTO models(name, source) VALUES(?, ?) ON CONFLICT(name) DO UPDATE SET source=excluded.source");
    q.bind(1, name);
    q.bind(2, source);
    q.exec();
    SQLite::Statement id(*db_, "SELECT id FROM models WHERE name=?");
    id.bind(1, name);
    id.executeStep();
    int64_t r = id.getColumn(0).getInt64();
    tx.commit();
    return r;
  });
}

Result<std::vector<ModelRecord>> Workspace::models() {
  return guarded(path_, [&]() -> Result<std::vector<ModelRecord>> {
    std::vector<ModelRecord> out;
    SQLite::Statement q(*db_, "SELECT id, name, source, added_at FROM models ORDER BY id");
    while (q.executeStep())
      out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(), q.getColumn(2).getString(),
                     q.getColumn(3).getString()});
    return out;
  });
}

Result<int64_t> Workspace::addRun(const RunRecord& r) {
  return guarded(path_, [&]() -> Result<int64_t> {
    SQLite::Transaction tx(*db_);
    SQLite::Statement q(*db_,
                        "INSERT INTO runs(model, method, recipe, metrics, layers, variant_path, seconds, status) "
                        "VALUES(?,?,?,?,?,?,?,?)");
    q.bind(1, r.model);
    q.bind(2, r.method);
    q.bind(3, r.recipeJson);
    q.bind(4, r.metricsJson.empty() ? "{}" : r.metricsJson);
    q.bind(5, r.layersJson.empty() ? "[]" : r.layersJson);
    q.bind(6, r.variantPath);
    q.bind(7, r.seconds);
    q.bind(8, r.status);
    q.exec();
    int64_t id = db_->getLastInsertRowid();
    tx.commit();
    return id;
  });
}

Result<std::vector<RunRecord>> Workspace::runs() {
  return guarded(path_, [&]() -> Result<std::vector<RunRecord>> {
    std::vector<RunRecord> out;
    SQLite::Statement q(*db_, std::string("SELECT ") + kRunCols + " FROM runs ORDER BY id");
    while (q.executeStep()) out.push_back(readRun(q));
    return out;
  });
}

Result<RunRecord> Workspace::run(int64_t id) {
  return guarded(path_, [&]() -> Result<RunRecord> {
    SQLite::Statement q(*db_, std::string("SELECT ") + kRunCols + " FROM runs WHERE id=?");
    q.bind(1, id);
    if (!q.executeStep()) return Error::notFound(path_ + ": no run " + std::to_string(id));
    return readRun(q);
  });
}

Status Workspace::deleteRun(int64_t id) {
  return guarded(path_, [&]() -> Status {
    SQLite::Transaction tx(*db_);
    SQLite::Statement q(*db_, "DELETE FROM runs WHERE id=?");
    q.bind(1, id);
    q.exec();
    tx.commit();
    return Unit{};
  });
}

Status Workspace::setValue(const std::string& key, const std::string& value) {
  return guarded(path_, [&]() -> Status {
    SQLite::Transaction tx(*db_);
    SQLite::Statement q(*db_, "INSERT INTO kv(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    q.bind(1, key);
    q.bind(2, value);
    q.exec();
    tx.commit();
    return Unit{};
  });
}

std::string Workspace::value(const std::string& key, const std::string& fallback) {
  try {
    SQLite::Statement q(*db_, "SELECT value FROM kv WHERE key=?");
    q.bind(1, key);
    if (q.executeStep()) return q.getColumn(0).getString();
  } catch (...) {
  }
  return fallback;
}

std::string defaultWorkspacePath() {
  if (const char* p = std::getenv("CSTUDIO_WORKSPACE")) return p;
  std::string base;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    base = x;
  else if (const char* h = std::getenv("HOME"))
    base = std::string(h) + "/.local/share";
  else
    base = "/tmp";
  return base + "/compression-studio/demo.cstudio";
}

}  // namespace cs
