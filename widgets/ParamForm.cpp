#include "widgets/ParamForm.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QGridLayout>
#include <QVBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>

#include <cmath>

namespace cs::widgets {
namespace {

QString q(const std::string& s) { return QString::fromStdString(s); }

int decimalsFor(double step) {
  if (step <= 0) return 3;
  return std::clamp(static_cast<int>(std::ceil(-std::log10(step))), 0, 6);
}

}  // namespace

ParamForm::ParamForm(QWidget* parent) : QWidget(parent) {
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(0, 0, 0, 0);
  presetBox_ = new QWidget(this);
  presetRow_ = new QGridLayout(presetBox_);
  presetRow_->setContentsMargins(0, 0, 0, 0);
  outer->addWidget(presetBox_);
  form_ = new QFormLayout;
  form_->setFieldGrowthPolicy(QFormLayout::ExpandingFieldsGrow);
  outer->addLayout(form_);
}

void ParamForm::clearForm() {
  while (form_->rowCount() > 0) form_->removeRow(0);
  while (QLayoutItem* item = presetRow_->takeAt(0)) {
    delete item->widget();
    delete item;
  }
  editors_.clear();
}

void ParamForm::setMethod(const cs::MethodInfo& method) {
  clearForm();
  methodId_ = q(method.id);
  specs_ = method.params;
  presets_ = method.presets;

  if (!presets_.empty()) {
    // Preset buttons wrap onto rows of three under their label.
    presetRow_->addWidget(new QLabel(tr("Presets:"), presetBox_), 0, 0, 1, 3);
    int i = 0;
    for (const auto& p : presets_) {
      auto* b = new QPushButton(q(p.name), presetBox_);
      b->setObjectName(QStringLiteral("preset_") + q(p.name));
      b->setToolTip(q(p.params.dump()));
      const QString name = q(p.name);
      connect(b, &QPushButton::clicked, this, [this, name] { applyPreset(name); });
      presetRow_->addWidget(b, 1 + i / 3, i % 3);
      ++i;
    }
  }
  presetBox_->setVisible(!presets_.empty());

  for (const auto& spec : specs_) {
    QWidget* editor = nullptr;
    switch (spec.type) {
      case cs::ParamSpec::Type::Int: {
        auto* s = new QSpinBox(this);
        s->setRange(static_cast<int>(spec.min), static_cast<int>(spec.max));
        s->setSingleStep(std::max(1, static_cast<int>(spec.step)));
        connect(s, &QSpinBox::valueChanged, this, &ParamForm::valuesChanged);
        editor = s;
        break;
      }
      case cs::ParamSpec::Type::Float: {
        auto* s = new QDoubleSpinBox(this);
        s->setDecimals(decimalsFor(spec.step));
        s->setRange(spec.min, spec.max);
        s->setSingleStep(spec.step > 0 ? spec.step : 0.01);
        connect(s, &QDoubleSpinBox::valueChanged, this, &ParamForm::valuesChanged);
        editor = s;
        break;
      }
      case cs::ParamSpec::Type::Bool: {
        auto* c = new QCheckBox(this);
        connect(c, &QCheckBox::toggled, this, &ParamForm::valuesChanged);
        editor = c;
        break;
      }
      case cs::ParamSpec::Type::Choice: {
        auto* c = new QComboBox(this);
        for (const auto& choice : spec.choices) c->addItem(q(choice));
        connect(c, &QComboBox::currentIndexChanged, this, &ParamForm::valuesChanged);
        editor = c;
        break;
      }
    }
    const QString name = q(spec.name);
    editor->setObjectName(name);
    editor->setToolTip(q(spec.help));
    auto* label = new QLabel(q(spec.label.empty() ? spec.name : spec.label) + QLatin1Char(':'), this);
    label->setToolTip(q(spec.help));
    label->setBuddy(editor);
    form_->addRow(label, editor);
    editors_.insert(name, editor);
  }
  resetToDefaults();
}

void ParamForm::resetToDefaults() {
  nlohmann::json d = nlohmann::json::object();
  for (const auto& spec : specs_)
    if (!spec.defaultValue.is_null()) d[spec.name] = spec.defaultValue;
  setValues(d);
}

QStringList ParamForm::presetNames() const {
  QStringList names;
  for (const auto& p : presets_) names << q(p.name);
  return names;
}

bool ParamForm::applyPreset(const QString& name) {
  for (const auto& p : presets_) {
    if (q(p.name) != name) continue;
    resetToDefaults();
    setValues(p.params);
    return true;
  }
  return false;
}

nlohmann::json ParamForm::values() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& spec : specs_) {
    QWidget* w = editors_.value(q(spec.name));
    if (!w) continue;
    switch (spec.type) {
      case cs::ParamSpec::Type::Int: j[spec.name] = static_cast<QSpinBox*>(w)->value(); break;
      case cs::ParamSpec::Type::Float: j[spec.name] = static_cast<QDoubleSpinBox*>(w)->value(); break;
      case cs::ParamSpec::Type::Bool: j[spec.name] = static_cast<QCheckBox*>(w)->isChecked(); break;
      case cs::ParamSpec::Type::Choice: j[spec.name] = static_cast<QComboBox*>(w)->currentText().toStdString(); break;
    }
  }
  return j;
}

void ParamForm::setValues(const nlohmann::json& values) {
  if (!values.is_object()) return;
  bool changed = false;
  for (const auto& spec : specs_) {
    if (!values.contains(spec.name)) continue;
    const auto& v = values[spec.name];
    QWidget* w = editors_.value(q(spec.name));
    if (!w) continue;
    const QSignalBlocker block(w);
    switch (spec.type) {
      case cs::ParamSpec::Type::Int:
        if (v.is_number()) static_cast<QSpinBox*>(w)->setValue(static_cast<int>(std::lround(v.get<double>())));
        break;
      case cs::ParamSpec::Type::Float:
        if (v.is_number()) static_cast<QDoubleSpinBox*>(w)->setValue(v.get<double>());
        break;
      case cs::ParamSpec::Type::Bool:
        if (v.is_boolean()) static_cast<QCheckBox*>(w)->setChecked(v.get<bool>());
        break;
      case cs::ParamSpec::Type::Choice:
        if (v.is_string()) {
          auto* c = static_cast<QComboBox*>(w);
          const int i = c->findText(q(v.get<std::string>()));
          if (i >= 0) c->setCurrentIndex(i);
        }
        break;
    }
    changed = true;
  }
  if (changed) Q_EMIT valuesChanged();
}

}  // namespace cs::widgets
