#include "app/gui/VideoTab.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QPixmap>
#include <QProgressBar>
#include <QPushButton>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>
#include <functional>

#include "widgets/video/FrameView.h"
#include "widgets/video/IouPlot.h"
#include "widgets/video/Timeline.h"

namespace cs::gui {
using cs::qt::VideoSession;

namespace {
QIcon colorIcon(const QColor& c) {
  QPixmap p(12, 12);
  p.fill(c);
  return QIcon(p);
}
}  // namespace

VideoTab::VideoTab(QWidget* parent) : QWidget(parent) {
  view_ = new widgets::FrameView(this);
  view_->setTitle(tr("SAM 2.1"));
  fullView_ = new widgets::FrameView(this);
  fullView_->setTitle(tr("Full SAM 2.1 (reference)"));
  fullView_->setInteractive(false);
  fullView_->hide();
  timeline_ = new widgets::Timeline(this);
  iou_ = new widgets::IouPlot(this);
  iou_->hide();
  fps_ = new widgets::FpsMeter(this);
  playTimer_ = new QTimer(this);
  playTimer_->setInterval(100);

  auto* views = new QSplitter(Qt::Horizontal, this);
  views->addWidget(fullView_);
  views->addWidget(view_);
  auto* col = new QVBoxLayout(this);
  col->addWidget(buildToolbar());
  col->addWidget(buildEfficiencyRow());
  col->addWidget(views, 1);
  col->addWidget(timeline_);
  col->addWidget(fps_);
  col->addWidget(iou_);
  auto* bottom = new QHBoxLayout;
  progress_ = new QProgressBar(this);
  progress_->setRange(0, 1000);
  progress_->setMaximumWidth(220);
  progress_->setTextVisible(false);
  status_ = new QLabel(tr("Open a video: a folder of JPEG/PNG frames or a video file. Model: sam2-micro."), this);
  bottom->addWidget(progress_);
  bottom->addWidget(status_, 1);
  col->addLayout(bottom);

  // view intents -> prompts on the current frame for the current object
  connect(view_, &widgets::FrameView::leftClicked, this,
          [this](QPointF p) { session_.addPoint(frame_, currentObject(), p, true); });
  connect(view_, &widgets::FrameView::rightClicked, this,
          [this](QPointF p) { session_.addPoint(frame_, currentObject(), p, false); });
  connect(view_, &widgets::FrameView::boxDrawn, this,
          [this](QRectF b) { session_.addBox(frame_, currentObject(), b); });
  connect(timeline_, &widgets::Timeline::frameRequested, this, [this](int f) {
    follow_ = false;
    setCurrentFrame(f);
  });
  connect(iou_, &widgets::IouPlot::frameRequested, this, [this](int f) {
    follow_ = false;
    setCurrentFrame(f);
  });
  connect(playTimer_, &QTimer::timeout, this, [this] {
    if (frame_ + 1 >= session_.numFrames()) {
      setPlaying(false);
      return;
    }
    setCurrentFrame(frame_ + 1);
  });

  // session -> views
  connect(&session_, &VideoSession::modelOpened, this, [this](const QString& path) {
    modelLabel_->setText(tr("Model: %1 (%2)").arg(QFileInfo(path).fileName(), session_.modelSize()));
    setStatus(tr("Opened %1").arg(path));
    updateButtons();
  });
  connect(&session_, &VideoSession::videoOpened, this, [this](const QString& path) {
    timeline_->setFrameCount(session_.numFrames());
    iouCache_.clear();
    frame_ = 0;
    setStatus(tr("%1: %2 frames of %3x%4. Left click: positive point, right click: negative, drag: box.")
                  .arg(QFileInfo(path).fileName())
                  .arg(session_.numFrames())
                  .arg(session_.frameSize().width())
                  .arg(session_.frameSize().height()));
    updateTracks();
    showFrame();
    updateButtons();
  });
  connect(&session_, &VideoSession::promptsChanged, this, [this] {
    const QVector<int> ids = session_.objectIds();
    for (int id : ids)
      if (object_->findData(id) < 0) object_->addItem(colorIcon(VideoSession::objectColor(id)), tr("Object %1").arg(id), id);
    QVector<int> frames;
    for (const auto& p : session_.prompts())
      if (!frames.contains(p.frame)) frames << p.frame;
    timeline_->setPromptFrames(frames);
    showFrame();
    updateButtons();
  });
  connect(&session_, &VideoSession::frameReady, this, &VideoTab::onFrameReady);
  connect(&session_, &VideoSession::resultsCleared, this, [this] {
    iouCache_.clear();
    updateTracks();
    updateIou();
    showFrame();
  });
  connect(&session_, &VideoSession::propagateStarted, this, [this] {
    follow_ = true;
    iouCache_.clear();
    setStatus(tr("Propagating..."));
    updateButtons();
  });
  connect(&session_, &VideoSession::propagateFinished, this, [this](bool stopped, int frames) {
    follow_ = false;
    progress_->setValue(stopped ? 0 : 1000);
    updateTracks();
    updateIou();
    showFrame();
    QString s = tr("%1 %2 frames at %3 frames/s")
                    .arg(stopped ? tr("Stopped after") : tr("Tracked"))
                    .arg(frames)
                    .arg(session_.framesPerSecond(), 0, 'f', 1);
    if (session_.framesPerSecond(true) > 0)
      s += tr("; full model %1 frames/s").arg(session_.framesPerSecond(true), 0, 'f', 1);
    setStatus(s);
    updateButtons();
  });
  connect(&session_, &VideoSession::progress, this,
          [this](double f, const QString&) { progress_->setValue(int(std::lround(f * 1000))); });
  connect(&session_, &VideoSession::failed, this, [this](const QString& what, const QString& msg) {
    setStatus(tr("%1: %2").arg(what, msg));
    updateButtons();
  });

  connect(&session_, &VideoSession::busyChanged, this, [this] {
    if (!session_.isPropagating()) follow_ = false;
    updateButtons();
  });

  // keys, while the focus is in this tab (other tabs keep their own Ctrl+Z)
  auto key = [this](const QKeySequence& k, std::function<void()> f) {
    auto* s = new QShortcut(k, this);
    s->setContext(Qt::WidgetWithChildrenShortcut);
    connect(s, &QShortcut::activated, this, std::move(f));
  };
  key(QKeySequence::Undo, [this] { session_.undo(); });
  key(QKeySequence(Qt::Key_Right), [this] { setCurrentFrame(frame_ + 1); });
  key(QKeySequence(Qt::Key_Left), [this] { setCurrentFrame(frame_ - 1); });
  key(QKeySequence(Qt::Key_Space), [this] { setPlaying(!isPlaying()); });
  setFocusPolicy(Qt::StrongFocus);
  updateButtons();
}

VideoTab::~VideoTab() { session_.cancel(); }

QWidget* VideoTab::buildToolbar() {
  auto* w = new QWidget(this);
  auto* row = new QHBoxLayout(w);
  row->setContentsMargins(0, 0, 0, 0);
  openVideo_ = new QToolButton(w);
  openVideo_->setText(tr("Open video"));
  openVideo_->setPopupMode(QToolButton::InstantPopup);
  auto* menu = new QMenu(openVideo_);
  menu->addAction(tr("Folder of frames..."), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Folder of JPEG/PNG frames"));
    if (!d.isEmpty()) session_.openVideo(d);
  });
  menu->addAction(tr("Video file..."), this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Video file"), {},
                                                   tr("Videos (*.mp4 *.avi *.mov *.mkv *.webm);;All files (*)"));
    if (!f.isEmpty()) session_.openVideo(f);
  });
  openVideo_->setMenu(menu);
  openModel_ = new QPushButton(tr("Open checkpoint..."), w);
  openModel_->setToolTip(tr("An official sam2.1_hiera_*.pt or a safetensors conversion (default: sam2-micro)"));
  connect(openModel_, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("SAM 2.1 checkpoint"), {},
                                                   tr("SAM 2.1 checkpoints (*.pt *.safetensors)"));
    if (!f.isEmpty()) session_.openModel(f);
  });
  modelLabel_ = new QLabel(tr("Model: sam2-micro (opens with the video)"), w);
  object_ = new QComboBox(w);
  object_->addItem(colorIcon(VideoSession::objectColor(1)), tr("Object 1"), 1);
  newObject_ = new QPushButton(tr("New object"), w);
  connect(newObject_, &QPushButton::clicked, this, [this] { newObject(); });
  propagate_ = new QPushButton(tr("Propagate"), w);
  connect(propagate_, &QPushButton::clicked, this, [this] { propagate(false); });
  backward_ = new QPushButton(tr("Backward"), w);
  backward_->setToolTip(tr("Track backwards from the last prompted frame"));
  connect(backward_, &QPushButton::clicked, this, [this] { propagate(true); });
  cancel_ = new QPushButton(tr("Cancel"), w);
  connect(cancel_, &QPushButton::clicked, &session_, &VideoSession::cancel);
  reset_ = new QPushButton(tr("Reset"), w);
  connect(reset_, &QPushButton::clicked, &session_, &VideoSession::reset);
  play_ = new QPushButton(tr("Play"), w);
  play_->setCheckable(true);
  connect(play_, &QPushButton::toggled, this, [this](bool on) { setPlaying(on); });
  compare_ = new QCheckBox(tr("Compare with full"), w);
  compare_->setToolTip(tr("Also track with the plain SAM 2.1 model: side-by-side views and IoU per frame"));
  connect(compare_, &QCheckBox::toggled, this, [this](bool on) {
    session_.setCompare(on);
    showFrame();
  });
  exportMasks_ = new QPushButton(tr("Export masks..."), w);
  connect(exportMasks_, &QPushButton::clicked, this, &VideoTab::exportMasks);
  exportVideo_ = new QPushButton(tr("Export video..."), w);
  connect(exportVideo_, &QPushButton::clicked, this, &VideoTab::exportVideo);
  for (QWidget* x : std::initializer_list<QWidget*>{openVideo_, openModel_, modelLabel_}) row->addWidget(x);
  row->addSpacing(12);
  for (QWidget* x : std::initializer_list<QWidget*>{object_, newObject_}) row->addWidget(x);
  row->addSpacing(12);
  for (QWidget* x : std::initializer_list<QWidget*>{propagate_, backward_, cancel_, reset_, play_, compare_})
    row->addWidget(x);
  row->addStretch(1);
  row->addWidget(exportMasks_);
  row->addWidget(exportVideo_);
  return w;
}

QWidget* VideoTab::buildEfficiencyRow() {
  auto* w = new QWidget(this);
  auto* row = new QHBoxLayout(w);
  row->setContentsMargins(0, 0, 0, 0);
  const cs::Sam2Efficiency d;
  swr_ = new QCheckBox(tr("SWR"), w);
  swr_->setToolTip(tr("Sparse Window Routing: background windows skip the routed Hiera blocks"));
  theta_ = new QDoubleSpinBox(w);
  theta_->setRange(0.05, 1.0);
  theta_->setSingleStep(0.05);
  theta_->setValue(d.theta);
  theta_->setPrefix(tr("theta "));
  dilate_ = new QSpinBox(w);
  dilate_->setRange(1, 15);
  dilate_->setSingleStep(2);
  dilate_->setValue(d.dilate);
  dilate_->setPrefix(tr("dilation "));
  smr_ = new QCheckBox(tr("SMR"), w);
  smr_->setToolTip(tr("Sparse Memory Retrieval: older memory frames keep their most attended tokens"));
  keep_ = new QDoubleSpinBox(w);
  keep_->setRange(0.01, 1.0);
  keep_->setSingleStep(0.01);
  keep_->setValue(d.keepRatio);
  keep_->setPrefix(tr("keep "));
  forceFull_ = new QCheckBox(tr("Force full"), w);
  forceFull_->setToolTip(tr("Every frame through the full encoder with dense memory"));
  showMasks_ = new QCheckBox(tr("Masks"), w);
  showMasks_->setChecked(true);
  showSwr_ = new QCheckBox(tr("SWR overlay"), w);
  showSmr_ = new QCheckBox(tr("SMR overlay"), w);
  for (auto* c : {swr_, smr_, forceFull_}) connect(c, &QCheckBox::toggled, this, [this] { applyEfficiency(); });
  connect(theta_, &QDoubleSpinBox::valueChanged, this, [this] { applyEfficiency(); });
  connect(keep_, &QDoubleSpinBox::valueChanged, this, [this] { applyEfficiency(); });
  connect(dilate_, &QSpinBox::valueChanged, this, [this] { applyEfficiency(); });
  connect(showMasks_, &QCheckBox::toggled, this, [this](bool on) {
    view_->setShowMasks(on);
    fullView_->setShowMasks(on);
  });
  connect(showSwr_, &QCheckBox::toggled, view_, &widgets::FrameView::setShowSwr);
  connect(showSmr_, &QCheckBox::toggled, view_, &widgets::FrameView::setShowSmr);
  row->addWidget(new QLabel(tr("Efficient-SAM2:"), w));
  for (QWidget* x : std::initializer_list<QWidget*>{swr_, theta_, dilate_}) row->addWidget(x);
  row->addSpacing(12);
  for (QWidget* x : std::initializer_list<QWidget*>{smr_, keep_, forceFull_}) row->addWidget(x);
  row->addSpacing(24);
  row->addWidget(new QLabel(tr("Show:"), w));
  for (QWidget* x : std::initializer_list<QWidget*>{showMasks_, showSwr_, showSmr_}) row->addWidget(x);
  row->addStretch(1);
  return w;
}

void VideoTab::applyEfficiency() {
  cs::Sam2Efficiency e = session_.efficiency();
  e.swr = swr_->isChecked();
  e.theta = theta_->value();
  e.dilate = dilate_->value();
  e.smr = smr_->isChecked();
  e.keepRatio = keep_->value();
  e.forceFull = forceFull_->isChecked();
  session_.setEfficiency(e);
  view_->setTitle(e.swr || e.smr ? tr("Efficient-SAM2 (%1%2)")
                                       .arg(e.swr ? tr("SWR") : QString())
                                       .arg(e.smr ? (e.swr ? tr(" + SMR") : tr("SMR")) : QString())
                                 : tr("SAM 2.1"));
}

int VideoTab::currentObject() const { return object_->currentData().toInt() > 0 ? object_->currentData().toInt() : 1; }

void VideoTab::setCurrentObject(int objId) {
  int i = object_->findData(objId);
  if (i < 0) {
    object_->addItem(colorIcon(VideoSession::objectColor(objId)), tr("Object %1").arg(objId), objId);
    i = object_->count() - 1;
  }
  object_->setCurrentIndex(i);
}

int VideoTab::newObject() {
  int next = 1;
  for (int i = 0; i < object_->count(); ++i) next = std::max(next, object_->itemData(i).toInt() + 1);
  setCurrentObject(next);
  return next;
}

void VideoTab::propagate(bool reverse) {
  setPlaying(false);
  if (compare_->isChecked() != session_.compare()) session_.setCompare(compare_->isChecked());
  session_.propagate(reverse);
}

void VideoTab::setPlaying(bool on) {
  if (on && session_.numFrames() > 0) {
    if (frame_ + 1 >= session_.numFrames()) setCurrentFrame(0);
    playTimer_->start();
  } else {
    playTimer_->stop();
  }
  const QSignalBlocker b(play_);
  play_->setChecked(playTimer_->isActive());
  play_->setText(playTimer_->isActive() ? tr("Pause") : tr("Play"));
}

bool VideoTab::isPlaying() const { return playTimer_->isActive(); }

void VideoTab::setCurrentFrame(int frame) {
  if (session_.numFrames() <= 0) return;
  frame_ = std::clamp(frame, 0, session_.numFrames() - 1);
  showFrame();
}

void VideoTab::onFrameReady(int frame, bool full) {
  if (full) {
    const double v = session_.iouWithFull(frame);
    if (std::isfinite(v)) iouCache_[frame] = v;
  }
  updateTracks();
  if (follow_ && !full) frame_ = frame;
  if (frame == frame_) showFrame();
}

void VideoTab::showFrame() {
  timeline_->setPlayhead(frame_);
  iou_->setPlayhead(frame_);
  const QImage img = session_.frameImage(frame_);
  const bool cmp = session_.compare() && session_.cachedFrames(true) > 0;
  fullView_->setVisible(cmp);
  iou_->setVisible(cmp);
  QVector<widgets::PromptMark> marks;
  for (const auto& p : session_.prompts()) {
    if (p.frame != frame_) continue;
    widgets::PromptMark m;
    m.isBox = p.kind == cs::qt::VideoPrompt::Box;
    m.point = p.point;
    m.positive = p.positive;
    m.box = p.box;
    m.color = VideoSession::objectColor(p.objId);
    marks << m;
  }
  auto feed = [&](widgets::FrameView* v, const cs::qt::VideoFrameResult* r) {
    v->setFrame(img, r ? VideoSession::maskOverlay(*r, img.size()) : QImage());
    v->setPrompts(marks);
    if (r) {
      v->setSwr(r->stats.gridW, r->stats.gridH,
                QVector<quint8>(r->stats.selected.begin(), r->stats.selected.end()), r->stats.fullPass);
      QVector<widgets::MemoryHeat> heats;
      for (const auto& m : r->stats.memory) {
        widgets::MemoryHeat h;
        h.memFrame = m.memFrame;
        h.objId = m.objId;
        h.w = m.width;
        h.h = m.height;
        h.kept = QVector<float>(m.kept.begin(), m.kept.end());
        heats << h;
      }
      v->setSmr(heats);
    } else {
      v->setSwr(0, 0, {}, true);
      v->setSmr({});
    }
  };
  const auto* r = session_.result(frame_);
  feed(view_, r);
  if (cmp) feed(fullView_, session_.result(frame_, true));
  widgets::SpeedFigures f;
  f.fps = session_.framesPerSecond();
  f.fullFps = session_.framesPerSecond(true);
  if (r) {
    f.encoderMs = r->stats.encoderMs;
    f.memAttnMs = r->stats.memAttnMs;
    f.frameMs = r->stats.frameMs;
    if (r->stats.gridW > 0) f.windowsRouted = r->stats.windowsRouted;
    if (r->stats.memTokens > 0 && session_.efficiency().smr)
      f.tokensKept = double(r->stats.memTokensKept) / double(r->stats.memTokens);
  }
  f.iou = iouCache_.value(frame_, -1.0);
  fps_->setFigures(f);
}

void VideoTab::updateTracks() {
  QVector<widgets::TimelineTrack> tracks;
  const int n = session_.numFrames();
  for (int id : session_.objectIds()) {
    widgets::TimelineTrack t;
    t.objId = id;
    t.color = VideoSession::objectColor(id);
    t.state = QVector<qint8>(n, -1);
    for (int f = 0; f < n; ++f)
      if (const auto* r = session_.result(f))
        if (const auto* o = r->object(id)) t.state[f] = o->present && o->area > 0 ? 1 : 0;
    tracks << t;
  }
  timeline_->setTracks(tracks);
}

void VideoTab::updateIou() {
  QVector<double> x, y;
  for (auto it = iouCache_.begin(); it != iouCache_.end(); ++it) {
    x << it.key();
    y << it.value();
  }
  iou_->setSeries(x, y);
}

void VideoTab::updateButtons() {
  const bool video = session_.hasVideo();
  const bool running = session_.isPropagating();
  propagate_->setEnabled(video && !running);
  backward_->setEnabled(video && !running);
  cancel_->setEnabled(session_.isBusy());
  reset_->setEnabled(video);
  play_->setEnabled(video);
  exportMasks_->setEnabled(video);
  exportVideo_->setEnabled(video);
}

void VideoTab::exportMasks() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Export masks to"));
  if (dir.isEmpty()) return;
  QString err;
  const int n = session_.exportMasks(dir, &err);
  setStatus(err.isEmpty() ? tr("Wrote %1 mask PNGs to %2").arg(n).arg(dir) : err);
}

void VideoTab::exportVideo() {
  const QString f =
      QFileDialog::getSaveFileName(this, tr("Export annotated video"), QStringLiteral("annotated.avi"),
                                   tr("MJPG video (*.avi)"));
  if (f.isEmpty()) return;
  QString err;
  const QString out = session_.exportAnnotated(f, 10.0, &err);
  if (out.isEmpty())
    setStatus(err);
  else
    setStatus(QFileInfo(out).isDir() ? tr("OpenCV could not write a video; wrote annotated PNG frames to %1").arg(out)
                                     : tr("Wrote the annotated video %1").arg(out));
}

void VideoTab::setStatus(const QString& text) { status_->setText(text); }

}  // namespace cs::gui
