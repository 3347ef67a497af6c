// A block of nodes on the canvas (Note [Blocks in the model graph] in groups/node_groups.h).
// Expanded, it is a titled frame behind its member nodes; only the title bar takes the
// mouse (drag it to move the block; double-click to collapse), so rubber-band selection
// inside the frame still works. Collapsed, it stands in for its members as one node-like
// box whose ports are the members' ports on the block's boundary; edges to hidden members
// end on those ports, and wiring from them connects the member port they show.
// Like NodeItem it holds only names and ids and reads the document.
#pragma once
#include <QGraphicsItem>
#include <string>
#include <vector>

#include "editor/graph_document.h"
#include "editor/groups/node_groups.h"

namespace nl::editor {

class PortItem;

class GroupItem : public QGraphicsItem {
 public:
  enum { Type = UserType + 4 };
  static constexpr double kTitle = 20;   // expanded frame's title bar
  static constexpr double kMargin = 14;  // frame around the members

  GroupItem(GraphDocument& doc, std::string name);
  int type() const override { return Type; }
  const std::string& name() const { return name_; }
  bool isCollapsed() const { return group_.collapsed; }
  const std::vector<graph::NodeId>& members() const { return group_.members; }
  const NodeGroup& group() const { return group_; }

  // Takes the block's current members and state; `members_rect` is the scene rectangle of
  // the member nodes (the frame when expanded; its top-left is where the box sits collapsed).
  void sync(const NodeGroup& group, const QRectF& members_rect);
  // Only where it sits (its members moved): the ports and text stay as they are, since a
  // move changes neither membership nor the boundary.
  void place(const QRectF& members_rect);
  // Where the block sits when nothing drags it: compare with pos() to see a drag's offset.
  QPointF anchor() const { return anchor_; }

  // The collapsed box's port standing for a member's port; null when expanded or not shown.
  PortItem* inputPortFor(graph::PortRef member_input) const;
  PortItem* outputPortFor(graph::PortRef member_output) const;

  QRectF boundingRect() const override;
  QPainterPath shape() const override;
  void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

 protected:
  void mouseDoubleClickEvent(QGraphicsSceneMouseEvent* event) override;

 private:
  void rebuildPorts(const GroupBoundary& boundary);
  QRectF collapsedRect() const;

  GraphDocument& doc_;
  std::string name_;
  NodeGroup group_;
  QRectF frame_;  // item coordinates: the expanded frame, title bar included
  QPointF anchor_;
  QStringList lines_;  // collapsed box: layer count, parameters
  std::vector<PortItem*> inputs_, outputs_;  // collapsed box's ports (children)
};

}  // namespace nl::editor
