// WorkspaceDocument: the open workspace (one SQLite file) as a QObject for the GUI.
// Owns the cs::Workspace connection and the RunListModel that lists its runs.
// Threading: GUI thread only (one SQLite connection per thread). Writes are small
// single-transaction inserts, fast enough for the GUI thread.
#pragma once
#include <QObject>
#include <QString>

#include <memory>
#include <optional>

#include "core/RunListModel.h"
#include "engine/workspace.h"

namespace cs::qt {

class WorkspaceDocument : public QObject {
  Q_OBJECT
 public:
  explicit WorkspaceDocument(QObject* parent = nullptr);
  ~WorkspaceDocument() override;

  // Opens (or creates) the file; on failure the previous workspace stays open and
  // `error` holds a one-line message naming the file.
  bool open(const QString& path, QString* error = nullptr);
  bool isOpen() const { return ws_ != nullptr; }
  QString path() const;
  RunListModel* runs() { return &runs_; }

  // Adds a run; returns its id or -1 (error in `error`). Refreshes the run list.
  qint64 addRun(const RunRecord& run, QString* error = nullptr);
  bool addModel(const QString& name, const QString& source);
  bool deleteRun(qint64 id);
  std::optional<RunRecord> run(qint64 id);
  void reload();
  void setValue(const QString& key, const QString& value);
  QString value(const QString& key, const QString& fallback = {}) const;

 Q_SIGNALS:
  void opened(const QString& path);
  void runAdded(qint64 id);
  void errorOccurred(const QString& message);

 private:
  std::unique_ptr<Workspace> ws_;
  RunListModel runs_;
};

}  // namespace cs::qt
