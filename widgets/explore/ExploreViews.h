// The distribution-explorer views (QCustomPlot), each a PlotPanel fed with plain data:
// per-channel ranges, channel x token magnitude heatmap, per-timestep ranges, singular
// value spectrum, sparsity pattern and per-layer sensitivity. data() returns exactly
// what is plotted (tests assert on it). Passive; GUI thread only.
#pragma once
#include <QStringList>
#include <QVector>

#include "widgets/explore/PlotPanel.h"

class QCPColorMap;
class QCPColorScale;

namespace cs::widgets {

struct ChannelRangeData {
  QString title, yLabel;             // yLabel with units, e.g. "activation value"
  QVector<double> min, max, mean;    // one per channel
  QVector<int> outliers;             // channel indices drawn highlighted
};
class ChannelRangeView : public PlotPanel {
  Q_OBJECT
 public:
  explicit ChannelRangeView(QWidget* parent = nullptr);
  void setData(const ChannelRangeData& d);
  const ChannelRangeData& data() const { return d_; }
  QString csv() const override;
  bool hasData() const override { return !d_.min.isEmpty(); }

 protected:
  void resetPlot() override;

 private:
  ChannelRangeData d_;
};

struct HeatmapData {
  QString title, xLabel, yLabel, valueLabel;  // e.g. "token", "channel", "mean |x|"
  int rows = 0, cols = 0;                     // rows = y cells, cols = x cells
  QVector<double> values;                     // row-major [rows * cols]
  double xPerCell = 1, yPerCell = 1;          // tokens / channels per cell
  bool logColor = false;
};
class HeatmapView : public PlotPanel {
  Q_OBJECT
 public:
  explicit HeatmapView(QWidget* parent = nullptr);
  void setData(const HeatmapData& d);
  const HeatmapData& data() const { return d_; }
  QString csv() const override;
  bool hasData() const override { return d_.rows > 0 && d_.cols > 0; }
  QCPColorMap* colorMap() const { return map_; }

 protected:
  void resetPlot() override;

 private:
  HeatmapData d_;
  QCPColorMap* map_ = nullptr;
  QCPColorScale* scale_ = nullptr;
};

struct TimestepRangeData {
  QString title;
  QVector<double> step, timestep, min, max, p999Abs, meanAbs;
};
class TimestepRangeView : public PlotPanel {
  Q_OBJECT
 public:
  explicit TimestepRangeView(QWidget* parent = nullptr);
  void setData(const TimestepRangeData& d);
  const TimestepRangeData& data() const { return d_; }
  QString csv() const override;
  bool hasData() const override { return !d_.step.isEmpty(); }

 protected:
  void resetPlot() override;

 private:
  TimestepRangeData d_;
};

struct SpectrumData {
  QString title;
  QVector<double> singular;  // descending
  double stableRank = 0, effectiveRank = 0;
  int rank99 = 0;            // singular values holding 99 % of the energy
};
class SpectrumView : public PlotPanel {
  Q_OBJECT
 public:
  explicit SpectrumView(QWidget* parent = nullptr);
  void setData(const SpectrumData& d);
  const SpectrumData& data() const { return d_; }
  QString csv() const override;
  bool hasData() const override { return !d_.singular.isEmpty(); }

 protected:
  void resetPlot() override;

 private:
  SpectrumData d_;
};

struct SparsityData {
  QString title;
  int rows = 0, cols = 0;               // weight shape [rows, cols]
  int gridRows = 0, gridCols = 0, blockRows = 1, blockCols = 1;
  QVector<double> blockDensity;         // [gridRows * gridCols]
  QVector<double> rowDensity;           // [rows]
  double sparsity = 0;
  QString nm;                           // "2:4", "dense", "unstructured"
};
class SparsityView : public PlotPanel {
  Q_OBJECT
 public:
  explicit SparsityView(QWidget* parent = nullptr);
  void setData(const SparsityData& d);
  const SparsityData& data() const { return d_; }
  QString csv() const override;
  bool hasData() const override { return d_.rows > 0; }

 protected:
  void resetPlot() override;

 private:
  SparsityData d_;
  QCPColorMap* map_ = nullptr;
};

struct SensitivityData {
  QString title, metricName;             // metricName empty: no metric axis
  QStringList layers;
  QVector<double> isolatedSqnr, cumulativeSqnr, isolatedMetric, cumulativeMetric;  // NaN = not run
  double fpMetric = 0;
  int jump = -1;                         // index of the first cumulative jump
  int total = 0;                         // layers planned (for a partial, streaming view)
};
class SensitivityView : public PlotPanel {
  Q_OBJECT
 public:
  explicit SensitivityView(QWidget* parent = nullptr);
  void setData(const SensitivityData& d);
  const SensitivityData& data() const { return d_; }
  QString csv() const override;
  bool hasData() const override { return !d_.layers.isEmpty(); }

 Q_SIGNALS:
  void layerClicked(const QString& layer);

 protected:
  void resetPlot() override;

 private:
  SensitivityData d_;
};

}  // namespace cs::widgets
