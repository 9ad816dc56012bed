// LayerTreeModel: the model's layers as a tree (hierarchy from dotted names) for a
// QTreeView. Columns: name, type, shape, parameter count, dtype. Read-only.
// Threading: GUI thread only; setLayers() is cheap (no engine calls).
#pragma once
#include <QAbstractItemModel>

#include <memory>
#include <vector>

#include "engine/model.h"

namespace cs::qt {

class LayerTreeModel : public QAbstractItemModel {
  Q_OBJECT
 public:
  enum Column { NameColumn, TypeColumn, ShapeColumn, ParamsColumn, DtypeColumn, ColumnCount };
  enum Role {
    FullNameRole = Qt::UserRole + 1,  // "blocks.0.mlp.fc1"
    QuantizableRole,                  // bool
    ParamCountRole,                   // qlonglong (sortable)
  };

  explicit LayerTreeModel(QObject* parent = nullptr);
  ~LayerTreeModel() override;

  // Replaces the tree. Layers come in pre-order; a layer's parent is its longest dotted
  // prefix that is itself a layer (else the root).
  void setLayers(const std::vector<LayerInfo>& layers);
  void clear() { setLayers({}); }
  QModelIndex indexForLayer(const QString& fullName) const;
  int layerCount() const;
  const LayerInfo* layer(const QModelIndex& index) const;

  QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
  QModelIndex parent(const QModelIndex& child) const override;
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

 private:
  struct Node;
  Node* nodeFor(const QModelIndex& index) const;
  std::unique_ptr<Node> root_;
  std::vector<Node*> byOrder_;
};

}  // namespace cs::qt
