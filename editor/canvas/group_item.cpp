// A block of nodes: a titled frame when expanded, one node-like box when collapsed.
#include "editor/canvas/group_item.h"

#include <QGraphicsSceneMouseEvent>
#include <QPainter>
#include <QPainterPath>

#include "editor/canvas/node_style.h"
#include "editor/canvas/port_item.h"

namespace nl::editor {

GroupItem::GroupItem(GraphDocument& doc, std::string name) : doc_(doc), name_(std::move(name)) {
  setFlags(ItemIsMovable | ItemIsSelectable);
  setZValue(-1);  // expanded: behind edges and nodes
}

void GroupItem::sync(const NodeGroup& group, const QRectF& members_rect) {
  group_ = group;
  setZValue(group_.collapsed ? 1 : -1);  // collapsed: a node among nodes
  if (group_.collapsed) {
    const graph::GraphAnalysis& a = doc_.analysis();
    int64_t params = 0;
    for (graph::NodeId id : group_.members)
      if (auto it = a.nodes.find(id); it != a.nodes.end()) params += it->second.cost.params;
    const int n = static_cast<int>(group_.members.size());
    lines_ = {n == 1 ? QObject::tr("1 layer") : QObject::tr("%1 layers").arg(n),
              QObject::tr("params: %1").arg(QString::fromStdString(graph::human_count(params)))};
    rebuildPorts(group_boundary(doc_.graph(), group_.members));
  } else {
    rebuildPorts({});
  }
  setToolTip(QObject::tr("Block <b>%1</b> of %2 layers. Double-click to %3.")
                 .arg(QString::fromStdString(name_).toHtmlEscaped(), QString::number(group_.members.size()),
                      group_.collapsed ? QObject::tr("expand") : QObject::tr("collapse")));
  place(members_rect);
}

void GroupItem::place(const QRectF& members_rect) {
  prepareGeometryChange();
  if (group_.collapsed) {
    anchor_ = members_rect.topLeft();
  } else {
    QRectF f = members_rect.adjusted(-kMargin, -kMargin - kTitle, kMargin, kMargin);
    anchor_ = f.topLeft();
    frame_ = QRectF(QPointF(0, 0), f.size());
  }
  setPos(anchor_);
  update();
}

void GroupItem::rebuildPorts(const GroupBoundary& boundary) {
  for (PortItem* p : inputs_) delete p;
  for (PortItem* p : outputs_) delete p;
  inputs_.clear();
  outputs_.clear();
  // The box's ports carry the member's node id and port index, so a wire dragged from one
  // connects that member port (the scene asks ref() of whatever port it finds).
  const double top = NodeStyle::kHeader + 4;
  for (size_t i = 0; i < boundary.inputs.size(); ++i) {
    auto* p = new PortItem(boundary.inputs[i].node, false, boundary.inputs[i].port, this);
    p->setPos(0, top + NodeStyle::kPortSpacing * (i + 0.5));
    p->setConnected(doc_.graph().edge_into(boundary.inputs[i]).has_value());
    inputs_.push_back(p);
  }
  for (size_t i = 0; i < boundary.outputs.size(); ++i) {
    auto* p = new PortItem(boundary.outputs[i].node, true, boundary.outputs[i].port, this);
    p->setPos(NodeStyle::kWidth, top + NodeStyle::kPortSpacing * (i + 0.5));
    bool fed = false;
    for (const graph::Edge& e : doc_.graph().edges_from(boundary.outputs[i].node))
      fed |= e.from.port == boundary.outputs[i].port;
    p->setConnected(fed);
    outputs_.push_back(p);
  }
}

PortItem* GroupItem::inputPortFor(graph::PortRef member_input) const {
  for (PortItem* p : inputs_)
    if (p->ref() == member_input) return p;
  return nullptr;
}

PortItem* GroupItem::outputPortFor(graph::PortRef member_output) const {
  for (PortItem* p : outputs_)
    if (p->ref() == member_output) return p;
  return nullptr;
}

QRectF GroupItem::collapsedRect() const {
  double text = NodeStyle::kLine * (1 + lines_.size()) + 8;
  double ports = NodeStyle::kPortSpacing * std::max(inputs_.size(), outputs_.size()) + 6;
  return QRectF(0, 0, NodeStyle::kWidth, NodeStyle::kHeader + std::max(text, ports));
}

QRectF GroupItem::boundingRect() const {
  return (group_.collapsed ? collapsedRect() : frame_).adjusted(-3, -3, 3, 3);
}

QPainterPath GroupItem::shape() const {
  QPainterPath path;
  if (group_.collapsed)
    path.addRect(collapsedRect());
  else
    path.addRect(QRectF(0, 0, frame_.width(), kTitle));  // the title bar alone takes the mouse
  return path;
}

void GroupItem::paint(QPainter* p, const QStyleOptionGraphicsItem*, QWidget*) {
  p->setRenderHint(QPainter::Antialiasing);
  const CanvasColors colors = CanvasColors::current();
  const QColor kBlockColor = colors.block;
  const QColor outline = isSelected() ? QColor("#ffb300") : kBlockColor;
  const double c = NodeStyle::kCorner;
  const QString name = QString::fromStdString(name_);
  if (!group_.collapsed) {
    // A tinted frame with the block's name in a title bar and a "collapse" mark.
    QColor fill = kBlockColor;
    fill.setAlpha(28);
    p->setPen(QPen(outline, isSelected() ? 2.2 : 1.2, Qt::DashLine));
    p->setBrush(fill);
    p->drawRoundedRect(frame_, c, c);
    QPainterPath title;
    title.addRoundedRect(QRectF(0, 0, frame_.width(), kTitle), c, c);
    p->fillPath(title, kBlockColor);
    p->setPen(Qt::white);
    p->setFont(NodeStyle::titleFont());
    QRectF text(8, 0, frame_.width() - 30, kTitle);
    p->drawText(text, Qt::AlignVCenter | Qt::AlignLeft,
                p->fontMetrics().elidedText(name, Qt::ElideRight, static_cast<int>(text.width())));
    p->drawText(QRectF(frame_.width() - 20, 0, 14, kTitle), Qt::AlignCenter, QStringLiteral("▾"));
    return;
  }
  // Collapsed: drawn like a node (NodeItem::paint), with a double outline that says "many".
  const QRectF r = collapsedRect();
  QPainterPath body;
  body.addRoundedRect(r, c, c);
  p->setPen(Qt::NoPen);
  p->setBrush(QColor(0, 0, 0, 40));
  p->drawPath(body.translated(5, 6));
  p->setBrush(colors.node_body.darker(105));
  p->drawPath(body.translated(3, 3));  // a second card behind: the block holds several layers
  p->setBrush(colors.node_body);
  p->drawPath(body);
  p->save();
  p->setClipPath(body);
  p->fillRect(QRectF(r.left(), r.top(), r.width(), NodeStyle::kHeader), kBlockColor);
  p->restore();
  p->setPen(QPen(outline, isSelected() ? 2.5 : 1.2));
  p->setBrush(Qt::NoBrush);
  p->drawPath(body);
  const double pad = 7;
  p->setPen(Qt::white);
  p->setFont(NodeStyle::titleFont());
  QRectF title(pad, 0, r.width() - 2 * pad - 12, NodeStyle::kHeader);
  p->drawText(title, Qt::AlignVCenter | Qt::AlignLeft,
              p->fontMetrics().elidedText(name, Qt::ElideRight, static_cast<int>(title.width())));
  p->drawText(QRectF(r.width() - 18, 0, 14, NodeStyle::kHeader), Qt::AlignCenter, QStringLiteral("▸"));
  QFont text = NodeStyle::textFont();
  p->setFont(text);
  p->setPen(colors.node_detail);
  double y = NodeStyle::kHeader + 4;
  for (const QString& s : lines_) {
    QRectF box(pad + 2, y, r.width() - 2 * pad - 4, NodeStyle::kLine);
    p->drawText(box, Qt::AlignVCenter | Qt::AlignHCenter, s);
    y += NodeStyle::kLine;
  }
}

void GroupItem::mouseDoubleClickEvent(QGraphicsSceneMouseEvent* event) {
  // The request may delete this item (the scene rebuilds blocks): copy what we need first.
  GraphDocument& doc = doc_;
  std::string name = name_;
  bool collapse = !group_.collapsed;
  event->accept();
  doc.setGroupCollapsed(name, collapse);
}

}  // namespace nl::editor
