// PruneReportView: the outcome of one prune run, fed with plain data: dense vs pruned
// perplexity per evaluation text, overall sparsity, time and peak memory of each phase,
// and the per-layer table (shape, achieved sparsity, relative output error, N:M dense
// remainder columns, seconds). Passive; GUI thread only.
#pragma once
#include <QString>
#include <QVector>
#include <QWidget>

class QLabel;
class QTableWidget;

namespace cs::widgets {

struct PruneReportData {
  struct Ppl {
    QString label;              // "fortunes-heldout", a file name
    double dense = 0, pruned = 0;  // NaN when not evaluated
  };
  struct Layer {
    QString name;
    qint64 rows = 0, cols = 0;
    double sparsity = 0, outputError = 0, seconds = 0;
    qint64 denseColumns = 0;
  };
  QString variant, recipe;      // variant name, "wanda 2:4 + SI"
  double sparsity = 0;
  QVector<Ppl> ppl;
  QVector<Layer> layers;
  double calibSeconds = 0, siSeconds = -1, pruneSeconds = 0, evalSeconds = 0, totalSeconds = 0;
  double siPeakMiB = -1, prunePeakMiB = 0;
  QString calibration;          // "128 x 128 tokens from fortunes-train, seed 0"
};

class PruneReportView : public QWidget {
  Q_OBJECT
 public:
  explicit PruneReportView(QWidget* parent = nullptr);
  void setReport(const PruneReportData& d);
  void clear(const QString& message);
  const PruneReportData& data() const { return d_; }
  QString perplexityText() const;
  QString summaryText() const;
  QTableWidget* table() const { return table_; }

 private:
  PruneReportData d_;
  QLabel* ppl_;
  QLabel* summary_;
  QTableWidget* table_;
};

}  // namespace cs::widgets
