#include "widgets/arena/ArenaVotePanel.h"

#include <QFile>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QImageReader>
#include <QKeyEvent>
#include <QLabel>
#include <QPixmap>
#include <QPushButton>
#include <QVBoxLayout>

#include <algorithm>

namespace cs::widgets {

ArenaVotePanel::ArenaVotePanel(QWidget* parent) : QWidget(parent) {
  setFocusPolicy(Qt::StrongFocus);
  auto* layout = new QVBoxLayout(this);
  prompt_ = new QLabel(tr("No match"), this);
  prompt_->setWordWrap(true);
  layout->addWidget(prompt_);
  row_ = new QWidget(this);
  new QHBoxLayout(row_);
  layout->addWidget(row_, 1);
  auto* buttons = new QHBoxLayout;
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
    s.content = new QLabel(s.frame);
    s.content->setAlignment(Qt::AlignCenter);
    s.content->setMinimumSize(96, 96);
    s.content->setWordWrap(true);
    const QString& out = outputs[i];
    const QFileInfo fi(out);
    if (fi.exists() && !QImageReader::imageFormat(out).isEmpty()) {
      const QPixmap pm(out);
      s.content->setPixmap(pm.scaled(256, 256, Qt::KeepAspectRatio, Qt::FastTransformation));
    } else if (fi.exists()) {
      QFile f(out);
      f.open(QIODevice::ReadOnly);
      s.content->setText(QString::fromUtf8(f.read(4000)));
    } else {
      s.content->setText(out);
    }
    s.badge = new QLabel(s.frame);
    s.badge->setAlignment(Qt::AlignCenter);
    v->addWidget(title);
    v->addWidget(s.content, 1);
    v->addWidget(s.badge);
    s.frame->installEventFilter(this);
    s.content->installEventFilter(this);
    row_->layout()->addWidget(s.frame);
    slots_.push_back(s);
  }
  ranks_ = QVector<int>(outputs.size(), 0);
  refreshBadges();
  setFocus();
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
      if (watched == slots_[i].frame || watched == slots_[i].content) {
        assignNext(i);
        setFocus();
        return true;
      }
  }
  return QWidget::eventFilter(watched, e);
}

}  // namespace cs::widgets
