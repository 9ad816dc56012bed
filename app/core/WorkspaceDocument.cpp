#include "core/WorkspaceDocument.h"

#include <QDir>
#include <QFileInfo>

#include "core/Conversions.h"

namespace cs::qt {

WorkspaceDocument::WorkspaceDocument(QObject* parent) : QObject(parent) {}
WorkspaceDocument::~WorkspaceDocument() = default;

bool WorkspaceDocument::open(const QString& path, QString* error) {
  const QFileInfo fi(path);
  if (!fi.absoluteDir().exists()) QDir().mkpath(fi.absolutePath());
  auto ws = Workspace::open(toStd(fi.absoluteFilePath()));
  if (!ws) {
    const QString msg = toQString(ws.error().message);
    if (error) *error = msg;
    Q_EMIT errorOccurred(msg);
    return false;
  }
  ws_ = std::move(ws.value());
  reload();
  Q_EMIT opened(this->path());
  return true;
}

QString WorkspaceDocument::path() const { return ws_ ? toQString(ws_->path()) : QString(); }

void WorkspaceDocument::reload() {
  if (!ws_) {
    runs_.setRuns({});
    return;
  }
  auto r = ws_->runs();
  if (!r) {
    Q_EMIT errorOccurred(toQString(r.error().message));
    runs_.setRuns({});
    return;
  }
  runs_.setRuns(std::move(r.value()));
}

qint64 WorkspaceDocument::addRun(const RunRecord& run, QString* error) {
  if (!ws_) {
    if (error) *error = tr("no workspace is open");
    return -1;
  }
  auto id = ws_->addRun(run);
  if (!id) {
    const QString msg = toQString(id.error().message);
    if (error) *error = msg;
    Q_EMIT errorOccurred(msg);
    return -1;
  }
  reload();
  Q_EMIT runAdded(id.value());
  return id.value();
}

bool WorkspaceDocument::addModel(const QString& name, const QString& source) {
  if (!ws_) return false;
  auto r = ws_->addModel(toStd(name), toStd(source));
  if (!r) Q_EMIT errorOccurred(toQString(r.error().message));
  return r.ok();
}

bool WorkspaceDocument::deleteRun(qint64 id) {
  if (!ws_) return false;
  auto s = ws_->deleteRun(id);
  if (!s) Q_EMIT errorOccurred(toQString(s.error().message));
  reload();
  return s.ok();
}

std::optional<RunRecord> WorkspaceDocument::run(qint64 id) {
  if (!ws_) return std::nullopt;
  auto r = ws_->run(id);
  if (!r) return std::nullopt;
  return r.value();
}

void WorkspaceDocument::setValue(const QString& key, const QString& value) {
  if (ws_) ws_->setValue(toStd(key), toStd(value));
}

QString WorkspaceDocument::value(const QString& key, const QString& fallback) const {
  if (!ws_) return fallback;
  return toQString(ws_->value(toStd(key), toStd(fallback)));
}

}  // namespace cs::qt
