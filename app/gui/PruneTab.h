// PruneTab: post-training pruning of language models (issue 8). Opens a decoder LM (zoo
// lm-fortunes by default, a Hugging Face directory, a studio .safetensors or a llama2.c
// .bin), picks a pruner (magnitude, wanda, sparsegpt) whose form and presets are generated
// from the method schema (SI is the form's "si" check box with its si_* parameters), and
// runs cs::prune() as a JobRunner job with progress and cancel. Shows dense vs pruned
// perplexity, the per-layer table, time and peak memory, and the SI before/after views
// (scales/shifts, score distributions, per-layer error with vs without SI when the
// comparison is on: a second, SI-free run of the same recipe). "Save variant..." writes
// the variant and its masks like `cstudio prune --out`. GUI thread only.
#pragma once
#include <QWidget>

#include <memory>

#include "compression/prune.h"
#include "core/JobRunner.h"
#include "engine/model.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTabWidget;

namespace cs::widgets {
class ParamForm;
class PruneReportView;
class SiScaleView;
class SiScoreView;
class SiErrorView;
}  // namespace cs::widgets

namespace cs::gui {

class PruneTab : public QWidget {
  Q_OBJECT
 public:
  explicit PruneTab(QWidget* parent = nullptr);
  ~PruneTab() override;

  // Opens a language model (zoo name or path) as a job; modelReady or failed follows.
  void openModel(const QString& nameOrPath);
  bool setMethod(const QString& id);
  void runPrune();
  void cancel();
  // Writes the last variant (+ <stem>.masks.safetensors); false (and failed) on error.
  bool saveVariant(const QString& path);

  const cs::Model& model() const { return model_; }
  const cs::PruneResult* lastResult() const { return result_.get(); }
  const cs::PruneResult* lastComparison() const { return comparison_.get(); }
  bool isRunning() const;
  cs::qt::JobRunner* jobs() { return &jobs_; }

  widgets::ParamForm* form() const { return form_; }
  QComboBox* methodBox() const { return method_; }
  QSpinBox* calibBox() const { return calib_; }
  QSpinBox* calibLengthBox() const { return calibLen_; }
  QSpinBox* seedBox() const { return seed_; }
  QCheckBox* evaluateBox() const { return evaluate_; }
  QSpinBox* evalKiBBox() const { return evalKiB_; }
  QCheckBox* compareBox() const { return compare_; }
  QComboBox* siLayerBox() const { return siLayer_; }
  widgets::PruneReportView* report() const { return report_; }
  widgets::SiScaleView* siScales() const { return siScale_; }
  widgets::SiScoreView* siScores() const { return siScores_; }
  widgets::SiErrorView* siErrors() const { return siErrors_; }
  QTabWidget* views() const { return views_; }
  QString status() const;

 Q_SIGNALS:
  void modelReady(const QString& name);
  void pruneFinished();
  void pruneCancelled();
  void failed(const QString& what, const QString& message);

 private:
  void browse();
  void onMethod(int index);
  void showResult();
  void setBusy(bool busy);
  void setStatus(const QString& s);

  cs::qt::JobRunner jobs_;
  cs::Model model_;
  std::shared_ptr<cs::PruneResult> result_, comparison_;
  QComboBox* modelBox_;
  QPushButton* open_;
  QPushButton* browse_;
  QLabel* modelInfo_;
  QComboBox* method_;
  widgets::ParamForm* form_;
  QSpinBox* calib_;
  QSpinBox* calibLen_;
  QSpinBox* seed_;
  QCheckBox* evaluate_;
  QSpinBox* evalKiB_;
  QCheckBox* compare_;
  QComboBox* siLayer_;
  QPushButton* run_;
  QPushButton* cancel_;
  QPushButton* save_;
  QProgressBar* progress_;
  QLabel* status_;
  QTabWidget* views_;
  widgets::PruneReportView* report_;
  widgets::SiScaleView* siScale_;
  widgets::SiScoreView* siScores_;
  widgets::SiErrorView* siErrors_;
};

}  // namespace cs::gui
