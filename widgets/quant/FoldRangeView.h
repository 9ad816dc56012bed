// FoldRangeView: the reparameterized LayerNorm output ranges of one RepQ-ViT / RepQuant
// fold. Before the fold every channel has its own quantizer range (one vertical bar per
// channel); after it the LayerNorm emits X/r - b and every channel shares one per-tensor
// range (a band, with each channel's mapped range drawn as a thin bar inside it).
// Passive: it plots what it is given. GUI thread only.
#pragma once
#include <QString>
#include <QVector>
#include <QWidget>

class QCustomPlot;
class QCPGraph;
class QCPErrorBars;
class QCPTextElement;
class QLabel;

namespace cs::widgets {

struct FoldRangePlotData {
  QString title;
  QVector<double> lo, hi;              // before the fold, per channel
  QVector<double> foldedLo, foldedHi;  // after the fold, per channel (mapped through r and b)
  double tensorLo = 0, tensorHi = 0;   // the per-tensor quantizer after the fold
  QString stats;                       // lines under the plot
  bool isEmpty() const { return lo.isEmpty(); }
};

class FoldRangeView : public QWidget {
  Q_OBJECT
 public:
  explicit FoldRangeView(QWidget* parent = nullptr);

  void setData(const FoldRangePlotData& data);
  void clear(const QString& placeholder);
  const FoldRangePlotData& data() const { return data_; }
  bool hasData() const { return !data_.isEmpty(); }
  QString statsText() const;
  QCustomPlot* plot() const { return plot_; }

 private:
  QCustomPlot* plot_;
  QCPTextElement* title_;
  QCPGraph* band_;        // after: per-tensor range (filled to bandLow_)
  QCPGraph* bandLow_;
  QCPGraph* beforeMid_;   // carries the before bars
  QCPErrorBars* before_;
  QCPGraph* afterMid_;    // carries the after bars
  QCPErrorBars* after_;
  QLabel* stats_;
  FoldRangePlotData data_;
};

}  // namespace cs::widgets
