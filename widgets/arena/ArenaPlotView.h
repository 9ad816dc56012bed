// ArenaPlotView: a QCustomPlot line plot for the arena's jobs, fed with plain series: the simulator's
// median position MSE versus pairwise comparisons for each rating/matchmaking arm (log x), and K-Sort
// Eval's estimated mu and conservative score versus runs (with the arena's own score as a reference line).
// Passive: the owner sets the data; GUI thread only.
#pragma once
#include <QString>
#include <QVector>
#include <QWidget>

class QCustomPlot;

namespace cs::widgets {

struct ArenaPlotSeries {
  QString name;
  QVector<double> x, y;
  bool dashed = false;
};

class ArenaPlotView : public QWidget {
  Q_OBJECT
 public:
  explicit ArenaPlotView(QWidget* parent = nullptr);
  void setSeries(const QString& title, const QString& xLabel, const QString& yLabel,
                 const QVector<ArenaPlotSeries>& series, bool logX = false);
  void clear();
  const QVector<ArenaPlotSeries>& series() const { return series_; }
  QString title() const { return title_; }
  QCustomPlot* plot() const { return plot_; }

 private:
  QCustomPlot* plot_;
  QVector<ArenaPlotSeries> series_;
  QString title_;
};

}  // namespace cs::widgets
