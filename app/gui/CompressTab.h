// CompressTab: the "Compress" workflow page. Composes the passive views (layer tree,
// weight and activation histograms, method panel, metrics, run table) and wires them to
// the StudioSession: intents from views go to the session's slots, the session's results
// are converted into plot data for the views. No engine calls here.
#pragma once
#include <QWidget>

#include <optional>

#include "compression/quant_plan.h"
#include "core/StudioSession.h"

class QDialog;

namespace cs::widgets {
class CompressPanel;
class FoldRangeView;
class HistogramView;
class PlanView;
class LayerTreeView;
class MetricsPanel;
class RunTable;
}  // namespace cs::widgets

namespace cs::gui {

class CompressTab : public QWidget {
  Q_OBJECT
 public:
  explicit CompressTab(cs::qt::StudioSession* session, QWidget* parent = nullptr);

  widgets::LayerTreeView* layerTree() const { return tree_; }
  widgets::HistogramView* weightHistogram() const { return weights_; }
  widgets::HistogramView* activationHistogram() const { return activations_; }
  widgets::CompressPanel* panel() const { return panel_; }
  widgets::MetricsPanel* metrics() const { return metrics_; }
  widgets::RunTable* runTable() const { return runs_; }
  widgets::FoldRangeView* foldView() const { return fold_; }
  widgets::PlanView* planView() const { return planView_; }
  QDialog* planDialog() const { return planDialog_; }

  // The plan the next run uses (rtn honours it) and the preview shows: the default plan
  // with the form's bit-widths, or the loaded file.
  QuantPlan currentPlan() const;
  // Loads a plan file (errors shown in the plan view); false on error.
  bool loadPlanFile(const QString& path);
  void useDefaultPlan();
  // Resolves the current plan for the open model into the plan view and shows the dialog.
  void showPlan();
  // Saves the shown variant (what "Save variant…" does after its file dialog).
  void saveVariantTo(const QString& path);

  // Selects a layer in the tree (and so in the session); false if it does not exist.
  bool selectLayer(const QString& fullName);

 private:
  void onModelOpened();
  void refreshPlots();
  void refreshAccuracy();
  void showRun(qint64 id);
  void refreshPlan();
  void refreshFold();

  cs::qt::StudioSession* session_;
  widgets::LayerTreeView* tree_;
  widgets::HistogramView* weights_;
  widgets::HistogramView* activations_;
  widgets::CompressPanel* panel_;
  widgets::MetricsPanel* metrics_;
  widgets::RunTable* runs_;
  widgets::FoldRangeView* fold_;
  QDialog* planDialog_;
  widgets::PlanView* planView_;
  std::optional<QuantPlan> planFile_;
  QString planPath_;
};

}  // namespace cs::gui
