#include "widgets/quant/PlanView.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

namespace cs::widgets {

PlanView::PlanView(QWidget* parent) : QWidget(parent) {
  summary_ = new QLabel(this);
  summary_->setWordWrap(true);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  filter_ = new QLineEdit(this);
  filter_->setPlaceholderText(tr("Filter tensors (substring)"));
  filter_->setClearButtonEnabled(true);
  table_ = new QTableWidget(0, ColumnCount, this);
  table_->setHorizontalHeaderLabels({tr("Tensor"), tr("Target"), tr("Op"), tr("Quantizer"), tr("Decided by")});
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->verticalHeader()->setVisible(false);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setAlternatingRowColors(true);
  load_ = new QPushButton(tr("Load plan file…"), this);
  load_->setObjectName(QStringLiteral("loadPlan"));
  default_ = new QPushButton(tr("Default plan"), this);
  default_->setObjectName(QStringLiteral("defaultPlan"));
  connect(load_, &QPushButton::clicked, this, &PlanView::loadFileRequested);
  connect(default_, &QPushButton::clicked, this, &PlanView::defaultPlanRequested);
  connect(filter_, &QLineEdit::textChanged, this, &PlanView::applyFilter);

  auto* buttons = new QHBoxLayout;
  buttons->addWidget(filter_, 1);
  buttons->addWidget(load_);
  buttons->addWidget(default_);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(summary_);
  layout->addLayout(buttons);
  layout->addWidget(table_, 1);
}

QString PlanView::summary() const { return summary_->text(); }

void PlanView::setError(const QString& message) {
  rows_.clear();
  table_->setRowCount(0);
  summary_->setText(tr("<b>Plan error:</b> %1").arg(message.toHtmlEscaped()));
}

void PlanView::setPlan(const QVector<PlanRow>& rows, const QString& source, const QString& note) {
  rows_ = rows;
  table_->setSortingEnabled(false);
  table_->setRowCount(rows.size());
  int quantized = 0;
  const QColor grey = palette().color(QPalette::Disabled, QPalette::Text);
  for (int i = 0; i < rows.size(); ++i) {
    const PlanRow& r = rows[i];
    quantized += r.quantized ? 1 : 0;
    const QStringList cells{r.tensor, r.target, r.op, r.quantized ? r.quantizer : tr("FP (kept)"), r.decidedBy};
    for (int c = 0; c < ColumnCount; ++c) {
      auto* item = new QTableWidgetItem(cells[c]);
      if (!r.quantized) {
        item->setForeground(grey);
        QFont f = item->font();
        f.setItalic(true);
        item->setFont(f);
      }
      table_->setItem(i, c, item);
    }
  }
  table_->resizeColumnsToContents();
  summary_->setText(tr("<b>%1</b>: %2 tensors, %3 quantized, %4 kept in full precision.%5")
                        .arg(source.toHtmlEscaped())
                        .arg(rows.size())
                        .arg(quantized)
                        .arg(rows.size() - quantized)
                        .arg(note.isEmpty() ? QString() : QStringLiteral("<br>") + note.toHtmlEscaped()));
  applyFilter();
}

void PlanView::applyFilter() {
  const QString f = filter_->text().trimmed();
  for (int i = 0; i < table_->rowCount(); ++i) {
    const auto* item = table_->item(i, TensorColumn);
    table_->setRowHidden(i, !f.isEmpty() && item && !item->text().contains(f, Qt::CaseInsensitive));
  }
}

}  // namespace cs::widgets
