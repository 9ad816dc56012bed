#include "widgets/JobStatusBar.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>

#include <cmath>

namespace cs::widgets {

JobStatusBar::JobStatusBar(QWidget* parent) : QWidget(parent) {
  label_ = new QLabel(tr("Ready"), this);
  bar_ = new QProgressBar(this);
  bar_->setRange(0, 1000);
  bar_->setTextVisible(true);
  bar_->setFormat(QStringLiteral("%p%"));
  bar_->setMaximumWidth(260);
  bar_->setVisible(false);
  cancel_ = new QPushButton(tr("Cancel"), this);
  cancel_->setToolTip(tr("Stop the running job"));
  cancel_->setEnabled(false);
  connect(cancel_, &QPushButton::clicked, this, [this] {
    cancel_->setEnabled(false);
    label_->setText(tr("%1: cancelling…").arg(title_));
    Q_EMIT cancelRequested();
  });
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(4, 0, 4, 0);
  layout->addWidget(label_, 1);
  layout->addWidget(bar_);
  layout->addWidget(cancel_);
}

QString JobStatusBar::text() const { return label_->text(); }

void JobStatusBar::showJob(const QString& title) {
  title_ = title;
  clock_.start();
  label_->setText(title + QStringLiteral("…"));
  bar_->setValue(0);
  bar_->setVisible(true);
  cancel_->setEnabled(true);
}

void JobStatusBar::showProgress(double fraction, const QString& stage) {
  if (!std::isfinite(fraction)) return;
  bar_->setValue(static_cast<int>(std::lround(std::clamp(fraction, 0.0, 1.0) * 1000)));
  label_->setText(stage.isEmpty() ? title_ : QStringLiteral("%1: %2").arg(title_, stage));
}

void JobStatusBar::showIdle(const QString& message) {
  bar_->setVisible(false);
  cancel_->setEnabled(false);
  label_->setText(message.isEmpty() ? tr("Ready") : message);
}

}  // namespace cs::widgets
