// VideoSession: drawing the masks (overlay, annotated frames) and exporting them (PNG
// masks per frame, the annotated video through OpenCV or annotated PNG frames).
#include <QDir>
#include <QFileInfo>
#include <QPainter>
#include <QSaveFile>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cmath>

#include "core/Conversions.h"
#include "core/VideoSession.h"

namespace cs::qt {

namespace {
QString frameName(int i) { return QStringLiteral("%1.png").arg(i, 5, 10, QLatin1Char('0')); }

bool saveAtomic(const QImage& img, const QString& path, QString* error) {
  QSaveFile f(path);
  if (!f.open(QIODevice::WriteOnly) || !img.save(&f, "PNG") || !f.commit()) {
    if (error) *error = QObject::tr("%1: cannot write the PNG (%2)").arg(path, f.errorString());
    return false;
  }
  return true;
}
}  // namespace

QImage VideoSession::maskOverlay(const VideoFrameResult& r, QSize size) {
  QImage out(size, QImage::Format_ARGB32_Premultiplied);
  out.fill(Qt::transparent);
  for (const auto& o : r.objects) {
    if (!o.present || o.mask.size() != size) continue;
    const QColor c = objectColor(o.objId);
    const QRgb fill = qPremultiply(qRgba(c.red(), c.green(), c.blue(), 110));
    const QRgb edge = qRgba(c.red(), c.green(), c.blue(), 255);
    const int W = size.width(), H = size.height();
    for (int y = 0; y < H; ++y) {
      const uchar* m = o.mask.constScanLine(y);
      const uchar* up = y > 0 ? o.mask.constScanLine(y - 1) : nullptr;
      const uchar* dn = y + 1 < H ? o.mask.constScanLine(y + 1) : nullptr;
      auto* px = reinterpret_cast<QRgb*>(out.scanLine(y));
      for (int x = 0; x < W; ++x) {
        if (!m[x]) continue;
        const bool border = x == 0 || x + 1 == W || !up || !dn || !m[x - 1] || !m[x + 1] || !up[x] || !dn[x];
        px[x] = border ? edge : fill;
      }
    }
    // thicken the contour for large frames so it stays visible when scaled down
    if (W >= 480) {
      QImage thick = out.copy();
      for (int y = 1; y + 1 < H; ++y) {
        const auto* src = reinterpret_cast<const QRgb*>(thick.constScanLine(y));
        auto* a = reinterpret_cast<QRgb*>(out.scanLine(y - 1));
        auto* b = reinterpret_cast<QRgb*>(out.scanLine(y + 1));
        auto* row = reinterpret_cast<QRgb*>(out.scanLine(y));
        for (int x = 1; x + 1 < W; ++x)
          if (src[x] == edge) a[x] = b[x] = row[x - 1] = row[x + 1] = edge;
      }
    }
  }
  return out;
}

QImage VideoSession::annotatedFrame(int frame, bool full) const {
  QImage img = frameImage(frame).convertToFormat(QImage::Format_RGB32);
  if (img.isNull()) return img;
  QPainter p(&img);
  p.setRenderHint(QPainter::Antialiasing);
  if (const auto* r = result(frame, full)) p.drawImage(0, 0, maskOverlay(*r, img.size()));
  const double s = std::max(3.0, img.width() / 90.0);
  for (const auto& pr : prompts_) {
    if (pr.frame != frame) continue;
    if (pr.kind == VideoPrompt::Box) {
      p.setPen(QPen(objectColor(pr.objId), std::max(1.0, s / 3)));
      p.setBrush(Qt::NoBrush);
      p.drawRect(pr.box);
      continue;
    }
    const QColor c = pr.positive ? QColor(40, 220, 60) : QColor(235, 40, 40);
    p.setPen(QPen(Qt::black, std::max(1.0, s / 2.5)));
    p.drawLine(QPointF(pr.point.x() - s, pr.point.y()), QPointF(pr.point.x() + s, pr.point.y()));
    if (pr.positive) p.drawLine(QPointF(pr.point.x(), pr.point.y() - s), QPointF(pr.point.x(), pr.point.y() + s));
    p.setPen(QPen(c, std::max(1.0, s / 4)));
    p.drawLine(QPointF(pr.point.x() - s, pr.point.y()), QPointF(pr.point.x() + s, pr.point.y()));
    if (pr.positive) p.drawLine(QPointF(pr.point.x(), pr.point.y() - s), QPointF(pr.point.x(), pr.point.y() + s));
  }
  p.end();
  return img;
}

int VideoSession::exportMasks(const QString& dir, QString* error, bool full) const {
  const auto& c = full ? fullCache_ : cache_;
  if (c.isEmpty()) {
    if (error) *error = tr("no masks to export: prompt an object and propagate first");
    return 0;
  }
  if (!QDir().mkpath(dir)) {
    if (error) *error = tr("%1: cannot create the folder").arg(dir);
    return 0;
  }
  const QVector<int> ids = objectIds();
  const bool palette = ids.size() > 1;
  QVector<QRgb> table(256, qRgb(0, 0, 0));
  for (int i = 1; i < 256; ++i) table[i] = objectColor(i).rgb();
  int written = 0;
  for (auto it = c.begin(); it != c.end(); ++it) {
    QImage out(frameSize_, palette ? QImage::Format_Indexed8 : QImage::Format_Grayscale8);
    if (palette) out.setColorTable(table);
    out.fill(0);
    for (const auto& o : it->objects) {  // ascending ids: the last present object wins
      if (!o.present || o.mask.size() != frameSize_) continue;
      const uchar v = palette ? static_cast<uchar>(std::clamp(o.objId, 1, 255)) : uchar(255);
      for (int y = 0; y < frameSize_.height(); ++y) {
        const uchar* m = o.mask.constScanLine(y);
        uchar* d = out.scanLine(y);
        for (int x = 0; x < frameSize_.width(); ++x)
          if (m[x]) d[x] = v;
      }
    }
    if (!saveAtomic(out, QDir(dir).filePath(frameName(it.key())), error)) return written;
    ++written;
  }
  return written;
}

QString VideoSession::exportAnnotated(const QString& path, double fps, QString* error) const {
  if (!hasVideo()) {
    if (error) *error = tr("no video is open");
    return {};
  }
  const QSize size = frameSize_;
  cv::VideoWriter w;
  QString target = path;
  if (QFileInfo(target).suffix().isEmpty()) target += QStringLiteral(".avi");
  try {
    w.open(toStd(target), cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps > 0 ? fps : 10.0,
           cv::Size(size.width(), size.height()));
  } catch (const cv::Exception&) {
  }
  if (w.isOpened()) {
    for (int f = 0; f < numFrames_; ++f) {
      const QImage img = annotatedFrame(f).convertToFormat(QImage::Format_RGB888);
      if (img.isNull()) continue;
      cv::Mat rgb(img.height(), img.width(), CV_8UC3, const_cast<uchar*>(img.constBits()),
                  static_cast<size_t>(img.bytesPerLine()));
      cv::Mat bgr;
      cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
      w.write(bgr);
    }
    w.release();
    if (QFileInfo(target).size() > 0) return target;
  }
  // fallback: annotated PNG frames
  const QString dir = QFileInfo(target).absolutePath() + QLatin1Char('/') + QFileInfo(target).completeBaseName() +
                      QStringLiteral("_frames");
  if (!QDir().mkpath(dir)) {
    if (error) *error = tr("%1: OpenCV's VideoWriter cannot write it, and %2 cannot be created").arg(target, dir);
    return {};
  }
  for (int f = 0; f < numFrames_; ++f)
    if (!saveAtomic(annotatedFrame(f), QDir(dir).filePath(frameName(f)), error)) return {};
  return dir;
}

}  // namespace cs::qt
