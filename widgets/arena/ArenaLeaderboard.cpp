#include "widgets/arena/ArenaLeaderboard.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

namespace cs::widgets {

ArenaLeaderboard::ArenaLeaderboard(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel(tr("Rating model:"), this));
  model_ = new QComboBox(this);
  model_->addItem(tr("K-Sort Bayesian (mu - 3 sigma)"), "ksort");
  model_->addItem(tr("TrueSkill"), "trueskill");
  model_->addItem(tr("Elo (bootstrap median)"), "elo");
  model_->addItem(tr("Bradley-Terry (bootstrap CI)"), "bt");
  top->addWidget(model_, 1);
  layout->addLayout(top);
  table_ = new QTableWidget(0, 8, this);
  table_->setHorizontalHeaderLabels({tr("Rank"), tr("Model"), tr("Score"), tr("mu"), tr("sigma"), tr("95% interval"),
                                     tr("Votes"), tr("Pairs")});
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->verticalHeader()->setVisible(false);
  table_->horizontalHeader()->setStretchLastSection(true);
  layout->addWidget(table_, 1);
  connect(model_, &QComboBox::currentIndexChanged, this,
          [this](int) { Q_EMIT ratingModelChanged(ratingModel()); });
}

QString ArenaLeaderboard::ratingModel() const { return model_->currentData().toString(); }

void ArenaLeaderboard::setRows(const QVector<ArenaLeaderboardRow>& rows) {
  table_->setRowCount(rows.size());
  for (int r = 0; r < rows.size(); ++r) {
    const auto& x = rows[r];
    const QStringList cells = {QString::number(x.rank), x.model, QString::number(x.score, 'f', 2),
                               QString::number(x.mu, 'f', 2), QString::number(x.sigma, 'f', 2),
                               QStringLiteral("[%1, %2]").arg(x.lo, 0, 'f', 2).arg(x.hi, 0, 'f', 2),
                               QString::number(x.votes), QString::number(x.comparisons)};
    for (int c = 0; c < cells.size(); ++c) table_->setItem(r, c, new QTableWidgetItem(cells[c]));
  }
  table_->resizeColumnsToContents();
}

}  // namespace cs::widgets
