// The palette's tree of layers: category rows holding layer rows. Dragging a layer row
// carries its type name as kLayerMimeType, which the canvas accepts to add that layer.
#pragma once
#include <QTreeWidget>

namespace nl::editor {

// Mime type of a palette drag; the data is the layer type name in UTF-8.
inline constexpr const char* kLayerMimeType = "application/x-netloom-layer";

class LayerTree : public QTreeWidget {
  Q_OBJECT

 public:
  // Role holding a layer row's type name (category rows have none).
  static constexpr int kTypeRole = Qt::UserRole + 1;

  explicit LayerTree(QWidget* parent = nullptr);

 protected:
  QStringList mimeTypes() const override;
  QMimeData* mimeData(const QList<QTreeWidgetItem*>& items) const override;
};

}  // namespace nl::editor
