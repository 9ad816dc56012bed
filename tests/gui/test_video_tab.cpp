// The Video tab end to end, offscreen, on a synthetic clip (sam2-micro's generator, exact
// masks) with the zoo's sam2-micro: open the frames, click the object (a real mouse click
// on the frame view), propagate 6 frames, check a mask on every frame overlapping the
// ground truth, turn SWR + SMR and "compare with full" on, propagate again and check the
// routing and retention data the overlays draw, the IoU plot, undo, export. Then the same
// clip as an MJPG .avi (OpenCV decoding), a box dragged with the mouse on the last frame and
// Backward propagation.
// With CS_VIDEO_SCREENSHOTS=DIR it also saves the screenshots of docs/screenshots/ (and,
// when ../shared/data/videos/bedroom exists, one on that real video).
// Skips (with a message) only when sam2-micro's weights are absent.
#include <QApplication>
#include <QCheckBox>
#include <QMouseEvent>
#include <QDir>
#include <QFileInfo>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <filesystem>

#include "app/gui/VideoTab.h"
#include "engine/runtime.h"
#include "engine/sam2_micro.h"
#include "widgets/video/FrameView.h"
#include "widgets/video/IouPlot.h"
#include "widgets/video/Timeline.h"

using namespace cs::gui;

namespace {
constexpr int kFrames = 6;
// Held-out clip 1000001 (test split), object 1. sam2-micro (J&F 0.838 on held-out clips, its model
// card) tracks it; a failure here means the tab's plumbing broke (or a retrained model got
// worse on this clip).
const uint64_t kSeed =
    qEnvironmentVariableIsSet("CS_VIDEO_SEED") ? qEnvironmentVariable("CS_VIDEO_SEED").toULongLong() : 1000001;

bool waitPropagation(VideoTab& tab, int timeoutMs) {
  QSignalSpy done(tab.session(), &cs::qt::VideoSession::propagateFinished);
  tab.propagate(false);
  if (!done.wait(timeoutMs)) return false;
  return !done.first().at(0).toBool();  // not stopped
}

QString shotDir() { return qEnvironmentVariable("CS_VIDEO_SCREENSHOTS"); }

void shot(QWidget& w, const QString& name) {
  if (shotDir().isEmpty()) return;
  QDir().mkpath(shotDir());
  QTest::qWait(50);
  const QImage img = w.grab().toImage();
  QVERIFY2(img.save(QDir(shotDir()).filePath(name)), qPrintable(name));
}
}  // namespace

class TestVideoTab : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  cs::SynthVideo video_;
  QPoint click_;

 private Q_SLOTS:
  void initTestCase() {
    cs::initRuntime();
    if (!QFileInfo::exists(QString::fromStdString(cs::sam2MicroPath())))
      QSKIP("the zoo's sam2-micro is absent (train it with `cstudio train sam2-micro`)");
    QVERIFY(dir_.isValid());
    auto v = cs::synthVideo(kSeed, kFrames, "test", 128);
    QVERIFY2(v.ok(), v ? "" : v.error().message.c_str());
    video_ = std::move(v.value());
    auto st = cs::writeSynthVideo(video_, dir_.path().toStdString());
    QVERIFY2(st.ok(), st ? "" : st.error().message.c_str());
    auto [x, y] = cs::synthDeepestPixel(video_, 0, 0);
    click_ = QPoint(x, y);
  }

  void clickPropagateSwr() {
    VideoTab tab;
    tab.resize(1500, 950);
    tab.show();
    QVERIFY(QTest::qWaitForWindowExposed(&tab));
    auto* s = tab.session();
    tab.openVideo(dir_.filePath(QStringLiteral("frames")));
    QTRY_VERIFY_WITH_TIMEOUT(s->hasVideo(), 30000);
    QVERIFY(s->hasModel());
    QCOMPARE(s->numFrames(), kFrames);
    QCOMPARE(s->frameSize(), QSize(128, 128));
    QVERIFY(!tab.efficientView()->frame().isNull());

    // a real left click on the object, in widget coordinates
    auto* view = tab.efficientView();
    const QPoint wpos = view->toWidget(QPointF(click_) + QPointF(0.5, 0.5)).toPoint();
    QTest::mouseClick(view, Qt::LeftButton, Qt::NoModifier, wpos);
    QCOMPARE(s->prompts().size(), 1);
    QVERIFY(std::abs(s->prompts()[0].point.x() - click_.x()) <= 1.0);
    QTRY_VERIFY_WITH_TIMEOUT(s->result(0) && s->result(0)->object(1), 20000);
    QVERIFY(s->result(0)->object(1)->area > 0);

    // propagate the 6 frames: a mask on every frame, overlapping the object's true mask
    QVERIFY(waitPropagation(tab, 60000));
    QCOMPARE(s->cachedFrames(), kFrames);
    tab.setCurrentFrame(3);
    shot(tab, QStringLiteral("video_synthetic_masks.png"));
    for (int f = 0; f < kFrames; ++f) {
      const auto* r = s->result(f);
      QVERIFY2(r && r->object(1), qPrintable(QStringLiteral("frame %1 has no mask").arg(f)));
      const auto* o = r->object(1);
      QCOMPARE(o->mask.size(), QSize(128, 128));
      qint64 gt = 0, hit = 0;
      for (int i = 0; i < 128 * 128; ++i) {
        const bool g = video_.label[f][i] == 1;
        gt += g;
        hit += g && o->mask.constScanLine(i / 128)[i % 128];
      }
      if (gt > 0) {
        QVERIFY2(o->present && o->area > 0, qPrintable(QStringLiteral("frame %1: empty mask").arg(f)));
        QVERIFY2(hit > 0, qPrintable(QStringLiteral("frame %1: the mask (%2 px) misses the object (%3 px, click %4,%5)")
                                         .arg(f).arg(o->area).arg(gt).arg(click_.x()).arg(click_.y())));
      }
    }
    for (qint8 st : tab.timeline()->tracks().value(0).state) QVERIFY(st >= 0);
    // plain SAM 2.1: no routing data
    QCOMPARE(s->result(3)->stats.gridW, 0);

    // SWR and SMR on, compared with the full model
    tab.swrCheck()->setChecked(true);
    tab.smrCheck()->setChecked(true);
    tab.compareCheck()->setChecked(true);
    QVERIFY(s->efficiency().swr && s->efficiency().smr);
    QVERIFY(waitPropagation(tab, 60000));
    QCOMPARE(s->cachedFrames(true), kFrames);
    int routedFrames = 0, smrFrames = 0;
    for (int f = 1; f < kFrames; ++f) {
      const auto& st = s->result(f)->stats;
      if (st.gridW > 0 && st.selected.size() == size_t(st.gridW * st.gridH)) ++routedFrames;
      if (!st.memory.empty()) ++smrFrames;
    }
    QVERIFY2(routedFrames > 0, "SWR on: no frame carries a window grid");
    tab.swrOverlayCheck()->setChecked(true);
    tab.setCurrentFrame(kFrames - 1);
    QVERIFY(tab.efficientView()->showSwr());
    QVERIFY(tab.efficientView()->swrWindowCount() > 0);
    QVERIFY(tab.fullView()->isVisible());
    QVERIFY(tab.iouPlot()->isVisible());
    QVERIFY(tab.iouPlot()->pointCount() > 0);
    QVERIFY(tab.iouPlot()->meanIou() > 0 && tab.iouPlot()->meanIou() <= 1.0);
    QVERIFY(s->framesPerSecond() > 0 && s->framesPerSecond(true) > 0);
    shot(tab, QStringLiteral("video_swr_overlay.png"));
    tab.swrOverlayCheck()->setChecked(false);
    tab.smrOverlayCheck()->setChecked(true);
    for (int f = kFrames - 1; f >= 1; --f) {
      tab.setCurrentFrame(f);
      if (tab.efficientView()->smrHeatCount() > 0) break;
    }
    // frames 3.. use pruned memory frames (measured as the newest one step earlier)
    QVERIFY2(smrFrames > 0, "SMR on: no frame carries kept-token maps");
    QVERIFY(tab.efficientView()->smrHeatCount() > 0);

    // export, then undo (Ctrl+Z) removes the prompt
    QTemporaryDir out;
    QString err;
    QCOMPARE(s->exportMasks(out.filePath(QStringLiteral("masks")), &err), kFrames);
    QVERIFY2(err.isEmpty(), qPrintable(err));
    QImage m(out.filePath(QStringLiteral("masks/00003.png")));
    QCOMPARE(m.size(), QSize(128, 128));
    const QString written = s->exportAnnotated(out.filePath(QStringLiteral("annotated.avi")), 10, &err);
    QVERIFY2(!written.isEmpty(), qPrintable(err));
    tab.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&tab));
    tab.efficientView()->setFocus();
    QTest::keyClick(tab.efficientView(), Qt::Key_Z, Qt::ControlModifier);
    QCOMPARE(s->prompts().size(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(s->cachedFrames(), 0, 20000);
    s->waitForIdle(20000);
  }

  // A video FILE (MJPG .avi written by the tab's own export, no prompts so no overlays),
  // decoded by OpenCV; a box drawn with the mouse (press, move, release) on the LAST frame;
  // Backward propagation from there: a result on every frame, the box's mask on the object.
  void videoFileBoxBackward() {
    QTemporaryDir out;
    QString avi;
    {
      VideoTab tab;
      tab.openVideo(dir_.filePath(QStringLiteral("frames")));
      QTRY_VERIFY_WITH_TIMEOUT(tab.session()->hasVideo(), 30000);
      QString err;
      avi = tab.session()->exportAnnotated(out.filePath(QStringLiteral("clip.avi")), 10, &err);
      QVERIFY2(!avi.isEmpty(), qPrintable(err));
      if (!avi.endsWith(QStringLiteral(".avi"))) QSKIP("OpenCV here cannot write MJPG .avi (export fell back to PNG frames)");
    }
    VideoTab tab;
    tab.resize(1500, 950);
    tab.show();
    QVERIFY(QTest::qWaitForWindowExposed(&tab));
    auto* s = tab.session();
    tab.openVideo(avi);
    QTRY_VERIFY_WITH_TIMEOUT(s->hasVideo(), 30000);
    QCOMPARE(s->numFrames(), kFrames);
    QCOMPARE(s->frameSize(), QSize(128, 128));
    const int last = kFrames - 1;
    tab.setCurrentFrame(last);
    QVERIFY(!tab.efficientView()->frame().isNull());

    // the object's box on the last frame, from the ground truth, dragged in widget coordinates
    int x0 = 128, y0 = 128, x1 = -1, y1 = -1;
    for (int i = 0; i < 128 * 128; ++i)
      if (video_.label[last][i] == 1) {
        x0 = std::min(x0, i % 128), x1 = std::max(x1, i % 128);
        y0 = std::min(y0, i / 128), y1 = std::max(y1, i / 128);
      }
    QVERIFY2(x1 >= 0, "object 1 is not visible on the last frame of the clip");
    auto* view = tab.efficientView();
    const QPoint a = view->toWidget(QPointF(x0, y0)).toPoint(), b = view->toWidget(QPointF(x1 + 1, y1 + 1)).toPoint();
    QTest::mousePress(view, Qt::LeftButton, Qt::NoModifier, a);
    QMouseEvent move(QEvent::MouseMove, QPointF(b), view->mapToGlobal(QPointF(b)), Qt::NoButton, Qt::LeftButton,
                     Qt::NoModifier);
    QApplication::sendEvent(view, &move);
    QTest::mouseRelease(view, Qt::LeftButton, Qt::NoModifier, b);
    QCOMPARE(s->prompts().size(), 1);
    const auto& pr = s->prompts()[0];
    QCOMPARE(pr.kind, cs::qt::VideoPrompt::Box);
    QCOMPARE(pr.frame, last);
    QVERIFY(std::abs(pr.box.left() - x0) <= 2 && std::abs(pr.box.bottom() - (y1 + 1)) <= 2);
    QTRY_VERIFY_WITH_TIMEOUT(s->result(last) && s->result(last)->object(1), 20000);

    // Backward: every frame gets a result; the box's mask and the frames tracked backwards
    // lie on the object (session-6 sam2-micro: IoU 0.74 on the boxed frame, 0.24-0.61 on the
    // MJPG-compressed frames before it; the session-5 weights gave an empty box mask).
    QSignalSpy done(s, &cs::qt::VideoSession::propagateFinished);
    tab.propagate(true);
    QVERIFY(done.wait(60000));
    QVERIFY(!done.first().at(0).toBool());
    QCOMPARE(s->cachedFrames(), kFrames);
    auto iouAt = [&](int f) {
      const auto* o = s->result(f)->object(1);
      qint64 inter = 0, uni = 0;
      for (int i = 0; i < 128 * 128; ++i) {
        const bool g = video_.label[f][i] == 1, m = o->mask.constScanLine(i / 128)[i % 128] != 0;
        inter += g && m;
        uni += g || m;
      }
      return uni ? double(inter) / double(uni) : 0.0;
    };
    for (int f = 0; f < kFrames; ++f) {
      QVERIFY2(s->result(f) && s->result(f)->object(1), qPrintable(QStringLiteral("frame %1 has no result").arg(f)));
      const double iou = iouAt(f);
      qInfo("box on frame %d of the decoded .avi, Backward: frame %d IoU with the ground truth %.3f", last, f, iou);
      if (f == last) QVERIFY2(iou > 0.5, qPrintable(QStringLiteral("the box's own mask: IoU %1").arg(iou)));
      else QVERIFY2(iou > 0.0, qPrintable(QStringLiteral("frame %1: the tracked mask misses the object").arg(f)));
    }
    s->waitForIdle(20000);
  }

  // Screenshot on the real bedroom video (only with CS_VIDEO_SCREENSHOTS; no ground truth).
  // A real video (../shared/data/videos/bedroom, 960x540), two objects, SWR + SMR: the
  // routing and retention overlays have data. 10 frames; 30 and the two screenshots when
  // CS_VIDEO_SCREENSHOTS is set. The SMR checkbox is toggled right before propagate: the
  // settings job and the propagate job race for the engine (a CI run once propagated with
  // SWR on and SMR still off); propagate now applies the settings of the moment itself.
  void bedroomSwrSmr() {
    const QString bedroom = QStringLiteral(CS_SHARED_DIR "/data/videos/bedroom");
    if (!QFileInfo(bedroom).isDir()) QSKIP("../shared/data/videos/bedroom is absent");
    const int frames = shotDir().isEmpty() ? 10 : 30;
    VideoTab tab;
    tab.resize(1500, 950);
    tab.show();
    QVERIFY(QTest::qWaitForWindowExposed(&tab));
    auto* s = tab.session();
    tab.openVideo(bedroom);
    QTRY_VERIFY_WITH_TIMEOUT(s->hasVideo(), 60000);
    s->addPoint(0, 1, QPointF(400, 215), true);  // the girl's dress
    s->addPoint(0, 2, QPointF(225, 270), true);  // the boy's shirt
    QTRY_VERIFY_WITH_TIMEOUT(s->result(0) && s->result(0)->object(1) && s->result(0)->object(2), 30000);
    tab.swrCheck()->setChecked(true);
    tab.smrCheck()->setChecked(true);
    tab.swrOverlayCheck()->setChecked(true);
    QSignalSpy done(s, &cs::qt::VideoSession::propagateFinished);
    s->propagate(false, frames);
    QVERIFY(done.wait(300000));
    for (int f = 0; f < frames; ++f) QVERIFY2(s->result(f), qPrintable(QStringLiteral("no result on frame %1").arg(f)));
    tab.setCurrentFrame(frames - 1);
    QVERIFY(tab.efficientView()->swrWindowCount() > 0);
    shot(tab, QStringLiteral("video_bedroom_swr.png"));
    // SMR: the kept memory tokens of the memory frames used on that frame
    tab.swrOverlayCheck()->setChecked(false);
    tab.smrOverlayCheck()->setChecked(true);
    QVERIFY(tab.efficientView()->smrHeatCount() > 0);
    shot(tab, QStringLiteral("video_smr_overlay.png"));
  }
};

QTEST_MAIN(TestVideoTab)
#include "test_video_tab.moc"
