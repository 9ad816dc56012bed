#include "widgets/RunTable.h"

#include <QFontDatabase>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QPlainTextEdit>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

namespace cs::widgets {

RunTable::RunTable(QWidget* parent) : QWidget(parent) {
  table_ = new QTableView(this);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setSelectionMode(QAbstractItemView::SingleSelection);
  table_->setAlternatingRowColors(true);
  table_->verticalHeader()->setVisible(false);
  table_->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 6);
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setWordWrap(false);
  details_ = new QPlainTextEdit(this);
  details_->setReadOnly(true);
  details_->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
  details_->setPlaceholderText(tr("Select a run to see its recipe and metrics"));

  auto* split = new QSplitter(Qt::Horizontal, this);
  split->addWidget(table_);
  split->addWidget(details_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(split);
}

void RunTable::setModel(QAbstractItemModel* model, int idRole) {
  idRole_ = idRole;
  table_->setModel(model);
  connect(table_->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this](const QModelIndex& cur) {
    if (cur.isValid()) Q_EMIT runSelected(cur.siblingAtColumn(0).data(idRole_).toLongLong());
  });
  auto fit = [this] { table_->resizeColumnsToContents(); };
  connect(model, &QAbstractItemModel::modelReset, this, fit);
  fit();
}

void RunTable::setDetails(const QString& text) { details_->setPlainText(text); }
QString RunTable::details() const { return details_->toPlainText(); }

bool RunTable::selectRun(qint64 id) {
  auto* m = table_->model();
  if (!m) return false;
  for (int r = 0; r < m->rowCount(); ++r) {
    if (m->index(r, 0).data(idRole_).toLongLong() == id) {
      table_->setCurrentIndex(m->index(r, 0));
      return true;
    }
  }
  return false;
}

}  // namespace cs::widgets
