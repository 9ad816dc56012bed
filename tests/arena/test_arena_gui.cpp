// Offscreen: the Arena tab over an output set: keyboard voting, undo, skip, reveal, leaderboard.
#include "app/gui/ArenaTab.h"
#include "arena/store.h"
#include "widgets/arena/ArenaLeaderboard.h"
#include "widgets/arena/ArenaMatrixView.h"
#include "widgets/arena/ArenaVotePanel.h"

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

QTEST_MAIN(TestArenaGui)
#include "test_arena_gui.moc"
