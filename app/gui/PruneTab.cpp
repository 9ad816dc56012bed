#include "app/gui/PruneTab.h"

#include <QCheckBox>
#include <QComboBox>
#include <QCoreApplication>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QTabWidget>
#include <QVBoxLayout>
#include <cmath>

#include "widgets/ParamForm.h"
#include "widgets/prune/PruneReportView.h"
#include "widgets/prune/SiViews.h"

namespace cs::gui {
namespace {

const QString kChannel = QStringLiteral("prune");

// ../shared/data/weights/stories260K/stories260K.bin seen from the working directory or
// from the executable's folder and its parents (build trees sit inside the checkout).
QString findStories260K() {
  QStringList roots = {QDir::currentPath()};
  QDir d(QCoreApplication::applicationDirPath());
  for (int i = 0; i < 4; ++i) {
    roots << d.absolutePath();
    if (!d.cdUp()) break;
  }
  for (auto& r : roots) {
    const QString p = QDir(r).absoluteFilePath(QStringLiteral("../shared/data/weights/stories260K/stories260K.bin"));
    if (QFileInfo::exists(p)) return QFileInfo(p).canonicalFilePath();
  }
  return {};
}

double jnum(const nlohmann::json& j, const char* key, double dflt = NAN) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : dflt;
}

widgets::PruneReportData toReport(const cs::PruneResult& r) {
  widgets::PruneReportData d;
  const auto& m = r.metrics;
  d.variant = QString::fromStdString(r.variant.name());
  QString recipe = QString::fromStdString(m.value("method", r.recipe.method)) + QLatin1Char(' ') +
                   QString::fromStdString(m.value("pattern", std::string()));
  if (m.contains("si") && m["si"].value("enabled", false)) recipe += QStringLiteral(" + SI");
  d.recipe = recipe;
  d.sparsity = r.sparsity;
  if (m.contains("ppl"))
    for (auto& [label, row] : m["ppl"].items())
      d.ppl.push_back({QString::fromStdString(label), jnum(row, "dense"), jnum(row, "pruned")});
  for (auto& l : r.layers)
    d.layers.push_back({QString::fromStdString(l.layer), l.rows, l.cols, l.sparsity, l.outputError, l.seconds, l.denseColumns});
  if (m.contains("calibration")) {
    const auto& c = m["calibration"];
    d.calibSeconds = jnum(c, "seconds", 0);
    d.calibration = QStringLiteral("%1 x %2 tokens from %3, seed %4")
                        .arg(c.value("sequences", 0))
                        .arg(c.value("length", 0))
                        .arg(QString::fromStdString(c.value("source", std::string("?"))))
                        .arg(c.value("seed", 0));
  }
  if (m.contains("si") && m["si"].value("enabled", false)) {
    d.siSeconds = jnum(m["si"], "seconds", 0);
    d.siPeakMiB = jnum(m["si"], "peak_rss_mib", 0);
  }
  if (m.contains("prune")) {
    d.pruneSeconds = jnum(m["prune"], "seconds", 0);
    d.prunePeakMiB = jnum(m["prune"], "peak_rss_mib", 0);
  }
  d.evalSeconds = jnum(m, "eval_seconds", 0);
  d.totalSeconds = jnum(m, "seconds_total", r.seconds);
  return d;
}

}  // namespace

PruneTab::PruneTab(QWidget* parent) : QWidget(parent) {
  auto* top = new QHBoxLayout(this);
  auto* split = new QSplitter(Qt::Horizontal, this);
  top->addWidget(split);

  // ---- left: model, method form, calibration, run
  auto* left = new QWidget(split);
  auto* ll = new QVBoxLayout(left);
  auto* modelGroup = new QGroupBox(tr("Language model"), left);
  auto* ml = new QVBoxLayout(modelGroup);
  modelBox_ = new QComboBox(modelGroup);
  modelBox_->setEditable(true);
  modelBox_->addItem(QStringLiteral("lm-fortunes"));
  const QString stories = findStories260K();
  if (!stories.isEmpty()) modelBox_->addItem(stories);
  modelBox_->setToolTip(tr("Zoo name, Hugging Face directory, studio .safetensors or llama2.c .bin"));
  auto* mrow = new QHBoxLayout;
  open_ = new QPushButton(tr("Open"), modelGroup);
  browse_ = new QPushButton(tr("File..."), modelGroup);
  mrow->addWidget(modelBox_, 1);
  mrow->addWidget(open_);
  mrow->addWidget(browse_);
  ml->addLayout(mrow);
  modelInfo_ = new QLabel(tr("No model open"), modelGroup);
  modelInfo_->setWordWrap(true);
  ml->addWidget(modelInfo_);
  ll->addWidget(modelGroup);

  auto* methodGroup = new QGroupBox(tr("Pruner"), left);
  auto* mg = new QVBoxLayout(methodGroup);
  method_ = new QComboBox(methodGroup);
  for (auto& m : cs::pruneMethods()) method_->addItem(QString::fromStdString(m.name), QString::fromStdString(m.id));
  mg->addWidget(method_);
  form_ = new widgets::ParamForm(methodGroup);
  auto* scroll = new QScrollArea(methodGroup);
  scroll->setWidgetResizable(true);
  scroll->setWidget(form_);
  mg->addWidget(scroll, 1);
  ll->addWidget(methodGroup, 1);

  auto* calGroup = new QGroupBox(tr("Calibration and evaluation"), left);
  auto* cf = new QFormLayout(calGroup);
  calib_ = new QSpinBox(calGroup);
  calib_->setRange(1, 4096);
  calib_->setValue(128);
  calib_->setToolTip(tr("Calibration sequences (lm-fortunes: windows of the training fortunes; other models: text "
                        "sampled from the dense model)"));
  calibLen_ = new QSpinBox(calGroup);
  calibLen_->setRange(8, 2048);
  calibLen_->setValue(128);
  seed_ = new QSpinBox(calGroup);
  seed_->setRange(0, 1 << 30);
  evaluate_ = new QCheckBox(tr("Dense and pruned perplexity on held-out text"), calGroup);
  evaluate_->setChecked(true);
  evalKiB_ = new QSpinBox(calGroup);
  evalKiB_->setRange(0, 1 << 20);
  evalKiB_->setSpecialValueText(tr("all"));
  evalKiB_->setSuffix(tr(" KiB"));
  evalKiB_->setToolTip(tr("Evaluate on the first KiB of the held-out text only (0 = all: the model card's protocol)"));
  compare_ = new QCheckBox(tr("With SI: also prune without SI (per-layer error comparison)"), calGroup);
  compare_->setChecked(true);
  siLayer_ = new QComboBox(calGroup);
  siLayer_->setToolTip(tr("Layer shown in the SI before/after views"));
  cf->addRow(tr("Sequences"), calib_);
  cf->addRow(tr("Tokens per sequence"), calibLen_);
  cf->addRow(tr("Seed"), seed_);
  cf->addRow(evaluate_);
  cf->addRow(tr("Evaluation text"), evalKiB_);
  cf->addRow(compare_);
  cf->addRow(tr("SI view layer"), siLayer_);
  ll->addWidget(calGroup);

  auto* runRow = new QHBoxLayout;
  run_ = new QPushButton(tr("Prune"), left);
  run_->setObjectName(QStringLiteral("pruneRun"));
  cancel_ = new QPushButton(tr("Cancel"), left);
  save_ = new QPushButton(tr("Save variant..."), left);
  runRow->addWidget(run_);
  runRow->addWidget(cancel_);
  runRow->addWidget(save_);
  ll->addLayout(runRow);
  progress_ = new QProgressBar(left);
  progress_->setRange(0, 1000);
  progress_->setValue(0);
  status_ = new QLabel(left);
  status_->setWordWrap(true);
  ll->addWidget(progress_);
  ll->addWidget(status_);
  split->addWidget(left);

  // ---- right: report and SI views
  views_ = new QTabWidget(split);
  report_ = new widgets::PruneReportView(views_);
  views_->addTab(report_, tr("Report"));
  auto* siPage = new QWidget(views_);
  auto* sl = new QVBoxLayout(siPage);
  siScale_ = new widgets::SiScaleView(siPage);
  siScores_ = new widgets::SiScoreView(siPage);
  sl->addWidget(siScale_);
  sl->addWidget(siScores_);
  views_->addTab(siPage, tr("SI before/after"));
  siErrors_ = new widgets::SiErrorView(views_);
  views_->addTab(siErrors_, tr("Error with/without SI"));
  split->addWidget(views_);
  split->setStretchFactor(0, 0);
  split->setStretchFactor(1, 1);
  split->setSizes({380, 900});

  connect(method_, qOverload<int>(&QComboBox::currentIndexChanged), this, &PruneTab::onMethod);
  connect(open_, &QPushButton::clicked, this, [this] { openModel(modelBox_->currentText()); });
  connect(browse_, &QPushButton::clicked, this, &PruneTab::browse);
  connect(run_, &QPushButton::clicked, this, &PruneTab::runPrune);
  connect(cancel_, &QPushButton::clicked, this, &PruneTab::cancel);
  connect(save_, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getSaveFileName(this, tr("Save pruned variant"),
                                                   QString::fromStdString(result_ ? result_->variant.name() : "variant") +
                                                       QStringLiteral(".safetensors"),
                                                   tr("Safetensors (*.safetensors)"));
    if (!p.isEmpty()) saveVariant(p);
  });
  connect(&jobs_, &cs::qt::JobRunner::jobProgress, this, [this](quint64, double f, const QString& stage) {
    progress_->setValue(static_cast<int>(std::lround(1000 * f)));
    setStatus(stage);
  });
  onMethod(0);
  setBusy(false);
}

PruneTab::~PruneTab() { jobs_.cancel(); }

bool PruneTab::isRunning() const { return jobs_.isRunning(); }
QString PruneTab::status() const { return status_->text(); }
void PruneTab::setStatus(const QString& s) { status_->setText(s); }

void PruneTab::setBusy(bool busy) {
  run_->setEnabled(!busy && model_.valid());
  cancel_->setEnabled(busy);
  save_->setEnabled(!busy && result_ != nullptr);
  open_->setEnabled(!busy);
  browse_->setEnabled(!busy);
}

void PruneTab::onMethod(int index) {
  const QString id = method_->itemData(index).toString();
  for (auto& m : cs::pruneMethods())
    if (QString::fromStdString(m.id) == id) {
      auto keep = form_->methodId().isEmpty() ? nlohmann::json::object() : form_->values();
      form_->setMethod(m);
      form_->setValues(keep);  // keep sparsity/pattern/SI settings across methods
    }
}

bool PruneTab::setMethod(const QString& id) {
  const int i = method_->findData(id);
  if (i < 0) return false;
  method_->setCurrentIndex(i);
  onMethod(i);
  return true;
}

void PruneTab::browse() {
  QString p = QFileDialog::getOpenFileName(this, tr("Open language model"), QString(),
                                           tr("Language models (*.safetensors *.bin config.json);;All files (*)"));
  if (p.isEmpty()) return;
  if (QFileInfo(p).fileName() == QLatin1String("config.json")) p = QFileInfo(p).absolutePath();
  modelBox_->setEditText(p);
  openModel(p);
}

void PruneTab::openModel(const QString& nameOrPath) {
  auto out = std::make_shared<cs::Model>();
  const std::string name = nameOrPath.trimmed().toStdString();
  setStatus(tr("Opening %1...").arg(nameOrPath));
  setBusy(true);
  auto err = std::make_shared<std::string>();
  jobs_.start(
      kChannel, tr("Open %1").arg(nameOrPath),
      [out, name, err](cs::JobContext& job) {
        auto m = cs::openModel(name, job);
        if (!m) {
          *err = m.error().message;
          return;
        }
        if (m->task() != cs::Task::LanguageModel) {
          *err = name + ": not a language model (the Prune tab prunes decoder LMs)";
          return;
        }
        *out = *m;
      },
      [this, out, err, nameOrPath](bool cancelled, const QString& error) {
        QString e = !error.isEmpty() ? error : QString::fromStdString(*err);
        setBusy(false);
        if (cancelled) {
          setStatus(tr("Opening cancelled"));
          return;
        }
        if (!e.isEmpty() || !out->valid()) {
          setStatus(tr("Error: %1").arg(e));
          Q_EMIT failed(tr("open"), e);
          setBusy(false);
          return;
        }
        model_ = *out;
        result_.reset();
        comparison_.reset();
        siLayer_->clear();
        for (auto& l : model_.layers())
          if (l.type == "Linear" && l.name.find("layers.") != std::string::npos)
            siLayer_->addItem(QString::fromStdString(l.name));
        modelInfo_->setText(tr("%1: %2 parameters, %3 prunable Linear layers")
                                .arg(QString::fromStdString(model_.name()))
                                .arg(static_cast<qlonglong>(model_.parameterCount()))
                                .arg(siLayer_->count()));
        report_->clear(tr("%1 open. Pick a pruner and press Prune.").arg(QString::fromStdString(model_.name())));
        setStatus(tr("Opened %1").arg(nameOrPath));
        setBusy(false);
        Q_EMIT modelReady(QString::fromStdString(model_.name()));
      });
}

void PruneTab::runPrune() {
  if (!model_.valid()) {
    Q_EMIT failed(tr("prune"), tr("open a language model first"));
    return;
  }
  cs::Recipe recipe;
  recipe.method = method_->currentData().toString().toStdString();
  recipe.params = form_->values();
  recipe.calibSamples = calib_->value();
  recipe.calibSeed = seed_->value();
  cs::PruneOptions opts;
  opts.calibLength = calibLen_->value();
  opts.evaluate = evaluate_->isChecked();
  opts.evalMaxBytes = static_cast<int64_t>(evalKiB_->value()) * 1024;
  const bool si = recipe.params.value("si", false);
  opts.siView = si;
  opts.siViewLayer = siLayer_->currentText().toStdString();
  const bool compare = si && compare_->isChecked();
  auto model = model_;
  auto out = std::make_shared<cs::PruneResult>();
  auto cmp = std::make_shared<cs::PruneResult>();
  auto err = std::make_shared<std::string>();
  setBusy(true);
  progress_->setValue(0);
  setStatus(tr("Pruning with %1...").arg(method_->currentText()));
  jobs_.start(
      kChannel, tr("Prune %1 (%2)").arg(QString::fromStdString(model.name()), method_->currentText()),
      [model, recipe, opts, compare, out, cmp, err](cs::JobContext& job) {
        auto mj = job.sub(0.0, compare ? 0.75 : 1.0);
        auto r = cs::prune(model, recipe, opts, mj);
        if (!r) {
          *err = r.error().isCancelled() ? std::string("\x01" "cancelled") : r.error().message;
          return;
        }
        *out = std::move(*r);
        if (!compare) return;
        auto rc = recipe;
        rc.params["si"] = false;
        auto o2 = opts;
        o2.evaluate = false;
        o2.siView = false;
        o2.keepMasks = false;
        auto cj = job.sub(0.75, 1.0);
        auto r2 = cs::prune(model, rc, o2, cj);
        if (!r2) {
          *err = r2.error().isCancelled() ? std::string("\x01" "cancelled") : "comparison without SI: " + r2.error().message;
          return;
        }
        *cmp = std::move(*r2);
      },
      [this, out, cmp, err, compare](bool cancelled, const QString& error) {
        const QString e = !error.isEmpty() ? error : QString::fromStdString(*err);
        if (cancelled || e == QStringLiteral("\x01" "cancelled")) {
          setBusy(false);
          progress_->setValue(0);
          setStatus(tr("Cancelled"));
          Q_EMIT pruneCancelled();
          return;
        }
        if (!e.isEmpty() || !out->variant.valid()) {
          setBusy(false);
          setStatus(tr("Error: %1").arg(e));
          Q_EMIT failed(tr("prune"), e);
          return;
        }
        result_ = out;
        comparison_ = compare && cmp->variant.valid() ? cmp : nullptr;
        progress_->setValue(1000);
        showResult();
        setBusy(false);
        setStatus(tr("Done in %1 s").arg(result_->seconds, 0, 'f', 1));
        Q_EMIT pruneFinished();
      });
}

void PruneTab::cancel() { jobs_.cancel(kChannel); }

void PruneTab::showResult() {
  const auto& r = *result_;
  report_->setReport(toReport(r));
  const bool si = r.metrics.contains("si") && r.metrics["si"].value("enabled", false);
  if (si && !r.siView.layer.empty()) {
    widgets::SiScaleData sd;
    sd.layer = QString::fromStdString(r.siView.layer);
    for (float v : r.siView.scale) sd.scale.push_back(v);
    for (float v : r.siView.shift) sd.shift.push_back(v);
    siScale_->setData(sd);
    widgets::SiScoreData sc;
    sc.layer = sd.layer;
    sc.metric = r.recipe.method == "sparsegpt" ? QStringLiteral("|W|*||x|| (SparseGPT view)") : QString::fromStdString(r.recipe.method);
    for (float v : r.siView.scoresBefore) sc.before.push_back(v);
    for (float v : r.siView.scoresAfter) sc.after.push_back(v);
    sc.sparsity = r.recipe.params.value("pattern", std::string("unstructured")) == "unstructured"
                      ? r.recipe.params.value("sparsity", 0.5)
                      : 0.5;
    siScores_->setData(sc);
  } else {
    siScale_->clear(tr("This run did not use SI"));
    siScores_->clear(tr("This run did not use SI"));
  }
  if (comparison_) {
    widgets::SiErrorData ed;
    std::map<std::string, double> without;
    for (auto& l : comparison_->layers) without[l.layer] = l.outputError;
    for (auto& l : r.layers)
      if (without.count(l.layer)) {
        ed.layers << QString::fromStdString(l.layer);
        ed.withSi << l.outputError;
        ed.withoutSi << without[l.layer];
      }
    siErrors_->setData(ed);
  } else {
    siErrors_->clear(si ? tr("Turn on the comparison to prune without SI too") : tr("This run did not use SI"));
  }
}

bool PruneTab::saveVariant(const QString& path) {
  if (!result_) {
    Q_EMIT failed(tr("save"), tr("no pruned variant yet"));
    return false;
  }
  auto st = cs::savePruned(*result_, path.toStdString());
  if (!st) {
    const QString e = QString::fromStdString(st.error().message);
    setStatus(tr("Error: %1").arg(e));
    Q_EMIT failed(tr("save"), e);
    return false;
  }
  setStatus(tr("Wrote %1 and its masks").arg(path));
  return true;
}

}  // namespace cs::gui
