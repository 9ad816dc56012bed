// compression-studio: the GUI. See --help.
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include <iostream>

#include "app/gui/DemoScript.h"
#include "app/gui/MainWindow.h"
#include "core/Conversions.h"
#include "core/Settings.h"
#include "engine/runtime.h"
#include "engine/workspace.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("compression-studio"));
  QApplication::setOrganizationName(QStringLiteral("CompressionStudio"));
  QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("Compression Studio: interactive model compression"));
  parser.addHelpOption();
  parser.addVersionOption();
  const QCommandLineOption demo(QStringLiteral("demo"),
                                QStringLiteral("Open the demo workspace and the zoo model vit-fmnist."));
  const QCommandLineOption screenshot(
      QStringLiteral("screenshot"),
      QStringLiteral("With --demo: calibrate, run RTN W8A8, save a PNG of the window to FILE and exit."),
      QStringLiteral("FILE"));
  const QCommandLineOption workspace(QStringLiteral("workspace"), QStringLiteral("Workspace file to open."),
                                     QStringLiteral("FILE"));
  const QCommandLineOption evalImages(QStringLiteral("eval-samples"),
                                      QStringLiteral("Test images for the demo's accuracy (default 10000)."),
                                      QStringLiteral("N"), QStringLiteral("10000"));
  const QCommandLineOption layer(QStringLiteral("layer"),
                                 QStringLiteral("With --demo: the layer to select (default blocks.0.mlp.fc1)."),
                                 QStringLiteral("NAME"));
  parser.addOptions({demo, screenshot, workspace, evalImages, layer});
  parser.addPositionalArgument(QStringLiteral("model"), QStringLiteral("Zoo model name or model file to open (with --demo: instead of vit-fmnist)."),
                               QStringLiteral("[model]"));
  parser.process(app);

  const bool headless = parser.isSet(screenshot);
  if (headless && !parser.isSet(demo)) {
    std::cerr << "compression-studio: --screenshot needs --demo\n";
    return 2;
  }
  if (headless) qputenv("CSTUDIO_NO_SETTINGS", "1");  // leave the user's preferences alone

  cs::initRuntime();

  cs::gui::MainWindow window;
  window.setInteractive(!headless);
  QString wsPath = parser.value(workspace);
  if (wsPath.isEmpty() && !parser.isSet(demo)) wsPath = cs::qt::settings::lastWorkspace().value();
  if (wsPath.isEmpty()) wsPath = cs::qt::toQString(cs::defaultWorkspacePath());
  QString error;
  if (!window.openWorkspace(wsPath, &error) && headless) {
    std::cerr << "compression-studio: " << error.toStdString() << '\n';
    return 1;
  }
  window.resize(1680, 1050);
  window.show();

  if (parser.isSet(demo)) {
    cs::gui::DemoOptions opt;
    opt.screenshot = parser.value(screenshot);
    opt.quantize = headless;
    opt.evalImages = parser.value(evalImages).toInt();
    if (!parser.positionalArguments().isEmpty()) opt.model = parser.positionalArguments().constFirst();
    if (parser.isSet(layer)) opt.layer = parser.value(layer);
    auto* script = new cs::gui::DemoScript(&window, opt, &window);
    QObject::connect(script, &cs::gui::DemoScript::finished, &app, [headless](int code, const QString& message) {
      if (code != 0) std::cerr << "compression-studio: " << message.toStdString() << '\n';
      if (headless) QCoreApplication::exit(code);
    });
    QTimer::singleShot(0, script, &cs::gui::DemoScript::start);
  } else if (!parser.positionalArguments().isEmpty()) {
    window.openModel(parser.positionalArguments().constFirst());
  } else {
    const QString last = window.session()->workspace()->value(QStringLiteral("last_model"));
    if (!last.isEmpty()) window.openModel(last);
  }
  return app.exec();
}
