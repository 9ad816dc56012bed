// Timeline: the video's frames left to right, one presence bar per object (present,
// absent, not computed), prompted frames marked, and a playhead. Clicking or dragging
// asks for a frame (frameRequested); it never changes the playhead itself.
// FpsMeter: a label with the tracking speed and the Efficient-SAM2 routing figures.
#pragma once
#include <QColor>
#include <QLabel>
#include <QVector>
#include <QWidget>

namespace cs::widgets {

struct TimelineTrack {
  int objId = 0;
  QColor color;
  QVector<qint8> state;  // per frame: -1 not computed, 0 absent, 1 present
};

class Timeline : public QWidget {
  Q_OBJECT
 public:
  explicit Timeline(QWidget* parent = nullptr);
  void setFrameCount(int n);
  void setTracks(const QVector<TimelineTrack>& tracks);
  void setPromptFrames(const QVector<int>& frames);
  void setPlayhead(int frame);
  int playhead() const { return playhead_; }
  int frameCount() const { return frames_; }
  const QVector<TimelineTrack>& tracks() const { return tracks_; }
  int frameAt(double x) const;
  double xOf(int frame) const;
  QSize sizeHint() const override;

 Q_SIGNALS:
  void frameRequested(int frame);

 protected:
  void paintEvent(QPaintEvent*) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;

 private:
  int frames_ = 0, playhead_ = 0;
  QVector<TimelineTrack> tracks_;
  QVector<int> prompted_;
};

struct SpeedFigures {
  double fps = 0, fullFps = 0;       // end to end, frames/s (0: not measured)
  double encoderMs = 0, memAttnMs = 0, frameMs = 0;  // the current frame
  double windowsRouted = -1;         // current frame's fraction of routed windows (-1: SWR off)
  double tokensKept = -1;            // current frame's fraction of memory tokens kept (-1: SMR off)
  double iou = -1;                   // IoU(efficient, full) of the current frame (-1: none)
};

class FpsMeter : public QLabel {
  Q_OBJECT
 public:
  explicit FpsMeter(QWidget* parent = nullptr);
  void setFigures(const SpeedFigures& f);
  const SpeedFigures& figures() const { return f_; }

 private:
  SpeedFigures f_;
};

}  // namespace cs::widgets
