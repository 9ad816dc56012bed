#include "widgets/video/IouPlot.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "widgets/QCustomPlotInclude.h"

namespace cs::widgets {

IouPlot::IouPlot(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)), list_(new QListWidget(this)) {
  summary_ = new QLabel(tr("IoU(Efficient-SAM2, full): run with \"Compare with full\""), this);
  plot_->addGraph();
  plot_->graph(0)->setPen(QPen(QColor(30, 110, 200), 1.5));
  plot_->graph(0)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
  plot_->xAxis->setLabel(tr("frame"));
  plot_->yAxis->setLabel(tr("IoU vs full"));
  plot_->yAxis->setRange(0, 1.02);
  plot_->setMinimumHeight(120);
  playhead_ = new QCPItemStraightLine(plot_);
  playhead_->setPen(QPen(QColor(255, 60, 60), 1.5));
  playhead_->point1->setCoords(0, 0);
  playhead_->point2->setCoords(0, 1);
  list_->setMaximumWidth(190);
  list_->setToolTip(tr("Frames where the efficient model departs most from the full one; click to jump"));

  auto* side = new QVBoxLayout;
  side->addWidget(new QLabel(tr("Worst frames"), this));
  side->addWidget(list_, 1);
  auto* row = new QHBoxLayout;
  row->setContentsMargins(0, 0, 0, 0);
  row->addWidget(plot_, 1);
  row->addLayout(side);
  auto* col = new QVBoxLayout(this);
  col->setContentsMargins(0, 0, 0, 0);
  col->addWidget(summary_);
  col->addLayout(row, 1);

  connect(plot_, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
    const int f = frameAtPixel(e->position().x());
    if (f >= 0) Q_EMIT frameRequested(f);
  });
  connect(list_, &QListWidget::itemClicked, this,
          [this](QListWidgetItem* it) { Q_EMIT frameRequested(it->data(Qt::UserRole).toInt()); });
  connect(list_, &QListWidget::currentItemChanged, this, [this](QListWidgetItem* it, QListWidgetItem*) {
    if (it) Q_EMIT frameRequested(it->data(Qt::UserRole).toInt());
  });
}

void IouPlot::setSeries(const QVector<double>& frames, const QVector<double>& iou) {
  QVector<double> x, y;
  for (int i = 0; i < std::min(frames.size(), iou.size()); ++i)
    if (std::isfinite(iou[i])) {
      x << frames[i];
      y << iou[i];
    }
  frames_ = x;
  points_ = x.size();
  plot_->graph(0)->setData(x, y, true);
  if (!x.isEmpty()) {
    plot_->xAxis->setRange(x.first() - 0.5, std::max(x.last() + 0.5, x.first() + 1.5));
    const double lo = *std::min_element(y.begin(), y.end());
    plot_->yAxis->setRange(std::max(0.0, std::min(0.9, lo - 0.05)), 1.02);
  }
  plot_->replot(QCustomPlot::rpQueuedReplot);
  mean_ = y.isEmpty() ? 0 : std::accumulate(y.begin(), y.end(), 0.0) / y.size();
  summary_->setText(y.isEmpty() ? tr("IoU(Efficient-SAM2, full): run with \"Compare with full\"")
                                : tr("IoU(Efficient-SAM2, full): mean %1 over %2 frames, min %3")
                                      .arg(mean_, 0, 'f', 3)
                                      .arg(y.size())
                                      .arg(*std::min_element(y.begin(), y.end()), 0, 'f', 3));
  // worst frames
  QVector<int> idx(y.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) { return y[a] < y[b]; });
  const QSignalBlocker block(list_);
  list_->clear();
  for (int i = 0; i < std::min<int>(worst_, idx.size()); ++i) {
    auto* it = new QListWidgetItem(tr("frame %1: IoU %2").arg(int(x[idx[i]])).arg(y[idx[i]], 0, 'f', 3), list_);
    it->setData(Qt::UserRole, int(x[idx[i]]));
  }
}

void IouPlot::setPlayhead(int frame) {
  playhead_->point1->setCoords(frame, 0);
  playhead_->point2->setCoords(frame, 1);
  plot_->replot(QCustomPlot::rpQueuedReplot);
}

int IouPlot::frameAtPixel(double px) const {
  if (frames_.isEmpty()) return -1;
  const double x = plot_->xAxis->pixelToCoord(px);
  int best = -1;
  double d = 1e300;
  for (double f : frames_)
    if (std::abs(f - x) < d) {
      d = std::abs(f - x);
      best = int(f);
    }
  return best;
}

}  // namespace cs::widgets
