#include "widgets/CompressPanel.h"

#include <QComboBox>
#include <QFormLayout>
#include <QGroupBox>
#include <QLabel>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace cs::widgets {

CompressPanel::CompressPanel(QWidget* parent) : QWidget(parent) {
  method_ = new QComboBox(this);
  method_->setObjectName(QStringLiteral("methodCombo"));
  description_ = new QLabel(this);
  description_->setWordWrap(true);
  form_ = new ParamForm(this);

  calibImages_ = new QSpinBox(this);
  calibImages_->setObjectName(QStringLiteral("calibrationImages"));
  calibImages_->setRange(1, 60000);
  calibImages_->setValue(256);
  calibImages_->setSuffix(tr(" images"));
  calibImages_->setToolTip(tr("Training images fed through the model to measure activation ranges"));
  evalImages_ = new QSpinBox(this);
  evalImages_->setObjectName(QStringLiteral("evalImages"));
  evalImages_->setRange(0, 10000);
  evalImages_->setSingleStep(1000);
  evalImages_->setValue(10000);
  evalImages_->setSuffix(tr(" images"));
  evalImages_->setSpecialValueText(tr("no evaluation"));
  evalImages_->setToolTip(tr("Test images used to measure accuracy, full precision and quantized"));

  calibrate_ = new QPushButton(tr("Calibrate"), this);
  calibrate_->setToolTip(tr("Measure the selected layer's input activations"));
  run_ = new QPushButton(tr("Quantize"), this);
  run_->setDefault(true);
  run_->setToolTip(tr("Quantize the model with these settings and evaluate it"));

  plan_ = new QPushButton(tr("Plan…"), this);
  plan_->setObjectName(QStringLiteral("planButton"));
  plan_->setToolTip(tr("Show the resolved per-layer plan (which tensor gets which quantizer, what is excluded and why) "
                       "before running; load a plan file"));
  saveVariant_ = new QPushButton(tr("Save variant…"), this);
  saveVariant_->setObjectName(QStringLiteral("saveVariantButton"));
  saveVariant_->setToolTip(tr("Save the shown quantized variant (.safetensors with its quantizers and recipe)"));
  openVariant_ = new QPushButton(tr("Open variant…"), this);
  openVariant_->setObjectName(QStringLiteral("openVariantButton"));
  openVariant_->setToolTip(tr("Open a saved quantized variant as the model"));
  variant_ = new QLabel(tr("No variant yet"), this);
  variant_->setObjectName(QStringLiteral("variantLabel"));
  variant_->setWordWrap(true);
  planSource_ = new QLabel(this);
  planSource_->setWordWrap(true);
  planSource_->setVisible(false);

  auto* methodBox = new QGroupBox(tr("Method"), this);
  auto* mb = new QVBoxLayout(methodBox);
  mb->addWidget(method_);
  mb->addWidget(description_);
  mb->addWidget(form_);

  auto* dataBox = new QGroupBox(tr("Data"), this);
  auto* db = new QFormLayout(dataBox);
  db->addRow(tr("Calibration:"), calibImages_);
  db->addRow(tr("Evaluation:"), evalImages_);

  auto* buttons = new QHBoxLayout;
  buttons->addWidget(calibrate_);
  buttons->addWidget(run_);

  buttons->insertWidget(0, plan_);
  auto* variantBox = new QGroupBox(tr("Variant"), this);
  auto* vb = new QVBoxLayout(variantBox);
  vb->addWidget(variant_);
  auto* vbuttons = new QHBoxLayout;
  vbuttons->addWidget(saveVariant_);
  vbuttons->addWidget(openVariant_);
  vb->addLayout(vbuttons);

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(methodBox);
  layout->addWidget(dataBox);
  layout->addLayout(buttons);
  layout->addWidget(planSource_);
  layout->addWidget(variantBox);
  layout->addStretch(1);

  connect(method_, &QComboBox::currentIndexChanged, this, [this](int i) {
    if (i < 0 || i >= static_cast<int>(methods_.size())) return;
    const auto& m = methods_[static_cast<size_t>(i)];
    description_->setText(QString::fromStdString(m.description));
    form_->setMethod(m);
    Q_EMIT methodChanged(QString::fromStdString(m.id));
  });
  connect(calibrate_, &QPushButton::clicked, this, [this] { Q_EMIT calibrateRequested(calibImages_->value()); });
  connect(run_, &QPushButton::clicked, this, [this] {
    Q_EMIT runRequested(methodId(), form_->values(), calibImages_->value(), evalImages_->value());
  });
  connect(plan_, &QPushButton::clicked, this, &CompressPanel::planRequested);
  connect(saveVariant_, &QPushButton::clicked, this, &CompressPanel::saveVariantRequested);
  connect(openVariant_, &QPushButton::clicked, this, &CompressPanel::openVariantRequested);
  updateButtons();
}

void CompressPanel::setVariant(const QString& name) {
  hasVariant_ = !name.isEmpty();
  variant_->setText(hasVariant_ ? name : tr("No variant in memory (run a method, or select a run of this session)"));
  updateButtons();
}

void CompressPanel::setPlanSource(const QString& text) {
  planSource_->setText(text);
  planSource_->setVisible(!text.isEmpty());
}

void CompressPanel::setMethods(const std::vector<cs::MethodInfo>& methods) {
  methods_ = methods;
  const QSignalBlocker block(method_);
  method_->clear();
  for (const auto& m : methods_) {
    method_->addItem(QString::fromStdString(m.name.empty() ? m.id : m.name), QString::fromStdString(m.id));
    method_->setItemData(method_->count() - 1, QString::fromStdString(m.description), Qt::ToolTipRole);
  }
  method_->setCurrentIndex(-1);
  if (!methods_.empty()) {
    method_->blockSignals(false);
    method_->setCurrentIndex(0);
  }
}

bool CompressPanel::selectMethod(const QString& id) {
  const int i = method_->findData(id);
  if (i < 0) return false;
  method_->setCurrentIndex(i);
  return true;
}

QString CompressPanel::methodId() const { return method_->currentData().toString(); }
int CompressPanel::calibrationImages() const { return calibImages_->value(); }
int CompressPanel::evalImages() const { return evalImages_->value(); }
void CompressPanel::setCalibrationImages(int n) { calibImages_->setValue(n); }
void CompressPanel::setEvalImages(int n) { evalImages_->setValue(n); }

void CompressPanel::setModelReady(bool ready) {
  ready_ = ready;
  updateButtons();
}

void CompressPanel::setRunning(bool running) {
  running_ = running;
  updateButtons();
}

void CompressPanel::updateButtons() {
  calibrate_->setEnabled(ready_);
  run_->setEnabled(ready_ && !running_ && method_->count() > 0);
  plan_->setEnabled(ready_);
  saveVariant_->setEnabled(hasVariant_);
}

}  // namespace cs::widgets
