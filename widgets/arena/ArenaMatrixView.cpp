#include "widgets/arena/ArenaMatrixView.h"

#include <QComboBox>
#include <QHeaderView>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace cs::widgets {

ArenaMatrixView::ArenaMatrixView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  kind_ = new QComboBox(this);
  kind_->addItem(tr("Battle counts"));
  kind_->addItem(tr("Win rate (row vs column)"));
  layout->addWidget(kind_);
  table_ = new QTableWidget(this);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  layout->addWidget(table_, 1);
  connect(kind_, &QComboBox::currentIndexChanged, this, [this](int) { render(); });
}

bool ArenaMatrixView::showingWinRates() const { return kind_->currentIndex() == 1; }

void ArenaMatrixView::setData(const QStringList& models, const QVector<QVector<int>>& counts,
                              const QVector<QVector<double>>& rates) {
  models_ = models;
  counts_ = counts;
  rates_ = rates;
  render();
}

void ArenaMatrixView::render() {
  const int n = models_.size();
  table_->clear();
  table_->setRowCount(n);
  table_->setColumnCount(n);
  table_->setHorizontalHeaderLabels(models_);
  table_->setVerticalHeaderLabels(models_);
  int maxCount = 1;
  for (const auto& row : counts_)
    for (int c : row) maxCount = std::max(maxCount, c);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      auto* item = new QTableWidgetItem;
      item->setTextAlignment(Qt::AlignCenter);
      if (showingWinRates()) {
        const double r = (i < rates_.size() && j < rates_[i].size()) ? rates_[i][j] : std::nan("");
        if (!std::isnan(r)) {
          item->setText(QString::number(r, 'f', 2));
          const int g = static_cast<int>(255 * std::clamp(r, 0.0, 1.0)), red = 255 - g;
          item->setBackground(QColor(155 + red * 100 / 255, 155 + g * 100 / 255, 155));
        }
      } else {
        const int c = (i < counts_.size() && j < counts_[i].size()) ? counts_[i][j] : 0;
        if (i != j) item->setText(QString::number(c));
        const int shade = 255 - 155 * c / maxCount;
        item->setBackground(QColor(shade, shade, 255));
      }
      table_->setItem(i, j, item);
    }
  table_->resizeColumnsToContents();
}

}  // namespace cs::widgets
