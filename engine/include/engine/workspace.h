// The workspace: one SQLite file holding models, runs (recipe + metrics), per-layer
// statistics and (through arena/) matches and votes. Qt-free so the CLI and the GUI
// share it. Schema versioned with PRAGMA user_version, WAL mode, a busy timeout so
// several processes can use one file, every write in one transaction.
// Threading: one Workspace object per thread (SQLite connections are not shared);
// several Workspace objects (threads or processes) may open the same file.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/result.h"

namespace SQLite {
class Database;
}

namespace cs {

struct RunRecord {
  int64_t id = 0;
  std::string model;        // zoo name or file path of the source model
  std::string method;       // "rtn"
  std::string recipeJson;   // the recipe, verbatim
  std::string metricsJson;  // {"fp_accuracy":...,"q_accuracy":...}
  std::string layersJson;   // per-layer report (array), may be "[]"
  std::string variantPath;  // where the variant was saved, may be empty
  std::string createdAt;    // ISO-8601 UTC, filled by the store
  double seconds = 0;
  std::string status = "done";  // done | cancelled | failed
};

struct ModelRecord {
  int64_t id = 0;
  std::string name;
  std::string source;
  std::string addedAt;
};

class Workspace {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens or creates. Errors name the file (not a database, newer schema, ...).
  static Result<std::unique_ptr<Workspace>> open(const std::string& path);
  ~Workspace();

  const std::string& path() const { return path_; }

  Result<int64_t> addModel(const std::string& name, const std::string& source);  // idempotent by name
  Result<std::vector<ModelRecord>> models();
  Result<int64_t> addRun(const RunRecord& run);
  Result<std::vector<RunRecord>> runs();
  Result<RunRecord> run(int64_t id);
  Status deleteRun(int64_t id);
  // Small key/value settings stored with the workspace (last model, selected layer...).
  Status setValue(const std::string& key, const std::string& value);
  std::string value(const std::string& key, const std::string& fallback = {});

  // The underlying connection, for other stores (arena/) that add their own tables.
  SQLite::Database& database();

 private:
  Workspace() = default;
  std::string path_;
  std::unique_ptr<SQLite::Database> db_;
};

// The default demo workspace path: $CSTUDIO_WORKSPACE or ~/.local/share/compression-studio/demo.cstudio
std::string defaultWorkspacePath();

}  // namespace cs
