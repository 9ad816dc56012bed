// IouPlot: per-frame IoU between the Efficient-SAM2 and the full model's masks over time
// (QCustomPlot), a playhead line, and a "worst frames" list. Clicking a point or a list
// entry asks for that frame (frameRequested). Passive: fed with plain data.
#pragma once
#include <QVector>
#include <QWidget>

class QCustomPlot;
class QCPItemStraightLine;
class QListWidget;
class QLabel;

namespace cs::widgets {

class IouPlot : public QWidget {
  Q_OBJECT
 public:
  explicit IouPlot(QWidget* parent = nullptr);
  // frames and IoU values (same length; NaN entries are skipped).
  void setSeries(const QVector<double>& frames, const QVector<double>& iou);
  void setPlayhead(int frame);
  void setWorstCount(int n) { worst_ = n; }
  QCustomPlot* plot() const { return plot_; }
  QListWidget* worstList() const { return list_; }
  int pointCount() const { return points_; }
  double meanIou() const { return mean_; }
  // The frame nearest to a plot x coordinate (pixels) among the plotted frames; -1 if none.
  int frameAtPixel(double px) const;

 Q_SIGNALS:
  void frameRequested(int frame);

 private:
  QCustomPlot* plot_;
  QCPItemStraightLine* playhead_ = nullptr;
  QListWidget* list_;
  QLabel* summary_;
  QVector<double> frames_;
  int points_ = 0, worst_ = 8;
  double mean_ = 0;
};

}  // namespace cs::widgets
