#include "widgets/generate/SampleGrid.h"

#include <QFontMetrics>
#include <QPainter>

#include <algorithm>

namespace cs::widgets {

namespace {
constexpr int kGap = 8;
}

SampleGrid::SampleGrid(QWidget* parent) : QWidget(parent) {
  QSizePolicy sp(QSizePolicy::Preferred, QSizePolicy::Preferred);
  sp.setHeightForWidth(true);
  setSizePolicy(sp);
  setAutoFillBackground(true);
}

void SampleGrid::setTiles(const QVector<SampleTile>& tiles) {
  tiles_ = tiles;
  updateGeometry();
  update();
}

void SampleGrid::setColumns(int cols) {
  columns_ = std::max(0, cols);
  updateGeometry();
  update();
}

void SampleGrid::setZoom(int zoom) {
  zoom_ = std::clamp(zoom, 1, 16);
  updateGeometry();
  update();
}

void SampleGrid::setPlaceholder(const QString& text) {
  placeholder_ = text;
  update();
}

QSize SampleGrid::cellSize() const {
  int w = 28, h = 28;
  for (const auto& t : tiles_) {
    w = std::max(w, t.image.width());
    h = std::max(h, t.image.height());
  }
  const QFontMetrics fm(font());
  int labelW = 0;
  for (const auto& t : tiles_) labelW = std::max(labelW, fm.horizontalAdvance(t.label));
  return {std::max(w * zoom_, labelW) + kGap, h * zoom_ + fm.height() + kGap + 2};
}

int SampleGrid::columnsFor(int width) const {
  if (columns_ > 0) return columns_;
  const int cw = cellSize().width();
  return std::max(1, (width - kGap) / std::max(1, cw));
}

int SampleGrid::columns() const { return columnsFor(width()); }

int SampleGrid::heightForWidth(int w) const {
  if (tiles_.isEmpty()) return 120;
  const int cols = columnsFor(w);
  const int rows = (count() + cols - 1) / cols;
  return rows * cellSize().height() + kGap;
}

QSize SampleGrid::sizeHint() const {
  const QSize c = cellSize();
  const int cols = columns_ > 0 ? columns_ : std::min(std::max(1, count()), 8);
  const int rows = tiles_.isEmpty() ? 1 : (count() + cols - 1) / cols;
  return {cols * c.width() + kGap, rows * c.height() + kGap};
}

void SampleGrid::paintEvent(QPaintEvent*) {
  QPainter p(this);
  if (tiles_.isEmpty()) {
    p.setPen(palette().color(QPalette::PlaceholderText));
    p.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
    return;
  }
  const QSize c = cellSize();
  const int cols = columnsFor(width());
  const QFontMetrics fm(font());
  for (int i = 0; i < count(); ++i) {
    const auto& t = tiles_[i];
    const int x0 = kGap + (i % cols) * c.width(), y0 = kGap + (i / cols) * c.height();
    const QSize img(t.image.width() * zoom_, t.image.height() * zoom_);
    const int cellW = c.width() - kGap;
    const QRect target(x0 + (cellW - img.width()) / 2, y0, img.width(), img.height());
    p.drawImage(target, t.image);  // nearest-neighbour: no smooth transform set
    p.setPen(palette().color(QPalette::WindowText));
    p.drawText(QRect(x0, y0 + img.height() + 2, cellW, fm.height()), Qt::AlignHCenter | Qt::AlignTop, t.label);
  }
}

}  // namespace cs::widgets
