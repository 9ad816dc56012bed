// PlanView: the resolved per-tensor quantization plan as a table (tensor, target, op,
// quantizer or "FP", what decided it), with excluded tensors greyed out, a filter box,
// a summary line and buttons asking to load a plan file or to go back to the default
// plan. Passive: it shows rows and emits intents. GUI thread only.
#pragma once
#include <QString>
#include <QVector>
#include <QWidget>

class QLabel;
class QLineEdit;
class QPushButton;
class QTableWidget;

namespace cs::widgets {

struct PlanRow {
  QString tensor, target, op, quantizer, decidedBy;
  bool quantized = false;
};

class PlanView : public QWidget {
  Q_OBJECT
 public:
  enum Column { TensorColumn, TargetColumn, OpColumn, QuantizerColumn, DecidedByColumn, ColumnCount };
  explicit PlanView(QWidget* parent = nullptr);

  // `source`: where the plan comes from ("default plan", a file name); `note`: e.g. which
  // methods honour it.
  void setPlan(const QVector<PlanRow>& rows, const QString& source, const QString& note);
  void setError(const QString& message);
  const QVector<PlanRow>& rows() const { return rows_; }
  QString summary() const;
  QTableWidget* table() const { return table_; }
  QPushButton* loadButton() const { return load_; }

 Q_SIGNALS:
  void loadFileRequested();
  void defaultPlanRequested();

 private:
  void applyFilter();

  QLabel* summary_;
  QLineEdit* filter_;
  QTableWidget* table_;
  QPushButton* load_;
  QPushButton* default_;
  QVector<PlanRow> rows_;
};

}  // namespace cs::widgets
