// ArenaTab: the "Arena" page. Composes the passive arena widgets (K-slot voting panel, leaderboard)
// with the Qt-free arena library: opens a workspace's arena store, creates sessions from output sets,
// plans matches (pivot + UCB), stores each vote in its own transaction and reveals the identities,
// and refreshes the leaderboard for the chosen rating model. Owns its arena::Store (one connection;
// the CLI may use the same file at the same time). GUI thread only; votes are short SQLite transactions on
// the GUI thread, while generating outputs, the simulator and K-Sort Eval run as background jobs (own
// QThread, progress, cancel) that never touch the store; their results come back to the GUI thread.
// Built with the engine (CS_ARENA_STUDIO), the tab also generates output sets from studio models and
// judges image outputs with the Fashion-MNIST classifier (automatic votes and K-Sort Eval).
#pragma once
#include <QWidget>

#include <atomic>
#include <functional>
#include <memory>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QProgressBar;
class QPushButton;
class QTextBrowser;
class QThread;
class QSpinBox;

namespace arena {
class Store;
}

namespace cs::widgets {
class ArenaLeaderboard;
class ArenaMatrixView;
class ArenaPlotView;
class ArenaVotePanel;
}  // namespace cs::widgets
namespace cs::arenastudio {
class ClassifierScorer;
}

namespace cs::gui {

class ArenaTab : public QWidget {
  Q_OBJECT
 public:
  explicit ArenaTab(QWidget* parent = nullptr);
  ~ArenaTab() override;

  // Opens (or creates) the workspace file's arena tables. False + status message on failure.
  bool openWorkspace(const QString& path);
  // Creates a session over every model of an output set folder; returns its id (0 on failure).
  qint64 createSessionFromOutputSet(const QString& folder, int k);
  void setSession(qint64 id);
  // Plans and shows the next match of the current session.
  bool nextMatch();

  widgets::ArenaVotePanel* votePanel() const { return panel_; }
  widgets::ArenaLeaderboard* leaderboard() const { return board_; }
  widgets::ArenaMatrixView* matrix() const { return matrix_; }
  // Personal leaderboard: only the current judge's votes.
  void setPersonal(bool on);
  QString statusText() const;

  // Background jobs (own worker thread, progress bar, cancel): the convergence simulator
  // (noise-free setting) and the K-Sort Eval simulated-judge study. Results are shown as Markdown.
  bool startSimulation(int models = 50, int seeds = 10);
  bool startEvalStudy(int models = 30, int seeds = 3);
  void cancelJob();
  bool jobRunning() const;
  bool waitForJob(int timeoutMs);  // processes events; true when no job runs
  QString jobResult() const;
  qint64 currentMatch() const { return match_; }
  widgets::ArenaPlotView* plotView() const { return plot_; }

  // Generates an output set (variants = "NAME[@t=..,k=..,steps=..]" specs; text prompts one per line, or
  // class-conditional prompts when `classes` is set) in a background job, then creates a session over it.
  bool startGenerate(const QStringList& variants, const QString& prompts, const QString& classes,
                     const QString& seeds, const QString& outDir, int k);
  // K-Sort Eval of one model of the current session against the others' votes, judged by the
  // Fashion-MNIST classifier (background job; the plot shows mu and the score versus runs).
  bool startClassifierEval(const QString& model);
  // Ranks the current match's image outputs by the classifier and casts that vote (judge "classifier:...").
  bool autoVote();
  bool hasStudio() const;  // generation and the classifier judge are built in

 private:
  void chooseWorkspace();
  void chooseOutputSet();
  void reloadSessions();
  void refreshLeaderboard();
  void onRanks(const QVector<int>& ranks);
  void castVote(const std::vector<int>& ranks, int mode);
  void setStatus(const QString& s);
  bool startJob(const QString& title, std::function<QString(std::function<void(int, int)>, const std::atomic<bool>&)> work,
                std::function<void(bool ok)> then = {});
  QWidget* buildGeneratePage(QWidget* parent);

  std::unique_ptr<arena::Store> store_;
  QLineEdit* workspace_;
  QComboBox* sessions_;
  QSpinBox* k_;
  QLineEdit* judge_;
  QLabel* status_;
  widgets::ArenaVotePanel* panel_;
  widgets::ArenaLeaderboard* board_;
  widgets::ArenaMatrixView* matrix_;
  QCheckBox* personal_;
  QProgressBar* progress_;
  QPushButton* cancel_;
  QTextBrowser* results_;
  widgets::ArenaPlotView* plot_;
  QLineEdit* genVariants_ = nullptr;
  QLineEdit* genClasses_ = nullptr;
  QLineEdit* genSeeds_ = nullptr;
  QLineEdit* genOut_ = nullptr;
  QPlainTextEdit* genPrompts_ = nullptr;
  QComboBox* evalModel_ = nullptr;
  std::shared_ptr<arenastudio::ClassifierScorer> scorer_;
  QThread* job_ = nullptr;
  std::shared_ptr<std::atomic<bool>> cancelFlag_;
  qint64 session_ = 0;
  qint64 match_ = 0;
};

}  // namespace cs::gui
