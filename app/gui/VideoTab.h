// VideoTab: SAM 2.1 video segmentation with Efficient-SAM2 (composition only).
// Top: Open video (folder of frames or video file), Open model (default: the zoo's
// sam2-micro; official sam2.1_hiera_*.pt or safetensors), the object selector with New
// object, Propagate / Backward / Cancel / Reset, Play, Compare with full, exports. Second
// row: SWR (on, theta, dilation), SMR (on, keep ratio), Force full, and the overlay toggles.
// Middle: the frame (FrameView: masks, prompts, SWR grid, SMR strip), beside the full
// model's frame when a comparison exists (linked playhead). Below: the timeline with
// per-object presence bars, the FPS meter, and the IoU(efficient, full) plot with the worst
// frames. Left click = positive point, right click = negative point, drag = box, Ctrl+Z =
// undo, Left/Right = step, Space = play. All work runs in VideoSession's jobs.
#pragma once
#include <QMap>
#include <QWidget>

#include "core/VideoSession.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;
class QTimer;
class QToolButton;

namespace cs::widgets {
class FrameView;
class Timeline;
class IouPlot;
class FpsMeter;
}  // namespace cs::widgets

namespace cs::gui {

class VideoTab : public QWidget {
  Q_OBJECT
 public:
  explicit VideoTab(QWidget* parent = nullptr);
  ~VideoTab() override;

  cs::qt::VideoSession* session() { return &session_; }
  void openVideo(const QString& path) { session_.openVideo(path); }
  void openModel(const QString& path) { session_.openModel(path); }
  void setCurrentFrame(int frame);
  int currentFrame() const { return frame_; }
  int currentObject() const;
  void setCurrentObject(int objId);
  int newObject();  // adds the next object id and selects it
  void propagate(bool reverse = false);
  void setPlaying(bool on);
  bool isPlaying() const;
  // Reads the efficiency controls into the session.
  void applyEfficiency();

  // Views and controls (tests, screenshots).
  widgets::FrameView* efficientView() const { return view_; }
  widgets::FrameView* fullView() const { return fullView_; }
  widgets::Timeline* timeline() const { return timeline_; }
  widgets::IouPlot* iouPlot() const { return iou_; }
  widgets::FpsMeter* fpsMeter() const { return fps_; }
  QCheckBox* swrCheck() const { return swr_; }
  QCheckBox* smrCheck() const { return smr_; }
  QCheckBox* compareCheck() const { return compare_; }
  QCheckBox* swrOverlayCheck() const { return showSwr_; }
  QCheckBox* smrOverlayCheck() const { return showSmr_; }
  QLabel* statusLabel() const { return status_; }

 private:
  QWidget* buildToolbar();
  QWidget* buildEfficiencyRow();
  void showFrame();
  void updateTracks();
  void updateIou();
  void updateButtons();
  void onFrameReady(int frame, bool full);
  void exportMasks();
  void exportVideo();
  void setStatus(const QString& text);

  cs::qt::VideoSession session_;
  int frame_ = 0;
  bool follow_ = false;  // the playhead follows propagation
  QMap<int, double> iouCache_;

  QToolButton* openVideo_;
  QPushButton *openModel_, *newObject_, *propagate_, *backward_, *cancel_, *reset_, *play_, *exportMasks_,
      *exportVideo_;
  QComboBox* object_;
  QLabel *modelLabel_, *status_;
  QCheckBox *swr_, *smr_, *forceFull_, *compare_, *showMasks_, *showSwr_, *showSmr_;
  QDoubleSpinBox *theta_, *keep_;
  QSpinBox* dilate_;
  QProgressBar* progress_;
  widgets::FrameView *view_, *fullView_;
  widgets::Timeline* timeline_;
  widgets::IouPlot* iou_;
  widgets::FpsMeter* fps_;
  QTimer* playTimer_;
};

}  // namespace cs::gui
