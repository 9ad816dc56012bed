#include "core/VideoSession.h"

#include <QDir>
#include <QFileInfo>
#include <QPainter>
#include <QPainterPath>
#include <QSaveFile>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>

#include "compression/efficient_sam2.h"
#include "core/Conversions.h"
#include "engine/sam2_micro.h"

namespace cs::qt {

namespace {
using Key = std::pair<int, int>;  // (frame, object)

// Video files are decoded with OpenCV for display (the engine decodes its own copy).
struct VideoReader {
  cv::VideoCapture cap;
  int next = -1;  // the frame a plain read() returns
};

QImage fromMat(const cv::Mat& bgr) {
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return QImage(rgb.data, rgb.cols, rgb.rows, static_cast<int>(rgb.step), QImage::Format_RGB888).copy();
}

// The engine's frame order: numeric stems numerically, else by file name.
QStringList listFrames(const QString& folder) {
  QDir d(folder);
  QStringList files;
  for (const auto& fi : d.entryInfoList(QDir::Files)) {
    const QString ext = fi.suffix().toLower();
    if (ext == QLatin1String("jpg") || ext == QLatin1String("jpeg") || ext == QLatin1String("png"))
      files << fi.absoluteFilePath();
  }
  bool numeric = true;
  for (const auto& f : files) {
    bool ok = false;
    QFileInfo(f).completeBaseName().toLongLong(&ok);
    numeric = numeric && ok;
  }
  std::sort(files.begin(), files.end(), [numeric](const QString& a, const QString& b) {
    if (numeric) return QFileInfo(a).completeBaseName().toLongLong() < QFileInfo(b).completeBaseName().toLongLong();
    return QFileInfo(a).fileName() < QFileInfo(b).fileName();
  });
  return files;
}

VideoObjectMask toMask(const cs::Sam2ObjectMask& m) {
  VideoObjectMask o;
  o.objId = m.objId;
  o.score = m.objectScore;
  o.present = m.present();
  o.mask = QImage(m.width, m.height, QImage::Format_Grayscale8);
  o.mask.fill(0);
  if (!o.present) return o;
  for (int y = 0; y < m.height; ++y) {
    uchar* row = o.mask.scanLine(y);
    const float* l = m.logits.data() + static_cast<size_t>(y) * m.width;
    for (int x = 0; x < m.width; ++x)
      if (l[x] > 0) {
        row[x] = 255;
        ++o.area;
      }
  }
  return o;
}

std::shared_ptr<VideoFrameResult> toResult(const cs::Sam2FrameResult& r) {
  auto out = std::make_shared<VideoFrameResult>();
  out->frame = r.frame;
  out->stats = r.stats;
  for (const auto& o : r.objects) out->objects.push_back(toMask(o));
  return out;
}

double maskIou(const QImage& a, const QImage& b) {
  if (a.size() != b.size() || a.isNull()) return std::nan("");
  qint64 inter = 0, uni = 0;
  for (int y = 0; y < a.height(); ++y) {
    const uchar* p = a.constScanLine(y);
    const uchar* q = b.constScanLine(y);
    for (int x = 0; x < a.width(); ++x) {
      const bool u = p[x] || q[x];
      uni += u;
      inter += p[x] && q[x];
    }
  }
  return uni ? double(inter) / double(uni) : 1.0;
}

void throwIf(const cs::Error& e) { throw cs::EngineError(e); }
}  // namespace

const VideoObjectMask* VideoFrameResult::object(int objId) const {
  for (const auto& o : objects)
    if (o.objId == objId) return &o;
  return nullptr;
}

// Shared with the workers; every use of the engine sessions holds `mu`.
struct VideoSession::Engine {
  std::mutex mu;
  std::shared_ptr<const cs::Sam2> model;
  std::unique_ptr<cs::Sam2VideoSession> eff, full;
  std::string video;
  cs::Sam2Efficiency effOpt;
  quint64 appliedSeq = 0;
  QVector<VideoPrompt> applied;  // prompts the sessions hold
  std::map<std::pair<int, int>, VideoObjectMask> promptMasks;  // (frame, object) -> mask, efficient session
  std::unique_ptr<VideoReader> reader;  // GUI thread only (frame display)
};

namespace {
// Groups prompts by (frame, object).
std::map<Key, QVector<VideoPrompt>> byKey(const QVector<VideoPrompt>& ps) {
  std::map<Key, QVector<VideoPrompt>> m;
  for (const auto& p : ps) m[{p.frame, p.objId}].push_back(p);
  return m;
}

bool samePrompts(const QVector<VideoPrompt>& a, const QVector<VideoPrompt>& b) {
  if (a.size() != b.size()) return false;
  for (int i = 0; i < a.size(); ++i)
    if (a[i].kind != b[i].kind || a[i].frame != b[i].frame || a[i].objId != b[i].objId || a[i].point != b[i].point ||
        a[i].positive != b[i].positive || a[i].box != b[i].box)
      return false;
  return true;
}

// Applies one (frame, object)'s prompts to a session: the last box with every click.
cs::Sam2ObjectMask applyKey(cs::Sam2VideoSession& s, const Key& k, const QVector<VideoPrompt>& ps) {
  std::vector<cs::Sam2Point> pts;
  const VideoPrompt* box = nullptr;
  for (const auto& p : ps) {
    if (p.kind == VideoPrompt::Box) box = &p;
    else pts.push_back({float(p.point.x()), float(p.point.y()), p.positive});
  }
  auto r = box ? s.addBox(k.first, k.second, float(box->box.left()), float(box->box.top()), float(box->box.right()),
                          float(box->box.bottom()), pts)
               : s.addPoints(k.first, k.second, pts, true);
  if (!r) throwIf(r.error());
  return std::move(r.value());
}

// Applies the Efficient-SAM2 settings to the efficient session (the model's SWR adapter when
// none is named). `force` re-applies even when they equal the ones applied last (a new session).
void applyEfficiency(VideoSession::Engine& E, cs::Sam2Efficiency e, const QString& modelPath, bool force) {
  if (!E.eff) return;
  if (e.adapterPath.empty()) {
    const auto a = cs::swrAdapterPathFor(toStd(modelPath));
    if (QFileInfo::exists(toQString(a))) e.adapterPath = a;
  }
  const auto& o = E.effOpt;
  if (!force && o.swr == e.swr && o.dilate == e.dilate && o.theta == e.theta && o.objTheta == e.objTheta &&
      o.adapterPath == e.adapterPath && o.smr == e.smr && o.keepRatio == e.keepRatio && o.forceFull == e.forceFull)
    return;
  auto st = E.eff->setEfficiency(e);
  if (!st) throwIf(st.error());
  E.effOpt = e;
}

// Brings the engine sessions to `target` (a prompt list snapshot numbered `seq`): only the
// changed (frame, object) keys are re-applied, unless one disappeared (undo), which resets
// and re-applies everything. Returns the prompt masks applied: (key, efficient, full).
struct Applied {
  Key key;
  VideoObjectMask eff;
};
// Opens the full model's session beside the efficient one (same prompts) when missing.
void ensureFull(VideoSession::Engine& E) {
  if (!E.eff || E.full || !E.model) return;
  auto f = cs::Sam2VideoSession::open(E.model, E.video);
  if (!f) throwIf(f.error());
  E.full = std::move(f.value());
  for (const auto& [k, v] : byKey(E.applied)) applyKey(*E.full, k, v);
}

std::vector<Applied> syncPrompts(VideoSession::Engine& E, const QVector<VideoPrompt>& target, quint64 seq,
                                 bool force) {
  std::vector<Applied> out;
  if (seq < E.appliedSeq || !E.eff) return out;  // a newer snapshot is already applied
  const auto now = byKey(E.applied), want = byKey(target);
  bool removed = force;
  for (const auto& [k, v] : now) {
    auto it = want.find(k);
    if (it == want.end() || it->second.size() < v.size()) removed = true;
  }
  if (removed) {
    E.eff->reset();
    if (E.full) E.full->reset();
    E.promptMasks.clear();
  }
  for (const auto& [k, v] : want) {
    auto it = now.find(k);
    if (!removed && it != now.end() && samePrompts(it->second, v)) continue;
    E.promptMasks[k] = toMask(applyKey(*E.eff, k, v));
    if (E.full) applyKey(*E.full, k, v);
  }
  E.applied = target;
  E.appliedSeq = seq;
  // every prompt mask the sessions hold now (an earlier job's results may have been dropped)
  for (const auto& [k, m] : E.promptMasks) out.push_back({k, m});
  return out;
}
}  // namespace

VideoSession::VideoSession(QObject* parent) : QObject(parent), engine_(std::make_shared<Engine>()) {
  connect(&runner_, &JobRunner::jobProgress, this,
          [this](quint64, double f, const QString& stage) { Q_EMIT progress(f, stage); });
  connect(&runner_, &JobRunner::jobStarted, this, &VideoSession::busyChanged);
  connect(&runner_, &JobRunner::jobFinished, this, &VideoSession::busyChanged);
}

VideoSession::~VideoSession() { runner_.cancel(); }

QString VideoSession::defaultModelPath() { return toQString(cs::sam2MicroPath()); }

QString VideoSession::modelSize() const { return model_ ? toQString(model_->size()) : QString(); }

void VideoSession::start(const QString& channel, const QString& title, JobRunner::Work work,
                         std::function<void()> onSuccess) {
  runner_.start(channel, title, std::move(work), [this, title, onSuccess](bool cancelled, const QString& error) {
    if (cancelled) return;
    if (!error.isEmpty()) {
      Q_EMIT failed(title, error);
      return;
    }
    if (onSuccess) onSuccess();
  });
}

void VideoSession::openModel(const QString& path) {
  const QString p = path.isEmpty() ? defaultModelPath() : path;
  auto E = engine_;
  struct Out {
    std::shared_ptr<const cs::Sam2> model;
    std::vector<Applied> masks;
  };
  auto out = std::make_shared<Out>();
  const auto prompts = prompts_;
  const bool cmp = compare_;
  const auto eff = eff_;
  const quint64 seq = ++seq_;
  runner_.cancel(kPropagate());
  start(QStringLiteral("video-model"), tr("Open SAM 2.1 model %1").arg(QFileInfo(p).fileName()),
        [E, p, out, prompts, cmp, eff, seq](cs::JobContext& job) {
          job.progress(0.0, "loading " + toStd(p));
          auto m = cs::Sam2::open(toStd(p), "auto");
          if (!m) throwIf(m.error());
          out->model = m.value();
          std::lock_guard<std::mutex> lock(E->mu);
          E->model = out->model;
          E->eff.reset();
          E->full.reset();
          E->applied.clear();
          if (E->video.empty()) return;
          job.progress(0.5, "opening the video");
          auto s = cs::Sam2VideoSession::open(E->model, E->video);
          if (!s) throwIf(s.error());
          E->eff = std::move(s.value());
          applyEfficiency(*E, eff, p, true);
          if (cmp) {
            auto f = cs::Sam2VideoSession::open(E->model, E->video);
            if (!f) throwIf(f.error());
            E->full = std::move(f.value());
          }
          out->masks = syncPrompts(*E, prompts, seq, true);
        },
        [this, out, p] {
          model_ = out->model;
          modelPath_ = p;
          clearResults();
          for (auto& a : out->masks) {
            cache_[a.key.first].frame = a.key.first;
            cache_[a.key.first].prompted = true;
            cache_[a.key.first].objects.push_back(a.eff);
          }
          Q_EMIT modelOpened(p);
          for (auto& a : out->masks) Q_EMIT frameReady(a.key.first, false);
        });
}

void VideoSession::openVideo(const QString& path) {
  if (!model_) {  // the default model first (or the one being opened), then this video
    connect(this, &VideoSession::modelOpened, this, [this, path] { openVideo(path); }, Qt::SingleShotConnection);
    if (!runner_.isRunning(QStringLiteral("video-model"))) openModel();
    return;
  }
  QFileInfo fi(path);
  if (!fi.exists()) {
    Q_EMIT failed(tr("Open video"), tr("%1: no such file or folder").arg(path));
    return;
  }
  QStringList files;
  auto reader = std::make_unique<VideoReader>();
  int n = 0;
  QSize size;
  if (fi.isDir()) {
    files = listFrames(path);
    if (files.isEmpty()) {
      Q_EMIT failed(tr("Open video"), tr("%1: no .jpg/.jpeg/.png frames").arg(path));
      return;
    }
    QImage first(files.first());
    if (first.isNull()) {
      Q_EMIT failed(tr("Open video"), tr("%1: cannot read the image").arg(files.first()));
      return;
    }
    n = files.size();
    size = first.size();
    reader.reset();
  } else {
    reader->cap.open(toStd(path));
    cv::Mat f;
    if (!reader->cap.isOpened() || !reader->cap.read(f) || f.empty()) {
      Q_EMIT failed(tr("Open video"), tr("%1: OpenCV cannot decode this video").arg(path));
      return;
    }
    reader->next = 1;
    n = static_cast<int>(reader->cap.get(cv::CAP_PROP_FRAME_COUNT));
    size = QSize(f.cols, f.rows);
  }
  auto E = engine_;
  const auto eff = eff_;
  const bool cmp = compare_;
  const QString modelPath = modelPath_;
  runner_.cancel(kPropagate());
  auto shared = std::make_shared<std::unique_ptr<VideoReader>>(std::move(reader));
  start(QStringLiteral("video-video"), tr("Open video %1").arg(fi.fileName()),
        [E, path, eff, cmp, modelPath](cs::JobContext& job) {
          job.progress(0.0, "opening " + toStd(path));
          std::lock_guard<std::mutex> lock(E->mu);
          if (!E->model) throw cs::EngineError(cs::Error::failed("open a SAM 2.1 model first"));
          auto s = cs::Sam2VideoSession::open(E->model, toStd(path));
          if (!s) throwIf(s.error());
          E->eff = std::move(s.value());
          E->full.reset();
          E->video = toStd(path);
          E->applied.clear();
          applyEfficiency(*E, eff, modelPath, true);
          if (cmp) {
            auto f = cs::Sam2VideoSession::open(E->model, toStd(path));
            if (!f) throwIf(f.error());
            E->full = std::move(f.value());
          }
        },
        [this, path, files, n, size, shared] {
          videoPath_ = path;
          frameFiles_ = files;
          engine_->reader = std::move(*shared);
          {
            std::lock_guard<std::mutex> lock(engine_->mu);  // uncontended: the job has ended
            if (engine_->eff) numFrames_ = engine_->eff->numFrames();
            else numFrames_ = n;
          }
          frameSize_ = size;
          frameCache_.clear();
          frameCacheOrder_.clear();
          prompts_.clear();
          clearResults();
          Q_EMIT promptsChanged();
          Q_EMIT videoOpened(path);
        });
}

QImage VideoSession::frameImage(int frame) const {
  if (frame < 0 || frame >= numFrames_) return {};
  auto it = frameCache_.find(frame);
  if (it != frameCache_.end()) return it.value();
  QImage img;
  if (!frameFiles_.isEmpty()) {
    img = QImage(frameFiles_.value(frame)).convertToFormat(QImage::Format_RGB888);
  } else if (engine_->reader) {
    auto& r = *engine_->reader;
    if (r.next != frame) r.cap.set(cv::CAP_PROP_POS_FRAMES, frame);
    cv::Mat f;
    if (r.cap.read(f) && !f.empty()) {
      img = fromMat(f);
      r.next = frame + 1;
    } else {
      r.next = -1;
    }
  }
  if (img.isNull()) return img;
  frameCache_.insert(frame, img);
  frameCacheOrder_.push_back(frame);
  while (frameCacheOrder_.size() > 48) frameCache_.remove(frameCacheOrder_.takeFirst());
  return img;
}

QVector<int> VideoSession::objectIds() const {
  QVector<int> ids;
  for (const auto& p : prompts_)
    if (!ids.contains(p.objId)) ids.push_back(p.objId);
  std::sort(ids.begin(), ids.end());
  return ids;
}

void VideoSession::clearResults() {
  ++epoch_;
  cache_.clear();
  fullCache_.clear();
  Q_EMIT resultsCleared();
}

void VideoSession::reapplyAll() {
  if (!hasVideo()) return;
  runner_.cancel(kPropagate());
  const quint64 mySeq = ++seq_;
  auto E = engine_;
  const auto target = prompts_;
  auto out = std::make_shared<std::vector<Applied>>();
  start(QStringLiteral("video-prompt"), tr("Apply prompts"),
        [E, target, mySeq, out](cs::JobContext& job) {
          job.progress(0.0, "prompting");
          std::lock_guard<std::mutex> lock(E->mu);
          *out = syncPrompts(*E, target, mySeq, false);
        },
        [this, out] {
          // results of tracked frames are stale after a prompt change; show the prompt masks
          clearResults();
          for (auto& a : *out) {
            auto& r = cache_[a.key.first];
            r.frame = a.key.first;
            r.prompted = true;
            r.objects.push_back(a.eff);  // ascending (frame, object) keys: sorted by object
          }
          for (auto it = cache_.begin(); it != cache_.end(); ++it) Q_EMIT frameReady(it.key(), false);
        });
}

void VideoSession::applyFrameObject(int, int) { reapplyAll(); }

void VideoSession::addPoint(int frame, int objId, QPointF p, bool positive) {
  if (!hasVideo() || frame < 0 || frame >= numFrames_) return;
  VideoPrompt v;
  v.kind = VideoPrompt::Point;
  v.frame = frame;
  v.objId = objId;
  v.point = p;
  v.positive = positive;
  prompts_.push_back(v);
  Q_EMIT promptsChanged();
  applyFrameObject(frame, objId);
}

void VideoSession::addBox(int frame, int objId, QRectF box) {
  if (!hasVideo() || frame < 0 || frame >= numFrames_) return;
  VideoPrompt v;
  v.kind = VideoPrompt::Box;
  v.frame = frame;
  v.objId = objId;
  v.box = box.normalized();
  prompts_.push_back(v);
  Q_EMIT promptsChanged();
  applyFrameObject(frame, objId);
}

void VideoSession::undo() {
  if (prompts_.isEmpty()) return;
  prompts_.removeLast();
  Q_EMIT promptsChanged();
  reapplyAll();
}

void VideoSession::reset() {
  prompts_.clear();
  Q_EMIT promptsChanged();
  reapplyAll();
  clearResults();
}

void VideoSession::propagate(bool reverse, int maxFrames) {
  if (!hasVideo() || prompts_.isEmpty()) {
    Q_EMIT failed(tr("Propagate"), tr("add a point or a box on an object first"));
    return;
  }
  auto E = engine_;
  const bool cmp = compare_;
  struct Out {
    int frames = 0, fullFrames = 0;
    double secs = 0, fullSecs = 0;
  };
  auto out = std::make_shared<Out>();
  VideoSession* self = this;  // runner_ (a member) joins every job before this dies
  const int total = maxFrames > 0 ? std::min(maxFrames, numFrames_) : numFrames_;
  const quint64 epoch = epoch_;
  const cs::Sam2Efficiency eff = eff_;
  const QString modelPath = modelPath_;
  Q_EMIT propagateStarted();
  runner_.start(
      kPropagate(), tr("Propagate"),
      [E, cmp, out, self, reverse, maxFrames, total, epoch, eff, modelPath](cs::JobContext& job) {
        std::lock_guard<std::mutex> lock(E->mu);
        if (!E->eff) throw cs::EngineError(cs::Error::failed("no video is open"));
        // the settings of the moment propagate was asked for, whichever settings job ran last
        applyEfficiency(*E, eff, modelPath, false);
        auto run = [&](cs::Sam2VideoSession& s, bool full, int* frames, double* secs, double lo, double hi) {
          const auto t0 = std::chrono::steady_clock::now();
          auto st = s.propagate(
              job,
              [&](const cs::Sam2FrameResult& r) {
                ++*frames;
                job.progress(lo + (hi - lo) * double(*frames) / std::max(1, total),
                             (full ? "full model, frame " : "frame ") + std::to_string(r.frame));
                auto res = toResult(r);
                QMetaObject::invokeMethod(
                    self, [self, res, full, epoch] { self->deliver(res, full, epoch); }, Qt::QueuedConnection);
              },
              reverse, -1, maxFrames);
          *secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          if (!st) throwIf(st.error());
        };
        if (cmp) {
          job.progress(0.0, "opening the full model's session");
          ensureFull(*E);
        }
        const bool withFull = cmp && E->full;
        run(*E->eff, false, &out->frames, &out->secs, 0.0, withFull ? 0.5 : 1.0);
        if (withFull) run(*E->full, true, &out->fullFrames, &out->fullSecs, 0.5, 1.0);
      },
      [this, out](bool cancelled, const QString& error) {
        if (out->frames) fps_ = out->frames / std::max(out->secs, 1e-9);
        if (out->fullFrames) fullFps_ = out->fullFrames / std::max(out->fullSecs, 1e-9);
        lastFrames_ = out->frames;
        if (!cancelled && !error.isEmpty()) Q_EMIT failed(tr("Propagate"), error);
        Q_EMIT propagateFinished(cancelled || !error.isEmpty(), out->frames);
      });
}

void VideoSession::deliver(std::shared_ptr<VideoFrameResult> r, bool full, quint64 epoch) {
  if (epoch != epoch_) return;  // a frame of a run whose results were cleared since
  // a frame holding prompts keeps the prompt masks of its prompted objects
  if (!full) {
    auto it = cache_.find(r->frame);
    if (it != cache_.end() && it->prompted) r->prompted = true;
  }
  (full ? fullCache_ : cache_)[r->frame] = *r;
  Q_EMIT frameReady(r->frame, full);
}

void VideoSession::cancel() { runner_.cancel(); }

void VideoSession::setEfficiency(const cs::Sam2Efficiency& e) {
  eff_ = e;
  auto E = engine_;
  const QString modelPath = modelPath_;
  start(QStringLiteral("video-efficiency"), tr("Efficient-SAM2 settings"), [E, e, modelPath](cs::JobContext&) {
    std::lock_guard<std::mutex> lock(E->mu);
    applyEfficiency(*E, e, modelPath, false);
  });
}

void VideoSession::setCompare(bool on) {
  compare_ = on;
  if (!on || !hasVideo()) return;
  auto E = engine_;
  const auto prompts = prompts_;
  start(QStringLiteral("video-compare"), tr("Open the full model's session"), [E, prompts](cs::JobContext&) {
    std::lock_guard<std::mutex> lock(E->mu);
    ensureFull(*E);
  });
}

const VideoFrameResult* VideoSession::result(int frame, bool full) const {
  const auto& c = full ? fullCache_ : cache_;
  auto it = c.find(frame);
  return it == c.end() ? nullptr : &it.value();
}

double VideoSession::iouWithFull(int frame) const {
  const auto* a = result(frame, false);
  const auto* b = result(frame, true);
  if (!a || !b || a->objects.isEmpty()) return std::nan("");
  double s = 0;
  int n = 0;
  for (const auto& o : a->objects) {
    const auto* f = b->object(o.objId);
    if (!f) continue;
    if (!o.present && !f->present) {
      s += 1;
    } else {
      s += maskIou(o.mask, f->mask);
    }
    ++n;
  }
  return n ? s / n : std::nan("");
}

QColor VideoSession::objectColor(int objId) {
  static const QColor c[] = {QColor(230, 25, 75),  QColor(60, 180, 75),  QColor(67, 99, 216), QColor(255, 225, 25),
                             QColor(245, 130, 49), QColor(145, 30, 180), QColor(66, 212, 244), QColor(240, 50, 230)};
  return c[(std::max(objId, 1) - 1) % 8];
}

}  // namespace cs::qt
