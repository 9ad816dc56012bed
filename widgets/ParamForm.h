// ParamForm: a form generated from a method's parameter schema (cs::MethodInfo::params):
// a spin box per Int, a double spin box per Float, a check box per Bool and a combo box per
// Choice, labelled from ParamSpec::label with ParamSpec::help as tooltip, plus one button
// per preset. Each editor's objectName is the parameter's name. values() gives the JSON
// object the recipe stores; setValues() accepts the same. Passive; GUI thread only.
#pragma once
#include <QMap>
#include <QWidget>

#include <nlohmann/json.hpp>

#include "compression/schema.h"

class QFormLayout;
class QGridLayout;

namespace cs::widgets {

class ParamForm : public QWidget {
  Q_OBJECT
 public:
  explicit ParamForm(QWidget* parent = nullptr);

  void setMethod(const cs::MethodInfo& method);
  const QString& methodId() const { return methodId_; }
  nlohmann::json values() const;
  // Sets the given keys (others keep their value); unknown keys are ignored.
  void setValues(const nlohmann::json& values);
  void resetToDefaults();
  // Applies a preset by name (over the defaults); false when there is none.
  bool applyPreset(const QString& name);
  QStringList presetNames() const;
  QWidget* editor(const QString& name) const { return editors_.value(name); }

 Q_SIGNALS:
  void valuesChanged();

 private:
  void clearForm();

  QFormLayout* form_;
  QGridLayout* presetRow_;
  QWidget* presetBox_;
  QString methodId_;
  std::vector<cs::ParamSpec> specs_;
  std::vector<cs::Preset> presets_;
  QMap<QString, QWidget*> editors_;
};

}  // namespace cs::widgets
