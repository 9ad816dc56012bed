#include "app/gui/ArenaTab.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QLineEdit>
#include <QProgressBar>
#include <QTabWidget>
#include <QTextBrowser>
#include <QThread>
#include <QFormLayout>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include "arena/kseval_study.h"
#include "arena/leaderboard.h"
#include "arena/outputset.h"
#include "arena/session.h"
#include "arena/simulator.h"
#include "arena/store.h"
#include "widgets/arena/ArenaLeaderboard.h"
#include "widgets/arena/ArenaMatrixView.h"
#include "widgets/arena/ArenaPlotView.h"
#include "widgets/arena/ArenaVotePanel.h"
#ifdef CS_ARENA_STUDIO
#include "core/ArenaGenerate.h"
#include "core/ArenaJudges.h"
#include "arena/kseval.h"
#include "arena/rating.h"
#endif

#include <algorithm>

namespace cs::gui {

ArenaTab::ArenaTab(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  workspace_ = new QLineEdit(this);
  workspace_->setPlaceholderText(tr("workspace file"));
  auto* open = new QPushButton(tr("Open..."), this);
  sessions_ = new QComboBox(this);
  k_ = new QSpinBox(this);
  k_->setRange(2, 6);
  k_->setValue(4);
  k_->setPrefix(tr("K = "));
  auto* fromSet = new QPushButton(tr("New session from output set..."), this);
  judge_ = new QLineEdit(QStringLiteral("me"), this);
  judge_->setToolTip(tr("Judge id (personal leaderboards)"));
  auto* next = new QPushButton(tr("Next match"), this);
  auto* autoVoteBtn = new QPushButton(tr("Auto-vote (classifier)"), this);
  autoVoteBtn->setToolTip(tr("Rank this match's image outputs by the Fashion-MNIST classifier's P(prompt class)"));
  autoVoteBtn->setVisible(hasStudio());
  top->addWidget(workspace_, 2);
  top->addWidget(open);
  top->addWidget(new QLabel(tr("Session:"), this));
  top->addWidget(sessions_, 1);
  top->addWidget(k_);
  top->addWidget(fromSet);
  top->addWidget(new QLabel(tr("Judge:"), this));
  top->addWidget(judge_);
  top->addWidget(next);
  top->addWidget(autoVoteBtn);
  layout->addLayout(top);
  connect(autoVoteBtn, &QPushButton::clicked, this, [this] { autoVote(); });
  auto* split = new QSplitter(Qt::Horizontal, this);
  panel_ = new widgets::ArenaVotePanel(split);
  auto* rightSplit = new QSplitter(Qt::Vertical, split);
  auto* right = new QTabWidget(rightSplit);
  auto* boardBox = new QWidget(right);
  auto* boardLayout = new QVBoxLayout(boardBox);
  boardLayout->setContentsMargins(0, 0, 0, 0);
  board_ = new widgets::ArenaLeaderboard(boardBox);
  personal_ = new QCheckBox(tr("Personal leaderboard (only this judge's votes)"), boardBox);
  boardLayout->addWidget(board_, 1);
  boardLayout->addWidget(personal_);
  matrix_ = new widgets::ArenaMatrixView(right);
  auto* jobs = new QWidget(rightSplit);
  auto* jobsLayout = new QVBoxLayout(jobs);
  auto* jobButtons = new QHBoxLayout;
  auto* sim = new QPushButton(tr("Simulator"), jobs);
  sim->setToolTip(tr("Convergence simulator (noise-free setting) as a background job"));
  auto* eval = new QPushButton(tr("Eval study"), jobs);
  evalModel_ = new QComboBox(jobs);
  evalModel_->setToolTip(tr("Model of the current session to evaluate as new (K-Sort Eval, classifier judge)"));
  auto* evalReal = new QPushButton(tr("K-Sort Eval (classifier)"), jobs);
  evalModel_->setVisible(hasStudio());
  evalReal->setVisible(hasStudio());
  cancel_ = new QPushButton(tr("Cancel"), jobs);
  cancel_->setEnabled(false);
  jobButtons->addWidget(sim);
  jobButtons->addWidget(eval);
  jobButtons->addWidget(evalModel_);
  jobButtons->addWidget(evalReal);
  jobButtons->addWidget(cancel_);
  jobsLayout->addLayout(jobButtons);
  progress_ = new QProgressBar(jobs);
  jobsLayout->addWidget(progress_);
  auto* jobTabs = new QTabWidget(jobs);
  plot_ = new widgets::ArenaPlotView(jobTabs);
  results_ = new QTextBrowser(jobTabs);
  jobTabs->addTab(plot_, tr("Plot"));
  jobTabs->addTab(results_, tr("Report"));
  jobsLayout->addWidget(jobTabs, 1);
  connect(evalReal, &QPushButton::clicked, this, [this] { startClassifierEval(evalModel_->currentText()); });
  right->addTab(boardBox, tr("Leaderboard"));
  right->addTab(matrix_, tr("Battles / win rates"));
  if (hasStudio()) right->addTab(buildGeneratePage(right), tr("Generate outputs"));
  rightSplit->setStretchFactor(0, 1);
  rightSplit->setStretchFactor(1, 1);
  connect(sim, &QPushButton::clicked, this, [this] { startSimulation(); });
  connect(eval, &QPushButton::clicked, this, [this] { startEvalStudy(); });
  connect(cancel_, &QPushButton::clicked, this, &ArenaTab::cancelJob);
  split->setStretchFactor(0, 11);
  split->setStretchFactor(1, 9);
  layout->addWidget(split, 1);
  status_ = new QLabel(tr("Open a workspace to start."), this);
  layout->addWidget(status_);

  connect(open, &QPushButton::clicked, this, &ArenaTab::chooseWorkspace);
  connect(workspace_, &QLineEdit::returnPressed, this, [this] { openWorkspace(workspace_->text()); });
  connect(fromSet, &QPushButton::clicked, this, &ArenaTab::chooseOutputSet);
  connect(next, &QPushButton::clicked, this, &ArenaTab::nextMatch);
  connect(sessions_, &QComboBox::activated, this,
          [this](int i) { setSession(sessions_->itemData(i).toLongLong()); });
  connect(panel_, &widgets::ArenaVotePanel::rankSubmitted, this, &ArenaTab::onRanks);
  connect(panel_, &widgets::ArenaVotePanel::allTieRequested, this, [this] {
    castVote(std::vector<int>(panel_->slotCount(), 1), static_cast<int>(arena::VoteMode::AllTie));
  });
  connect(panel_, &widgets::ArenaVotePanel::allBadRequested, this, [this] {
    castVote(std::vector<int>(panel_->slotCount(), 1), static_cast<int>(arena::VoteMode::AllBad));
  });
  connect(panel_, &widgets::ArenaVotePanel::skipRequested, this, [this] {
    if (store_ && match_) store_->skip(match_);
    nextMatch();
  });
  connect(board_, &widgets::ArenaLeaderboard::ratingModelChanged, this, [this] { refreshLeaderboard(); });
  connect(personal_, &QCheckBox::toggled, this, [this] { refreshLeaderboard(); });
}

ArenaTab::~ArenaTab() {
  if (job_) {
    cancelFlag_->store(true);
    job_->wait();
    delete job_;
  }
}

bool ArenaTab::jobRunning() const { return job_ != nullptr; }

QString ArenaTab::jobResult() const { return results_->toMarkdown(); }

void ArenaTab::cancelJob() {
  if (cancelFlag_) cancelFlag_->store(true);
}

bool ArenaTab::waitForJob(int timeoutMs) {
  QElapsedTimer t;
  t.start();
  while (job_ && t.elapsed() < timeoutMs) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    QThread::msleep(5);
  }
  return job_ == nullptr;
}

bool ArenaTab::startJob(const QString& title,
                        std::function<QString(std::function<void(int, int)>, const std::atomic<bool>&)> work,
                        std::function<void(bool ok)> then) {
  if (job_) {
    setStatus(tr("A job is already running"));
    return false;
  }
  cancelFlag_ = std::make_shared<std::atomic<bool>>(false);
  auto flag = cancelFlag_;
  progress_->setValue(0);
  cancel_->setEnabled(true);
  setStatus(tr("%1 running...").arg(title));
  // Progress and the result reach the GUI thread through queued calls; the destructor waits for the thread.
  job_ = QThread::create([this, work, flag, title, then] {
    QString md;
    bool ok = true;
    try {
      md = work([this](int done, int total) {
        QMetaObject::invokeMethod(this, [this, done, total] { progress_->setValue(total ? 100 * done / total : 0); },
                                  Qt::QueuedConnection);
      }, *flag);
    } catch (const std::exception& e) {
      ok = false;
      md = tr("%1 failed: %2").arg(title, QString::fromStdString(e.what()));
    }
    const bool cancelled = flag->load();
    QMetaObject::invokeMethod(this, [this, md, cancelled, title, then, ok] {
      results_->setMarkdown(cancelled ? tr("%1 cancelled.").arg(title) : md);
      setStatus(cancelled ? tr("%1 cancelled").arg(title) : tr("%1 finished").arg(title));
      cancel_->setEnabled(false);
      progress_->setValue(cancelled ? 0 : 100);
      if (then) then(ok && !cancelled);
    }, Qt::QueuedConnection);
  });
  connect(job_, &QThread::finished, this, [this] {
    job_->deleteLater();
    job_ = nullptr;
  });
  job_->start();
  return true;
}

namespace {
// Median of each arm's position-MSE curve, for the plot (x = pairwise comparisons).
QVector<widgets::ArenaPlotSeries> simulatorSeries(const arena::SimSetting& s) {
  QVector<widgets::ArenaPlotSeries> out;
  for (const auto& a : s.arms) {
    size_t len = 0;
    for (const auto& r : a.runs) len = std::max(len, r.curve.size());
    widgets::ArenaPlotSeries ser;
    ser.name = QString::fromStdString(a.arm.name);
    ser.dashed = a.arm.rater == arena::SimRater::Elo;
    for (size_t i = 0; i < len; ++i) {
      std::vector<double> v;
      for (const auto& r : a.runs)
        if (i < r.curve.size()) v.push_back(r.curve[i]);
      if (v.empty()) continue;
      std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
      ser.x.push_back(double(i + 1) * s.config.curveStep);
      ser.y.push_back(v[v.size() / 2]);
    }
    if (!ser.x.isEmpty()) out.push_back(ser);
  }
  return out;
}
}  // namespace

bool ArenaTab::startSimulation(int models, int seeds) {
  auto series = std::make_shared<QVector<widgets::ArenaPlotSeries>>();
  return startJob(tr("Simulator"), [models, seeds, series](std::function<void(int, int)> progress, const std::atomic<bool>& cancel) {
    arena::SimSetting s;
    s.label = "no noise";
    s.config.models = models;
    s.config.seeds = seeds;
    s.arms = arena::runSimulation(arena::defaultArms(20000, 400000), s.config, progress, &cancel);
    *series = simulatorSeries(s);
    arena::NewModelConfig nc;
    nc.models = models;
    nc.trueRank = std::min(31, models);
    nc.seeds = seeds;
    const auto nm = cancel.load() ? std::vector<arena::NewModelResult>{}
                                  : arena::runNewModel(arena::defaultNewModelArms(), nc);
    return QString::fromStdString(arena::convergenceMarkdown({s}, nc, nm, "Arena tab: Run simulator", ""));
  }, [this, series](bool ok) {
    if (ok)
      plot_->setSeries(tr("Simulator: median position MSE (0 = exact order)"), tr("pairwise comparisons"),
                       tr("position MSE"), *series, true);
  });
}

bool ArenaTab::startEvalStudy(int models, int seeds) {
  auto series = std::make_shared<QVector<widgets::ArenaPlotSeries>>();
  return startJob(tr("K-Sort Eval study"), [models, seeds, series](std::function<void(int, int)> progress, const std::atomic<bool>&) {
    arena::StudyConfig cfg;
    cfg.models = models;
    cfg.seeds = seeds;
    const auto rep = arena::runKSortEvalStudy(arena::defaultStudyArms(), cfg, progress);
    std::map<std::string, widgets::ArenaPlotSeries> byArm;
    for (const auto& c : rep.cells) {
      auto& ser = byArm[c.arm];
      ser.name = QString::fromStdString(c.arm);
      ser.x.push_back(std::min(c.judgeNoise, 16.0));  // the chance-level judge (1e6) is drawn at 16
      ser.y.push_back(c.meanAbsRankDiff);
    }
    for (auto& [name, ser] : byArm) series->push_back(ser);
    return QString::fromStdString(arena::studyMarkdown(rep, cfg, "Arena tab: Run K-Sort Eval study"));
  }, [this, series](bool ok) {
    if (ok)
      plot_->setSeries(tr("K-Sort Eval study: |rank - arena rank| vs judge noise (chance at 16)"), tr("judge noise"),
                       tr("mean |delta rank|"), *series);
  });
}

QString ArenaTab::statusText() const { return status_->text(); }

void ArenaTab::setStatus(const QString& s) { status_->setText(s); }

bool ArenaTab::openWorkspace(const QString& path) {
  try {
    store_ = std::make_unique<arena::Store>(path.toStdString());
  } catch (const std::exception& e) {
    store_.reset();
    setStatus(tr("Cannot open workspace: %1").arg(QString::fromStdString(e.what())));
    return false;
  }
  workspace_->setText(path);
  reloadSessions();
  refreshLeaderboard();
  setStatus(tr("Workspace %1 open").arg(path));
  return true;
}

void ArenaTab::chooseWorkspace() {
  const QString f = QFileDialog::getSaveFileName(this, tr("Workspace"), workspace_->text(), tr("Workspace (*.db *.sqlite *.csw);;All files (*)"),
                                                 nullptr, QFileDialog::DontConfirmOverwrite);
  if (!f.isEmpty()) openWorkspace(f);
}

void ArenaTab::chooseOutputSet() {
  const QString d = QFileDialog::getExistingDirectory(this, tr("Output set (one folder per model)"));
  if (!d.isEmpty()) createSessionFromOutputSet(d, k_->value());
}

qint64 ArenaTab::createSessionFromOutputSet(const QString& folder, int k) {
  if (!store_) {
    setStatus(tr("Open a workspace first"));
    return 0;
  }
  try {
    const auto set = arena::loadOutputSet(folder.toStdString());
    for (const auto& p : set.prompts) store_->upsertPrompt(p);
    arena::Session s;
    s.name = QFileInfo(folder).fileName().toStdString();
    s.k = k;
    s.models = set.models;
    s.prompts = set.commonPrompts(set.models);
    s.outputRoot = QFileInfo(folder).absoluteFilePath().toStdString();
    if (static_cast<int>(s.models.size()) < k) throw std::runtime_error("the output set has fewer models than K");
    if (s.prompts.empty()) throw std::runtime_error("no prompt has outputs for every model");
    const qint64 id = store_->createSession(s);
    reloadSessions();
    setSession(id);
    setStatus(tr("Session %1: %2 models, %3 prompts").arg(id).arg(s.models.size()).arg(s.prompts.size()));
    return id;
  } catch (const std::exception& e) {
    setStatus(tr("Cannot create session: %1").arg(QString::fromStdString(e.what())));
    return 0;
  }
}

void ArenaTab::reloadSessions() {
  sessions_->clear();
  if (!store_) return;
  for (const auto& s : store_->sessions())
    sessions_->addItem(QStringLiteral("%1: %2 (K=%3)").arg(s.id).arg(QString::fromStdString(s.name)).arg(s.k),
                       QVariant::fromValue<qint64>(s.id));
}

void ArenaTab::setSession(qint64 id) {
  session_ = id;
  const int idx = sessions_->findData(QVariant::fromValue<qint64>(id));
  if (idx >= 0) sessions_->setCurrentIndex(idx);
  evalModel_->clear();
  if (store_)
    if (const auto s = store_->session(id))
      for (const auto& m : s->models) evalModel_->addItem(QString::fromStdString(m));
  refreshLeaderboard();
}

bool ArenaTab::nextMatch() {
  if (!store_ || session_ == 0) {
    setStatus(tr("Choose a session first"));
    return false;
  }
  try {
    const auto s = store_->session(session_);
    std::unique_ptr<arena::OutputSet> set;
    if (s && !s->outputRoot.empty()) set = std::make_unique<arena::OutputSet>(arena::loadOutputSet(s->outputRoot));
    const auto m = arena::planMatch(*store_, session_, judge_->text().toStdString(), arena::PlanOptions{}, set.get());
    match_ = m.id;
    QStringList outputs;
    for (const auto& c : m.candidates) {
      std::optional<std::string> p;
      if (set) p = set->output(c, m.prompt);
      outputs << (p ? QString::fromStdString(*p) : tr("(no output file)"));
    }
    QString prompt = QString::fromStdString(m.prompt);
    if (const auto info = store_->prompt(m.prompt); info && !info->text.empty())
      prompt += QStringLiteral(" - ") + QString::fromStdString(info->text);
    panel_->setOutputs(prompt, outputs);
    setStatus(tr("Match %1: rank the outputs (1..%2, Enter to submit)").arg(m.id).arg(m.candidates.size()));
    return true;
  } catch (const std::exception& e) {
    setStatus(tr("Cannot plan a match: %1").arg(QString::fromStdString(e.what())));
    return false;
  }
}

void ArenaTab::onRanks(const QVector<int>& ranks) {
  castVote(std::vector<int>(ranks.begin(), ranks.end()), static_cast<int>(arena::VoteMode::Rank));
}

void ArenaTab::castVote(const std::vector<int>& ranks, int mode) {
  if (!store_ || match_ == 0) return;
  try {
    const auto v = store_->castVote(match_, ranks, static_cast<arena::VoteMode>(mode), judge_->text().toStdString());
    QStringList models;
    for (const auto& m : v.models) models << QString::fromStdString(m);
    panel_->reveal(models);
    setStatus(v.counted ? tr("Vote %1 stored. Press \"Next match\".").arg(v.id)
                        : tr("Vote %1 stored but not counted (identities were revealed first).").arg(v.id));
    match_ = 0;
    refreshLeaderboard();
  } catch (const std::exception& e) {
    setStatus(tr("Vote not stored: %1").arg(QString::fromStdString(e.what())));
  }
}

void ArenaTab::setPersonal(bool on) { personal_->setChecked(on); }

void ArenaTab::refreshLeaderboard() {
  QVector<widgets::ArenaLeaderboardRow> rows;
  QStringList names;
  QVector<QVector<int>> counts;
  QVector<QVector<double>> rates;
  if (store_) {
    arena::RatingModel model = arena::RatingModel::KSort;
    arena::parseRatingModel(board_->ratingModel().toStdString(), &model);
    arena::LeaderboardOptions opt;
    if (personal_->isChecked()) opt.judge = judge_->text().toStdString();
    const auto votes = store_->votes(session_);
    const auto pm = arena::pairMatrix(votes, opt.judge);
    for (size_t i = 0; i < pm.models.size(); ++i) {
      names << QString::fromStdString(pm.models[i]);
      counts.push_back(QVector<int>(pm.battles[i].begin(), pm.battles[i].end()));
      rates.push_back(QVector<double>(pm.winRate[i].begin(), pm.winRate[i].end()));
    }
    for (const auto& r : arena::computeLeaderboard(votes, model, opt)) {
      widgets::ArenaLeaderboardRow x;
      x.rank = r.rank;
      x.model = QString::fromStdString(r.model);
      x.score = r.score;
      x.mu = r.mu;
      x.sigma = r.sigma;
      x.lo = r.lo;
      x.hi = r.hi;
      x.votes = r.votes;
      x.comparisons = r.comparisons;
      rows.push_back(x);
    }
  }
  board_->setRows(rows);
  matrix_->setData(names, counts, rates);
}

bool ArenaTab::hasStudio() const {
#ifdef CS_ARENA_STUDIO
  return true;
#else
  return false;
#endif
}

QWidget* ArenaTab::buildGeneratePage(QWidget* parent) {
  auto* page = new QWidget(parent);
  auto* form = new QFormLayout(page);
  genVariants_ = new QLineEdit(QStringLiteral("lm-fortunes@t=0.7 lm-fortunes@t=1.5"), page);
  genVariants_->setToolTip(tr("Space-separated variants: NAME[@t=TEMP,k=TOPK,steps=N,label=FOLDER]; a zoo name or a "
                              "model file"));
  genPrompts_ = new QPlainTextEdit(page);
  genPrompts_->setPlaceholderText(tr("Text prompts for language models, one per line"));
  genPrompts_->setPlainText(QStringLiteral("Once upon a time\nThe best thing about computers is\nA wise man once said"));
  genClasses_ = new QLineEdit(page);
  genClasses_->setPlaceholderText(tr("image generators: classes, e.g. 0-9 (prompt = class + seed)"));
  genSeeds_ = new QLineEdit(QStringLiteral("0-3"), page);
  genOut_ = new QLineEdit(page);
  genOut_->setPlaceholderText(tr("output set folder"));
  auto* go = new QPushButton(tr("Generate outputs && create session"), page);
  form->addRow(tr("Variants"), genVariants_);
  form->addRow(tr("Prompts"), genPrompts_);
  form->addRow(tr("Classes"), genClasses_);
  form->addRow(tr("Seeds"), genSeeds_);
  form->addRow(tr("Output set"), genOut_);
  form->addRow(go);
  connect(go, &QPushButton::clicked, this, [this] {
    startGenerate(genVariants_->text().split(QLatin1Char(' '), Qt::SkipEmptyParts), genPrompts_->toPlainText(),
                  genClasses_->text(), genSeeds_->text(), genOut_->text(), k_->value());
  });
  return page;
}

#ifdef CS_ARENA_STUDIO
bool ArenaTab::startGenerate(const QStringList& variants, const QString& prompts, const QString& classes,
                             const QString& seeds, const QString& outDir, int k) {
  namespace as = cs::arenastudio;
  as::GenerateSetOptions g;
  try {
    if (outDir.isEmpty()) throw std::invalid_argument("choose an output set folder");
    g.outDir = outDir.toStdString();
    for (const auto& v : variants) g.variants.push_back(as::parseVariantSpec(v.toStdString()));
    if (!classes.trimmed().isEmpty()) {
      std::vector<int> cls;
      for (auto c : as::parseRangeList(classes.toStdString())) cls.push_back(static_cast<int>(c));
      g.prompts = as::classPrompts(cls, as::parseRangeList(seeds.toStdString()));
    } else {
      for (const auto& line : prompts.split(QLatin1Char('\n'), Qt::SkipEmptyParts)) {
        arena::PromptInfo p;
        p.key = "p" + std::to_string(g.prompts.size() + 1);
        p.text = line.trimmed().toStdString();
        p.seed = static_cast<std::int64_t>(g.prompts.size());
        g.prompts.push_back(p);
      }
    }
    if (g.prompts.empty()) throw std::invalid_argument("give text prompts or classes");
  } catch (const std::exception& e) {
    setStatus(tr("Cannot generate: %1").arg(QString::fromStdString(e.what())));
    return false;
  }
  return startJob(tr("Generating outputs"), [g](std::function<void(int, int)> progress, const std::atomic<bool>& cancel) {
    cs::JobContext job;
    auto token = job.cancelToken();
    job.setProgress([&progress, &cancel, token](double f, const std::string&) {
      if (cancel.load()) token->store(true);
      progress(static_cast<int>(1000 * f), 1000);
    });
    const auto rep = as::generateOutputSet(g, job);
    return QString::fromStdString("Wrote " + std::to_string(rep.written) + " outputs (" + std::to_string(rep.kept) +
                                  " kept) for " + std::to_string(rep.folders.size()) + " variants into `" + g.outDir +
                                  "` in " + std::to_string(static_cast<int>(rep.seconds)) + " s.");
  }, [this, outDir, k](bool ok) {
    if (ok) createSessionFromOutputSet(outDir, k);
  });
}

bool ArenaTab::startClassifierEval(const QString& model) {
  if (!store_ || session_ == 0 || model.isEmpty()) {
    setStatus(tr("Choose a session and a model first"));
    return false;
  }
  const auto s = store_->session(session_);
  if (!s || s->outputRoot.empty()) {
    setStatus(tr("K-Sort Eval needs a session over an output set"));
    return false;
  }
  const auto votes = arena::replayOrder(store_->votes(session_));
  const std::string root = s->outputRoot, target = model.toStdString();
  auto series = std::make_shared<QVector<widgets::ArenaPlotSeries>>();
  return startJob(tr("K-Sort Eval (classifier)"), [votes, root, target, series](
                                                      std::function<void(int, int)> progress, const std::atomic<bool>& cancel) {
    const auto set = arena::loadOutputSet(root);
    const auto board = arena::trueskillRatings(votes);
    auto instances = arena::curateInstances(votes, board, 0.75, target, [&](const arena::Vote& v) {
      std::vector<arena::JudgeOutput> out(v.models.size());
      for (size_t i = 0; i < out.size(); ++i) out[i].path = set.output(v.models[i], v.prompt).value_or("");
      return out;
    });
    auto& inst = instances.instances;
    inst.erase(std::remove_if(inst.begin(), inst.end(), [&](const arena::EvalInstance& in) { return !set.output(target, in.prompt); }),
               inst.end());
    for (auto& in : inst)
      for (const auto& p : set.prompts)
        if (p.key == in.prompt) in.promptInfo = p;
    if (inst.empty()) throw std::runtime_error("no curated human vote has an output of '" + target + "'");
    // Its own scorer: the tab's (auto-vote) lives on the GUI thread and its cache is not locked.
    auto judge = cs::arenastudio::makeClassifierJudge(std::make_shared<cs::arenastudio::ClassifierScorer>());
    arena::EvalParams p;
    p.heldOut = target;
    int runs = 0;
    const auto res = arena::evaluateNewModel(instances, board, *judge, [&](const arena::EvalInstance& in) {
      progress(++runs, p.maxRuns);
      return arena::JudgeOutput{*set.output(target, in.prompt), {}, std::numeric_limits<double>::quiet_NaN()};
    }, p, &cancel);
    widgets::ArenaPlotSeries mu{QStringLiteral("mu (K-Sort Eval)"), {}, {}}, sc{QStringLiteral("mu - 3 mean sigma"), {}, {}};
    for (size_t i = 0; i < res.steps.size(); ++i) {
      mu.x.push_back(double(i + 1));
      mu.y.push_back(res.steps[i].after.mu);
      sc.x.push_back(double(i + 1));
      sc.y.push_back(res.steps[i].after.mu - 3 * res.stdMean);
    }
    series->push_back(mu);
    series->push_back(sc);
    QString md = QStringLiteral("**K-Sort Eval of `%1`** (judge: %2, %3 curated instances of %4 votes): score %5, rank %6 "
                                "after %7 runs%8.")
                     .arg(QString::fromStdString(target), QString::fromStdString(judge->name()))
                     .arg(inst.size())
                     .arg(instances.considered)
                     .arg(res.score, 0, 'f', 2)
                     .arg(res.rank)
                     .arg(res.runs)
                     .arg(res.converged ? QString() : QStringLiteral(" (not converged)"));
    if (auto it = board.find(target); it != board.end()) {
      const double arenaScore = arena::conservative(it->second);
      md += QStringLiteral(" Arena (human votes): score %1, rank %2.")
                .arg(arenaScore, 0, 'f', 2)
                .arg(arena::rankAgainst(arenaScore, board, target));
      series->push_back({QStringLiteral("arena score (humans)"), {1.0, double(std::max(1, res.runs))},
                         {arenaScore, arenaScore}, true});
    }
    return md;
  }, [this, series](bool ok) {
    if (ok) plot_->setSeries(tr("K-Sort Eval: estimate vs runs"), tr("runs"), tr("rating"), *series);
  });
}

bool ArenaTab::autoVote() {
  if (!store_ || match_ == 0) {
    setStatus(tr("Plan a match first"));
    return false;
  }
  try {
    const auto m = store_->match(match_);
    const auto s = store_->session(m->sessionId);
    if (!s || s->outputRoot.empty()) throw std::runtime_error("the session has no output set");
    const auto set = arena::loadOutputSet(s->outputRoot);
    auto info = store_->prompt(m->prompt);
    if (!info || info->classId < 0) throw std::runtime_error("prompt '" + m->prompt + "' has no class");
    if (!scorer_) scorer_ = std::make_shared<cs::arenastudio::ClassifierScorer>();
    auto judge = cs::arenastudio::makeClassifierJudge(scorer_);
    arena::JudgeRequest req;
    req.prompt = *info;
    for (const auto& c : m->candidates) req.outputs.push_back({set.output(c, m->prompt).value_or(""), {}, 0.0});
    const auto order = arena::rankWithRetry(*judge, req);
    std::vector<int> ranks(order.size());
    for (size_t r = 0; r < order.size(); ++r) ranks[order[r]] = static_cast<int>(r) + 1;
    const QString human = judge_->text();
    judge_->setText(QString::fromStdString(judge->name()));
    for (int i = 0; i < panel_->slotCount(); ++i) panel_->undo();  // show the judge's ranking, not a partial one
    for (size_t i = 0; i < ranks.size(); ++i) panel_->assignNext(std::find(ranks.begin(), ranks.end(), int(i) + 1) - ranks.begin());
    castVote(ranks, static_cast<int>(arena::VoteMode::Rank));
    judge_->setText(human);
    return true;
  } catch (const std::exception& e) {
    setStatus(tr("Auto-vote failed: %1").arg(QString::fromStdString(e.what())));
    return false;
  }
}
#else
bool ArenaTab::startGenerate(const QStringList&, const QString&, const QString&, const QString&, const QString&, int) {
  setStatus(tr("This build has no output generation (built without the engine)"));
  return false;
}
bool ArenaTab::startClassifierEval(const QString&) {
  setStatus(tr("This build has no classifier judge (built without the engine)"));
  return false;
}
bool ArenaTab::autoVote() {
  setStatus(tr("This build has no classifier judge (built without the engine)"));
  return false;
}
#endif

}  // namespace cs::gui
