// Writes docs/screenshots/generate.png and generate_text.png: the Generate tab, offscreen,
// on ddpm-fmnist (classes x seeds at the model's default sampler settings unless
// --steps N is given) and lm-fortunes. Not a test; run by hand:
//   QT_QPA_PLATFORM=offscreen build/tests/generate/generate_screenshots OUT_DIR [--model ddpm-fmnist|ar-fmnist] [--seeds 0-3] [--steps N] [--metric-samples 200] [--fortunes 0]
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
    std::cerr << "usage: generate_screenshots OUT_DIR [--model ddpm-fmnist|ar-fmnist] [--seeds 0-3] [--steps N] [--metric-samples 200] [--fortunes 0]\n";
    return 2;
  }
  const QString out = args[1];
  QDir().mkpath(out);
  QString seeds = QStringLiteral("0-3");
  int steps = 0, metricSamples = 200, fortunes = 0;
  QString model = QStringLiteral("ddpm-fmnist");
  for (int i = 2; i + 1 < args.size(); ++i) {
    if (args[i] == QLatin1String("--seeds")) seeds = args[i + 1];
    if (args[i] == QLatin1String("--steps")) steps = args[i + 1].toInt();
    if (args[i] == QLatin1String("--model")) model = args[i + 1];
    if (args[i] == QLatin1String("--metric-samples")) metricSamples = args[i + 1].toInt();
    if (args[i] == QLatin1String("--fortunes")) fortunes = args[i + 1].toInt();
  }
  cs::qt::StudioSession session;
  cs::gui::GenerateTab tab(&session);
  tab.resize(1280, 1000);
  tab.show();
  auto* gen = tab.generator();
  QObject::connect(gen, &cs::qt::GenerateSession::failed, [](const QString& what, const QString& msg, bool) {
    std::cerr << what.toStdString() << ": " << msg.toStdString() << "\n";
  });
  if (!tab.selectModel(model)) {
    std::cerr << model.toStdString() << " is not available\n";
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
  // A class-consistency figure next to the grid (--metric-samples, default 200, same settings).
  tab.metricCombo()->setCurrentIndex(tab.metricCombo()->findData(QStringLiteral("class-consistency")));
  tab.metricSamplesSpin()->setValue(metricSamples);
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
  tab.metricSamplesSpin()->setValue(fortunes);  // --fortunes N held-out fortunes (default 0: all)
  {
    QSignalSpy ready(gen, &cs::qt::GenerateSession::metricReady);
    tab.runMetric();
    if (!ready.wait(600000)) return 1;
  }
  std::cout << tab.resultInfo()->text().toStdString() << "\n" << tab.metricResult()->text().toStdString() << "\n";
  tab.grab().save(out + QStringLiteral("/generate_text.png"));
  return 0;
}
