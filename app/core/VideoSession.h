// VideoSession: the state behind the Video tab (SAM 2.1 / Efficient-SAM2 video segmentation).
//
// Owns the opened Sam2 model and up to two Sam2VideoSessions on the same video: the
// "efficient" one (the session the user drives, with the Efficient-SAM2 switches) and, when
// "compare with full" is on, a plain SAM 2.1 one that receives the same prompts, so that
// per-frame IoU(efficient, full) can be shown. Every engine call runs as a job on the
// session's own JobRunner (never on the GUI thread); the engine sessions are touched by one
// job at a time (a mutex), and per-frame results come back as queued signals. Results are
// cached per frame (as plain data: masks at video resolution, scores, routing statistics),
// so scrubbing the timeline never recomputes. Undo re-applies the prompt list minus its
// last entry on a reset session.
//
// Frames for display are decoded here (the engine facade has no frame accessor): folders
// with Qt's image readers in the engine's order, video files through OpenCV.
// Threading: GUI thread only; the work runs on JobRunner workers.
#pragma once
#include <QHash>
#include <QImage>
#include <QMap>
#include <QObject>
#include <QPointF>
#include <QRectF>
#include <QString>
#include <QStringList>
#include <QVector>

#include <memory>

#include "core/JobRunner.h"
#include "engine/sam2.h"

namespace cs::qt {

// One object's mask on one frame (video resolution).
struct VideoObjectMask {
  int objId = 0;
  QImage mask;            // Format_Grayscale8, 255 = foreground (only when present)
  float score = 0;        // object-score logit (> 0: present)
  bool present = false;
  qint64 area = 0;        // foreground pixels
};

struct VideoFrameResult {
  int frame = -1;
  QVector<VideoObjectMask> objects;  // ordered by object id
  cs::Sam2FrameStats stats;          // routing, kept memory tokens, timings
  bool prompted = false;             // the frame holds prompts (no tracking step)
  const VideoObjectMask* object(int objId) const;
};

struct VideoPrompt {
  enum Kind { Point, Box };
  Kind kind = Point;
  int frame = 0, objId = 1;
  QPointF point;          // video pixels
  bool positive = true;
  QRectF box;             // video pixels
};

class VideoSession : public QObject {
  Q_OBJECT
 public:
  explicit VideoSession(QObject* parent = nullptr);
  ~VideoSession() override;

  JobRunner* jobs() { return &runner_; }
  bool isBusy() const { return runner_.runningCount() > 0; }
  // Blocks (processing events) until idle; for tests and scripted screenshots.
  bool waitForIdle(int timeoutMs) { return runner_.waitForIdle(timeoutMs); }

  // ---- model and video ----
  static QString defaultModelPath();  // the zoo's sam2-micro
  // Opens a SAM 2.1 checkpoint (empty: sam2-micro); an open video is re-opened on it and
  // its prompts re-applied.
  void openModel(const QString& path = {});
  // A folder of JPEG/PNG frames or a video file; opens the default model first when none is.
  void openVideo(const QString& path);
  bool hasModel() const { return model_ != nullptr; }
  bool hasVideo() const { return numFrames_ > 0; }
  QString modelPath() const { return modelPath_; }
  QString modelSize() const;
  QString videoPath() const { return videoPath_; }
  int numFrames() const { return numFrames_; }
  QSize frameSize() const { return frameSize_; }
  // The frame as RGB (decoded on demand, a few cached); null when out of range.
  QImage frameImage(int frame) const;

  // ---- prompts ----
  void addPoint(int frame, int objId, QPointF p, bool positive);
  void addBox(int frame, int objId, QRectF box);
  void undo();  // drops the last prompt (reset + re-apply the others)
  const QVector<VideoPrompt>& prompts() const { return prompts_; }
  QVector<int> objectIds() const;  // objects with prompts, ascending
  void reset();                    // forgets prompts and results

  // ---- tracking ----
  // Propagates every object from its prompted frames (reverse: backwards, from the last
  // prompted frame); maxFrames < 0: to the end. With compare on, the full model runs too.
  void propagate(bool reverse = false, int maxFrames = -1);
  void cancel();
  bool isPropagating() const { return runner_.isRunning(kPropagate()); }

  // ---- efficiency ----
  void setEfficiency(const cs::Sam2Efficiency& e);
  const cs::Sam2Efficiency& efficiency() const { return eff_; }
  // Keeps a plain SAM 2.1 session beside the efficient one (same prompts, propagated too).
  void setCompare(bool on);
  bool compare() const { return compare_; }

  // ---- results (cached) ----
  const VideoFrameResult* result(int frame, bool full = false) const;
  int cachedFrames(bool full = false) const { return full ? fullCache_.size() : cache_.size(); }
  // Mean over objects of IoU(efficient, full) on a frame; NaN when either is missing.
  double iouWithFull(int frame) const;
  // Last propagation: frames/s end to end (efficient session, and full when compared).
  double framesPerSecond(bool full = false) const { return full ? fullFps_ : fps_; }
  int lastPropagatedFrames() const { return lastFrames_; }

  // ---- export ----
  // One PNG per computed frame (NNNNN.png; 0 background, else the object id, with a
  // palette when several objects); `error` names the file. Returns frames written.
  int exportMasks(const QString& dir, QString* error = nullptr, bool full = false) const;
  // The annotated video (frames with masks, contours and prompts) through OpenCV's
  // VideoWriter (MJPG .avi); when the writer cannot open, annotated PNG frames go to
  // <path>_frames/ instead. Returns the path written (file or folder), empty on error.
  QString exportAnnotated(const QString& path, double fps, QString* error = nullptr) const;
  // The frame with masks, contours and prompts drawn (what the export writes).
  QImage annotatedFrame(int frame, bool full = false) const;
  static QColor objectColor(int objId);
  // Masks of a frame as one ARGB image at video resolution: translucent fill in each
  // object's colour and an opaque contour (what the views draw over the frame).
  static QImage maskOverlay(const VideoFrameResult& r, QSize size);

 Q_SIGNALS:
  void modelOpened(const QString& path);
  void videoOpened(const QString& path);
  void promptsChanged();
  void frameReady(int frame, bool full);
  void resultsCleared();
  void propagateStarted();
  void propagateFinished(bool cancelled, int frames);
  void progress(double fraction, const QString& stage);
  void busyChanged();  // a job started or ended
  void failed(const QString& what, const QString& message);

 public:
  struct Engine;  // model + engine sessions, shared with the workers (opaque)

 private:
  static QString kPropagate() { return QStringLiteral("video-propagate"); }
  void start(const QString& channel, const QString& title, JobRunner::Work work,
             std::function<void()> onSuccess = {});
  void reapplyAll();  // reset the engine sessions and apply every prompt
  void applyFrameObject(int frame, int objId);  // (re)apply one (frame, object)'s prompts
  void deliver(std::shared_ptr<VideoFrameResult> r, bool full, quint64 epoch);
  void clearResults();

  std::shared_ptr<Engine> engine_;
  std::shared_ptr<const cs::Sam2> model_;
  QString modelPath_, videoPath_;
  QStringList frameFiles_;  // folder videos
  int numFrames_ = 0;
  QSize frameSize_;
  mutable QHash<int, QImage> frameCache_;
  mutable QVector<int> frameCacheOrder_;
  QVector<VideoPrompt> prompts_;
  cs::Sam2Efficiency eff_;
  bool compare_ = false;
  QMap<int, VideoFrameResult> cache_, fullCache_;
  quint64 seq_ = 0;    // prompt snapshots, newest applied wins
  quint64 epoch_ = 0;  // bumped when results are cleared: late frames of an older run are dropped
  double fps_ = 0, fullFps_ = 0;
  int lastFrames_ = 0;
  JobRunner runner_;  // last: destroyed first, so no job outlives the state above
};

}  // namespace cs::qt
