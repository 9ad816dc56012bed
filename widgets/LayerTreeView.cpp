#include "widgets/LayerTreeView.h"

#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLineEdit>
#include <QSortFilterProxyModel>
#include <QTreeView>
#include <QVBoxLayout>

namespace cs::widgets {

LayerTreeView::LayerTreeView(QWidget* parent) : QWidget(parent) {
  filter_ = new QLineEdit(this);
  filter_->setPlaceholderText(tr("Filter layers (e.g. mlp.fc1)"));
  filter_->setClearButtonEnabled(true);
  tree_ = new QTreeView(this);
  tree_->setUniformRowHeights(true);
  tree_->setAlternatingRowColors(true);
  tree_->setSelectionMode(QAbstractItemView::SingleSelection);
  tree_->setSelectionBehavior(QAbstractItemView::SelectRows);
  tree_->setAllColumnsShowFocus(true);
  proxy_ = new QSortFilterProxyModel(this);
  proxy_->setRecursiveFilteringEnabled(true);
  proxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
  proxy_->setFilterKeyColumn(0);
  tree_->setModel(proxy_);
  connect(filter_, &QLineEdit::textChanged, this, [this](const QString& text) {
    proxy_->setFilterFixedString(text);
    if (!text.isEmpty()) tree_->expandAll();
  });
  connect(tree_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) { onCurrentChanged(current); });

  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(filter_);
  layout->addWidget(tree_, 1);
}

void LayerTreeView::setModel(QAbstractItemModel* model, int nameRole) {
  nameRole_ = nameRole;
  proxy_->setFilterRole(nameRole);
  proxy_->setSourceModel(model);
  if (model) {
    connect(model, &QAbstractItemModel::modelReset, this, [this] {
      tree_->expandToDepth(0);
      for (int c = 0; c < proxy_->columnCount(); ++c) tree_->resizeColumnToContents(c);
    });
  }
  tree_->expandToDepth(0);
}

QString LayerTreeView::currentLayer() const { return tree_->currentIndex().data(nameRole_).toString(); }

bool LayerTreeView::selectLayer(const QString& fullName) {
  if (!proxy_->sourceModel()) return false;
  const QModelIndexList hits =
      proxy_->match(proxy_->index(0, 0), nameRole_, fullName, 1, Qt::MatchExactly | Qt::MatchRecursive);
  if (hits.isEmpty()) return false;
  const QModelIndex idx = hits.first();
  for (QModelIndex p = idx.parent(); p.isValid(); p = p.parent()) tree_->expand(p);
  tree_->setCurrentIndex(idx);
  tree_->scrollTo(idx);
  return true;
}

void LayerTreeView::onCurrentChanged(const QModelIndex& current) {
  const QString name = current.data(nameRole_).toString();
  if (!name.isEmpty()) Q_EMIT layerSelected(name);
}

}  // namespace cs::widgets
