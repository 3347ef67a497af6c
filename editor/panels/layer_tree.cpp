// The palette's layer tree: drag support with the layer mime type.
#include "editor/panels/layer_tree.h"

#include <QMimeData>

namespace nl::editor {

LayerTree::LayerTree(QWidget* parent) : QTreeWidget(parent) {
  setHeaderHidden(true);
  setDragEnabled(true);
  setDragDropMode(QAbstractItemView::DragOnly);
  setSelectionMode(QAbstractItemView::SingleSelection);
  setRootIsDecorated(true);
  setUniformRowHeights(true);
}

QStringList LayerTree::mimeTypes() const { return {QString::fromLatin1(kLayerMimeType)}; }

QMimeData* LayerTree::mimeData(const QList<QTreeWidgetItem*>& items) const {
  // Only layer rows are draggable (their flags), so the first item names the layer.
  if (items.isEmpty()) return nullptr;
  QString type = items.first()->data(0, kTypeRole).toString();
  if (type.isEmpty()) return nullptr;
  auto* mime = new QMimeData;
  mime->setData(QString::fromLatin1(kLayerMimeType), type.toUtf8());
  mime->setText(type);
  return mime;
}

}  // namespace nl::editor
