// ParamForm generated from a parameter schema: one editor per ParamSpec type, defaults,
// presets, and values that round-trip through JSON.
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTest>

#include "compression/quantize.h"
#include "widgets/ParamForm.h"

using cs::ParamSpec;
using cs::widgets::ParamForm;

// QCOMPARE cannot take nlohmann::json (its overload set trips on qfloat16); compare dumps.
#define JSON_COMPARE(a, b) QCOMPARE(QString::fromStdString((a).dump()), QString::fromStdString((b).dump()))

namespace {
cs::MethodInfo schema() {
  cs::MethodInfo m;
  m.id = "test";
  m.name = "Test method";
  ParamSpec bits{"wbits", "Weight bits", ParamSpec::Type::Int, 2, 16, 1, {}, 8, "Bits per weight"};
  ParamSpec ratio{"ratio", "Clip ratio", ParamSpec::Type::Float, 0.5, 1.0, 0.01, {}, 1.0, "Clip ratio"};
  ParamSpec sym{"symmetric", "Symmetric", ParamSpec::Type::Bool, 0, 0, 1, {}, false, "Symmetric range"};
  ParamSpec gran{"granularity", "Granularity", ParamSpec::Type::Choice, 0, 0, 1, {"per-tensor", "per-channel"},
                 "per-tensor", "Scale per tensor or per output channel"};
  m.params = {bits, ratio, sym, gran};
  m.presets = {{"W4", {{"wbits", 4}, {"granularity", "per-channel"}}}};
  return m;
}
}  // namespace

class TestParamForm : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void generatesEditors() {
    ParamForm form;
    form.setMethod(schema());
    auto* bits = qobject_cast<QSpinBox*>(form.editor(QStringLiteral("wbits")));
    auto* ratio = qobject_cast<QDoubleSpinBox*>(form.editor(QStringLiteral("ratio")));
    auto* sym = qobject_cast<QCheckBox*>(form.editor(QStringLiteral("symmetric")));
    auto* gran = qobject_cast<QComboBox*>(form.editor(QStringLiteral("granularity")));
    QVERIFY(bits && ratio && sym && gran);
    QCOMPARE(bits->minimum(), 2);
    QCOMPARE(bits->maximum(), 16);
    QCOMPARE(bits->value(), 8);
    QCOMPARE(bits->toolTip(), QStringLiteral("Bits per weight"));
    QCOMPARE(ratio->decimals(), 2);
    QCOMPARE(gran->count(), 2);
    QVERIFY(form.findChild<QPushButton*>(QStringLiteral("preset_W4")));
  }

  void defaultsAndRoundTrip() {
    ParamForm form;
    form.setMethod(schema());
    const nlohmann::json defaults = {{"wbits", 8}, {"ratio", 1.0}, {"symmetric", false}, {"granularity", "per-tensor"}};
    JSON_COMPARE(form.values(), defaults);

    const nlohmann::json v = {{"wbits", 3}, {"ratio", 0.75}, {"symmetric", true}, {"granularity", "per-channel"}};
    QSignalSpy changed(&form, &ParamForm::valuesChanged);
    form.setValues(v);
    QCOMPARE(changed.count(), 1);
    JSON_COMPARE(form.values(), v);
    // The JSON text round-trips too (what a recipe stores).
    ParamForm other;
    other.setMethod(schema());
    other.setValues(nlohmann::json::parse(form.values().dump()));
    JSON_COMPARE(other.values(), v);

    // User edits show up in values().
    qobject_cast<QSpinBox*>(form.editor(QStringLiteral("wbits")))->setValue(5);
    QCOMPARE(form.values()["wbits"].get<int>(), 5);
  }

  void presetsOverrideDefaults() {
    ParamForm form;
    form.setMethod(schema());
    form.setValues({{"symmetric", true}});
    form.findChild<QPushButton*>(QStringLiteral("preset_W4"))->click();
    const nlohmann::json expected = {{"wbits", 4}, {"ratio", 1.0}, {"symmetric", false}, {"granularity", "per-channel"}};
    JSON_COMPARE(form.values(), expected);
    QVERIFY(!form.applyPreset(QStringLiteral("nope")));
  }

  void registryMethodsValidate() {
    // Every registered method renders, and its form's defaults pass the method's validation.
    for (const auto& m : cs::methods()) {
      ParamForm form;
      form.setMethod(m);
      for (const auto& spec : m.params) QVERIFY(form.editor(QString::fromStdString(spec.name)) != nullptr);
      nlohmann::json values = form.values();
      const std::string err = m.validate(values);
      QVERIFY2(err.empty(), err.c_str());
      for (const auto& p : m.presets) {
        QVERIFY(form.applyPreset(QString::fromStdString(p.name)));
        nlohmann::json pv = form.values();
        QVERIFY2(m.validate(pv).empty(), p.name.c_str());
      }
    }
  }
};

QTEST_MAIN(TestParamForm)
#include "test_paramform.moc"
