#include "widgets/video/Timeline.h"

#include <QMouseEvent>
#include <QPainter>

#include <algorithm>
#include <cmath>

namespace cs::widgets {

namespace {
constexpr int kRuler = 16, kBar = 12, kGap = 3, kMargin = 8;
}

Timeline::Timeline(QWidget* parent) : QWidget(parent) {
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  setMinimumHeight(kRuler + kBar + 2 * kGap);
}

QSize Timeline::sizeHint() const {
  const int bars = std::max<qsizetype>(1, tracks_.size());
  return {600, kRuler + int(bars) * (kBar + kGap) + kGap + 2};
}

void Timeline::setFrameCount(int n) {
  frames_ = std::max(0, n);
  playhead_ = std::clamp(playhead_, 0, std::max(0, frames_ - 1));
  update();
}

void Timeline::setTracks(const QVector<TimelineTrack>& tracks) {
  const bool resize = tracks.size() != tracks_.size();
  tracks_ = tracks;
  if (resize) {
    setFixedHeight(sizeHint().height());
    updateGeometry();
  }
  update();
}

void Timeline::setPromptFrames(const QVector<int>& frames) {
  prompted_ = frames;
  update();
}

void Timeline::setPlayhead(int frame) {
  playhead_ = std::clamp(frame, 0, std::max(0, frames_ - 1));
  update();
}

double Timeline::xOf(int frame) const {
  const double w = width() - 2.0 * kMargin;
  return kMargin + (frames_ > 0 ? (frame + 0.5) * w / frames_ : 0);
}

int Timeline::frameAt(double x) const {
  if (frames_ <= 0) return 0;
  const double w = width() - 2.0 * kMargin;
  return std::clamp(int(std::floor((x - kMargin) * frames_ / w)), 0, frames_ - 1);
}

void Timeline::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().window());
  if (frames_ <= 0) return;
  const double w = width() - 2.0 * kMargin, fw = w / frames_;
  // ruler: ticks every ~60 px
  p.setPen(palette().text().color());
  const int step = std::max(1, int(std::ceil(60.0 / std::max(fw, 1e-3) / 5.0)) * 5);
  QFont f = font();
  f.setPointSizeF(std::max(6.0, f.pointSizeF() - 1.5));
  p.setFont(f);
  for (int t = 0; t < frames_; t += step) {
    const double x = xOf(t);
    p.drawLine(QPointF(x, kRuler - 4), QPointF(x, kRuler));
    p.drawText(QRectF(x - 30, 0, 60, kRuler - 3), Qt::AlignCenter, QString::number(t));
  }
  // one bar per object
  for (int k = 0; k < tracks_.size(); ++k) {
    const auto& tr = tracks_[k];
    const double y = kRuler + kGap + k * (kBar + kGap);
    p.fillRect(QRectF(kMargin, y, w, kBar), QColor(90, 90, 90, 60));
    for (int t = 0; t < std::min<int>(frames_, tr.state.size()); ++t) {
      if (tr.state[t] < 0) continue;
      const QColor c = tr.state[t] > 0 ? tr.color : QColor(120, 120, 120, 150);
      p.fillRect(QRectF(kMargin + t * fw, y + (tr.state[t] > 0 ? 0 : kBar / 3.0), std::max(fw, 1.0),
                        tr.state[t] > 0 ? kBar : kBar / 3.0),
                 c);
    }
  }
  // prompted frames
  p.setPen(Qt::NoPen);
  p.setBrush(QColor(40, 220, 60));
  for (int t : prompted_) {
    const double x = xOf(t);
    p.drawPolygon(QPolygonF({QPointF(x - 4, kRuler - 8), QPointF(x + 4, kRuler - 8), QPointF(x, kRuler)}));
  }
  // playhead
  const double x = xOf(playhead_);
  p.setPen(QPen(QColor(255, 60, 60), 2));
  p.drawLine(QPointF(x, 0), QPointF(x, height()));
}

void Timeline::mousePressEvent(QMouseEvent* e) {
  if (frames_ > 0 && e->button() == Qt::LeftButton) Q_EMIT frameRequested(frameAt(e->position().x()));
}

void Timeline::mouseMoveEvent(QMouseEvent* e) {
  if (frames_ > 0 && (e->buttons() & Qt::LeftButton)) Q_EMIT frameRequested(frameAt(e->position().x()));
}

FpsMeter::FpsMeter(QWidget* parent) : QLabel(parent) {
  setTextFormat(Qt::RichText);
  setFigures({});
}

void FpsMeter::setFigures(const SpeedFigures& f) {
  f_ = f;
  QStringList parts;
  if (f.fps > 0)
    parts << tr("<b>%1 frames/s</b>").arg(f.fps, 0, 'f', 1);
  else
    parts << tr("<b>— frames/s</b>");
  if (f.fullFps > 0)
    parts << tr("full model %1 frames/s (%2x)").arg(f.fullFps, 0, 'f', 1).arg(f.fps / f.fullFps, 0, 'f', 2);
  if (f.frameMs > 0)
    parts << tr("this frame %1 ms (encoder %2, memory attention %3)")
                 .arg(f.frameMs, 0, 'f', 0)
                 .arg(f.encoderMs, 0, 'f', 0)
                 .arg(f.memAttnMs, 0, 'f', 1);
  if (f.windowsRouted >= 0) parts << tr("windows routed %1 %").arg(100 * f.windowsRouted, 0, 'f', 0);
  if (f.tokensKept >= 0) parts << tr("memory tokens kept %1 %").arg(100 * f.tokensKept, 0, 'f', 0);
  if (f.iou >= 0) parts << tr("IoU vs full %1").arg(f.iou, 0, 'f', 3);
  setText(parts.join(QStringLiteral(" &nbsp;·&nbsp; ")));
}

}  // namespace cs::widgets
