// Architecture rules of docs/ARCHITECTURE.md, checked on the source tree:
//  - engine/, compression/, arena/ never include Qt;
//  - app/ and widgets/ never include torch (torch/, ATen/, c10/, engine/torch/, compression/torch/);
//  - arena/ does not depend on compression/;
//  - widgets/ do not include app/gui.
#include <QtTest/QtTest>

class TestArchitecture : public QObject {
  Q_OBJECT
  QString root = CS_SOURCE_DIR;

  QStringList violations(const QString& dir, const QRegularExpression& forbidden) {
    QStringList bad;
    QDirIterator it(root + "/" + dir, {"*.h", "*.hpp", "*.cpp", "*.cc"}, QDir::Files, QDirIterator::Subdirectories);
    while (it.hasNext()) {
      QFile f(it.next());
      if (!f.open(QIODevice::ReadOnly)) continue;
      int n = 0;
      while (!f.atEnd()) {
        ++n;
        const QString line = QString::fromUtf8(f.readLine());
        if (line.trimmed().startsWith("#include") && forbidden.match(line).hasMatch())
          bad << QString("%1:%2: %3").arg(QDir(root).relativeFilePath(f.fileName())).arg(n).arg(line.trimmed());
      }
    }
    return bad;
  }
  void expectNone(const QStringList& bad) { QVERIFY2(bad.isEmpty(), qPrintable(bad.join("\n"))); }

 private Q_SLOTS:
  void coreIsQtFree() {
    QRegularExpression qt("#include\\s*[<\"](Q[A-Za-z]+|Qt[A-Za-z]*/|qcustomplot)");
    for (auto d : {"engine", "compression", "arena"}) expectNone(violations(d, qt));
  }
  void uiIsTorchFree() {
    QRegularExpression torch("#include\\s*[<\"](torch/|ATen/|c10/|engine/torch/|compression/torch/)");
    for (auto d : {"app", "widgets"}) expectNone(violations(d, torch));
  }
  void arenaDoesNotUseCompression() {
    expectNone(violations("arena", QRegularExpression("#include\\s*[<\"]compression/")));
  }
  void widgetsArePassive() {
    expectNone(violations("widgets", QRegularExpression("#include\\s*[<\"](app/gui|MainWindow)")));
  }
  void detectsAViolation() {
    // The checker itself must be able to fail.
    QTemporaryDir tmp;
    QDir().mkpath(tmp.path() + "/engine");
    QFile f(tmp.path() + "/engine/x.cpp");
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("#include <QString>\n");
    f.close();
    const QString saved = root;
    root = tmp.path();
    QCOMPARE(violations("engine", QRegularExpression("#include\\s*[<\"](Q[A-Za-z]+)")).size(), 1);
    root = saved;
  }
};

QTEST_GUILESS_MAIN(TestArchitecture)
#include "test_architecture.moc"
