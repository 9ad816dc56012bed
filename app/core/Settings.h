// Typed UI preferences over QSettings. Each preference is declared once (key, default,
// help) and read/written through its type; settings::registry() lists them all.
// Set CSTUDIO_NO_SETTINGS=1 (tests, --screenshot) to keep everything in memory.
// Threading: GUI thread.
#pragma once
#include <QString>
#include <QVariant>
#include <QVector>

namespace cs::qt::settings {

struct Entry {
  QString key;
  QVariant defaultValue;
  QString help;
};
const QVector<Entry>& registry();

QVariant readRaw(const QString& key, const QVariant& fallback);
void writeRaw(const QString& key, const QVariant& value);

template <class T>
class Setting {
 public:
  Setting(const char* key, T def) : key_(QString::fromLatin1(key)), def_(std::move(def)) {}
  T value() const { return readRaw(key_, QVariant::fromValue(def_)).template value<T>(); }
  void setValue(const T& v) const { writeRaw(key_, QVariant::fromValue(v)); }
  const QString& key() const { return key_; }
  const T& defaultValue() const { return def_; }

 private:
  QString key_;
  T def_;
};

const Setting<bool>& histogramLogScale();     // log y axis on histograms
const Setting<int>& calibrationSamples();     // images used by "Calibrate"
const Setting<int>& evalSamples();            // test images for accuracy after quantization
const Setting<QString>& lastWorkspace();      // re-opened at start-up
const Setting<QByteArray>& windowGeometry();
const Setting<QByteArray>& windowState();

}  // namespace cs::qt::settings
