// ArenaVotePanel: K anonymous outputs side by side (large images with synchronized zoom: a wheel or drag on
// any slot zooms/pans all of them, double-click resets; or readable text for language models) with a rank
// badge under each. With two image outputs, "Split slider" shows them in one frame with a draggable
// divider (A left, B right). Keyboard: 1..K gives the next rank to that slot (Shift+digit ties it with the
// previous one); a mouse click gives the next rank to the clicked slot; Backspace undoes the last
// assignment; Enter submits; N skips. Buttons for "all tie" and "all bad". After the vote the owner
// calls reveal() with the model names. Passive: it only emits intents. GUI thread only.
#pragma once
#include <QVector>
#include <QWidget>

class QCheckBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;
class QStackedWidget;

namespace cs::widgets {
class ArenaImageView;
class ArenaSplitView;
class ArenaZoomSync;

class ArenaVotePanel : public QWidget {
  Q_OBJECT
 public:
  explicit ArenaVotePanel(QWidget* parent = nullptr);

  // One entry per slot: a file path (image, or text shown as text) or inline text.
  void setOutputs(const QString& prompt, const QStringList& outputs);
  void clear();
  void reveal(const QStringList& models);
  int slotCount() const { return slots_.size(); }

  // Current assignment: rank per slot (0 = not ranked yet).
  QVector<int> ranks() const { return ranks_; }
  // Ranks to submit: unranked slots share the rank after the last assigned one.
  QVector<int> completedRanks() const;

  // Views (for tests and the owner): the shared zoom state, a slot's image view (null for text), the split view.
  ArenaZoomSync* zoomSync() const { return sync_; }
  ArenaImageView* imageView(int slot) const;
  QPlainTextEdit* textView(int slot) const;
  ArenaSplitView* splitView() const { return split_; }
  bool splitAvailable() const;  // two image outputs
  void setSplitMode(bool on);
  bool splitMode() const;

  void assignNext(int slot, bool tieWithPrevious = false);
  void undo();
  void submit();

 Q_SIGNALS:
  void rankSubmitted(const QVector<int>& ranks);
  void allTieRequested();
  void allBadRequested();
  void skipRequested();

 protected:
  void keyPressEvent(QKeyEvent* e) override;
  bool eventFilter(QObject* watched, QEvent* e) override;

 private:
  void refreshBadges();

  struct Slot {
    QWidget* frame = nullptr;
    QWidget* content = nullptr;
    ArenaImageView* image = nullptr;
    QPlainTextEdit* text = nullptr;
    QLabel* badge = nullptr;
  };
  QLabel* prompt_;
  QStackedWidget* stack_;
  QWidget* row_;
  ArenaSplitView* split_;
  QCheckBox* splitBox_;
  ArenaZoomSync* sync_;
  QVector<Slot> slots_;
  QVector<int> ranks_;
  QVector<int> history_;  // slots in assignment order (for undo)
  QPushButton* submit_;
};

}  // namespace cs::widgets
