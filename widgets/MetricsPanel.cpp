#include "widgets/MetricsPanel.h"

#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QVBoxLayout>

namespace cs::widgets {

MetricsPanel::MetricsPanel(QWidget* parent) : QWidget(parent) {
  layout_ = new QVBoxLayout(this);
  layout_->setContentsMargins(0, 0, 0, 0);
  layout_->addStretch(1);
}

QFormLayout* MetricsPanel::sectionLayout(const QString& section) {
  if (auto* f = sections_.value(section)) return f;
  auto* box = new QGroupBox(section, this);
  auto* form = new QFormLayout(box);
  form->setLabelAlignment(Qt::AlignLeft);
  layout_->insertWidget(layout_->count() - 1, box);
  sections_.insert(section, form);
  return form;
}

void MetricsPanel::setField(const QString& section, const QString& key, const QString& label, const QString& value,
                            const QString& toolTip) {
  QLabel* v = values_.value(key);
  if (!v) {
    v = new QLabel(this);
    v->setObjectName(QStringLiteral("metric_") + key);
    v->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* l = new QLabel(label + QLatin1Char(':'), this);
    sectionLayout(section)->addRow(l, v);
    values_.insert(key, v);
    sectionOf_.insert(key, section);
  }
  v->setText(value.isEmpty() ? QStringLiteral("—") : value);
  v->setToolTip(toolTip);
}

QString MetricsPanel::value(const QString& key) const {
  const QLabel* v = values_.value(key);
  return v ? v->text() : QString();
}

void MetricsPanel::clearSection(const QString& section) {
  for (auto it = sectionOf_.cbegin(); it != sectionOf_.cend(); ++it) {
    if (it.value() != section) continue;
    QLabel* v = values_.value(it.key());
    v->setText(QStringLiteral("—"));
    v->setToolTip(QString());
    v->setStyleSheet(QString());
  }
}

void MetricsPanel::setTone(const QString& key, Tone tone) {
  QLabel* v = values_.value(key);
  if (!v) return;
  switch (tone) {
    case Tone::Neutral: v->setStyleSheet(QString()); break;
    case Tone::Good: v->setStyleSheet(QStringLiteral("color: #1a7f37; font-weight: bold;")); break;
    case Tone::Bad: v->setStyleSheet(QStringLiteral("color: #c62828; font-weight: bold;")); break;
  }
}

}  // namespace cs::widgets
