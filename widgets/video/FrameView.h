// FrameView: one video frame with the segmentation drawn over it (passive view).
// Fed with plain data: the frame, a mask overlay image (same size as the frame), prompt
// marks, the SWR window grid of the frame (routed versus shortcut windows) and the SMR
// retention heat maps of the memory frames in the bank (a strip under the frame).
// Intents, in frame pixel coordinates: leftClicked (positive point), rightClicked
// (negative point), boxDrawn (left drag). It never starts work.
#pragma once
#include <QImage>
#include <QPointF>
#include <QRectF>
#include <QVector>
#include <QWidget>

namespace cs::widgets {

struct PromptMark {
  bool isBox = false;
  QPointF point;
  bool positive = true;
  QRectF box;
  QColor color;  // the object's colour
};

// Kept memory tokens of one memory frame: per token the fraction of memory-attention
// layers keeping it (row-major, w*h), 0..1.
struct MemoryHeat {
  int memFrame = 0, objId = 0;
  int w = 0, h = 0;
  QVector<float> kept;
};

class FrameView : public QWidget {
  Q_OBJECT
 public:
  explicit FrameView(QWidget* parent = nullptr);

  void setTitle(const QString& t);
  void setFrame(const QImage& frame, const QImage& maskOverlay);
  void setPrompts(const QVector<PromptMark>& marks);
  // gridW*gridH windows, row-major, 1 = routed (full blocks), 0 = shortcut; empty = none.
  void setSwr(int gridW, int gridH, const QVector<quint8>& selected, bool fullPass);
  void setSmr(const QVector<MemoryHeat>& heats);
  void setShowMasks(bool on);
  void setShowSwr(bool on);
  void setShowSmr(bool on);
  void setInteractive(bool on) { interactive_ = on; }

  bool showSwr() const { return showSwr_; }
  bool showSmr() const { return showSmr_; }
  int swrWindowCount() const { return swrSelected_.size(); }
  int swrRoutedCount() const;
  int smrHeatCount() const { return heats_.size(); }
  const QImage& frame() const { return frame_; }
  // Where the frame is drawn, and the mapping between widget and frame pixels.
  QRectF imageRect() const;
  QPointF toFrame(const QPointF& widgetPos) const;
  QPointF toWidget(const QPointF& framePos) const;

  QSize sizeHint() const override { return {640, 420}; }
  QSize minimumSizeHint() const override { return {240, 180}; }

 Q_SIGNALS:
  void leftClicked(QPointF framePos);
  void rightClicked(QPointF framePos);
  void boxDrawn(QRectF frameBox);

 protected:
  void paintEvent(QPaintEvent*) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;
  void mouseReleaseEvent(QMouseEvent* e) override;

 private:
  int stripHeight() const;
  void paintSwr(QPainter& p, const QRectF& r);
  void paintSmr(QPainter& p, const QRectF& area);

  QString title_;
  QImage frame_, overlay_;
  QVector<PromptMark> marks_;
  int gridW_ = 0, gridH_ = 0;
  QVector<quint8> swrSelected_;
  bool fullPass_ = true;
  QVector<MemoryHeat> heats_;
  bool showMasks_ = true, showSwr_ = false, showSmr_ = false, interactive_ = true;
  bool dragging_ = false;
  QPointF pressPos_, dragPos_;
};

}  // namespace cs::widgets
