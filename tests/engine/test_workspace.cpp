// Workspace store: round trip across reopen, foreign and newer files rejected.
#include <SQLiteCpp/SQLiteCpp.h>

#include <QtTest/QtTest>
#include <fstream>

#include "engine/workspace.h"

using namespace cs;

class TestWorkspace : public QObject {
  Q_OBJECT
  QTemporaryDir dir;
  std::string p(const char* n) { return (dir.path() + "/" + n).toStdString(); }

 private Q_SLOTS:
  void roundTrip() {
    const auto path = p("ws.cstudio");
    {
      auto ws = Workspace::open(path);
      QVERIFY(ws.ok());
      QVERIFY((*ws)->addModel("vit-fmnist", "/x/model.safetensors").ok());
      QVERIFY((*ws)->addModel("vit-fmnist", "/y/model.safetensors").ok());  // idempotent by name
      RunRecord r;
      r.model = "vit-fmnist";
      r.method = "rtn";
      r.recipeJson = R"({"method":"rtn","params":{"wbits":8}})";
      r.metricsJson = R"({"fp_accuracy":0.9,"q_accuracy":0.89})";
      r.seconds = 1.5;
      auto id = (*ws)->addRun(r);
      QVERIFY(id.ok());
      QVERIFY((*ws)->setValue("layer", "blocks.0.mlp.fc1").ok());
    }
    auto ws = Workspace::open(path);
    QVERIFY(ws.ok());
    auto runs = (*ws)->runs();
    QVERIFY(runs.ok());
    QCOMPARE(runs->size(), size_t(1));
    QCOMPARE(runs->at(0).method, std::string("rtn"));
    QCOMPARE(runs->at(0).seconds, 1.5);
    QVERIFY(!runs->at(0).createdAt.empty());
    QCOMPARE((*ws)->value("layer"), std::string("blocks.0.mlp.fc1"));
    auto models = (*ws)->models();
    QCOMPARE(models->size(), size_t(1));
    QCOMPARE(models->at(0).source, std::string("/y/model.safetensors"));
    SQLite::Database& db = (*ws)->database();
    QCOMPARE(db.execAndGet("PRAGMA user_version").getInt(), Workspace::kSchemaVersion);
    QCOMPARE(db.execAndGet("PRAGMA journal_mode").getString(), std::string("wal"));
    QVERIFY((*ws)->deleteRun(runs->at(0).id).ok());
    QCOMPARE((*ws)->runs()->size(), size_t(0));
  }
  void rejectsForeignFile() {
    std::ofstream(p("junk.cstudio")) << "this is not a database, just text that is long enough to look like a header";
    auto ws = Workspace::open(p("junk.cstudio"));
    QVERIFY(!ws.ok());
    QVERIFY(ws.error().message.find("junk.cstudio") != std::string::npos);
  }
  void rejectsNewerSchema() {
    {
      SQLite::Database db(p("new.cstudio"), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      db.exec("PRAGMA user_version=99");
    }
    auto ws = Workspace::open(p("new.cstudio"));
    QVERIFY(!ws.ok());
    QVERIFY(ws.error().message.find("newer") != std::string::npos);
  }
  void twoConnectionsShareFile() {
    auto a = Workspace::open(p("shared.cstudio"));
    auto b = Workspace::open(p("shared.cstudio"));
    QVERIFY(a.ok() && b.ok());
    RunRecord r;
    r.model = "m";
    r.method = "rtn";
    r.recipeJson = "{}";
    QVERIFY((*a)->addRun(r).ok());
    QCOMPARE((*b)->runs()->size(), size_t(1));
  }
};

QTEST_GUILESS_MAIN(TestWorkspace)
#include "test_workspace.moc"
