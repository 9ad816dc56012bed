// MetricsPanel: named read-only values in sections ("Model", "Accuracy", "Layer").
// setField() adds or updates a row; each value label's objectName is "metric_<key>" so
// tests and screenshots can find it. Passive; GUI thread only.
#pragma once
#include <QMap>
#include <QWidget>

class QFormLayout;
class QGroupBox;
class QLabel;
class QVBoxLayout;

namespace cs::widgets {

class MetricsPanel : public QWidget {
  Q_OBJECT
 public:
  explicit MetricsPanel(QWidget* parent = nullptr);

  void setField(const QString& section, const QString& key, const QString& label, const QString& value,
                const QString& toolTip = {});
  QString value(const QString& key) const;
  // Empties the values of a section (rows stay, shown as "—").
  void clearSection(const QString& section);
  // Highlights a value (good: green, bad: red, neutral: default).
  enum class Tone { Neutral, Good, Bad };
  void setTone(const QString& key, Tone tone);

 private:
  QFormLayout* sectionLayout(const QString& section);

  QVBoxLayout* layout_;
  QMap<QString, QFormLayout*> sections_;
  QMap<QString, QLabel*> values_;
  QMap<QString, QString> sectionOf_;
};

}  // namespace cs::widgets
