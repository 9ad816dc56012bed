#include "app/gui/DemoScript.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QPixmap>

#include "app/gui/CompressTab.h"
#include "app/gui/MainWindow.h"
#include "compression/quantize.h"
#include "core/Conversions.h"
#include "widgets/CompressPanel.h"
#include "widgets/QCustomPlotInclude.h"

namespace cs::gui {
using namespace cs::qt;

DemoScript::DemoScript(MainWindow* window, DemoOptions options, QObject* parent)
    : QObject(parent), window_(window), opt_(std::move(options)) {
  timeout_.setSingleShot(true);
  connect(&timeout_, &QTimer::timeout, this,
          [this] { done(1, tr("the demo did not finish within %1 s").arg(opt_.timeoutMs / 1000)); });
}

void DemoScript::step(const QString& what) {
  if (!opt_.screenshot.isEmpty()) qInfo("demo: %s", qPrintable(what));
}

void DemoScript::start() {
  StudioSession* s = window_->session();
  connect(s, &StudioSession::modelOpened, this, &DemoScript::onModelOpened);
  connect(s, &StudioSession::calibrationFinished, this, &DemoScript::onCalibrated);
  connect(s, &StudioSession::quantizationFinished, this, &DemoScript::onQuantized);
  connect(s, &StudioSession::jobFailed, this, [this](const QString& what, const QString& message, bool) {
    done(1, QStringLiteral("%1 failed: %2").arg(what, message));
  });
  timeout_.start(opt_.timeoutMs);
  step(tr("opening %1").arg(opt_.model));
  window_->openModel(opt_.model);
}

void DemoScript::onModelOpened() {
  if (finished_) return;
  if (!window_->compressTab()->selectLayer(opt_.layer)) {
    done(1, tr("layer %1 not found in %2").arg(opt_.layer, opt_.model));
    return;
  }
  step(tr("selected %1").arg(opt_.layer));
  if (!opt_.quantize) {
    done(0, QString());
    return;
  }
  auto* panel = window_->compressTab()->panel();
  if (window_->session()->model().family() == "torchscript") {
    // The demo keeps TorchScript files weight-only (they may not take Fashion-MNIST
    // images); activation capture on them is in the Explore tab and `cstudio explore`.
    weightOnly_ = true;
    onCalibrated();
    return;
  }
  panel->setCalibrationImages(opt_.calibrationImages);
  step(tr("calibrating on %1 images").arg(opt_.calibrationImages));
  window_->session()->calibrate(opt_.calibrationImages);
}

void DemoScript::onCalibrated() {
  if (finished_ || quantizeStarted_) return;
  quantizeStarted_ = true;
  auto* panel = window_->compressTab()->panel();
  if (!panel->selectMethod(QStringLiteral("rtn"))) {
    done(1, tr("method rtn is not registered"));
    return;
  }
  auto* form = panel->form();
  form->applyPreset(QStringLiteral("W8A8"));
  nlohmann::json values = {{"wbits", 8}, {"abits", 8}};
  // Per-channel weights: whichever granularity choice offers it.
  if (const MethodInfo* m = cs::findMethod("rtn")) {
    for (const auto& p : m->params) {
      const bool perChannel =
          std::find(p.choices.begin(), p.choices.end(), "per-channel") != p.choices.end();
      if (p.type == ParamSpec::Type::Choice && perChannel && p.name.rfind('a', 0) != 0)
        values[p.name] = "per-channel";
    }
  }
  if (weightOnly_) values["abits"] = 0;
  form->setValues(values);
  panel->setEvalImages(opt_.evalImages);
  step(tr("quantizing: %1").arg(jsonToQString(form->values(), -1)));
  panel->runButton()->setEnabled(true);
  panel->runButton()->click();
}

void DemoScript::onQuantized() {
  if (finished_) return;
  step(tr("quantized; waiting for the plots"));
  finishWhenIdle();
}

void DemoScript::finishWhenIdle() {
  if (finished_) return;
  if (window_->session()->jobs()->isRunning()) {
    QTimer::singleShot(50, this, &DemoScript::finishWhenIdle);
    return;
  }
  if (opt_.screenshot.isEmpty()) {
    done(0, QString());
    return;
  }
  QCoreApplication::processEvents();
  for (auto* plot : window_->findChildren<QCustomPlot*>()) plot->replot(QCustomPlot::rpImmediateRefresh);
  const QFileInfo fi(opt_.screenshot);
  QDir().mkpath(fi.absolutePath());
  const QPixmap shot = window_->grab();
  if (shot.isNull() || !shot.save(fi.absoluteFilePath(), "PNG")) {
    done(1, tr("%1: cannot write the screenshot").arg(fi.absoluteFilePath()));
    return;
  }
  step(tr("saved %1 (%2x%3)").arg(fi.absoluteFilePath()).arg(shot.width()).arg(shot.height()));
  done(0, QString());
}

void DemoScript::done(int code, const QString& message) {
  if (finished_) return;
  finished_ = true;
  timeout_.stop();
  Q_EMIT finished(code, message);
}

}  // namespace cs::gui
