// HistogramView: a histogram plot (QCustomPlot) with an optional overlay series drawn on
// the same bins (full precision vs quantized), vertical clipping-range lines, a linear/log
// y toggle, a statistics line, and a context menu exporting PNG, SVG, PDF or CSV.
// Passive: it plots what it is given. GUI thread only.
#pragma once
#include <QString>
#include <QVector>
#include <QWidget>

class QCustomPlot;
class QCheckBox;
class QLabel;
class QCPGraph;
class QCPTextElement;
class QCPItemStraightLine;

namespace cs::widgets {

struct HistogramSeries {
  QString name;
  QVector<double> centers;  // bin centres
  QVector<double> counts;   // one per centre
  double binWidth = 0;
  bool isEmpty() const { return counts.isEmpty(); }
  double sum() const;
};

struct HistogramPlotData {
  QString title;
  QString xLabel;                 // with units, e.g. "weight value"
  HistogramSeries reference;      // full precision (filled)
  HistogramSeries overlay;        // quantized (line); may be empty
  bool showClip = false;
  double clipLo = 0, clipHi = 0;  // clipping range (vertical lines)
  QString stats;                  // one or two lines under the plot
};

class HistogramView : public QWidget {
  Q_OBJECT
 public:
  explicit HistogramView(QWidget* parent = nullptr);

  void setData(const HistogramPlotData& data);
  // Shows an empty plot with a hint ("Select a layer", "Run calibration ...").
  void clear(const QString& placeholder);
  const HistogramPlotData& data() const { return data_; }
  bool hasData() const { return !data_.reference.isEmpty(); }

  bool logScale() const { return log_; }
  QString statsText() const;
  QCustomPlot* plot() const { return plot_; }
  // Writes the plot by suffix: .png, .svg, .pdf or .csv (bins and both series). False on error.
  bool exportTo(const QString& path) const;

 public Q_SLOTS:
  void setLogScale(bool on);

 Q_SIGNALS:
  void logScaleChanged(bool on);

 protected:
  void contextMenuEvent(QContextMenuEvent* event) override;

 private:
  void redraw();
  QVector<double> shown(const QVector<double>& counts) const;

  QCustomPlot* plot_;
  QCPTextElement* title_;
  QCPGraph* refGraph_;
  QCPGraph* overlayGraph_;
  QCPItemStraightLine* clipLo_;
  QCPItemStraightLine* clipHi_;
  QCheckBox* logBox_;
  QLabel* stats_;
  HistogramPlotData data_;
  QString placeholder_;
  bool log_ = false;
};

// Writes a QCustomPlot as SVG (QSvgGenerator, vector output); width/height 0: the
// widget's size. False on error.
bool savePlotSvg(QCustomPlot* plot, const QString& path, int width = 0, int height = 0);

}  // namespace cs::widgets
