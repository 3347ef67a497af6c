// The canvas scene: follows the document, turns gestures into requests.
#include "editor/canvas/graph_scene.h"

#include <QGraphicsSceneMouseEvent>
#include <QPen>
#include <cmath>
#include <set>

#include "editor/canvas/edge_item.h"
#include "editor/canvas/group_item.h"
#include "editor/canvas/node_item.h"
#include "editor/canvas/port_item.h"

namespace nl::editor {

GraphScene::GraphScene(GraphDocument& doc, QObject* parent) : QGraphicsScene(parent), doc_(doc) {
  // Note [Scene rect]: a large area set by hand, so panning never hits an edge and adding
  // nodes does not resize the scene (which would re-index every item of a big graph). It
  // only grows, by a wide margin, when a node lands near its edge (a laid-out graph of
  // thousands of nodes is hundreds of thousands of pixels long): items outside the rect
  // could not be scrolled to, and the item index would pile them into its border cells.
  setSceneRect(-50000, -50000, 100000, 100000);
  connect(&doc_, &GraphDocument::nodeAdded, this, &GraphScene::addNodeItem);
  connect(&doc_, &GraphDocument::nodeRemoved, this, &GraphScene::removeNodeItem);
  connect(&doc_, &GraphDocument::edgeAdded, this, &GraphScene::addEdgeItem);
  connect(&doc_, &GraphDocument::edgeRemoved, this, &GraphScene::removeEdgeItem);
  connect(&doc_, &GraphDocument::nodeChanged, this, &GraphScene::syncNode);
  connect(&doc_, &GraphDocument::analysisChanged, this, &GraphScene::syncAll);
  connect(&doc_, &GraphDocument::graphReset, this, &GraphScene::rebuild);
  connect(&doc_, &GraphDocument::editRefused, this, &GraphScene::statusMessage);
  connect(&doc_, &GraphDocument::groupsChanged, this, &GraphScene::syncGroups);
  rebuild();
}

void GraphScene::rebuild() {
  wire_from_ = nullptr;
  wire_ = nullptr;
  clear();
  nodes_.clear();
  edges_.clear();
  groups_.clear();
  for (const auto& [id, node] : doc_.graph().nodes()) addNodeItem(id);
  for (const graph::Edge& e : doc_.graph().edges()) addEdgeItem(e);
  syncGroups();
}

NodeItem* GraphScene::nodeItem(graph::NodeId id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second;
}

EdgeItem* GraphScene::edgeItem(const graph::Edge& edge) const {
  auto it = edges_.find(edge);
  return it == edges_.end() ? nullptr : it->second;
}

GroupItem* GraphScene::groupItem(const std::string& name) const {
  auto it = groups_.find(name);
  return it == groups_.end() ? nullptr : it->second;
}

GroupItem* GraphScene::groupItemOf(graph::NodeId id) const {
  const graph::Node* n = doc_.graph().find(id);
  return n ? groupItem(n->ui.group) : nullptr;
}

QPointF GraphScene::inputPortPos(graph::PortRef port) const {
  NodeItem* n = nodeItem(port.node);
  if (n && !n->isVisible())  // inside a collapsed block: the block's port stands for it
    if (GroupItem* g = groupItemOf(port.node); g && g->isCollapsed()) {
      PortItem* p = g->inputPortFor(port);
      return p ? p->scenePos() : g->sceneBoundingRect().center();
    }
  PortItem* p = n ? n->inputPort(port.port) : nullptr;
  return p ? p->scenePos() : (n ? n->scenePos() : QPointF());
}

QPointF GraphScene::outputPortPos(graph::PortRef port) const {
  NodeItem* n = nodeItem(port.node);
  if (n && !n->isVisible())
    if (GroupItem* g = groupItemOf(port.node); g && g->isCollapsed()) {
      PortItem* p = g->outputPortFor(port);
      return p ? p->scenePos() : g->sceneBoundingRect().center();
    }
  PortItem* p = n ? n->outputPort(port.port) : nullptr;
  return p ? p->scenePos() : (n ? n->scenePos() : QPointF());
}

void GraphScene::addNodeItem(graph::NodeId id) {
  if (nodes_.count(id)) return;
  auto* item = new NodeItem(doc_, id);
  keepInSceneRect(item->pos());
  addItem(item);
  nodes_[id] = item;
}

void GraphScene::removeNodeItem(graph::NodeId id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return;
  if (wire_from_ && wire_from_->node() == id) {  // the wire's start goes away: drop the wire
    delete wire_;
    wire_ = nullptr;
    wire_from_ = nullptr;
  }
  delete it->second;
  nodes_.erase(it);
}

void GraphScene::addEdgeItem(const graph::Edge& edge) {
  if (edges_.count(edge)) return;
  auto* item = new EdgeItem(doc_, edge);
  addItem(item);
  edges_[edge] = item;
  placeEdge(item);
}

void GraphScene::removeEdgeItem(const graph::Edge& edge) {
  auto it = edges_.find(edge);
  if (it == edges_.end()) return;
  delete it->second;
  edges_.erase(it);
}

void GraphScene::placeEdge(EdgeItem* item) const {
  // An edge between two members of one collapsed block is inside the box: hidden.
  const graph::Node* from = doc_.graph().find(item->edge().from.node);
  const graph::Node* to = doc_.graph().find(item->edge().to.node);
  bool inside = from && to && !from->ui.group.empty() && from->ui.group == to->ui.group;
  GroupItem* g = inside ? groupItem(from->ui.group) : nullptr;
  item->setVisible(!(g && g->isCollapsed()));
  item->setEnds(outputPortPos(item->edge().from), inputPortPos(item->edge().to));
}

QRectF GraphScene::membersRect(const std::vector<graph::NodeId>& members) const {
  QRectF rect;
  for (graph::NodeId id : members)
    if (NodeItem* n = nodeItem(id)) rect = rect.united(QRectF(n->pos(), n->boundingRect().adjusted(3, 8, -8, -3).size()));
  return rect;
}

void GraphScene::placeGroup(GroupItem* item) {
  // Called for every moved member during a drag: the block's members as last synced (blocks
  // change only through commands, which re-sync them), no scan of the graph, no new ports.
  item->place(membersRect(item->members()));
}

void GraphScene::syncGroups() {
  // Blocks come and go with commands (group, ungroup, delete, undo): match the items to the
  // graph's blocks by name, then show or hide members and the edges inside each block.
  std::map<std::string, NodeGroup> groups = node_groups(doc_.graph());
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (groups.count(it->first)) {
      ++it;
      continue;
    }
    delete it->second;
    it = groups_.erase(it);
  }
  for (auto& [id, item] : nodes_) {
    const std::string& name = doc_.graph().node(id).ui.group;
    bool hidden = !name.empty() && groups.at(name).collapsed;
    if (hidden) item->setSelected(false);
    item->setVisible(!hidden);
  }
  for (const auto& [name, group] : groups) {
    GroupItem*& item = groups_[name];
    if (!item) {
      item = new GroupItem(doc_, name);
      addItem(item);
    }
    item->sync(group, membersRect(group.members));
  }
  for (auto& [edge, item] : edges_) placeEdge(item);
}

void GraphScene::keepInSceneRect(QPointF pos) {
  constexpr double kMargin = 50000;
  QRectF rect = sceneRect();
  if (rect.adjusted(kMargin / 2, kMargin / 2, -kMargin / 2, -kMargin / 2).contains(pos)) return;
  setSceneRect(rect.united(QRectF(pos - QPointF(kMargin, kMargin), QSizeF(2 * kMargin, 2 * kMargin))));
}

void GraphScene::syncNode(graph::NodeId id) {
  NodeItem* n = nodeItem(id);
  if (!n) return;
  n->sync();
  keepInSceneRect(n->pos());
  if (GroupItem* g = groupItemOf(id)) {
    placeGroup(g);
    // A collapsed block's ports moved with it: every edge crossing its boundary follows.
    if (g->isCollapsed())
      for (graph::NodeId member : g->members()) {
        for (const graph::Edge& e : doc_.graph().edges_into(member))
          if (EdgeItem* item = edgeItem(e)) placeEdge(item);
        for (const graph::Edge& e : doc_.graph().edges_from(member))
          if (EdgeItem* item = edgeItem(e)) placeEdge(item);
      }
  }
  for (const graph::Edge& e : doc_.graph().edges_into(id))
    if (EdgeItem* item = edgeItem(e)) placeEdge(item);
  for (const graph::Edge& e : doc_.graph().edges_from(id))
    if (EdgeItem* item = edgeItem(e)) placeEdge(item);
}

void GraphScene::syncAll() {
  // Shapes and messages may change anywhere downstream of an edit, and port counts with the
  // edges (variadic inputs): the document says which nodes changed (Note [Changed nodes]).
  if (doc_.changedAll()) {
    for (auto& [id, item] : nodes_) item->sync();
    for (auto& [edge, item] : edges_) item->sync();
  } else {
    const std::set<graph::NodeId>& changed = doc_.changedNodes();
    for (graph::NodeId id : changed)
      if (NodeItem* item = nodeItem(id)) item->sync();
    for (auto& [edge, item] : edges_)
      if (changed.count(edge.from.node) || changed.count(edge.to.node)) item->sync();
  }
  syncGroups();  // places every edge too
}

std::vector<graph::NodeId> GraphScene::selectedNodeIds() const {
  std::set<graph::NodeId> ids;
  for (QGraphicsItem* item : selectedItems()) {
    if (item->type() == NodeItem::Type) ids.insert(static_cast<NodeItem*>(item)->id());
    if (item->type() == GroupItem::Type)
      for (graph::NodeId id : static_cast<GroupItem*>(item)->members()) ids.insert(id);
  }
  return {ids.begin(), ids.end()};
}

std::vector<std::string> GraphScene::selectedGroupNames() const {
  std::set<std::string> names;
  for (QGraphicsItem* item : selectedItems()) {
    if (item->type() == GroupItem::Type) names.insert(static_cast<GroupItem*>(item)->name());
    if (item->type() == NodeItem::Type)
      if (const std::string& g = doc_.graph().node(static_cast<NodeItem*>(item)->id()).ui.group; !g.empty())
        names.insert(g);
  }
  return {names.begin(), names.end()};
}

void GraphScene::collectGroupMoves(std::map<graph::NodeId, QPointF>& moved) const {
  for (const auto& [name, item] : groups_) {
    QPointF delta = item->pos() - item->anchor();
    if (delta.isNull()) continue;
    for (graph::NodeId id : item->members()) {
      if (moved.count(id)) continue;  // selected as well, and moved by Qt already
      const graph::NodeUi& ui = doc_.graph().node(id).ui;
      moved[id] = QPointF(ui.x, ui.y) + delta;
    }
  }
}

void GraphScene::selectNodes(const std::vector<graph::NodeId>& ids) {
  clearSelection();
  for (graph::NodeId id : ids)
    if (NodeItem* item = nodeItem(id)) item->setSelected(true);
}

void GraphScene::deleteSelection() {
  std::vector<graph::Edge> edges;
  for (QGraphicsItem* item : selectedItems())
    if (item->type() == EdgeItem::Type) edges.push_back(static_cast<EdgeItem*>(item)->edge());
  std::vector<graph::NodeId> nodes = selectedNodeIds();
  if (nodes.empty() && edges.empty()) return;
  doc_.removeItems(nodes, edges);
}

PortItem* GraphScene::portAt(QPointF scene_pos) const {
  for (QGraphicsItem* item : items(scene_pos))
    if (item->type() == PortItem::Type) return static_cast<PortItem*>(item);
  return nullptr;
}

// --- Gestures ------------------------------------------------------------------------------

void GraphScene::mousePressEvent(QGraphicsSceneMouseEvent* event) {
  if (event->button() == Qt::LeftButton) {
    if (PortItem* port = portAt(event->scenePos())) {
      startWire(port);
      event->accept();
      return;
    }
  }
  QGraphicsScene::mousePressEvent(event);
  if (event->button() == Qt::LeftButton && mouseGrabberItem() &&
      (mouseGrabberItem()->type() == NodeItem::Type || mouseGrabberItem()->type() == GroupItem::Type))
    move_id_ = doc_.newMoveId();
}

void GraphScene::mouseMoveEvent(QGraphicsSceneMouseEvent* event) {
  if (wire_from_) {
    dragWire(event->scenePos());
    event->accept();
    return;
  }
  // Qt moves the selected items; the positions they reach become one merged Move request,
  // and the document's nodeChanged brings the edges along.
  QGraphicsScene::mouseMoveEvent(event);
  if (move_id_ == 0) return;
  std::map<graph::NodeId, QPointF> moved;
  for (auto& [id, item] : nodes_) {
    const graph::NodeUi& ui = doc_.graph().node(id).ui;
    if (item->isVisible() && item->pos() != QPointF(ui.x, ui.y)) moved[id] = item->pos();
  }
  collectGroupMoves(moved);
  if (!moved.empty()) drag_moved_ |= bool(doc_.moveNodes(moved, move_id_));
}

void GraphScene::mouseReleaseEvent(QGraphicsSceneMouseEvent* event) {
  if (wire_from_ && event->button() == Qt::LeftButton) {
    finishWire(event->scenePos());
    event->accept();
    return;
  }
  QGraphicsScene::mouseReleaseEvent(event);
  if (move_id_ != 0 && snap_) {
    // The drag's final move, merged into it: the nodes it moved land on grid points.
    std::map<graph::NodeId, QPointF> snapped;
    for (graph::NodeId id : selectedNodeIds()) {
      const graph::NodeUi& ui = doc_.graph().node(id).ui;
      QPointF to(std::round(ui.x / kGridStep) * kGridStep, std::round(ui.y / kGridStep) * kGridStep);
      if (to != QPointF(ui.x, ui.y)) snapped[id] = to;
    }
    if (!snapped.empty() && drag_moved_) doc_.moveNodes(snapped, move_id_);
  }
  move_id_ = 0;
  drag_moved_ = false;
}

void GraphScene::startWire(PortItem* from) {
  wire_from_ = from;
  wire_ = new QGraphicsPathItem;
  wire_->setPen(QPen(QColor("#42a5f5"), 2, Qt::DashLine, Qt::RoundCap));
  wire_->setZValue(3);
  addItem(wire_);
  // Ports on the other side light up when the graph would accept the edge (the document
  // asks connect() itself, so the highlight never disagrees with the drop).
  for (auto& [id, item] : nodes_) {
    const auto& ports = from->isOutput() ? item->inputPorts() : std::vector<PortItem*>{};
    std::vector<PortItem*> targets = ports;
    if (!from->isOutput())
      for (int i = 0; PortItem* p = item->outputPort(i); ++i) targets.push_back(p);
    for (PortItem* p : targets) {
      graph::Edge e = from->isOutput() ? graph::Edge{from->ref(), p->ref()} : graph::Edge{p->ref(), from->ref()};
      p->setHighlight(doc_.canConnect(e) ? PortItem::Highlight::Compatible : PortItem::Highlight::Incompatible);
    }
  }
  dragWire(from->scenePos());
}

void GraphScene::dragWire(QPointF scene_pos) {
  QPointF a = wire_from_->scenePos();
  wire_->setPath(wire_from_->isOutput() ? EdgeItem::curve(a, scene_pos) : EdgeItem::curve(scene_pos, a));
}

void GraphScene::finishWire(QPointF scene_pos) {
  PortItem* from = wire_from_;
  PortItem* to = portAt(scene_pos);
  graph::PortRef start = from->ref();
  bool start_is_output = from->isOutput();
  clearHighlights();
  delete wire_;
  wire_ = nullptr;
  wire_from_ = nullptr;
  if (!to) {  // empty canvas (a node's body counts too): offer a layer that fits
    bool on_node = false;
    for (QGraphicsItem* item : items(scene_pos)) on_node |= item->type() == NodeItem::Type;
    if (!on_node) emit wireDropped(start, start_is_output, scene_pos);
    return;
  }
  if (to == from) return;
  if (to->isOutput() == start_is_output) {
    emit statusMessage(start_is_output ? tr("Connect an output to an input") : tr("Connect an input to an output"));
    return;
  }
  graph::Edge e = start_is_output ? graph::Edge{start, to->ref()} : graph::Edge{to->ref(), start};
  if (graph::EditResult r = doc_.connectPorts(e); r) emit statusMessage(tr("Connected"));
  // A refusal reached the status bar through the document's editRefused.
}

void GraphScene::clearHighlights() {
  for (auto& [id, item] : nodes_) {
    for (PortItem* p : item->inputPorts()) p->setHighlight(PortItem::Highlight::None);
    for (int i = 0; PortItem* p = item->outputPort(i); ++i) p->setHighlight(PortItem::Highlight::None);
  }
}

}  // namespace nl::editor
