// LayerTreeView: a filterable tree of layers over any item model that exposes the
// layer's full dotted name under `nameRole`. Emits layerSelected(fullName) when the user
// (or selectLayer()) changes the current layer. Passive; GUI thread only.
#pragma once
#include <QWidget>

class QAbstractItemModel;
class QLineEdit;
class QSortFilterProxyModel;
class QTreeView;
class QModelIndex;

namespace cs::widgets {

class LayerTreeView : public QWidget {
  Q_OBJECT
 public:
  explicit LayerTreeView(QWidget* parent = nullptr);

  void setModel(QAbstractItemModel* model, int nameRole);
  // Selects, expands to and scrolls to the layer; false when it is not in the model.
  bool selectLayer(const QString& fullName);
  QString currentLayer() const;
  QTreeView* tree() const { return tree_; }

 Q_SIGNALS:
  void layerSelected(const QString& fullName);

 private:
  void onCurrentChanged(const QModelIndex& current);

  QLineEdit* filter_;
  QTreeView* tree_;
  QSortFilterProxyModel* proxy_;
  int nameRole_ = Qt::DisplayRole;
};

}  // namespace cs::widgets
