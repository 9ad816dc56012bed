// GenerateTab: sample from a generative model and measure it. Left: the model picker (the
// session's current model when it generates, then the zoo's image generators and language
// models) and the settings of the model's task; image generators: classes by name, a seed
// range, sampler settings (DDIM/DDPM steps, eta, guidance; autoregressive models:
// temperature, top-k, guidance); language models: prompt, max tokens, temperature, top-k,
// seed. Below: the metrics (image generators: class consistency, IS, FID-FMNIST, sFID with
// a sample count; language models: held-out perplexity, top-1 agreement with a reference).
// Right: the grid of samples labelled with class and seed (Save grid as PNG), or the
// generated text with tokens/s. Every run is a JobRunner job (GenerateSession), with
// progress and cancel; results arrive as plain data. GUI thread only.
#pragma once
#include <QWidget>

#include "core/GenerateSession.h"

class QComboBox;
class QDoubleSpinBox;
class QGroupBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QStackedWidget;

namespace cs::widgets {
class SampleGrid;
}

namespace cs::gui {

class GenerateTab : public QWidget {
  Q_OBJECT
 public:
  explicit GenerateTab(cs::qt::StudioSession* session, QWidget* parent = nullptr);

  cs::qt::GenerateSession* generator() { return &gen_; }

  // Picks a model by key ("session" or a zoo name); false when it is not listed.
  bool selectModel(const QString& key);
  QString currentKey() const;
  cs::Task currentTask() const;
  void refreshModels();
  // Checks exactly these classes (indices).
  void setClasses(const QList<int>& classes);
  QList<int> selectedClasses() const;

  void generate();     // samples or text, per the model's task
  void runMetric();
  void cancel();
  bool saveGrid(const QString& path, QString* error = nullptr);

  // Views and controls (tests, screenshots).
  widgets::SampleGrid* grid() const { return grid_; }
  QPlainTextEdit* textView() const { return text_; }
  QLabel* resultInfo() const { return info_; }
  QLabel* metricResult() const { return metricLabel_; }
  QComboBox* modelCombo() const { return model_; }
  QListWidget* classList() const { return classes_; }
  QLineEdit* seedsEdit() const { return seeds_; }
  QComboBox* samplerCombo() const { return sampler_; }
  QSpinBox* stepsSpin() const { return steps_; }
  QDoubleSpinBox* etaSpin() const { return eta_; }
  QDoubleSpinBox* guidanceSpin() const { return guidance_; }
  QDoubleSpinBox* imageTemperatureSpin() const { return imgTemp_; }
  QSpinBox* imageTopKSpin() const { return imgTopK_; }
  QLineEdit* promptEdit() const { return prompt_; }
  QSpinBox* maxTokensSpin() const { return maxTokens_; }
  QDoubleSpinBox* temperatureSpin() const { return temp_; }
  QSpinBox* topKSpin() const { return topK_; }
  QSpinBox* seedSpin() const { return seed_; }
  QComboBox* metricCombo() const { return metric_; }
  QSpinBox* metricSamplesSpin() const { return metricSamples_; }
  QComboBox* referenceCombo() const { return reference_; }
  QPushButton* generateButton() const { return generateBtn_; }
  QPushButton* cancelButton() const { return cancelBtn_; }
  QPushButton* metricButton() const { return metricBtn_; }
  QPushButton* saveButton() const { return saveBtn_; }
  QProgressBar* progress() const { return progress_; }
  QProgressBar* metricProgress() const { return metricProgress_; }

 private:
  QWidget* buildImageBox();
  QWidget* buildTextBox();
  QWidget* buildMetricBox();
  void onModelChanged();
  void resetImageDefaults();
  void updateBusy();
  void showImages();
  void showText();
  void showMetric();
  void showFailure(const QString& what, const QString& message, bool cancelled);
  void saveGridInteractive();

  cs::qt::StudioSession* session_;
  cs::qt::GenerateSession gen_;
  cs::Model current_;  // the picked model, opened for its classes and defaults
  int classCount_ = 0;

  QComboBox* model_ = nullptr;
  QLabel* modelInfo_ = nullptr;
  QGroupBox* imageBox_ = nullptr;
  QGroupBox* textBox_ = nullptr;
  QListWidget* classes_ = nullptr;
  QLineEdit* seeds_ = nullptr;
  QComboBox* sampler_ = nullptr;
  QSpinBox* steps_ = nullptr;
  QDoubleSpinBox* eta_ = nullptr;
  QDoubleSpinBox* guidance_ = nullptr;
  QDoubleSpinBox* imgTemp_ = nullptr;
  QSpinBox* imgTopK_ = nullptr;
  QSpinBox* columns_ = nullptr;
  QWidget* diffusionRows_ = nullptr;
  QWidget* arRows_ = nullptr;
  QLineEdit* prompt_ = nullptr;
  QSpinBox* maxTokens_ = nullptr;
  QDoubleSpinBox* temp_ = nullptr;
  QSpinBox* topK_ = nullptr;
  QSpinBox* seed_ = nullptr;
  QComboBox* metric_ = nullptr;
  QSpinBox* metricSamples_ = nullptr;
  QLabel* metricSamplesLabel_ = nullptr;
  QComboBox* reference_ = nullptr;
  QLabel* referenceLabel_ = nullptr;
  QPushButton* generateBtn_ = nullptr;
  QPushButton* cancelBtn_ = nullptr;
  QPushButton* metricBtn_ = nullptr;
  QPushButton* saveBtn_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QProgressBar* metricProgress_ = nullptr;
  QLabel* status_ = nullptr;
  QLabel* metricLabel_ = nullptr;
  QStackedWidget* stack_ = nullptr;
  widgets::SampleGrid* grid_ = nullptr;
  QPlainTextEdit* text_ = nullptr;
  QLabel* info_ = nullptr;
};

}  // namespace cs::gui
