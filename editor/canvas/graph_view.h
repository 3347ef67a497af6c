// The canvas view: zoom around the cursor with the wheel, pan with the middle button or
// space+drag, fit-to-view, a grid background, rubber-band and Ctrl+click selection, Delete;
// layers dropped from the palette; search-to-add (Tab, double-click, a wire let go on empty
// canvas); copy/cut/paste/duplicate through the clipboard; select all; align; pinch zoom
// (touchpad native gestures and touchscreen pinches); blocks of nodes (group, ungroup,
// collapse/expand).
//
// Every edit goes through the document as one undo step: a search-to-add that also wires
// the new node is a QUndoStack macro (add + connect).
#pragma once
#include <QGraphicsView>
#include <optional>
#include <string>

#include "engine/graph/model_graph.h"

namespace nl::editor {

class GraphScene;
class MinimapView;
class SearchPopup;

class GraphView : public QGraphicsView {
  Q_OBJECT

 public:
  // Drag payload of a palette entry: the layer type name, UTF-8.
  static constexpr const char* kLayerMime = "application/x-netloom-layer";
  enum class Alignment { Left, Top, HorizontalCentre, VerticalCentre };

  explicit GraphView(GraphScene* scene, QWidget* parent = nullptr);
  GraphScene* graphScene() const { return scene_; }
  double zoom() const { return transform().m11(); }
  SearchPopup* searchPopup() const { return search_; }
  MinimapView* minimap() const { return minimap_; }

  // Where a layer added at `scene_pos` goes: its header centred on the point (snapped to
  // the grid when snapping is on).
  graph::NodeUi placementAt(QPointF scene_pos) const;

 public slots:
  // Shows every node, zoomed no further in than 100 %.
  void fitToView();
  void zoomBy(double factor);
  // Zooms keeping the scene point under `viewport_pos` where it is (wheel, pinch).
  void zoomAround(QPoint viewport_pos, double factor);
  void setSnapToGrid(bool on);
  void setMinimapVisible(bool on);

  // Opens search-to-add; the chosen layer is added at `scene_pos`.
  void openSearch(QPointF scene_pos);
  // Opens it listing only layers that can take this port's wire; the new node gets wired.
  void openSearchForWire(graph::PortRef port, bool port_is_output, QPointF scene_pos);

  void copySelection();
  void cutSelection();
  // Pastes the clipboard's snippet with its top-left at `scene_pos`.
  void pasteAt(QPointF scene_pos);
  // Pastes under the mouse when it is over the canvas, else offset from the originals.
  void paste();
  void duplicateSelection();
  void selectAll();
  void alignSelection(Alignment how);

  // Blocks (Note [Blocks in the model graph] in groups/node_groups.h): the selected layers
  // become a block named "block N" (Ctrl+G; Rename Block names it); Ctrl+Shift+G dissolves
  // the selected blocks; Ctrl+E collapses or expands them (as does a double-click), or folds
  // selected layers outside blocks to their header.
  void groupSelection();
  void ungroupSelection();
  void toggleSelectedGroups();
  // Asks for a new name of the selected block (one block selected).
  void renameSelectedGroup();

 protected:
  bool event(QEvent* event) override;
  bool viewportEvent(QEvent* event) override;
  void wheelEvent(QWheelEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;
  void mouseMoveEvent(QMouseEvent* event) override;
  void mouseReleaseEvent(QMouseEvent* event) override;
  void mouseDoubleClickEvent(QMouseEvent* event) override;
  void keyPressEvent(QKeyEvent* event) override;
  void keyReleaseEvent(QKeyEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dragMoveEvent(QDragMoveEvent* event) override;
  void dropEvent(QDropEvent* event) override;
  void drawBackground(QPainter* painter, const QRectF& rect) override;
  void resizeEvent(QResizeEvent* event) override;
  void scrollContentsBy(int dx, int dy) override;

 private:
  struct PendingWire {
    graph::PortRef port;
    bool port_is_output = true;
  };
  void addChosenLayer(const QString& type);
  // The scene point under the mouse, when the mouse is over the canvas.
  std::optional<QPointF> mouseScenePos() const;
  bool handleShortcut(QKeyEvent* event, bool only_check);

  GraphScene* scene_;
  SearchPopup* search_;
  MinimapView* minimap_;
  QPointF search_at_;
  std::optional<PendingWire> search_wire_;
  bool panning_ = false;
  Qt::MouseButton pan_button_ = Qt::NoButton;
  bool space_held_ = false;
  QPoint pan_last_;
  std::optional<QPoint> mouse_;  // last viewport position of the mouse while over the canvas
};

}  // namespace nl::editor
