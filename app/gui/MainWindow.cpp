#include "app/gui/MainWindow.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QDialog>
#include <QDialogButtonBox>
#include <QDragEnterEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QStatusBar>
#include <QTabWidget>
#include <QTextBrowser>
#include <QVBoxLayout>

#include "app/gui/CompressTab.h"
#include "app/gui/GenerateTab.h"
#ifdef CS_HAVE_ARENA_TAB
#include "app/gui/ArenaTab.h"
#endif
#ifdef CS_HAVE_EXPLORE_TAB
#include "app/gui/ExploreTab.h"
#endif
#ifdef CS_HAVE_PRUNE_TAB
#include "app/gui/PruneTab.h"
#endif
#ifdef CS_HAVE_VIDEO_TAB
#include "app/gui/VideoTab.h"
#endif
#include "core/Conversions.h"
#include "core/Settings.h"
#include "engine/model.h"
#include "widgets/JobStatusBar.h"

namespace cs::gui {
using namespace cs::qt;

namespace {
bool isModelFile(const QString& path) {
  const QString s = QFileInfo(path).suffix().toLower();
  return s == QLatin1String("pt") || s == QLatin1String("pth") || s == QLatin1String("safetensors") ||
         s == QLatin1String("ts");
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setAcceptDrops(true);
  tabs_ = new QTabWidget(this);
  tabs_->setDocumentMode(true);
  compress_ = new CompressTab(&session_, tabs_);
  tabs_->addTab(compress_, tr("Compress"));
  tabs_->addTab(new GenerateTab(&session_, tabs_), tr("Generate"));
#ifdef CS_HAVE_EXPLORE_TAB
  tabs_->addTab(new ExploreTab(&session_, tabs_), tr("Explore"));
#endif
#ifdef CS_HAVE_PRUNE_TAB
  tabs_->addTab(new PruneTab(tabs_), tr("Prune"));
#endif
#ifdef CS_HAVE_VIDEO_TAB
  tabs_->addTab(new VideoTab(tabs_), tr("Video"));
#endif
#ifdef CS_HAVE_ARENA_TAB
  auto* arena = new ArenaTab(tabs_);
  tabs_->addTab(arena, tr("Arena"));
  connect(session_.workspace(), &WorkspaceDocument::opened, arena,
          [arena](const QString& path) { arena->openWorkspace(path); });
#endif
  setCentralWidget(tabs_);

  status_ = new widgets::JobStatusBar(this);
  statusBar()->addWidget(status_, 1);
  statusBar()->setSizeGripEnabled(false);
  connect(status_, &widgets::JobStatusBar::cancelRequested, this, [this] { session_.cancelAll(); });

  auto* jobs = session_.jobs();
  // The bar follows one job at a time: the newest, until it ends; then whichever reports.
  connect(jobs, &JobRunner::jobStarted, status_, [this](quint64 id, const QString& title) {
    idleMessage_.clear();
    shownJob_ = id;
    status_->showJob(title);
  });
  connect(jobs, &JobRunner::jobProgress, status_, [this, jobs](quint64 id, double f, const QString& stage) {
    if (id != shownJob_) {
      if (jobs->isJobRunning(shownJob_)) return;
      shownJob_ = id;
      status_->showJob(jobs->jobTitle(id));
    }
    status_->showProgress(f, stage);
  });
  connect(jobs, &JobRunner::idle, status_,
          [this] { status_->showIdle(idleMessage_.isEmpty() ? tr("Ready") : idleMessage_); });
  connect(&session_, &StudioSession::jobFailed, this,
          [this](const QString& what, const QString& message, bool cancelled) {
            if (cancelled) {
              idleMessage_ = tr("%1 cancelled").arg(what);
              status_->showIdle(idleMessage_);
            } else {
              showError(what, message);
            }
          });
  connect(&session_, &StudioSession::modelOpened, this, &MainWindow::updateTitle);
  connect(&session_, &StudioSession::quantizationFinished, this, [this](qint64 id) {
    idleMessage_ = tr("Run %1 saved to the workspace").arg(id);
  });
  connect(session_.workspace(), &WorkspaceDocument::opened, this, &MainWindow::updateTitle);

  buildMenus();
  updateTitle();
  const QByteArray geometry = settings::windowGeometry().value();
  if (!geometry.isEmpty()) restoreGeometry(geometry);
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  QAction* open = file->addAction(tr("&Open Model…"), this, [this] {
    const QString path = QFileDialog::getOpenFileName(
        this, tr("Open model"), QString(),
        tr("Models (*.pt *.pth *.ts *.safetensors);;TorchScript (*.pt *.pth *.ts);;safetensors (*.safetensors);;All files (*)"));
    if (!path.isEmpty()) openModel(path);
  });
  open->setShortcut(QKeySequence::Open);
  file->addSeparator();
  file->addAction(tr("&New Workspace…"), this, [this] {
    const QString path = QFileDialog::getSaveFileName(this, tr("New workspace"), QStringLiteral("workspace.cstudio"),
                                                      tr("Workspaces (*.cstudio)"));
    if (path.isEmpty()) return;
    if (QFile::exists(path)) QFile::remove(path);
    openWorkspace(path);
  });
  file->addAction(tr("Open &Workspace…"), this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open workspace"), QString(),
                                                      tr("Workspaces (*.cstudio);;All files (*)"));
    if (!path.isEmpty()) openWorkspace(path);
  });
  file->addAction(tr("Open &Demo Workspace"), this,
                  [this] { openWorkspace(toQString(cs::defaultWorkspacePath())); });
  file->addSeparator();
  QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
  quit->setShortcut(QKeySequence::Quit);

  QMenu* zoo = menuBar()->addMenu(tr("&Zoo"));
  const auto entries = cs::zooModels();
  for (const ZooEntry& e : entries) {
    const QString name = toQString(e.name);
    QAction* a = zoo->addAction(
        e.available ? QStringLiteral("%1 — %2").arg(name, toQString(e.summary))
                    : tr("%1 — %2 (weights not available)").arg(name, toQString(e.summary)),
        this, [this, name] { openModel(name); });
    a->setEnabled(e.available);
    a->setStatusTip(toQString(e.summary));
  }
  if (!entries.empty()) {
    zoo->addSeparator();
    QMenu* cards = zoo->addMenu(tr("Model &Cards"));
    for (const ZooEntry& e : entries) {
      const QString name = toQString(e.name), card = toQString(e.card);
      QAction* c = cards->addAction(name, this, [this, name, card] { showModelCard(name, card); });
      c->setEnabled(QFileInfo::exists(card));
    }
  }
  if (zoo->isEmpty()) zoo->addAction(tr("(no zoo models found in %1)").arg(toQString(cs::zooDirectory())))->setEnabled(false);

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About Compression Studio"), this, [this] {
    QMessageBox::about(this, tr("About Compression Studio"),
                       tr("<b>Compression Studio</b><p>Interactive model compression: inspect weight and "
                          "activation distributions, quantize, and compare accuracy.</p>"));
  });
}

void MainWindow::showModelCard(const QString& name, const QString& cardPath) {
  QFile f(cardPath);
  if (!f.open(QIODevice::ReadOnly)) {
    showError(tr("Model card"), tr("%1: cannot read the model card").arg(cardPath));
    return;
  }
  QDialog dlg(this);
  dlg.setWindowTitle(tr("Model card: %1").arg(name));
  auto* text = new QTextBrowser(&dlg);
  text->setMarkdown(QString::fromUtf8(f.readAll()));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, &dlg);
  connect(buttons, &QDialogButtonBox::rejected, &dlg, &QDialog::reject);
  auto* layout = new QVBoxLayout(&dlg);
  layout->addWidget(text);
  layout->addWidget(buttons);
  dlg.resize(640, 560);
  dlg.exec();
}

bool MainWindow::openWorkspace(const QString& path, QString* error) {
  QString err;
  if (!session_.workspace()->open(path, &err)) {
    if (error) *error = err;
    showError(tr("Open workspace"), err);
    return false;
  }
  settings::lastWorkspace().setValue(session_.workspace()->path());
  return true;
}

void MainWindow::openModel(const QString& nameOrPath) { session_.openModel(nameOrPath); }

void MainWindow::showError(const QString& what, const QString& message) {
  const QString line = QStringLiteral("%1 failed: %2").arg(what, message);
  idleMessage_ = line;
  status_->showIdle(line);
  if (interactive_) QMessageBox::warning(this, tr("%1 failed").arg(what), message);
}

void MainWindow::updateTitle() {
  QString title = tr("Compression Studio");
  if (session_.hasModel()) title = session_.modelName() + QStringLiteral(" — ") + title;
  if (session_.workspace()->isOpen())
    title += QStringLiteral(" [%1]").arg(QFileInfo(session_.workspace()->path()).fileName());
  setWindowTitle(title);
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  for (const QUrl& url : event->mimeData()->urls()) {
    if (url.isLocalFile() && isModelFile(url.toLocalFile())) {
      event->acceptProposedAction();
      return;
    }
  }
}

void MainWindow::dropEvent(QDropEvent* event) {
  for (const QUrl& url : event->mimeData()->urls()) {
    if (url.isLocalFile() && isModelFile(url.toLocalFile())) {
      openModel(url.toLocalFile());
      event->acceptProposedAction();
      return;
    }
  }
}

void MainWindow::closeEvent(QCloseEvent* event) {
  session_.cancelAll();
  settings::windowGeometry().setValue(saveGeometry());
  QMainWindow::closeEvent(event);
}

}  // namespace cs::gui
