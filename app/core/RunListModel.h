// RunListModel: the workspace's runs as a table (newest first).
// Columns: time, model, method, bits, FP accuracy, quantized accuracy, seconds, status.
// Threading: GUI thread only.
#pragma once
#include <QAbstractTableModel>

#include <vector>

#include "engine/workspace.h"

namespace cs::qt {

class RunListModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { TimeColumn, ModelColumn, MethodColumn, BitsColumn, FpAccColumn, QAccColumn, SecondsColumn,
                StatusColumn, ColumnCount };
  enum Role { RunIdRole = Qt::UserRole + 1, RecipeJsonRole, MetricsJsonRole };

  explicit RunListModel(QObject* parent = nullptr);

  void setRuns(std::vector<RunRecord> runs);
  const std::vector<RunRecord>& runs() const { return runs_; }
  const RunRecord* runAt(int row) const;
  int rowForId(qint64 id) const;

  // "W8A8" (or "W8" when weight-only) from a recipe's params (wbits/abits); empty when unknown.
  static QString bitsLabel(const std::string& recipeJson);

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  std::vector<RunRecord> runs_;
};

}  // namespace cs::qt
