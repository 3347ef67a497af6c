// The canvas scene: one NodeItem per node and one EdgeItem per edge, kept in step with the
// document's signals. User gestures become document requests — wiring a port to a port,
// dragging nodes, deleting the selection — never direct changes to items or the graph.
#pragma once
#include <QGraphicsPathItem>
#include <QGraphicsScene>
#include <map>

#include "editor/graph_document.h"

namespace nl::editor {

class EdgeItem;
class GroupItem;
class NodeItem;
class PortItem;

class GraphScene : public QGraphicsScene {
  Q_OBJECT

 public:
  explicit GraphScene(GraphDocument& doc, QObject* parent = nullptr);
  GraphDocument& document() { return doc_; }

  NodeItem* nodeItem(graph::NodeId id) const;
  EdgeItem* edgeItem(const graph::Edge& edge) const;
  // The block item of a block name, and of the block a node belongs to (null when none).
  GroupItem* groupItem(const std::string& name) const;
  GroupItem* groupItemOf(graph::NodeId id) const;
  size_t groupCount() const { return groups_.size(); }
  size_t edgeCount() const { return edges_.size(); }
  // Scene position of a port's centre.
  QPointF inputPortPos(graph::PortRef port) const;
  QPointF outputPortPos(graph::PortRef port) const;

  // Selected nodes, with every member of a selected block (so Delete, Copy, Duplicate and
  // Align act on whole blocks).
  std::vector<graph::NodeId> selectedNodeIds() const;
  // The names of the selected blocks, and of the blocks of selected nodes.
  std::vector<std::string> selectedGroupNames() const;
  // Selects exactly these nodes (after a paste, a duplicate).
  void selectNodes(const std::vector<graph::NodeId>& ids);
  // Deletes the selected nodes and edges as one undo step.
  void deleteSelection();

  // Snap node positions to the grid when a drag ends (the last move of the drag, so the
  // drag stays one undo step).
  void setSnapToGrid(bool on) { snap_ = on; }
  bool snapToGrid() const { return snap_; }
  static constexpr double kGridStep = 20;

 signals:
  // Something to tell the user in the status bar (a refused connection's reason …).
  void statusMessage(const QString& text);
  // A wire dragged from `port` was let go over empty canvas at `scene_pos`: the view offers
  // the layers that could take it (search-to-add).
  void wireDropped(nl::graph::PortRef port, bool port_is_output, QPointF scene_pos);

 protected:
  void mousePressEvent(QGraphicsSceneMouseEvent* event) override;
  void mouseMoveEvent(QGraphicsSceneMouseEvent* event) override;
  void mouseReleaseEvent(QGraphicsSceneMouseEvent* event) override;

 private:
  void rebuild();
  void addNodeItem(graph::NodeId id);
  void removeNodeItem(graph::NodeId id);
  void addEdgeItem(const graph::Edge& edge);
  void removeEdgeItem(const graph::Edge& edge);
  void syncNode(graph::NodeId id);
  void syncAll();
  void syncGroups();
  // Grows the scene rectangle so a node at `pos` sits well inside it (Note [Scene rect]).
  void keepInSceneRect(QPointF pos);
  void placeGroup(GroupItem* item);
  QRectF membersRect(const std::vector<graph::NodeId>& members) const;
  // Blocks dragged by the mouse: their members follow (merged into the drag's move).
  void collectGroupMoves(std::map<graph::NodeId, QPointF>& moved) const;
  void placeEdge(EdgeItem* item) const;
  PortItem* portAt(QPointF scene_pos) const;

  void startWire(PortItem* from);
  void dragWire(QPointF scene_pos);
  void finishWire(QPointF scene_pos);
  void clearHighlights();

  GraphDocument& doc_;
  std::map<graph::NodeId, NodeItem*> nodes_;
  std::map<graph::Edge, EdgeItem*> edges_;
  std::map<std::string, GroupItem*> groups_;

  // Wiring in progress: the port the drag started on and the rubber wire that follows it.
  PortItem* wire_from_ = nullptr;
  QGraphicsPathItem* wire_ = nullptr;
  // Node drag in progress: the move id that merges its moves into one undo step.
  int move_id_ = 0;
  bool drag_moved_ = false;  // the drag has moved something (a click alone never snaps)
  bool snap_ = true;
};

}  // namespace nl::editor
