#include "core/Settings.h"

#include <QHash>
#include <QSettings>

namespace cs::qt::settings {
namespace {

bool inMemory() { return qEnvironmentVariableIntValue("CSTUDIO_NO_SETTINGS") != 0; }

QHash<QString, QVariant>& memory() {
  static QHash<QString, QVariant> m;
  return m;
}

}  // namespace

QVariant readRaw(const QString& key, const QVariant& fallback) {
  if (inMemory()) return memory().value(key, fallback);
  QSettings s(QStringLiteral("CompressionStudio"), QStringLiteral("compression-studio"));
  return s.value(key, fallback);
}

void writeRaw(const QString& key, const QVariant& value) {
  if (inMemory()) {
    memory().insert(key, value);
    return;
  }
  QSettings s(QStringLiteral("CompressionStudio"), QStringLiteral("compression-studio"));
  s.setValue(key, value);
}

const Setting<bool>& histogramLogScale() {
  static const Setting<bool> s("plots/logScale", false);
  return s;
}
const Setting<int>& calibrationSamples() {
  static const Setting<int> s("compress/calibrationSamples", 256);
  return s;
}
const Setting<int>& evalSamples() {
  static const Setting<int> s("compress/evalSamples", 10000);
  return s;
}
const Setting<QString>& lastWorkspace() {
  static const Setting<QString> s("workspace/last", QString());
  return s;
}
const Setting<QByteArray>& windowGeometry() {
  static const Setting<QByteArray> s("window/geometry", QByteArray());
  return s;
}
const Setting<QByteArray>& windowState() {
  static const Setting<QByteArray> s("window/state", QByteArray());
  return s;
}

const QVector<Entry>& registry() {
  static const QVector<Entry> entries = {
      {histogramLogScale().key(), histogramLogScale().defaultValue(), QStringLiteral("Log-scale y axis on histograms")},
      {calibrationSamples().key(), calibrationSamples().defaultValue(), QStringLiteral("Images used for calibration")},
      {evalSamples().key(), evalSamples().defaultValue(), QStringLiteral("Test images for accuracy")},
      {lastWorkspace().key(), lastWorkspace().defaultValue(), QStringLiteral("Workspace opened at start-up")},
      {windowGeometry().key(), windowGeometry().defaultValue(), QStringLiteral("Main window geometry")},
      {windowState().key(), windowState().defaultValue(), QStringLiteral("Main window dock/toolbar state")},
  };
  return entries;
}

}  // namespace cs::qt::settings
