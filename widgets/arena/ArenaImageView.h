// Large arena images with synchronized zoom, and the two-output split slider.
// ArenaZoomSync: one shared zoom/pan state (zoom factor >= 1 and the image point, in normalised [0,1]
// coordinates, that sits at the view's centre). Every ArenaImageView / ArenaSplitView attached to the same
// sync paints with that state, so a wheel or drag on any slot zooms and pans all slots together.
// ArenaImageView: one image, scaled to fit (nearest-neighbour, so 28x28 pixels stay crisp), wheel = zoom
// about the cursor, drag = pan, double-click = reset. A click without drag is forwarded to the parent as a
// normal mouse press (the vote panel ranks the clicked slot).
// ArenaSplitView: two images in the same frame; a vertical divider (drag it, or click anywhere) reveals A to
// its left and B to its right. Passive widgets, GUI thread only.
#pragma once
#include <QImage>
#include <QObject>
#include <QPointF>
#include <QWidget>

namespace cs::widgets {

class ArenaZoomSync : public QObject {
  Q_OBJECT
 public:
  explicit ArenaZoomSync(QObject* parent = nullptr) : QObject(parent) {}
  double zoom() const { return zoom_; }
  QPointF center() const { return center_; }  // normalised image coordinates
  // Zooms by `factor` keeping the normalised image point `anchor` fixed on screen.
  void zoomAt(double factor, QPointF anchor);
  // Moves the centre by a normalised delta.
  void pan(QPointF delta);
  void reset();
  static constexpr double kMaxZoom = 32.0;

 Q_SIGNALS:
  void changed();

 private:
  void clampCenter();
  double zoom_ = 1.0;
  QPointF center_{0.5, 0.5};
};

// Shared geometry: where the image's visible part lands inside a widget rect.
struct ArenaZoomGeometry {
  QRectF target;  // widget rect the whole (zoomed) image would occupy
  // Normalised image point under a widget position.
  QPointF toImage(QPointF widgetPos) const;
};
ArenaZoomGeometry arenaZoomGeometry(const QSize& imageSize, const QRect& widgetRect, const ArenaZoomSync* sync);

class ArenaImageView : public QWidget {
  Q_OBJECT
 public:
  explicit ArenaImageView(QWidget* parent = nullptr);
  void setImage(const QImage& image);
  const QImage& image() const { return image_; }
  void setSync(ArenaZoomSync* sync);
  ArenaZoomSync* sync() const { return sync_; }
  QSize sizeHint() const override { return {280, 280}; }

 Q_SIGNALS:
  void clicked();

 protected:
  void paintEvent(QPaintEvent*) override;
  void wheelEvent(QWheelEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;
  void mouseDoubleClickEvent(QMouseEvent* e) override;

 private:
  QImage image_;
  ArenaZoomSync* sync_ = nullptr;
  QPointF dragFrom_;
  bool dragging_ = false, moved_ = false;
};

class ArenaSplitView : public QWidget {
  Q_OBJECT
 public:
  explicit ArenaSplitView(QWidget* parent = nullptr);
  void setImages(const QImage& a, const QImage& b);
  void setSync(ArenaZoomSync* sync);
  // Divider position as a fraction of the width (0 = all B, 1 = all A).
  double divider() const { return divider_; }
  void setDivider(double f);
  QSize sizeHint() const override { return {420, 420}; }

 Q_SIGNALS:
  void dividerMoved(double f);

 protected:
  void paintEvent(QPaintEvent*) override;
  void wheelEvent(QWheelEvent* e) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;

 private:
  QImage a_, b_;
  ArenaZoomSync* sync_ = nullptr;
  double divider_ = 0.5;
};

}  // namespace cs::widgets
