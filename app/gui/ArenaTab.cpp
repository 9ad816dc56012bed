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
#include "widgets/arena/ArenaVotePanel.h"

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
  top->addWidget(workspace_, 2);
  top->addWidget(open);
  top->addWidget(new QLabel(tr("Session:"), this));
  top->addWidget(sessions_, 1);
  top->addWidget(k_);
  top->addWidget(fromSet);
  top->addWidget(new QLabel(tr("Judge:"), this));
  top->addWidget(judge_);
  top->addWidget(next);
  layout->addLayout(top);
  auto* split = new QSplitter(Qt::Horizontal, this);
  panel_ = new widgets::ArenaVotePanel(split);
  auto* right = new QTabWidget(split);
  auto* boardBox = new QWidget(right);
  auto* boardLayout = new QVBoxLayout(boardBox);
  boardLayout->setContentsMargins(0, 0, 0, 0);
  board_ = new widgets::ArenaLeaderboard(boardBox);
  personal_ = new QCheckBox(tr("Personal leaderboard (only this judge's votes)"), boardBox);
  boardLayout->addWidget(board_, 1);
  boardLayout->addWidget(personal_);
  matrix_ = new widgets::ArenaMatrixView(right);
  auto* jobs = new QWidget(right);
  auto* jobsLayout = new QVBoxLayout(jobs);
  auto* jobButtons = new QHBoxLayout;
  auto* sim = new QPushButton(tr("Run simulator"), jobs);
  auto* eval = new QPushButton(tr("Run K-Sort Eval study"), jobs);
  cancel_ = new QPushButton(tr("Cancel"), jobs);
  cancel_->setEnabled(false);
  jobButtons->addWidget(sim);
  jobButtons->addWidget(eval);
  jobButtons->addWidget(cancel_);
  jobsLayout->addLayout(jobButtons);
  progress_ = new QProgressBar(jobs);
  jobsLayout->addWidget(progress_);
  results_ = new QTextBrowser(jobs);
  jobsLayout->addWidget(results_, 1);
  right->addTab(boardBox, tr("Leaderboard"));
  right->addTab(matrix_, tr("Battles / win rates"));
  right->addTab(jobs, tr("Simulator && Eval"));
  connect(sim, &QPushButton::clicked, this, [this] { startSimulation(); });
  connect(eval, &QPushButton::clicked, this, [this] { startEvalStudy(); });
  connect(cancel_, &QPushButton::clicked, this, &ArenaTab::cancelJob);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
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
                        std::function<QString(std::function<void(int, int)>, const std::atomic<bool>&)> work) {
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
  job_ = QThread::create([this, work, flag, title] {
    QString md;
    try {
      md = work([this](int done, int total) {
        QMetaObject::invokeMethod(this, [this, done, total] { progress_->setValue(total ? 100 * done / total : 0); },
                                  Qt::QueuedConnection);
      }, *flag);
    } catch (const std::exception& e) {
      md = tr("%1 failed: %2").arg(title, QString::fromStdString(e.what()));
    }
    const bool cancelled = flag->load();
    QMetaObject::invokeMethod(this, [this, md, cancelled, title] {
      results_->setMarkdown(cancelled ? tr("%1 cancelled.").arg(title) : md);
      setStatus(cancelled ? tr("%1 cancelled").arg(title) : tr("%1 finished").arg(title));
      cancel_->setEnabled(false);
      progress_->setValue(cancelled ? 0 : 100);
    }, Qt::QueuedConnection);
  });
  connect(job_, &QThread::finished, this, [this] {
    job_->deleteLater();
    job_ = nullptr;
  });
  job_->start();
  return true;
}

bool ArenaTab::startSimulation(int models, int seeds) {
  return startJob(tr("Simulator"), [models, seeds](std::function<void(int, int)> progress, const std::atomic<bool>& cancel) {
    arena::SimSetting s;
    s.label = "no noise";
    s.config.models = models;
    s.config.seeds = seeds;
    s.arms = arena::runSimulation(arena::defaultArms(20000, 400000), s.config, progress, &cancel);
    arena::NewModelConfig nc;
    nc.models = models;
    nc.trueRank = std::min(31, models);
    nc.seeds = seeds;
    const auto nm = cancel.load() ? std::vector<arena::NewModelResult>{}
                                  : arena::runNewModel(arena::defaultNewModelArms(), nc);
    return QString::fromStdString(arena::convergenceMarkdown({s}, nc, nm, "Arena tab: Run simulator", ""));
  });
}

bool ArenaTab::startEvalStudy(int models, int seeds) {
  return startJob(tr("K-Sort Eval study"), [models, seeds](std::function<void(int, int)> progress, const std::atomic<bool>&) {
    arena::StudyConfig cfg;
    cfg.models = models;
    cfg.seeds = seeds;
    const auto rep = arena::runKSortEvalStudy(arena::defaultStudyArms(), cfg, progress);
    return QString::fromStdString(arena::studyMarkdown(rep, cfg, "Arena tab: Run K-Sort Eval study"));
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

}  // namespace cs::gui
