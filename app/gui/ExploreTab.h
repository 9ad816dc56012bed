// ExploreTab: the distribution explorer. Layer tree on the left; on the right the views
// of widgets/explore (per-channel ranges of weights and activations, channel x token
// magnitude heatmap, per-timestep ranges, singular-value spectrum, sparsity pattern,
// per-layer sensitivity), all following the selected layer. Follows the session's open
// model; openModel() also opens explore-only models (a diffusers UNet folder).
// Every computation runs as a JobRunner job (progress, cancel); results are converted to
// the views' plain data here. GUI thread only.
#pragma once
#include <QWidget>

#include <memory>

#include "compression/diagnose.h"
#include "core/LayerTreeModel.h"
#include "core/StudioSession.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QTabWidget;

namespace cs::widgets {
class LayerTreeView;
class ChannelRangeView;
class HeatmapView;
class TimestepRangeView;
class SpectrumView;
class SparsityView;
class SensitivityView;
class WhatIfView;
}  // namespace cs::widgets

namespace cs::gui {

class ExploreTab : public QWidget {
  Q_OBJECT
 public:
  explicit ExploreTab(cs::qt::StudioSession* session, QWidget* parent = nullptr);

  // Opens a model for this tab only (anything openExploreModel() opens).
  void openModel(const QString& nameOrPath);
  bool selectLayer(const QString& fullName);
  void captureActivations();
  void runSensitivity();
  void cancel();

  const cs::Model& model() const { return model_; }
  const cs::CaptureResult* capture() const { return capture_.get(); }
  QTabWidget* views() const { return tabs_; }
  widgets::LayerTreeView* layerTree() const { return tree_; }
  widgets::ChannelRangeView* weightRanges() const { return wranges_; }
  widgets::ChannelRangeView* activationRanges() const { return aranges_; }
  widgets::HeatmapView* heatmap() const { return heatmap_; }
  widgets::TimestepRangeView* timesteps() const { return timesteps_; }
  widgets::SpectrumView* spectrum() const { return spectrum_; }
  widgets::SparsityView* sparsity() const { return sparsity_; }
  widgets::SensitivityView* sensitivityView() const { return sens_; }
  widgets::WhatIfView* whatIf() const { return whatIf_; }
  // Recomputes the what-if view from the cached weight / activation sample (GUI thread,
  // no model run). False when nothing is cached for the selected layer.
  bool updateWhatIf();
  QSpinBox* samplesBox() const { return samples_; }
  QSpinBox* wbitsBox() const { return wbits_; }
  QSpinBox* abitsBox() const { return abits_; }

 Q_SIGNALS:
  void modelReady(const QString& name);
  void captureFinished();
  void weightViewsUpdated(const QString& layer);
  void sensitivityFinished();
  void whatIfUpdated(double milliseconds);
  void failed(const QString& what, const QString& message);

 private:
  void setModel(const cs::Model& m);
  void onLayer(const QString& layer);
  void updateWeightViews(const QString& layer);
  void updateActivationViews(const QString& layer);
  void setStatus(const QString& s);

  cs::qt::StudioSession* session_;
  cs::qt::LayerTreeModel layers_;
  cs::Model model_;
  QString layer_;
  std::shared_ptr<const cs::CaptureResult> capture_;
  widgets::LayerTreeView* tree_;
  QTabWidget* tabs_;
  widgets::ChannelRangeView* wranges_;
  widgets::ChannelRangeView* aranges_;
  widgets::HeatmapView* heatmap_;
  widgets::TimestepRangeView* timesteps_;
  widgets::SpectrumView* spectrum_;
  widgets::SparsityView* sparsity_;
  widgets::SensitivityView* sens_;
  widgets::WhatIfView* whatIf_;
  // The selected layer's weight as [rows, cols] (kept for the what-if view).
  struct WeightCache {
    QString layer;
    int64_t rows = 0, cols = 0;
    std::shared_ptr<const std::vector<float>> values;
  } weightCache_;
  QSpinBox* samples_;
  QSpinBox* wbits_;
  QSpinBox* abits_;
  QComboBox* mode_;
  QCheckBox* logColor_;
  QPushButton* captureBtn_;
  QPushButton* sensBtn_;
  QLabel* status_;
};

}  // namespace cs::gui
