// CompressTab: the "Compress" workflow page. Composes the passive views (layer tree,
// weight and activation histograms, method panel, metrics, run table) and wires them to
// the StudioSession: intents from views go to the session's slots, the session's results
// are converted into plot data for the views. No engine calls here.
#pragma once
#include <QWidget>

#include "core/StudioSession.h"

namespace cs::widgets {
class CompressPanel;
class HistogramView;
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

  // Selects a layer in the tree (and so in the session); false if it does not exist.
  bool selectLayer(const QString& fullName);

 private:
  void onModelOpened();
  void refreshPlots();
  void refreshAccuracy();
  void showRun(qint64 id);

  cs::qt::StudioSession* session_;
  widgets::LayerTreeView* tree_;
  widgets::HistogramView* weights_;
  widgets::HistogramView* activations_;
  widgets::CompressPanel* panel_;
  widgets::MetricsPanel* metrics_;
  widgets::RunTable* runs_;
};

}  // namespace cs::gui
