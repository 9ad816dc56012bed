#include "widgets/video/FrameView.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace cs::widgets {

namespace {
constexpr int kTitle = 22;   // title bar height
constexpr int kStrip = 96;   // SMR strip height

// Dark blue -> red -> yellow -> white: 0..1.
QRgb heatColor(float v) {
  v = std::clamp(v, 0.0f, 1.0f);
  const float r = std::clamp(v * 3.0f, 0.0f, 1.0f), g = std::clamp(v * 3.0f - 1.0f, 0.0f, 1.0f),
              b = std::clamp(v * 3.0f - 2.0f, 0.0f, 1.0f);
  const int base = 40;
  return qRgb(base + int(r * (255 - base)), int(g * 255), base / 2 + int(b * (255 - base / 2)));
}
}  // namespace

FrameView::FrameView(QWidget* parent) : QWidget(parent) {
  setMouseTracking(false);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
  setContextMenuPolicy(Qt::PreventContextMenu);
  setFocusPolicy(Qt::ClickFocus);
}

void FrameView::setTitle(const QString& t) {
  title_ = t;
  update();
}

void FrameView::setFrame(const QImage& frame, const QImage& maskOverlay) {
  frame_ = frame;
  overlay_ = maskOverlay;
  update();
}

void FrameView::setPrompts(const QVector<PromptMark>& marks) {
  marks_ = marks;
  update();
}

void FrameView::setSwr(int gridW, int gridH, const QVector<quint8>& selected, bool fullPass) {
  gridW_ = gridW;
  gridH_ = gridH;
  swrSelected_ = selected.size() == gridW * gridH ? selected : QVector<quint8>();
  fullPass_ = fullPass;
  update();
}

void FrameView::setSmr(const QVector<MemoryHeat>& heats) {
  heats_ = heats;
  update();
}

void FrameView::setShowMasks(bool on) {
  showMasks_ = on;
  update();
}
void FrameView::setShowSwr(bool on) {
  showSwr_ = on;
  update();
}
void FrameView::setShowSmr(bool on) {
  showSmr_ = on;
  update();
}

int FrameView::swrRoutedCount() const {
  return static_cast<int>(std::count_if(swrSelected_.begin(), swrSelected_.end(), [](quint8 v) { return v != 0; }));
}

int FrameView::stripHeight() const { return showSmr_ ? kStrip : 0; }

QRectF FrameView::imageRect() const {
  const QRectF area(0, kTitle, width(), std::max(1, height() - kTitle - stripHeight()));
  if (frame_.isNull()) return area;
  const double s = std::min(area.width() / frame_.width(), area.height() / frame_.height());
  const QSizeF sz(frame_.width() * s, frame_.height() * s);
  return QRectF(area.center().x() - sz.width() / 2, area.center().y() - sz.height() / 2, sz.width(), sz.height());
}

QPointF FrameView::toFrame(const QPointF& w) const {
  const QRectF r = imageRect();
  if (frame_.isNull() || r.width() <= 0) return {};
  return QPointF((w.x() - r.left()) * frame_.width() / r.width(), (w.y() - r.top()) * frame_.height() / r.height());
}

QPointF FrameView::toWidget(const QPointF& f) const {
  const QRectF r = imageRect();
  if (frame_.isNull()) return r.topLeft();
  return QPointF(r.left() + f.x() * r.width() / frame_.width(), r.top() + f.y() * r.height() / frame_.height());
}

void FrameView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), QColor(30, 30, 34));
  p.setPen(QColor(220, 220, 220));
  p.drawText(QRectF(6, 0, width() - 12, kTitle), Qt::AlignVCenter | Qt::AlignLeft, title_);
  if (frame_.isNull()) {
    p.drawText(rect(), Qt::AlignCenter, tr("Open a video (a folder of frames or a video file)"));
    return;
  }
  const QRectF r = imageRect();
  const bool smooth = r.width() < frame_.width();
  p.setRenderHint(QPainter::SmoothPixmapTransform, smooth);
  p.drawImage(r, frame_);
  if (showMasks_ && !overlay_.isNull()) {
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.drawImage(r, overlay_);
  }
  if (showSwr_) paintSwr(p, r);

  p.setRenderHint(QPainter::Antialiasing);
  const double s = 7;
  for (const auto& m : marks_) {
    if (m.isBox) {
      p.setPen(QPen(m.color, 2));
      p.setBrush(Qt::NoBrush);
      p.drawRect(QRectF(toWidget(m.box.topLeft()), toWidget(m.box.bottomRight())));
      continue;
    }
    const QPointF c = toWidget(m.point);
    const QColor col = m.positive ? QColor(40, 220, 60) : QColor(235, 40, 40);
    for (int pass = 0; pass < 2; ++pass) {
      p.setPen(QPen(pass ? col : QColor(0, 0, 0), pass ? 2.5 : 5.0, Qt::SolidLine, Qt::RoundCap));
      p.drawLine(QPointF(c.x() - s, c.y()), QPointF(c.x() + s, c.y()));
      if (m.positive) p.drawLine(QPointF(c.x(), c.y() - s), QPointF(c.x(), c.y() + s));
    }
    p.setPen(QPen(m.color, 1.5));
    p.setBrush(Qt::NoBrush);
    p.drawEllipse(c, s + 3, s + 3);
  }
  if (dragging_) {
    p.setPen(QPen(QColor(255, 255, 255), 1.5, Qt::DashLine));
    p.setBrush(QColor(255, 255, 255, 30));
    p.drawRect(QRectF(pressPos_, dragPos_).normalized());
  }
  if (showSmr_) paintSmr(p, QRectF(0, height() - kStrip, width(), kStrip));
}

void FrameView::paintSwr(QPainter& p, const QRectF& r) {
  QString legend;
  if (gridW_ <= 0 || gridH_ <= 0 || swrSelected_.isEmpty()) {
    legend = tr("SWR: no routing on this frame (switch SWR on and propagate)");
  } else {
    const double cw = r.width() / gridW_, ch = r.height() / gridH_;
    p.setRenderHint(QPainter::Antialiasing, false);
    for (int y = 0; y < gridH_; ++y)
      for (int x = 0; x < gridW_; ++x) {
        const bool routed = swrSelected_[y * gridW_ + x] != 0;
        const QRectF cell(r.left() + x * cw, r.top() + y * ch, cw, ch);
        p.fillRect(cell, routed ? QColor(255, 150, 0, 70) : QColor(20, 40, 120, 120));
        p.setPen(QPen(routed ? QColor(255, 170, 40, 200) : QColor(120, 140, 220, 110), 1));
        p.drawRect(cell);
      }
    const int routed = swrRoutedCount();
    legend = fullPass_ ? tr("SWR: full pass, all %1 windows").arg(swrSelected_.size())
                       : tr("SWR: %1 / %2 windows routed (orange), %3 through the shortcut (blue)")
                             .arg(routed)
                             .arg(swrSelected_.size())
                             .arg(swrSelected_.size() - routed);
  }
  const QRectF box(r.left() + 4, r.bottom() - 22, std::min(r.width() - 8, 430.0), 18);
  p.fillRect(box, QColor(0, 0, 0, 160));
  p.setPen(Qt::white);
  p.drawText(box.adjusted(4, 0, -4, 0), Qt::AlignVCenter | Qt::AlignLeft, legend);
}

void FrameView::paintSmr(QPainter& p, const QRectF& area) {
  p.fillRect(area, QColor(18, 18, 22));
  p.setPen(QColor(200, 200, 200));
  if (heats_.isEmpty()) {
    p.drawText(area, Qt::AlignCenter, tr("SMR: no pruned memory frames on this frame (switch SMR on and propagate)"));
    return;
  }
  const double side = area.height() - 24;
  double x = area.left() + 6;
  p.drawText(QRectF(x, area.top(), area.width(), 16), Qt::AlignLeft | Qt::AlignVCenter,
             tr("SMR: kept memory tokens per memory frame (bright = kept by every memory-attention layer)"));
  p.setRenderHint(QPainter::SmoothPixmapTransform, false);
  for (const auto& h : heats_) {
    if (x + side > area.right()) break;
    if (h.w <= 0 || h.h <= 0 || h.kept.size() != h.w * h.h) continue;
    QImage img(h.w, h.h, QImage::Format_RGB32);
    double kept = 0;
    for (int i = 0; i < h.w * h.h; ++i) {
      img.setPixel(i % h.w, i / h.w, heatColor(h.kept[i]));
      kept += h.kept[i] > 0;
    }
    const double aspect = double(h.w) / h.h;
    const QRectF cell(x, area.top() + 18, side * aspect, side - 4);
    p.drawImage(cell, img);
    p.setPen(QColor(220, 220, 220));
    p.drawText(QRectF(cell.left(), cell.bottom() - 14, cell.width(), 14), Qt::AlignCenter,
               QStringLiteral("f%1 %2%").arg(h.memFrame).arg(100.0 * kept / (h.w * h.h), 0, 'f', 0));
    x += cell.width() + 6;
  }
}

void FrameView::mousePressEvent(QMouseEvent* e) {
  if (!interactive_ || frame_.isNull() || !imageRect().contains(e->position())) return;
  pressPos_ = dragPos_ = e->position();
  if (e->button() == Qt::LeftButton) dragging_ = true;
}

void FrameView::mouseMoveEvent(QMouseEvent* e) {
  if (!dragging_) return;
  dragPos_ = e->position();
  update();
}

void FrameView::mouseReleaseEvent(QMouseEvent* e) {
  if (!interactive_ || frame_.isNull()) return;
  const QPointF pos = e->position();
  const bool moved = (pos - pressPos_).manhattanLength() > 6;
  if (e->button() == Qt::RightButton) {
    if (imageRect().contains(pos)) Q_EMIT rightClicked(toFrame(pos));
    return;
  }
  if (e->button() != Qt::LeftButton || !dragging_) return;
  dragging_ = false;
  update();
  if (moved) {
    const QRectF img(0, 0, frame_.width(), frame_.height());
    const QRectF b = QRectF(toFrame(pressPos_), toFrame(pos)).normalized().intersected(img);
    if (b.width() >= 2 && b.height() >= 2) Q_EMIT boxDrawn(b);
  } else {
    Q_EMIT leftClicked(toFrame(pos));
  }
}

}  // namespace cs::widgets
