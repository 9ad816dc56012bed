#include "widgets/arena/ArenaVotePanel.h"

#include "widgets/arena/ArenaImageView.h"

#include <QCheckBox>
#include <QFile>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QImageReader>
#include <QKeyEvent>
#include <QLabel>
#include <QPixmap>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QStackedWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace cs::widgets {

ArenaVotePanel::ArenaVotePanel(QWidget* parent) : QWidget(parent) {
  setFocusPolicy(Qt::StrongFocus);
  auto* layout = new QVBoxLayout(this);
  prompt_ = new QLabel(tr("No match"), this);
  prompt_->setWordWrap(true);
  layout->addWidget(prompt_);
  sync_ = new ArenaZoomSync(this);
  stack_ = new QStackedWidget(this);
  row_ = new QWidget(stack_);
  new QHBoxLayout(row_);
  row_->layout()->setContentsMargins(0, 0, 0, 0);
  split_ = new ArenaSplitView(stack_);
  split_->setSync(sync_);
  stack_->addWidget(row_);
  stack_->addWidget(split_);
  layout->addWidget(stack_, 1);
  auto* buttons = new QHBoxLayout;
  splitBox_ = new QCheckBox(tr("Split slider"), this);
  splitBox_->setToolTip(tr("Two image outputs in one frame: drag the divider to reveal output 1 (left) vs 2 (right)"));
  splitBox_->setFocusPolicy(Qt::NoFocus);
  splitBox_->setEnabled(false);
  buttons->addWidget(splitBox_);
  connect(splitBox_, &QCheckBox::toggled, this, &ArenaVotePanel::setSplitMode);
  auto* undo = new QPushButton(tr("Undo (Backspace)"), this);
  auto* tie = new QPushButton(tr("All tie"), this);
  auto* bad = new QPushButton(tr("All bad"), this);
  auto* skip = new QPushButton(tr("Skip (N)"), this);
  submit_ = new QPushButton(tr("Submit (Enter)"), this);
  for (auto* b : {undo, tie, bad, skip, submit_}) {
    b->setFocusPolicy(Qt::NoFocus);
    buttons->addWidget(b);
  }
  layout->addLayout(buttons);
  connect(undo, &QPushButton::clicked, this, &ArenaVotePanel::undo);
  connect(tie, &QPushButton::clicked, this, &ArenaVotePanel::allTieRequested);
  connect(bad, &QPushButton::clicked, this, &ArenaVotePanel::allBadRequested);
  connect(skip, &QPushButton::clicked, this, &ArenaVotePanel::skipRequested);
  connect(submit_, &QPushButton::clicked, this, &ArenaVotePanel::submit);
}

void ArenaVotePanel::clear() {
  for (auto& s : slots_) delete s.frame;
  slots_.clear();
  ranks_.clear();
  if (split_) split_->setImages(QImage(), QImage());
  history_.clear();
  prompt_->setText(tr("No match"));
}

void ArenaVotePanel::setOutputs(const QString& prompt, const QStringList& outputs) {
  clear();
  prompt_->setText(prompt.isEmpty() ? tr("(no prompt)") : tr("Prompt: %1").arg(prompt));
  for (int i = 0; i < outputs.size(); ++i) {
    Slot s;
    s.frame = new QWidget(row_);
    auto* v = new QVBoxLayout(s.frame);
    auto* title = new QLabel(tr("Output %1").arg(i + 1), s.frame);
    title->setAlignment(Qt::AlignCenter);
    const QString& out = outputs[i];
    const QFileInfo fi(out);
    if (fi.exists() && !QImageReader::imageFormat(out).isEmpty()) {
      s.image = new ArenaImageView(s.frame);
      s.image->setImage(QImage(out));
      s.image->setSync(sync_);
      s.image->setToolTip(tr("Wheel: zoom all slots; drag: pan; double-click: reset; click: rank"));
      connect(s.image, &ArenaImageView::clicked, this, [this, i] {
        assignNext(i);
        setFocus();
      });
      s.content = s.image;
    } else {
      s.text = new QPlainTextEdit(s.frame);
      s.text->setReadOnly(true);
      s.text->setLineWrapMode(QPlainTextEdit::WidgetWidth);
      s.text->setFocusPolicy(Qt::NoFocus);
      QFont f = s.text->font();
      f.setPointSizeF(f.pointSizeF() * 1.1);
      s.text->setFont(f);
      if (fi.exists()) {
        QFile file(out);
        file.open(QIODevice::ReadOnly);
        s.text->setPlainText(QString::fromUtf8(file.read(20000)));
      } else {
        s.text->setPlainText(out);
      }
      s.text->viewport()->installEventFilter(this);
      s.content = s.text;
    }
    s.content->setMinimumSize(96, 96);
    s.badge = new QLabel(s.frame);
    s.badge->setAlignment(Qt::AlignCenter);
    v->addWidget(title);
    v->addWidget(s.content, 1);
    v->addWidget(s.badge);
    s.frame->installEventFilter(this);
    title->installEventFilter(this);
    row_->layout()->addWidget(s.frame);
    slots_.push_back(s);
  }
  ranks_ = QVector<int>(outputs.size(), 0);
  sync_->reset();
  splitBox_->setEnabled(splitAvailable());
  if (splitAvailable()) split_->setImages(slots_[0].image->image(), slots_[1].image->image());
  setSplitMode(splitAvailable() && splitBox_->isChecked());
  refreshBadges();
  setFocus();
}

ArenaImageView* ArenaVotePanel::imageView(int slot) const {
  return slot >= 0 && slot < slots_.size() ? slots_[slot].image : nullptr;
}

QPlainTextEdit* ArenaVotePanel::textView(int slot) const {
  return slot >= 0 && slot < slots_.size() ? slots_[slot].text : nullptr;
}

bool ArenaVotePanel::splitAvailable() const {
  return slots_.size() == 2 && slots_[0].image && slots_[1].image;
}

bool ArenaVotePanel::splitMode() const { return stack_->currentWidget() == split_; }

void ArenaVotePanel::setSplitMode(bool on) {
  on = on && splitAvailable();
  if (splitBox_->isChecked() != on && splitAvailable()) {
    const QSignalBlocker block(splitBox_);
    splitBox_->setChecked(on);
  }
  stack_->setCurrentWidget(on ? static_cast<QWidget*>(split_) : row_);
}

void ArenaVotePanel::reveal(const QStringList& models) {
  for (int i = 0; i < slots_.size() && i < models.size(); ++i)
    slots_[i].badge->setText(tr("rank %1 - %2").arg(ranks_[i]).arg(models[i]));
}

QVector<int> ArenaVotePanel::completedRanks() const {
  int maxRank = 0;
  for (int r : ranks_) maxRank = std::max(maxRank, r);
  QVector<int> out = ranks_;
  for (int& r : out)
    if (r == 0) r = maxRank + 1;
  return out;
}

void ArenaVotePanel::assignNext(int slot, bool tieWithPrevious) {
  if (slot < 0 || slot >= ranks_.size() || ranks_[slot] != 0) return;
  int next = 1;
  if (!history_.isEmpty()) {
    const int prev = ranks_[history_.back()];
    next = tieWithPrevious ? prev : history_.size() + 1;
  }
  ranks_[slot] = next;
  history_.push_back(slot);
  refreshBadges();
}

void ArenaVotePanel::undo() {
  if (history_.isEmpty()) return;
  ranks_[history_.back()] = 0;
  history_.pop_back();
  refreshBadges();
}

void ArenaVotePanel::submit() {
  if (slots_.isEmpty() || history_.isEmpty()) return;
  Q_EMIT rankSubmitted(completedRanks());
}

void ArenaVotePanel::refreshBadges() {
  for (int i = 0; i < slots_.size(); ++i)
    slots_[i].badge->setText(ranks_[i] ? tr("rank %1").arg(ranks_[i]) : tr("press %1").arg(i + 1));
  if (split_ && slots_.size() == 2)
    split_->setToolTip(tr("Output 1 (left): %1 | Output 2 (right): %2")
                           .arg(slots_[0].badge->text(), slots_[1].badge->text()));
  submit_->setEnabled(!history_.isEmpty());
}

void ArenaVotePanel::keyPressEvent(QKeyEvent* e) {
  const int key = e->key();
  if (key >= Qt::Key_1 && key <= Qt::Key_9) {
    assignNext(key - Qt::Key_1, e->modifiers() & Qt::ShiftModifier);
  } else if (key == Qt::Key_Backspace) {
    undo();
  } else if (key == Qt::Key_Return || key == Qt::Key_Enter) {
    submit();
  } else if (key == Qt::Key_N) {
    Q_EMIT skipRequested();
  } else {
    QWidget::keyPressEvent(e);
    return;
  }
  e->accept();
}

bool ArenaVotePanel::eventFilter(QObject* watched, QEvent* e) {
  if (e->type() == QEvent::MouseButtonPress) {
    for (int i = 0; i < slots_.size(); ++i)
      if (watched == slots_[i].frame || (slots_[i].text && watched == slots_[i].text->viewport()) ||
          (watched->parent() == slots_[i].frame && qobject_cast<QLabel*>(watched))) {
        assignNext(i);
        setFocus();
        return true;
      }
  }
  return QWidget::eventFilter(watched, e);
}

}  // namespace cs::widgets
