#include "core/LayerTreeModel.h"

#include <QFont>
#include <QHash>

#include "core/Conversions.h"

namespace cs::qt {

struct LayerTreeModel::Node {
  LayerInfo info;
  QString fullName, shortName;
  Node* parent = nullptr;
  int row = 0;
  std::vector<std::unique_ptr<Node>> children;
};

LayerTreeModel::LayerTreeModel(QObject* parent) : QAbstractItemModel(parent), root_(std::make_unique<Node>()) {}
LayerTreeModel::~LayerTreeModel() = default;

void LayerTreeModel::setLayers(const std::vector<LayerInfo>& layers) {
  beginResetModel();
  root_ = std::make_unique<Node>();
  byOrder_.clear();
  QHash<QString, Node*> byName;
  for (const auto& info : layers) {
    auto node = std::make_unique<Node>();
    node->info = info;
    node->fullName = toQString(info.name);
    // Longest existing dotted prefix is the parent.
    Node* parent = root_.get();
    QString prefix = node->fullName;
    while (true) {
      const int dot = prefix.lastIndexOf(QLatin1Char('.'));
      if (dot < 0) break;
      prefix.truncate(dot);
      if (Node* p = byName.value(prefix)) {
        parent = p;
        break;
      }
    }
    node->shortName = parent == root_.get() ? node->fullName : node->fullName.mid(parent->fullName.size() + 1);
    if (node->shortName.isEmpty()) node->shortName = QStringLiteral("(model)");
    node->parent = parent;
    node->row = static_cast<int>(parent->children.size());
    byName.insert(node->fullName, node.get());
    byOrder_.push_back(node.get());
    parent->children.push_back(std::move(node));
  }
  endResetModel();
}

int LayerTreeModel::layerCount() const { return static_cast<int>(byOrder_.size()); }

LayerTreeModel::Node* LayerTreeModel::nodeFor(const QModelIndex& index) const {
  return index.isValid() ? static_cast<Node*>(index.internalPointer()) : root_.get();
}

const LayerInfo* LayerTreeModel::layer(const QModelIndex& index) const {
  if (!index.isValid() || index.model() != this) return nullptr;
  return &nodeFor(index)->info;
}

QModelIndex LayerTreeModel::indexForLayer(const QString& fullName) const {
  for (Node* n : byOrder_)
    if (n->fullName == fullName) return createIndex(n->row, 0, n);
  return {};
}

QModelIndex LayerTreeModel::index(int row, int column, const QModelIndex& parent) const {
  if (row < 0 || column < 0 || column >= ColumnCount) return {};
  if (parent.isValid() && parent.column() != 0) return {};
  Node* p = nodeFor(parent);
  if (row >= static_cast<int>(p->children.size())) return {};
  return createIndex(row, column, p->children[static_cast<size_t>(row)].get());
}

QModelIndex LayerTreeModel::parent(const QModelIndex& child) const {
  if (!child.isValid()) return {};
  Node* p = nodeFor(child)->parent;
  if (!p || p == root_.get()) return {};
  return createIndex(p->row, 0, p);
}

int LayerTreeModel::rowCount(const QModelIndex& parent) const {
  if (parent.isValid() && parent.column() != 0) return 0;
  return static_cast<int>(nodeFor(parent)->children.size());
}

int LayerTreeModel::columnCount(const QModelIndex&) const { return ColumnCount; }

QVariant LayerTreeModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid()) return {};
  const Node* n = nodeFor(index);
  const LayerInfo& info = n->info;
  switch (role) {
    case Qt::DisplayRole:
      switch (index.column()) {
        case NameColumn: return n->shortName;
        case TypeColumn: return toQString(info.type);
        case ShapeColumn: return shapeToQString(info.weightShape);
        case ParamsColumn: return info.params > 0 ? groupedNumber(info.params) : QString();
        case DtypeColumn: return info.weightShape.empty() ? QString() : toQString(info.dtype);
      }
      return {};
    case Qt::ToolTipRole:
      return QStringLiteral("%1 (%2)%3").arg(n->fullName, toQString(info.type),
                                              info.quantizable ? QStringLiteral(", quantizable") : QString());
    case Qt::TextAlignmentRole:
      if (index.column() == ParamsColumn) return QVariant(Qt::AlignRight | Qt::AlignVCenter);
      return {};
    case Qt::FontRole:
      if (index.column() == NameColumn && info.quantizable) {
        QFont f;
        f.setBold(true);
        return f;
      }
      return {};
    case FullNameRole: return n->fullName;
    case QuantizableRole: return info.quantizable;
    case ParamCountRole: return static_cast<qlonglong>(info.params);
  }
  return {};
}

QVariant LayerTreeModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  switch (section) {
    case NameColumn: return tr("Name");
    case TypeColumn: return tr("Type");
    case ShapeColumn: return tr("Shape");
    case ParamsColumn: return tr("Parameters");
    case DtypeColumn: return tr("Dtype");
  }
  return {};
}

}  // namespace cs::qt
