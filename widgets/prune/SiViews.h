// Before/after views of Sparsity Induction (SI) for the Prune tab, each a PlotPanel (PNG,
// SVG, PDF and CSV export from the context menu) fed with plain data:
//  - SiScaleView: the per-input-channel scales s (log axis) and shifts delta learned by SI
//    for one layer;
//  - SiScoreView: the distribution of the base pruner's importance scores of that layer
//    before and after the transform (histograms of log10 score, and the fraction of
//    weights whose keep/prune decision at the target sparsity changes);
//  - SiErrorView: the per-layer relative output error of pruning with and without SI.
// data() returns exactly what is plotted (tests assert on it). Passive; GUI thread only.
#pragma once
#include <QStringList>
#include <QVector>

#include "widgets/explore/PlotPanel.h"

namespace cs::widgets {

struct SiScaleData {
  QString layer;
  QVector<double> scale, shift;  // one per input channel; shift in the layer's input units
};
class SiScaleView : public PlotPanel {
  Q_OBJECT
 public:
  explicit SiScaleView(QWidget* parent = nullptr);
  void setData(const SiScaleData& d);
  const SiScaleData& data() const { return d_; }
  QString csv() const override;
  bool hasData() const override { return !d_.scale.isEmpty(); }

 protected:
  void resetPlot() override;

 private:
  SiScaleData d_;
};

struct SiScoreData {
  QString layer, metric;           // metric: "magnitude", "wanda", ...
  QVector<double> before, after;   // one score per weight (row-major)
  double sparsity = 0.5;           // for the "decisions changed" figure
  // Filled by setData: the plotted histograms (log10 score bins, fraction of weights).
  QVector<double> binCenters, histBefore, histAfter;
  double changedFraction = 0;      // weights whose keep/prune decision differs
};
class SiScoreView : public PlotPanel {
  Q_OBJECT
 public:
  explicit SiScoreView(QWidget* parent = nullptr);
  void setData(const SiScoreData& d, int bins = 60);
  const SiScoreData& data() const { return d_; }
  QString csv() const override;
  bool hasData() const override { return !d_.before.isEmpty(); }

 protected:
  void resetPlot() override;

 private:
  SiScoreData d_;
};

struct SiErrorData {
  QStringList layers;
  QVector<double> withoutSi, withSi;  // relative output error per layer
};
class SiErrorView : public PlotPanel {
  Q_OBJECT
 public:
  explicit SiErrorView(QWidget* parent = nullptr);
  void setData(const SiErrorData& d);
  const SiErrorData& data() const { return d_; }
  QString csv() const override;
  bool hasData() const override { return !d_.layers.isEmpty(); }

 protected:
  void resetPlot() override;

 private:
  SiErrorData d_;
};

}  // namespace cs::widgets
