// JobStatusBar: what is running (title and stage), a progress bar and a Cancel button.
// Fed by the owner from JobRunner signals; emits cancelRequested(). Passive; GUI thread.
#pragma once
#include <QElapsedTimer>
#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;

namespace cs::widgets {

class JobStatusBar : public QWidget {
  Q_OBJECT
 public:
  explicit JobStatusBar(QWidget* parent = nullptr);

  QProgressBar* progressBar() const { return bar_; }
  QPushButton* cancelButton() const { return cancel_; }
  QString text() const;

 public Q_SLOTS:
  void showJob(const QString& title);
  void showProgress(double fraction, const QString& stage);
  // No job running any more: shows `message` (e.g. "Done in 3.2 s") and hides the bar.
  void showIdle(const QString& message);

 Q_SIGNALS:
  void cancelRequested();

 private:
  QLabel* label_;
  QProgressBar* bar_;
  QPushButton* cancel_;
  QString title_;
  QElapsedTimer clock_;
};

}  // namespace cs::widgets
