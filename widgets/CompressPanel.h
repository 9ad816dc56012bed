// CompressPanel: choose a method (from the registry given to setMethods), edit its
// parameters in a generated ParamForm, choose calibration and evaluation sizes, and ask
// for calibration or a run. Passive: it only emits intents. GUI thread only.
#pragma once
#include <QWidget>

#include <vector>

#include "compression/schema.h"
#include "widgets/ParamForm.h"

class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;

namespace cs::widgets {

class CompressPanel : public QWidget {
  Q_OBJECT
 public:
  explicit CompressPanel(QWidget* parent = nullptr);

  void setMethods(const std::vector<cs::MethodInfo>& methods);
  bool selectMethod(const QString& id);
  QString methodId() const;
  ParamForm* form() const { return form_; }
  int calibrationImages() const;
  int evalImages() const;
  void setCalibrationImages(int n);
  void setEvalImages(int n);
  // Enables/disables the actions (no model, or a run in progress).
  void setModelReady(bool ready);
  void setRunning(bool running);
  // The variant shown (name, or empty for none): enables "Save variant…".
  void setVariant(const QString& name);
  // Where the quantization plan comes from ("default", a file), shown under the buttons.
  void setPlanSource(const QString& text);
  QPushButton* runButton() const { return run_; }
  QPushButton* calibrateButton() const { return calibrate_; }
  QPushButton* planButton() const { return plan_; }
  QPushButton* saveVariantButton() const { return saveVariant_; }
  QPushButton* openVariantButton() const { return openVariant_; }

 Q_SIGNALS:
  void calibrateRequested(int images);
  void runRequested(const QString& method, const nlohmann::json& params, int calibrationImages, int evalImages);
  void methodChanged(const QString& id);
  void planRequested();
  void saveVariantRequested();
  void openVariantRequested();

 private:
  void updateButtons();

  QComboBox* method_;
  QLabel* description_;
  ParamForm* form_;
  QSpinBox* calibImages_;
  QSpinBox* evalImages_;
  QPushButton* calibrate_;
  QPushButton* run_;
  QPushButton* plan_;
  QPushButton* saveVariant_;
  QPushButton* openVariant_;
  QLabel* variant_;
  QLabel* planSource_;
  bool hasVariant_ = false;
  std::vector<cs::MethodInfo> methods_;
  bool ready_ = false, running_ = false;
};

}  // namespace cs::widgets
