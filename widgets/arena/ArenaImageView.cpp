#include "widgets/arena/ArenaImageView.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>

#include <algorithm>
#include <cmath>

namespace cs::widgets {

// ---- ArenaZoomSync ----

void ArenaZoomSync::zoomAt(double factor, QPointF anchor) {
  const double z = std::clamp(zoom_ * factor, 1.0, kMaxZoom);
  if (z == zoom_) return;
  // Keep the anchor's screen position: (anchor - c') * z' = (anchor - c) * z.
  center_ = anchor - (anchor - center_) * (zoom_ / z);
  zoom_ = z;
  clampCenter();
  Q_EMIT changed();
}

void ArenaZoomSync::pan(QPointF delta) {
  const QPointF before = center_;
  center_ -= delta;
  clampCenter();
  if (center_ != before) Q_EMIT changed();
}

void ArenaZoomSync::reset() {
  zoom_ = 1.0;
  center_ = {0.5, 0.5};
  Q_EMIT changed();
}

void ArenaZoomSync::clampCenter() {
  const double half = 0.5 / zoom_;
  center_.setX(std::clamp(center_.x(), half, 1.0 - half));
  center_.setY(std::clamp(center_.y(), half, 1.0 - half));
}

QPointF ArenaZoomGeometry::toImage(QPointF p) const {
  if (target.width() <= 0 || target.height() <= 0) return {0.5, 0.5};
  return {(p.x() - target.left()) / target.width(), (p.y() - target.top()) / target.height()};
}

ArenaZoomGeometry arenaZoomGeometry(const QSize& img, const QRect& r, const ArenaZoomSync* sync) {
  ArenaZoomGeometry g;
  if (img.isEmpty() || r.isEmpty()) return g;
  const double fit = std::min(double(r.width()) / img.width(), double(r.height()) / img.height());
  const double zoom = sync ? sync->zoom() : 1.0;
  const QPointF c = sync ? sync->center() : QPointF(0.5, 0.5);
  const double w = img.width() * fit * zoom, h = img.height() * fit * zoom;
  const QPointF mid = QRectF(r).center();
  g.target = QRectF(mid.x() - c.x() * w, mid.y() - c.y() * h, w, h);
  return g;
}

namespace {
double wheelFactor(const QWheelEvent* e) { return std::pow(1.0015, e->angleDelta().y()); }
}  // namespace

// ---- ArenaImageView ----

ArenaImageView::ArenaImageView(QWidget* parent) : QWidget(parent) {
  setMinimumSize(96, 96);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

void ArenaImageView::setImage(const QImage& image) {
  image_ = image;
  update();
}

void ArenaImageView::setSync(ArenaZoomSync* sync) {
  if (sync_) disconnect(sync_, nullptr, this, nullptr);
  sync_ = sync;
  if (sync_) connect(sync_, &ArenaZoomSync::changed, this, qOverload<>(&QWidget::update));
  update();
}

void ArenaImageView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().color(QPalette::Base).darker(104));
  if (image_.isNull()) return;
  p.setClipRect(rect());
  p.setRenderHint(QPainter::SmoothPixmapTransform, false);  // crisp pixels when zoomed
  p.drawImage(arenaZoomGeometry(image_.size(), rect(), sync_).target, image_);
}

void ArenaImageView::wheelEvent(QWheelEvent* e) {
  if (!sync_ || image_.isNull()) return QWidget::wheelEvent(e);
  sync_->zoomAt(wheelFactor(e), arenaZoomGeometry(image_.size(), rect(), sync_).toImage(e->position()));
  e->accept();
}

void ArenaImageView::mousePressEvent(QMouseEvent* e) {
  dragging_ = e->button() == Qt::LeftButton;
  moved_ = false;
  dragFrom_ = e->position();
  e->accept();
}

void ArenaImageView::mouseMoveEvent(QMouseEvent* e) {
  if (!dragging_ || !sync_ || image_.isNull()) return;
  const QPointF d = e->position() - dragFrom_;
  if (!moved_ && std::hypot(d.x(), d.y()) < 4) return;
  moved_ = true;
  const auto g = arenaZoomGeometry(image_.size(), rect(), sync_);
  sync_->pan({d.x() / g.target.width(), d.y() / g.target.height()});
  dragFrom_ = e->position();
}

void ArenaImageView::mouseReleaseEvent(QMouseEvent* e) {
  if (dragging_ && !moved_) Q_EMIT clicked();
  dragging_ = false;
  e->accept();
}

void ArenaImageView::mouseDoubleClickEvent(QMouseEvent* e) {
  if (sync_) sync_->reset();
  e->accept();
}

// ---- ArenaSplitView ----

ArenaSplitView::ArenaSplitView(QWidget* parent) : QWidget(parent) {
  setMinimumSize(160, 160);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
  setCursor(Qt::SplitHCursor);
}

void ArenaSplitView::setImages(const QImage& a, const QImage& b) {
  a_ = a;
  b_ = b;
  update();
}

void ArenaSplitView::setSync(ArenaZoomSync* sync) {
  if (sync_) disconnect(sync_, nullptr, this, nullptr);
  sync_ = sync;
  if (sync_) connect(sync_, &ArenaZoomSync::changed, this, qOverload<>(&QWidget::update));
  update();
}

void ArenaSplitView::setDivider(double f) {
  f = std::clamp(f, 0.0, 1.0);
  if (f == divider_) return;
  divider_ = f;
  update();
  Q_EMIT dividerMoved(f);
}

void ArenaSplitView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().color(QPalette::Base).darker(104));
  p.setRenderHint(QPainter::SmoothPixmapTransform, false);
  const int x = static_cast<int>(std::lround(divider_ * width()));
  const QImage& ref = a_.isNull() ? b_ : a_;
  if (!ref.isNull()) {
    const QRectF target = arenaZoomGeometry(ref.size(), rect(), sync_).target;
    if (!a_.isNull()) {
      p.setClipRect(QRect(0, 0, x, height()));
      p.drawImage(target, a_);
    }
    if (!b_.isNull()) {
      p.setClipRect(QRect(x, 0, width() - x, height()));
      p.drawImage(target, b_);
    }
    p.setClipping(false);
  }
  p.setPen(QPen(QColor(255, 200, 0), 2));
  p.drawLine(x, 0, x, height());
  p.setBrush(QColor(255, 200, 0));
  p.drawEllipse(QPointF(x, height() / 2.0), 6, 6);
  p.setPen(Qt::white);
  p.drawText(QRect(6, 4, 40, 20), Qt::AlignLeft, QStringLiteral("A"));
  p.drawText(QRect(width() - 46, 4, 40, 20), Qt::AlignRight, QStringLiteral("B"));
}

void ArenaSplitView::wheelEvent(QWheelEvent* e) {
  const QImage& ref = a_.isNull() ? b_ : a_;
  if (!sync_ || ref.isNull()) return QWidget::wheelEvent(e);
  sync_->zoomAt(wheelFactor(e), arenaZoomGeometry(ref.size(), rect(), sync_).toImage(e->position()));
  e->accept();
}

void ArenaSplitView::mousePressEvent(QMouseEvent* e) {
  if (width() > 0) setDivider(e->position().x() / width());
  e->accept();
}

void ArenaSplitView::mouseMoveEvent(QMouseEvent* e) {
  if ((e->buttons() & Qt::LeftButton) && width() > 0) setDivider(e->position().x() / width());
  e->accept();
}

}  // namespace cs::widgets
