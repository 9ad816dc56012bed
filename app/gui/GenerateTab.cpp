#include "app/gui/GenerateTab.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSpinBox>
#include <QSplitter>
#include <QStackedWidget>
#include <QVBoxLayout>

#include <cmath>

#include "core/Conversions.h"
#include "widgets/generate/SampleGrid.h"

namespace cs::gui {

using namespace cs::qt;

namespace {
QDoubleSpinBox* doubleSpin(double lo, double hi, double step, int decimals, QWidget* parent) {
  auto* s = new QDoubleSpinBox(parent);
  s->setRange(lo, hi);
  s->setSingleStep(step);
  s->setDecimals(decimals);
  return s;
}
QSpinBox* intSpin(int lo, int hi, QWidget* parent) {
  auto* s = new QSpinBox(parent);
  s->setRange(lo, hi);
  return s;
}
}  // namespace

GenerateTab::GenerateTab(cs::qt::StudioSession* session, QWidget* parent)
    : QWidget(parent), session_(session), gen_(session, this) {
  // ---- left: settings ----
  auto* left = new QWidget(this);
  auto* lv = new QVBoxLayout(left);
  auto* modelBox = new QGroupBox(tr("Model"), left);
  auto* mv = new QVBoxLayout(modelBox);
  model_ = new QComboBox(modelBox);
  modelInfo_ = new QLabel(modelBox);
  modelInfo_->setWordWrap(true);
  mv->addWidget(model_);
  mv->addWidget(modelInfo_);
  lv->addWidget(modelBox);
  lv->addWidget(buildImageBox());
  lv->addWidget(buildTextBox());

  auto* runRow = new QHBoxLayout;
  generateBtn_ = new QPushButton(tr("Generate"), left);
  cancelBtn_ = new QPushButton(tr("Cancel"), left);
  runRow->addWidget(generateBtn_);
  runRow->addWidget(cancelBtn_);
  lv->addLayout(runRow);
  progress_ = new QProgressBar(left);
  progress_->setRange(0, 1000);
  progress_->setTextVisible(false);
  status_ = new QLabel(left);
  status_->setWordWrap(true);
  lv->addWidget(progress_);
  lv->addWidget(status_);
  lv->addWidget(buildMetricBox());
  lv->addStretch(1);
  auto* leftScroll = new QScrollArea(this);
  leftScroll->setWidget(left);
  leftScroll->setWidgetResizable(true);
  leftScroll->setMinimumWidth(330);

  // ---- right: results ----
  auto* right = new QWidget(this);
  auto* rv = new QVBoxLayout(right);
  info_ = new QLabel(right);
  info_->setWordWrap(true);
  info_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  stack_ = new QStackedWidget(right);
  grid_ = new widgets::SampleGrid;
  grid_->setPlaceholder(tr("Pick classes and seeds, then Generate."));
  auto* gridScroll = new QScrollArea(stack_);
  gridScroll->setWidget(grid_);
  gridScroll->setWidgetResizable(true);
  text_ = new QPlainTextEdit(stack_);
  text_->setReadOnly(true);
  text_->setPlaceholderText(tr("Type a prompt (or none), then Generate."));
  QFont mono(QStringLiteral("monospace"));
  mono.setStyleHint(QFont::Monospace);
  text_->setFont(mono);
  stack_->addWidget(gridScroll);
  stack_->addWidget(text_);
  auto* saveRow = new QHBoxLayout;
  saveBtn_ = new QPushButton(tr("Save grid as PNG..."), right);
  saveBtn_->setEnabled(false);
  saveRow->addWidget(saveBtn_);
  saveRow->addStretch(1);
  rv->addWidget(info_);
  rv->addWidget(stack_, 1);
  rv->addLayout(saveRow);

  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(leftScroll);
  split->addWidget(right);
  split->setStretchFactor(1, 1);
  auto* top = new QHBoxLayout(this);
  top->setContentsMargins(4, 4, 4, 4);
  top->addWidget(split);

  connect(model_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] { onModelChanged(); });
  connect(generateBtn_, &QPushButton::clicked, this, &GenerateTab::generate);
  connect(cancelBtn_, &QPushButton::clicked, this, &GenerateTab::cancel);
  connect(metricBtn_, &QPushButton::clicked, this, &GenerateTab::runMetric);
  connect(saveBtn_, &QPushButton::clicked, this, &GenerateTab::saveGridInteractive);
  connect(metric_, qOverload<int>(&QComboBox::currentIndexChanged), this, [this] {
    const bool agree = metric_->currentData().toString() == QLatin1String("agreement");
    reference_->setVisible(agree);
    referenceLabel_->setVisible(agree);
  });
  connect(&gen_, &GenerateSession::imagesReady, this, &GenerateTab::showImages);
  connect(&gen_, &GenerateSession::textReady, this, &GenerateTab::showText);
  connect(&gen_, &GenerateSession::metricReady, this, &GenerateTab::showMetric);
  connect(&gen_, &GenerateSession::failed, this, &GenerateTab::showFailure);
  auto* jobs = gen_.jobs();
  connect(jobs, &cs::qt::JobRunner::jobProgress, this, [this](quint64 id, double f, const QString& stage) {
    if (id == gen_.generateJobId()) {
      progress_->setValue(int(std::lround(f * 1000)));
      status_->setText(stage);
    } else if (id == gen_.metricJobId()) {
      metricProgress_->setValue(int(std::lround(f * 1000)));
    }
  });
  connect(jobs, &cs::qt::JobRunner::jobStarted, this, [this] { updateBusy(); });
  connect(jobs, &cs::qt::JobRunner::jobFinished, this, [this] { updateBusy(); });
  connect(session_, &cs::qt::StudioSession::modelOpened, this, [this] { refreshModels(); });
  refreshModels();
  updateBusy();
}

QWidget* GenerateTab::buildImageBox() {
  imageBox_ = new QGroupBox(tr("Samples"));
  auto* v = new QVBoxLayout(imageBox_);
  v->addWidget(new QLabel(tr("Classes:"), imageBox_));
  classes_ = new QListWidget(imageBox_);
  classes_->setMaximumHeight(150);
  v->addWidget(classes_);
  auto* allRow = new QHBoxLayout;
  auto* all = new QPushButton(tr("All"), imageBox_);
  auto* none = new QPushButton(tr("None"), imageBox_);
  allRow->addWidget(all);
  allRow->addWidget(none);
  allRow->addStretch(1);
  v->addLayout(allRow);
  connect(all, &QPushButton::clicked, this, [this] {
    QList<int> c;
    for (int i = 0; i < classes_->count(); ++i) c << i;
    setClasses(c);
  });
  connect(none, &QPushButton::clicked, this, [this] { setClasses({}); });

  auto* form = new QFormLayout;
  seeds_ = new QLineEdit(QStringLiteral("0-3"), imageBox_);
  seeds_->setToolTip(tr("Seeds, e.g. 0-7 or 1,5,9: one sample per class and seed"));
  form->addRow(tr("Seeds:"), seeds_);
  guidance_ = doubleSpin(0.0, 20.0, 0.5, 2, imageBox_);
  guidance_->setToolTip(tr("Classifier-free guidance scale (1: conditional only)"));
  form->addRow(tr("Guidance:"), guidance_);
  columns_ = intSpin(0, 64, imageBox_);
  columns_->setSpecialValueText(tr("seeds"));
  columns_->setToolTip(tr("Grid columns (default: one column per seed, one row per class)"));
  form->addRow(tr("Columns:"), columns_);
  v->addLayout(form);

  diffusionRows_ = new QWidget(imageBox_);
  auto* df = new QFormLayout(diffusionRows_);
  df->setContentsMargins(0, 0, 0, 0);
  sampler_ = new QComboBox(diffusionRows_);
  sampler_->addItem(QStringLiteral("DDIM"), QStringLiteral("ddim"));
  sampler_->addItem(QStringLiteral("DDPM"), QStringLiteral("ddpm"));
  steps_ = intSpin(1, 1000, diffusionRows_);
  eta_ = doubleSpin(0.0, 1.0, 0.1, 2, diffusionRows_);
  df->addRow(tr("Sampler:"), sampler_);
  df->addRow(tr("Steps:"), steps_);
  df->addRow(tr("Eta (DDIM):"), eta_);
  connect(sampler_, qOverload<int>(&QComboBox::currentIndexChanged), this,
          [this] { eta_->setEnabled(sampler_->currentData().toString() == QLatin1String("ddim")); });
  v->addWidget(diffusionRows_);

  arRows_ = new QWidget(imageBox_);
  auto* af = new QFormLayout(arRows_);
  af->setContentsMargins(0, 0, 0, 0);
  imgTemp_ = doubleSpin(0.05, 5.0, 0.1, 2, arRows_);
  imgTopK_ = intSpin(0, 100000, arRows_);
  imgTopK_->setSpecialValueText(tr("all tokens"));
  af->addRow(tr("Temperature:"), imgTemp_);
  af->addRow(tr("Top-k:"), imgTopK_);
  v->addWidget(arRows_);

  auto* defaults = new QPushButton(tr("Model defaults"), imageBox_);
  connect(defaults, &QPushButton::clicked, this, &GenerateTab::resetImageDefaults);
  v->addWidget(defaults, 0, Qt::AlignLeft);
  return imageBox_;
}

QWidget* GenerateTab::buildTextBox() {
  textBox_ = new QGroupBox(tr("Text"));
  auto* f = new QFormLayout(textBox_);
  prompt_ = new QLineEdit(textBox_);
  prompt_->setPlaceholderText(tr("(empty: start from BOS)"));
  maxTokens_ = intSpin(1, 4096, textBox_);
  maxTokens_->setValue(200);
  maxTokens_->setToolTip(tr("Forward passes, prompt tokens included (llama2.c convention)"));
  temp_ = doubleSpin(0.0, 5.0, 0.1, 2, textBox_);
  temp_->setValue(0.8);
  temp_->setSpecialValueText(tr("greedy"));
  topK_ = intSpin(0, 100000, textBox_);
  topK_->setValue(40);
  topK_->setSpecialValueText(tr("all tokens"));
  seed_ = intSpin(0, 1 << 30, textBox_);
  seed_->setValue(42);
  f->addRow(tr("Prompt:"), prompt_);
  f->addRow(tr("Max tokens:"), maxTokens_);
  f->addRow(tr("Temperature:"), temp_);
  f->addRow(tr("Top-k:"), topK_);
  f->addRow(tr("Seed:"), seed_);
  return textBox_;
}

QWidget* GenerateTab::buildMetricBox() {
  auto* box = new QGroupBox(tr("Metrics"));
  auto* v = new QVBoxLayout(box);
  auto* f = new QFormLayout;
  metric_ = new QComboBox(box);
  metricSamples_ = intSpin(0, 100000, box);
  metricSamplesLabel_ = new QLabel(tr("Samples:"), box);
  reference_ = new QComboBox(box);
  referenceLabel_ = new QLabel(tr("Reference:"), box);
  f->addRow(tr("Metric:"), metric_);
  f->addRow(metricSamplesLabel_, metricSamples_);
  f->addRow(referenceLabel_, reference_);
  v->addLayout(f);
  auto* row = new QHBoxLayout;
  metricBtn_ = new QPushButton(tr("Run metric"), box);
  auto* cancel = new QPushButton(tr("Cancel"), box);
  connect(cancel, &QPushButton::clicked, this, [this] { gen_.jobs()->cancel(QStringLiteral("generate-metric")); });
  row->addWidget(metricBtn_);
  row->addWidget(cancel);
  v->addLayout(row);
  metricProgress_ = new QProgressBar(box);
  metricProgress_->setRange(0, 1000);
  metricProgress_->setTextVisible(false);
  v->addWidget(metricProgress_);
  metricLabel_ = new QLabel(box);
  metricLabel_->setWordWrap(true);
  metricLabel_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  metricLabel_->setMinimumHeight(metricLabel_->fontMetrics().lineSpacing() * 3);  // room for a wrapped figure
  v->addWidget(metricLabel_);
  return box;
}

void GenerateTab::refreshModels() {
  const QString keep = currentKey();
  const auto choices = gen_.choices();
  {
    QSignalBlocker block(model_);
    model_->clear();
    for (const auto& c : choices) model_->addItem(c.label, c.key);
    int idx = model_->findData(keep);
    if (idx < 0 && !choices.isEmpty()) idx = 0;
    model_->setCurrentIndex(idx);
  }
  // Reference models for the agreement metric: every listed language model.
  reference_->clear();
  for (const auto& c : choices)
    if (cs::gen::isLanguageModel(c.task)) reference_->addItem(c.label, c.key);
  if (model_->count() == 0) model_->addItem(tr("(no image generator or language model available)"));
  onModelChanged();
}

bool GenerateTab::selectModel(const QString& key) {
  const int idx = model_->findData(key);
  if (idx < 0) return false;
  if (idx == model_->currentIndex())
    onModelChanged();
  else
    model_->setCurrentIndex(idx);
  return current_.valid();
}

QString GenerateTab::currentKey() const { return model_->currentData().toString(); }

cs::Task GenerateTab::currentTask() const { return current_.valid() ? current_.task() : cs::Task::Unknown; }

void GenerateTab::onModelChanged() {
  current_ = {};
  classCount_ = 0;
  const QString key = currentKey();
  if (!key.isEmpty()) {
    auto m = gen_.resolve(key);
    if (m)
      current_ = *m;
    else
      modelInfo_->setText(tr("Cannot open: %1").arg(toQString(m.error().message)));
  }
  const cs::Task task = currentTask();
  const bool image = cs::gen::isImageGenerator(task), lm = cs::gen::isLanguageModel(task);
  imageBox_->setVisible(image);
  textBox_->setVisible(lm);
  stack_->setCurrentIndex(lm ? 1 : 0);
  saveBtn_->setVisible(!lm);
  if (current_.valid())
    modelInfo_->setText(tr("%1 · %2 · %3 parameters")
                            .arg(toQString(current_.name()), toQString(current_.family()),
                                 groupedNumber(current_.parameterCount())));
  // Classes by name.
  const QList<int> prev = selectedClasses();
  classes_->clear();
  if (image) {
    classCount_ = diffusionClassCount(current_);
    const auto names = cs::gen::classNames(classCount_);
    for (int c = 0; c < classCount_; ++c) {
      auto* it = new QListWidgetItem(QStringLiteral("%1  %2").arg(c).arg(toQString(names[size_t(c)])), classes_);
      it->setFlags(it->flags() | Qt::ItemIsUserCheckable);
      it->setCheckState(Qt::Unchecked);
    }
    classes_->setEnabled(classCount_ > 0);
    setClasses(prev.isEmpty() ? QList<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9} : prev);
    diffusionRows_->setVisible(task == cs::Task::Diffusion);
    arRows_->setVisible(task == cs::Task::ImageGeneration);
    resetImageDefaults();
  }
  // Metrics for the task.
  metric_->clear();
  if (image) {
    if (classCount_ > 0) metric_->addItem(tr("Class consistency"), QStringLiteral("class-consistency"));
    metric_->addItem(tr("Inception-style score (FMNIST)"), QStringLiteral("is"));
    metric_->addItem(tr("FID-FMNIST"), QStringLiteral("fid"));
    metric_->addItem(tr("sFID-FMNIST"), QStringLiteral("sfid"));
    metricSamplesLabel_->setText(tr("Samples:"));
    metricSamples_->setRange(2, 100000);
    metricSamples_->setSpecialValueText({});
    metricSamples_->setValue(200);
  } else if (lm) {
    metric_->addItem(tr("Held-out perplexity (fortunes)"), QStringLiteral("ppl"));
    metric_->addItem(tr("Top-1 agreement (fortunes)"), QStringLiteral("agreement"));
    metricSamplesLabel_->setText(tr("Fortunes:"));
    metricSamples_->setRange(0, 100000);
    metricSamples_->setSpecialValueText(tr("all held-out"));
    metricSamples_->setValue(200);
    const int ref = reference_->findData(key);
    if (ref >= 0) reference_->setCurrentIndex(ref);
  }
  const bool agree = metric_->currentData().toString() == QLatin1String("agreement");
  reference_->setVisible(agree);
  referenceLabel_->setVisible(agree);
  updateBusy();
}

void GenerateTab::resetImageDefaults() {
  if (!current_.valid() || !cs::gen::isImageGenerator(current_.task())) return;
  const auto o = cs::defaultImageGenOptions(current_);
  sampler_->setCurrentIndex(std::max(0, sampler_->findData(toQString(o.sampler))));
  steps_->setValue(o.steps);
  eta_->setValue(o.eta);
  guidance_->setValue(o.guidance);
  imgTemp_->setValue(o.temperature);
  imgTopK_->setValue(o.topK);
}

void GenerateTab::setClasses(const QList<int>& classes) {
  for (int i = 0; i < classes_->count(); ++i)
    classes_->item(i)->setCheckState(classes.contains(i) ? Qt::Checked : Qt::Unchecked);
}

QList<int> GenerateTab::selectedClasses() const {
  QList<int> out;
  for (int i = 0; i < classes_->count(); ++i)
    if (classes_->item(i)->checkState() == Qt::Checked) out << i;
  return out;
}

void GenerateTab::generate() {
  if (!current_.valid()) {
    status_->setText(tr("No model to generate from."));
    return;
  }
  progress_->setValue(0);
  if (cs::gen::isLanguageModel(current_.task())) {
    cs::GenerateOptions o;
    o.prompt = toStd(prompt_->text());
    o.steps = maxTokens_->value();
    o.temperature = temp_->value();
    o.topK = topK_->value();
    o.seed = uint64_t(seed_->value());
    status_->setText(tr("Generating text..."));
    gen_.generateText(currentKey(), o);
    return;
  }
  cs::gen::ImageSampleRequest req;
  std::string err;
  const auto seeds = cs::gen::parseIndexRange(toStd(seeds_->text()), -1, &err);
  if (seeds.empty()) {
    status_->setText(tr("Seeds: %1").arg(toQString(err)));
    return;
  }
  for (auto s : seeds) req.seeds.push_back(uint64_t(s));
  if (classCount_ > 0) {
    for (int c : selectedClasses()) req.classes.push_back(c);
    if (req.classes.empty()) {
      status_->setText(tr("Pick at least one class."));
      return;
    }
  }
  req.options = cs::defaultImageGenOptions(current_);
  req.options.sampler = toStd(sampler_->currentData().toString());
  req.options.steps = steps_->value();
  req.options.eta = eta_->value();
  req.options.guidance = guidance_->value();
  req.options.temperature = imgTemp_->value();
  req.options.topK = imgTopK_->value();
  grid_->setColumns(columns_->value() > 0 ? columns_->value() : int(req.seeds.size()));
  status_->setText(tr("Generating %1 samples...").arg(std::max<size_t>(1, req.classes.size()) * req.seeds.size()));
  gen_.sampleImages(currentKey(), req);
}

void GenerateTab::runMetric() {
  if (!current_.valid() || metric_->count() == 0) return;
  metricProgress_->setValue(0);
  const QString metric = metric_->currentData().toString();
  metricLabel_->setText(tr("Running %1...").arg(metric_->currentText()));
  if (cs::gen::isLanguageModel(current_.task())) {
    cs::gen::TextMetricRequest req;
    req.metric = toStd(metric);
    req.documents = metricSamples_->value();
    if (metric == QLatin1String("agreement")) {
      const QString ref = reference_->currentData().toString();
      if (ref == QLatin1String("session"))
        req.reference = session_->model().source();
      else
        req.reference = toStd(ref);
    }
    gen_.runTextMetric(currentKey(), req);
  } else {
    cs::gen::ImageMetricRequest req;
    req.metric = toStd(metric);
    req.samples = metricSamples_->value();
    req.options = cs::defaultImageGenOptions(current_);
    req.options.sampler = toStd(sampler_->currentData().toString());
    req.options.steps = steps_->value();
    req.options.eta = eta_->value();
    req.options.guidance = guidance_->value();
    req.options.temperature = imgTemp_->value();
    req.options.topK = imgTopK_->value();
    gen_.runImageMetric(currentKey(), req);
  }
}

void GenerateTab::cancel() { gen_.cancel(); }

bool GenerateTab::saveGrid(const QString& path, QString* error) {
  const int cols = grid_->columns();
  return gen_.saveGrid(path, cols, error);
}

void GenerateTab::saveGridInteractive() {
  const QString path = QFileDialog::getSaveFileName(this, tr("Save grid as PNG"), QStringLiteral("samples.png"),
                                                    tr("PNG images (*.png)"));
  if (path.isEmpty()) return;
  QString err;
  if (saveGrid(path, &err))
    status_->setText(tr("Saved %1").arg(path));
  else
    status_->setText(tr("Save failed: %1").arg(err));
}

void GenerateTab::updateBusy() {
  const bool busy = gen_.isGenerating(), measuring = gen_.isMeasuring();
  generateBtn_->setEnabled(current_.valid() && !busy);
  cancelBtn_->setEnabled(busy);
  metricBtn_->setEnabled(current_.valid() && metric_->count() > 0 && !measuring);
  model_->setEnabled(!busy && !measuring);
}

void GenerateTab::showImages() {
  const auto tiles = gen_.imageTiles();
  const auto labels = gen_.imageLabels();
  QVector<widgets::SampleTile> t;
  for (int i = 0; i < tiles.size(); ++i) t.push_back({tiles[i], i < labels.size() ? labels[i] : QString()});
  grid_->setTiles(t);
  stack_->setCurrentIndex(0);
  saveBtn_->setEnabled(!t.isEmpty());
  const auto& g = gen_.images();
  const double ips = g.seconds > 0 ? g.n / g.seconds : 0;
  info_->setText(tr("%1: %2 samples (%3x%4) in %5 s = %6 images/s")
                     .arg(gen_.imagesModel())
                     .arg(g.n)
                     .arg(g.h)
                     .arg(g.w)
                     .arg(g.seconds, 0, 'f', 2)
                     .arg(ips, 0, 'f', 2));
  progress_->setValue(1000);
  status_->setText(tr("Done."));
}

void GenerateTab::showText() {
  const auto& r = gen_.text();
  text_->setPlainText(prompt_->text() + toQString(r.text));
  stack_->setCurrentIndex(1);
  info_->setText(tr("%1 generated tokens (prompt %2) in %3 s = %4 tokens/s")
                     .arg(r.generatedTokens)
                     .arg(r.promptTokens)
                     .arg(r.seconds, 0, 'f', 2)
                     .arg(r.tokensPerSecond, 0, 'f', 1));
  progress_->setValue(1000);
  status_->setText(tr("Done."));
}

void GenerateTab::showMetric() {
  const auto& m = gen_.metric();
  QString line = toQString(m.text) + tr(" (%1 s)").arg(m.seconds, 0, 'f', 1);
  if (gen_.lastMetricRunId() >= 0) line += tr("; run %1 saved to the workspace").arg(gen_.lastMetricRunId());
  metricLabel_->setText(line);
  metricProgress_->setValue(1000);
}

void GenerateTab::showFailure(const QString& what, const QString& message, bool cancelled) {
  const QString line = cancelled ? tr("%1 cancelled").arg(what) : tr("%1 failed: %2").arg(what, message);
  if (what.startsWith(tr("Metric")))
    metricLabel_->setText(line);
  else
    status_->setText(line);
}

}  // namespace cs::gui
