// Writes docs/screenshots/generate.png and generate_text.png: the Generate tab, offscreen,
// on ddpm-fmnist (classes x seeds at the model's default sampler settings unless
// --steps N is given) and lm-fortunes. Not a test; run by hand:
//   QT_QPA_PLATFORM=offscreen build/tests/generate/generate_screenshots OUT_DIR [--seeds 0-3] [--steps N]
#include <QApplication>
#include <QDir>
#include <QLabel>
#include <QLineEdit>
#include <QSignalSpy>
#include <QSpinBox>
#include <QDoubleSpinBox>
#include <QComboBox>

#include <iostream>

#include "app/gui/GenerateTab.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  const QStringList args = app.arguments();
  if (args.size() < 2) {
    std::cerr << "usage: generate_screenshots OUT_DIR [--seeds 0-3] [--steps N]\n";
    return 2;
  }
  const QString out = args[1];
  QDir().mkpath(out);
  QString seeds = QStringLiteral("0-3");
  int steps = 0;
  for (int i = 2; i + 1 < args.size(); ++i) {
    if (args[i] == QLatin1String("--seeds")) seeds = args[i + 1];
    if (args[i] == QLatin1String("--steps")) steps = args[i + 1].toInt();
  }
  cs::qt::StudioSession session;
  cs::gui::GenerateTab tab(&session);
  tab.resize(1280, 1000);
  tab.show();
  auto* gen = tab.generator();
  QObject::connect(gen, &cs::qt::GenerateSession::failed, [](const QString& what, const QString& msg, bool) {
    std::cerr << what.toStdString() << ": " << msg.toStdString() << "\n";
  });
  if (!tab.selectModel(QStringLiteral("ddpm-fmnist"))) {
    std::cerr << "ddpm-fmnist is not available\n";
    return 1;
  }
  tab.setClasses({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  tab.seedsEdit()->setText(seeds);
  if (steps > 0) tab.stepsSpin()->setValue(steps);
  {
    QSignalSpy ready(gen, &cs::qt::GenerateSession::imagesReady);
    tab.generate();
    if (!ready.wait(600000)) return 1;
  }
  // A class-consistency figure next to the grid (200 samples, same settings).
  tab.metricCombo()->setCurrentIndex(tab.metricCombo()->findData(QStringLiteral("class-consistency")));
  tab.metricSamplesSpin()->setValue(200);
  {
    QSignalSpy ready(gen, &cs::qt::GenerateSession::metricReady);
    tab.runMetric();
    if (!ready.wait(600000)) return 1;
  }
  std::cout << tab.resultInfo()->text().toStdString() << "\n" << tab.metricResult()->text().toStdString() << "\n";
  tab.grab().save(out + QStringLiteral("/generate.png"));

  if (!tab.selectModel(QStringLiteral("lm-fortunes"))) {
    std::cerr << "lm-fortunes is not available\n";
    return 1;
  }
  tab.promptEdit()->setText(QStringLiteral("The "));
  tab.maxTokensSpin()->setValue(300);
  {
    QSignalSpy ready(gen, &cs::qt::GenerateSession::textReady);
    tab.generate();
    if (!ready.wait(600000)) return 1;
  }
  tab.metricSamplesSpin()->setValue(0);  // all held-out fortunes
  {
    QSignalSpy ready(gen, &cs::qt::GenerateSession::metricReady);
    tab.runMetric();
    if (!ready.wait(600000)) return 1;
  }
  std::cout << tab.resultInfo()->text().toStdString() << "\n" << tab.metricResult()->text().toStdString() << "\n";
  tab.grab().save(out + QStringLiteral("/generate_text.png"));
  return 0;
}
