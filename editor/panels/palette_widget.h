// The palette dock's content: every layer of a registry grouped by category, a filter box,
// the schema's help as tooltip. Drag a layer onto the canvas (LayerTree's mime type), or
// activate it (double-click, Enter) to have the main window add it at the view centre.
#pragma once
#include <QWidget>

#include "engine/graph/layer_registry.h"

class QLineEdit;

namespace nl::editor {

class LayerTree;

class PaletteWidget : public QWidget {
  Q_OBJECT

 public:
  explicit PaletteWidget(const graph::LayerRegistry& registry = graph::LayerRegistry::builtin(),
                         QWidget* parent = nullptr);

  QLineEdit* filterEdit() const { return filter_; }
  LayerTree* tree() const { return tree_; }
  // Layer types currently shown (not hidden by the filter), in display order.
  QStringList visibleTypes() const;

  // Case-insensitive: a substring of the type or category, or the query's letters in order
  // in the type ("cv2" finds Conv2d).
  static bool matches(const QString& query, const QString& type, const QString& category);

 public slots:
  void setFilter(const QString& text);

 signals:
  void layerActivated(const QString& type);

 private:
  void populate(const graph::LayerRegistry& registry);

  QLineEdit* filter_;
  LayerTree* tree_;
};

}  // namespace nl::editor
