// MainWindow: menus (File, Zoo, Help), the tab widget ("Compress" first; other tabs are
// added by their owners through addTab()), the job status bar, drag and drop of model
// files. Owns the StudioSession. Composition only.
#pragma once
#include <QMainWindow>

#include "core/StudioSession.h"

class QTabWidget;

namespace cs::widgets {
class JobStatusBar;
}

namespace cs::gui {
class CompressTab;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  cs::qt::StudioSession* session() { return &session_; }
  CompressTab* compressTab() const { return compress_; }
  QTabWidget* tabs() const { return tabs_; }
  widgets::JobStatusBar* jobStatus() const { return status_; }
  // When false (tests, --screenshot), errors go to the status bar and stderr, never to
  // modal dialogs.
  void setInteractive(bool on) { interactive_ = on; }

  bool openWorkspace(const QString& path, QString* error = nullptr);
  void openModel(const QString& nameOrPath);

 protected:
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void closeEvent(QCloseEvent* event) override;

 private:
  void buildMenus();
  void showError(const QString& what, const QString& message);
  void showModelCard(const QString& name, const QString& cardPath);
  void updateTitle();

  cs::qt::StudioSession session_;
  QTabWidget* tabs_;
  CompressTab* compress_;
  widgets::JobStatusBar* status_;
  bool interactive_ = true;
  QString idleMessage_;
  quint64 shownJob_ = 0;  // the job the status bar follows  // shown when the last job ends (outcome of the last failure or run)
};

}  // namespace cs::gui
