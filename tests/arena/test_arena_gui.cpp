// Offscreen: the Arena tab over an output set: keyboard voting, undo, skip, reveal, leaderboard.
#include "app/gui/ArenaTab.h"
#include "arena/store.h"
#include "widgets/arena/ArenaLeaderboard.h"
#include "widgets/arena/ArenaMatrixView.h"
#include "widgets/arena/ArenaVotePanel.h"
#include "widgets/arena/ArenaImageView.h"
#include "widgets/arena/ArenaPlotView.h"
#include "widgets/QCustomPlotInclude.h"
#ifdef CS_ARENA_STUDIO
#include "core/ArenaGenerate.h"
#include "engine/data.h"
#endif

#include <QPlainTextEdit>
#include <QWheelEvent>

#include <QImage>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest/QtTest>
#include <fstream>

class TestArenaGui : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase();
  void panelKeyboard();
  void voteThroughTheTab();
  void backgroundJobs();
  void synchronizedZoom();
  void splitSlider();
  void textOutputsReadable();
  void plotsReceivePoints();
  void screenshot();

 private:
  QTemporaryDir dir;
  QString set;
};

void TestArenaGui::initTestCase() {
  set = dir.filePath("outputs");
  const QStringList models = {"fp", "w8a8", "w4a8", "cache", "eda"};
  std::ofstream(QString(set + "/prompts.jsonl").toStdString());
  QDir().mkpath(set);
  std::ofstream(QString(set + "/prompts.jsonl").toStdString()) << "{\"id\": \"c0\", \"text\": \"T-shirt\", \"class\": 0}\n"
                                                                  "{\"id\": \"c7\", \"text\": \"Sneaker\", \"class\": 7}\n";
  for (int m = 0; m < models.size(); ++m) {
    QDir().mkpath(set + "/" + models[m]);
    for (const QString p : {"c0", "c7"}) {
      QImage img(28, 28, QImage::Format_Grayscale8);
      img.fill(40 * m);
      QVERIFY(img.save(set + "/" + models[m] + "/" + p + ".png"));
    }
  }
}

void TestArenaGui::panelKeyboard() {
  cs::widgets::ArenaVotePanel panel;
  panel.setOutputs("p", {"a", "b", "c", "d"});
  QSignalSpy submitted(&panel, &cs::widgets::ArenaVotePanel::rankSubmitted);
  QSignalSpy skipped(&panel, &cs::widgets::ArenaVotePanel::skipRequested);
  QTest::keyClick(&panel, Qt::Key_3);
  QTest::keyClick(&panel, Qt::Key_1);
  QTest::keyClick(&panel, Qt::Key_4, Qt::ShiftModifier);  // tie with the previous
  QCOMPARE(panel.ranks(), (QVector<int>{2, 0, 1, 2}));
  QTest::keyClick(&panel, Qt::Key_Backspace);
  QCOMPARE(panel.ranks(), (QVector<int>{2, 0, 1, 0}));
  QTest::keyClick(&panel, Qt::Key_1);  // already ranked: ignored
  QTest::keyClick(&panel, Qt::Key_Return);
  QCOMPARE(submitted.size(), 1);
  QCOMPARE(submitted[0][0].value<QVector<int>>(), (QVector<int>{2, 3, 1, 3}));  // unranked share the next rank
  QTest::keyClick(&panel, Qt::Key_N);
  QCOMPARE(skipped.size(), 1);
}

void TestArenaGui::voteThroughTheTab() {
  const QString ws = dir.filePath("ws.db");
  cs::gui::ArenaTab tab;
  QVERIFY(tab.openWorkspace(ws));
  const qint64 sid = tab.createSessionFromOutputSet(set, 4);
  QVERIFY2(sid > 0, qPrintable(tab.statusText()));
  QVERIFY(tab.nextMatch());
  QCOMPARE(tab.votePanel()->slotCount(), 4);
  const qint64 skippedMatch = tab.currentMatch();
  QTest::keyClick(tab.votePanel(), Qt::Key_N);  // skip: a new match
  QVERIFY(tab.currentMatch() != skippedMatch);
  for (int round = 0; round < 3; ++round) {
    for (auto key : {Qt::Key_2, Qt::Key_1, Qt::Key_4, Qt::Key_3}) QTest::keyClick(tab.votePanel(), key);
    QTest::keyClick(tab.votePanel(), Qt::Key_Enter);
    QVERIFY2(tab.statusText().contains("stored"), qPrintable(tab.statusText()));
    QVERIFY(tab.nextMatch());
  }
  arena::Store store(ws.toStdString());
  const auto votes = store.votes(sid);
  QCOMPARE(votes.size(), size_t(3));
  QCOMPARE(votes[0].ranks, (std::vector<int>{2, 1, 4, 3}));
  QCOMPARE(votes[0].judge, std::string("me"));
  QCOMPARE(tab.leaderboard()->table()->rowCount(), 5);
  QCOMPARE(tab.matrix()->table()->rowCount(), 5);
  int total = 0;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j)
      if (auto* it = tab.matrix()->table()->item(i, j); it && !it->text().isEmpty()) total += it->text().toInt();
  QCOMPARE(total, 3 * 6 * 2);  // 3 rank votes x C(4,2) pairs, counted in both cells
  tab.setPersonal(true);  // the judge "me" cast all of them
  QCOMPARE(tab.leaderboard()->table()->rowCount(), 5);
}

void TestArenaGui::backgroundJobs() {
  cs::gui::ArenaTab tab;
  QVERIFY(tab.startSimulation(10, 2));
  QVERIFY(!tab.startEvalStudy(8, 1));  // one job at a time
  QVERIFY(tab.waitForJob(60000));
  QVERIFY2(tab.jobResult().contains("Elo"), qPrintable(tab.jobResult()));
  QVERIFY(tab.startEvalStudy(10, 1));
  tab.cancelJob();
  QVERIFY(tab.waitForJob(60000));
  {
    cs::gui::ArenaTab closing;  // destroyed while its job runs: cancels and waits
    QVERIFY(closing.startSimulation(10, 2));
  }
}

namespace {
QString solidImage(const QString& path, int gray, bool gradient = false) {
  QImage img(28, 28, QImage::Format_Grayscale8);
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) img.setPixel(x, y, qRgb(gradient ? x * 9 : gray, gradient ? x * 9 : gray, gradient ? x * 9 : gray));
  img.save(path);
  return path;
}
}  // namespace

void TestArenaGui::synchronizedZoom() {
  cs::widgets::ArenaVotePanel panel;
  QStringList outs;
  for (int i = 0; i < 3; ++i) outs << solidImage(dir.filePath(QString("g%1.png").arg(i)), 0, true);
  panel.setOutputs("p", outs);
  panel.resize(900, 400);
  panel.show();
  QVERIFY(QTest::qWaitForWindowExposed(&panel));
  for (int i = 0; i < 3; ++i) QCOMPARE(panel.imageView(i)->sync(), panel.zoomSync());
  const QImage before = panel.imageView(2)->grab().toImage();
  auto* v0 = panel.imageView(0);
  const QPointF at(v0->width() * 0.25, v0->height() * 0.5);
  QWheelEvent wheel(at, v0->mapToGlobal(at), QPoint(), QPoint(0, 480), Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
  QApplication::sendEvent(v0, &wheel);
  QVERIFY(panel.zoomSync()->zoom() > 1.5);
  QVERIFY(panel.zoomSync()->center().x() < 0.5);  // zoomed about a point left of the centre
  const QImage after = panel.imageView(2)->grab().toImage();
  QVERIFY(before != after);  // slot 3 follows the wheel on slot 1
  // The horizontal gradient: zoomed into the left part, slot 3's centre pixel is darker than before.
  QVERIFY(qGray(after.pixel(after.width() / 2, after.height() / 2)) < qGray(before.pixel(before.width() / 2, before.height() / 2)));
  // Drag on slot 2 pans everyone; a click without drag ranks the slot instead.
  const QPointF c0 = panel.zoomSync()->center();
  auto* v1 = panel.imageView(1);
  QTest::mousePress(v1, Qt::LeftButton, {}, QPoint(100, 100));
  QTest::mouseMove(v1, QPoint(60, 100));
  QTest::mouseRelease(v1, Qt::LeftButton, {}, QPoint(60, 100));
  QVERIFY(panel.zoomSync()->center().x() > c0.x());
  QCOMPARE(panel.ranks(), (QVector<int>{0, 0, 0}));
  QTest::mouseClick(v1, Qt::LeftButton, {}, QPoint(50, 50));
  QCOMPARE(panel.ranks(), (QVector<int>{0, 1, 0}));
  QTest::mouseDClick(v1, Qt::LeftButton, {}, QPoint(50, 50));
  QCOMPARE(panel.zoomSync()->zoom(), 1.0);
}

void TestArenaGui::splitSlider() {
  cs::widgets::ArenaVotePanel panel;
  panel.setOutputs("p", {solidImage(dir.filePath("black.png"), 0), solidImage(dir.filePath("white.png"), 255)});
  QVERIFY(panel.splitAvailable());
  panel.setSplitMode(true);
  QVERIFY(panel.splitMode());
  panel.resize(500, 520);
  panel.show();
  QVERIFY(QTest::qWaitForWindowExposed(&panel));
  auto* split = panel.splitView();
  const int w = split->width(), h = split->height();
  QVERIFY(w > 100 && h > 100);
  QImage img = split->grab().toImage();
  QCOMPARE(qGray(img.pixel(w / 4, h / 2)), 0);        // A (black) left of the divider at 50%
  QCOMPARE(qGray(img.pixel(3 * w / 4, h / 2)), 255);  // B (white) right of it
  QSignalSpy moved(split, &cs::widgets::ArenaSplitView::dividerMoved);
  QTest::mousePress(split, Qt::LeftButton, {}, QPoint(9 * w / 10, h / 2));  // drag the divider to 90%
  QCOMPARE(moved.size(), 1);
  QVERIFY(std::abs(split->divider() - 0.9) < 0.01);
  img = split->grab().toImage();
  QCOMPARE(qGray(img.pixel(3 * w / 4, h / 2)), 0);  // now A is revealed there
  // Keyboard voting still works in split mode; three outputs make it unavailable.
  QTest::keyClick(&panel, Qt::Key_2);
  QCOMPARE(panel.ranks(), (QVector<int>{0, 1}));
  panel.setOutputs("p", {dir.filePath("black.png"), dir.filePath("white.png"), dir.filePath("black.png")});
  QVERIFY(!panel.splitAvailable());
  QVERIFY(!panel.splitMode());
}

void TestArenaGui::textOutputsReadable() {
  const QString f = dir.filePath("story.txt");
  std::ofstream(f.toStdString()) << "Once upon a time there was a very long story that wraps over several lines.";
  cs::widgets::ArenaVotePanel panel;
  panel.setOutputs("Once", {f, f});
  QVERIFY(panel.textView(0) != nullptr);
  QVERIFY(panel.imageView(0) == nullptr);
  QVERIFY(panel.textView(1)->toPlainText().startsWith("Once upon a time"));
  QVERIFY(!panel.splitAvailable());
  QTest::mouseClick(panel.textView(1)->viewport(), Qt::LeftButton);
  QCOMPARE(panel.ranks(), (QVector<int>{0, 1}));
}

void TestArenaGui::plotsReceivePoints() {
  cs::widgets::ArenaPlotView view;
  view.setSeries("t", "x", "y", {{"a", {1, 2, 3}, {3, 2, 1}}, {"b", {1, 2}, {0, 1}, true}}, true);
  QCOMPARE(view.plot()->graphCount(), 2);
  QCOMPARE(view.plot()->graph(0)->data()->size(), 3);
  QCOMPARE(view.plot()->xAxis->scaleType(), QCPAxis::stLogarithmic);
  cs::gui::ArenaTab tab;
  QVERIFY(tab.startSimulation(10, 2));
  QVERIFY(tab.waitForJob(60000));
  const auto& series = tab.plotView()->series();
  QVERIFY(series.size() >= 5);  // one curve per simulator arm
  bool hasElo = false;
  for (const auto& s : series) {
    hasElo = hasElo || s.name.contains("Elo");
    QVERIFY(!s.x.isEmpty());
    QCOMPARE(s.x.size(), s.y.size());
    for (int i = 1; i < s.x.size(); ++i) QVERIFY(s.x[i] > s.x[i - 1]);
    for (double y : s.y) QVERIFY(y >= 0);
  }
  QVERIFY(hasElo);
  QCOMPARE(tab.plotView()->plot()->graphCount(), series.size());
}

// Renders the tab on a session of real Fashion-MNIST outputs (when the engine helpers are built) and saves it
// to $CS_ARENA_SCREENSHOT (docs/screenshots/arena.png) or the temporary folder.
void TestArenaGui::screenshot() {
  QString set2 = set;
#ifdef CS_ARENA_STUDIO
  if (QFileInfo::exists(QString::fromStdString(cs::fashionMnistDirectory()))) {
    set2 = dir.filePath("ref");
    cs::arenastudio::writeFmnistReferenceSet(set2.toStdString(), 20);
  }
#endif
  cs::gui::ArenaTab tab;
  tab.resize(1500, 820);
  QVERIFY(tab.openWorkspace(dir.filePath("shot.db")));
  QVERIFY(tab.createSessionFromOutputSet(set2, 4) > 0);
  for (int i = 0; i < 6; ++i) {
    QVERIFY(tab.nextMatch());
    for (auto key : {Qt::Key_1, Qt::Key_2, Qt::Key_3, Qt::Key_4}) QTest::keyClick(tab.votePanel(), key);
    QTest::keyClick(tab.votePanel(), Qt::Key_Enter);
  }
#ifdef CS_ARENA_STUDIO
  if (set2 != set) {  // the classifier as an automatic judge of the image outputs
    QVERIFY(tab.nextMatch());
    QVERIFY2(tab.autoVote(), qPrintable(tab.statusText()));
    arena::Store st(dir.filePath("shot.db").toStdString());
    const auto votes = st.votes(0);
    QCOMPARE(votes.back().judge, std::string("classifier:vit-fmnist"));
    std::vector<int> ranks = votes.back().ranks;
    std::sort(ranks.begin(), ranks.end());
    QCOMPARE(ranks, (std::vector<int>{1, 2, 3, 4}));
  }
#endif
  QVERIFY(tab.startSimulation(12, 2));
  QVERIFY(tab.waitForJob(60000));
  QVERIFY(tab.nextMatch());
  tab.votePanel()->zoomSync()->zoomAt(1.6, QPointF(0.5, 0.45));
  tab.show();
  QVERIFY(QTest::qWaitForWindowExposed(&tab));
  const QImage shot = tab.grab().toImage();
  QVERIFY(!shot.isNull() && shot.width() >= 1000);
  const QString out = qEnvironmentVariableIsSet("CS_ARENA_SCREENSHOT") ? qEnvironmentVariable("CS_ARENA_SCREENSHOT")
                                                                       : dir.filePath("arena.png");
  QVERIFY2(shot.save(out), qPrintable(out));
}

QTEST_MAIN(TestArenaGui)
#include "test_arena_gui.moc"
