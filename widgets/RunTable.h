// RunTable: the workspace's runs (any table model exposing the run id under `idRole`)
// above a read-only view of the selected run's recipe and metrics (JSON).
// Emits runSelected(id); the owner answers with setDetails(). Passive; GUI thread only.
#pragma once
#include <QWidget>

class QAbstractItemModel;
class QPlainTextEdit;
class QTableView;

namespace cs::widgets {

class RunTable : public QWidget {
  Q_OBJECT
 public:
  explicit RunTable(QWidget* parent = nullptr);

  void setModel(QAbstractItemModel* model, int idRole);
  void setDetails(const QString& text);
  QString details() const;
  bool selectRun(qint64 id);
  QTableView* table() const { return table_; }

 Q_SIGNALS:
  void runSelected(qint64 id);

 private:
  QTableView* table_;
  QPlainTextEdit* details_;
  int idRole_ = Qt::UserRole + 1;
};

}  // namespace cs::widgets
