// PlotPanel: base of the explorer views. A QCustomPlot with a title, a one-line note
// under it, and a context menu that exports the plot as PNG, SVG or PDF and the data
// behind it as CSV. Subclasses fill the plot and provide csv(). Passive (plots what it
// is given); GUI thread only.
#pragma once
#include <QString>
#include <QWidget>

class QCustomPlot;
class QCPTextElement;
class QLabel;

namespace cs::widgets {

class PlotPanel : public QWidget {
  Q_OBJECT
 public:
  explicit PlotPanel(QWidget* parent = nullptr);
  QCustomPlot* plot() const { return plot_; }
  // Writes by suffix: .png, .svg, .pdf (the plot) or .csv (its data). False on error.
  bool exportTo(const QString& path) const;
  // The data behind the plot as CSV text (header line first).
  virtual QString csv() const = 0;
  virtual bool hasData() const = 0;
  QString note() const;
  // Empty plot with a hint ("Select a layer", "Run ...").
  void clear(const QString& placeholder);

 protected:
  void setTitle(const QString& t);
  void setNote(const QString& n);
  void contextMenuEvent(QContextMenuEvent* event) override;
  virtual void resetPlot() = 0;  // removes everything the subclass plotted
  // Replots when visible (queued to the event loop unless `now`), else on the next show:
  // hidden views cost the GUI thread nothing when a job delivers data to all of them.
  void refresh(bool now = false);
  void showEvent(QShowEvent* event) override;

  QCustomPlot* plot_;
  QCPTextElement* title_;
  QLabel* note_;
  bool dirty_ = false;
};

// Writes a QCustomPlot as SVG (QSvgGenerator). False on error.
bool saveSvg(QCustomPlot* plot, const QString& path, int width = 0, int height = 0);

}  // namespace cs::widgets
