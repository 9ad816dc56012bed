// DemoScript: drives the main window through the demo: open the zoo model, select a
// layer, calibrate, run RTN W8A8 (per-channel weights), wait for every job, and
// optionally save a PNG of the window. Used by `--demo [--screenshot FILE]` and tests.
// Emits finished(exitCode, message) once (0 = success).
#pragma once
#include <QObject>
#include <QString>
#include <QTimer>

namespace cs::gui {
class MainWindow;

struct DemoOptions {
  QString model = QStringLiteral("vit-fmnist");
  QString layer = QStringLiteral("blocks.0.mlp.fc1");
  int calibrationImages = 256;
  int evalImages = 10000;
  bool quantize = true;     // false: stop after selecting the layer
  QString screenshot;       // empty: no screenshot
  int timeoutMs = 15 * 60 * 1000;
};

class DemoScript : public QObject {
  Q_OBJECT
 public:
  DemoScript(MainWindow* window, DemoOptions options, QObject* parent = nullptr);
  void start();

 Q_SIGNALS:
  void finished(int exitCode, const QString& message);

 private:
  void step(const QString& what);
  void onModelOpened();
  void onCalibrated();
  void onQuantized();
  void finishWhenIdle();
  void done(int code, const QString& message);

  MainWindow* window_;
  DemoOptions opt_;
  QTimer timeout_;
  bool finished_ = false;
  bool quantizeStarted_ = false;
  bool weightOnly_ = false;
};

}  // namespace cs::gui
