// ArenaMatrixView: a model x model heat map fed with plain numbers: the battle counts or the pairwise
// win rates (row model's share of wins against the column model). Cells are coloured from white to
// blue (counts) or red-white-green (win rates). Passive; GUI thread only.
#pragma once
#include <QVector>
#include <QWidget>

class QComboBox;
class QTableWidget;

namespace cs::widgets {

class ArenaMatrixView : public QWidget {
  Q_OBJECT
 public:
  explicit ArenaMatrixView(QWidget* parent = nullptr);

  // counts[i][j] battles, rates[i][j] in [0,1] or NaN.
  void setData(const QStringList& models, const QVector<QVector<int>>& counts, const QVector<QVector<double>>& rates);
  bool showingWinRates() const;
  QTableWidget* table() const { return table_; }

 private:
  void render();
  QComboBox* kind_;
  QTableWidget* table_;
  QStringList models_;
  QVector<QVector<int>> counts_;
  QVector<QVector<double>> rates_;
};

}  // namespace cs::widgets
