#include "widgets/prune/PruneReportView.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>
#include <cmath>

namespace cs::widgets {

PruneReportView::PruneReportView(QWidget* parent) : QWidget(parent) {
  auto* lay = new QVBoxLayout(this);
  lay->setContentsMargins(0, 0, 0, 0);
  ppl_ = new QLabel(this);
  ppl_->setObjectName(QStringLiteral("perplexity"));
  ppl_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  ppl_->setWordWrap(true);
  QFont f = ppl_->font();
  f.setPointSizeF(f.pointSizeF() * 1.15);
  f.setBold(true);
  ppl_->setFont(f);
  summary_ = new QLabel(this);
  summary_->setObjectName(QStringLiteral("summary"));
  summary_->setWordWrap(true);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  table_ = new QTableWidget(0, 6, this);
  table_->setObjectName(QStringLiteral("layers"));
  table_->setHorizontalHeaderLabels({tr("layer"), tr("shape (out x in)"), tr("sparsity %"), tr("output rel. error"),
                                     tr("dense cols"), tr("time (s)")});
  table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
  table_->verticalHeader()->setVisible(false);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  lay->addWidget(ppl_);
  lay->addWidget(summary_);
  lay->addWidget(table_, 1);
  clear(tr("No run yet: pick a model and a method, then Prune."));
}

void PruneReportView::clear(const QString& message) {
  d_ = PruneReportData{};
  ppl_->setText(message);
  summary_->clear();
  table_->setRowCount(0);
}

QString PruneReportView::perplexityText() const { return ppl_->text(); }
QString PruneReportView::summaryText() const { return summary_->text(); }

void PruneReportView::setReport(const PruneReportData& d) {
  d_ = d;
  QStringList p;
  for (auto& e : d.ppl) {
    const QString dense = std::isnan(e.dense) ? tr("n/a") : QString::number(e.dense, 'f', 3);
    const QString pruned = std::isnan(e.pruned) ? tr("n/a") : QString::number(e.pruned, 'f', 3);
    p << tr("Perplexity on %1: dense %2 -> pruned %3").arg(e.label, dense, pruned);
  }
  ppl_->setText(p.isEmpty() ? tr("Perplexity not evaluated") : p.join(QLatin1Char('\n')));
  QString s = tr("%1 (%2): %3% of the weights of %4 layers are zero.")
                  .arg(d.variant, d.recipe)
                  .arg(100 * d.sparsity, 0, 'f', 2)
                  .arg(d.layers.size());
  s += QLatin1Char(' ') + tr("Calibration: %1 (%2 s).").arg(d.calibration).arg(d.calibSeconds, 0, 'f', 2);
  if (d.siSeconds >= 0)
    s += QLatin1Char(' ') + tr("SI training %1 s, peak memory %2 MiB.").arg(d.siSeconds, 0, 'f', 2).arg(d.siPeakMiB, 0, 'f', 0);
  s += QLatin1Char(' ') + tr("Pruning %1 s, peak memory %2 MiB; evaluation %3 s; total %4 s.")
                               .arg(d.pruneSeconds, 0, 'f', 2)
                               .arg(d.prunePeakMiB, 0, 'f', 0)
                               .arg(d.evalSeconds, 0, 'f', 2)
                               .arg(d.totalSeconds, 0, 'f', 2);
  summary_->setText(s);
  table_->setRowCount(d.layers.size());
  for (int i = 0; i < d.layers.size(); ++i) {
    const auto& l = d.layers[i];
    auto set = [&](int c, const QString& t, bool right = true) {
      auto* it = new QTableWidgetItem(t);
      if (right) it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
      table_->setItem(i, c, it);
    };
    set(0, l.name, false);
    set(1, QStringLiteral("%1 x %2").arg(l.rows).arg(l.cols));
    set(2, QString::number(100 * l.sparsity, 'f', 2));
    set(3, QString::number(l.outputError, 'g', 4));
    set(4, QString::number(l.denseColumns));
    set(5, QString::number(l.seconds, 'f', 3));
  }
  table_->resizeColumnsToContents();
}

}  // namespace cs::widgets
