// A node on the canvas: painting and ports.
#include "editor/canvas/node_item.h"

#include <QPainter>
#include <QPainterPath>
#include <QStyleOptionGraphicsItem>

#include "editor/canvas/port_item.h"

namespace nl::editor {

NodeItem::NodeItem(const GraphDocument& doc, graph::NodeId id) : doc_(doc), id_(id) {
  setFlags(ItemIsMovable | ItemIsSelectable);
  // Painting text is the expensive part of a big graph: cache the node as a pixmap per zoom.
  setCacheMode(DeviceCoordinateCache);
  setZValue(1);
  sync();
}

void NodeItem::sync() {
  const graph::Node& n = doc_.graph().node(id_);
  NodeLayout next = NodeLayout::of(doc_, id_);
  if (next.rect() != layout_.rect()) prepareGeometryChange();
  layout_ = std::move(next);
  setPos(n.ui.x, n.ui.y);
  rebuildPorts();

  const graph::GraphAnalysis& a = doc_.analysis();
  QStringList problems;
  has_error_ = false;
  for (const graph::NodeMessage& m : a.messages_for(id_)) {
    has_error_ |= m.severity == graph::Severity::Error;
    problems << QString::fromStdString(m.text);
  }
  problem_ = problems.join("\n");
  QString tip = QString("<b>%1</b> (%2)").arg(layout_.name.toHtmlEscaped(), layout_.type);
  if (!problem_.isEmpty()) tip += "<br/><span style='color:#c62828'>" + problem_.toHtmlEscaped().replace("\n", "<br/>") + "</span>";
  setToolTip(tip);

  // Port tooltips: the port's name and the tensor on it.
  for (int i = 0; i < static_cast<int>(inputs_.size()); ++i) {
    const graph::TensorInfo* t = a.input(id_, i);
    inputs_[i]->setToolTip(layout_.input_names[i] + (t ? ": " + QString::fromStdString(graph::shape_to_string(t->shape)) : ""));
    inputs_[i]->setConnected(doc_.graph().edge_into({id_, i}).has_value());
  }
  for (int i = 0; i < static_cast<int>(outputs_.size()); ++i) {
    const graph::TensorInfo* t = a.output(id_, i);
    outputs_[i]->setToolTip(layout_.output_names[i] + (t ? ": " + QString::fromStdString(graph::shape_to_string(t->shape)) : ""));
  }
  bool fed = false;
  for (const graph::Edge& e : doc_.graph().edges_from(id_)) {
    fed = true;
    if (e.from.port < static_cast<int>(outputs_.size())) outputs_[e.from.port]->setConnected(true);
  }
  if (!fed)
    for (PortItem* p : outputs_) p->setConnected(false);
  update();
}

void NodeItem::rebuildPorts() {
  auto resize = [this](std::vector<PortItem*>& ports, int count, bool output) {
    while (static_cast<int>(ports.size()) > count) {
      delete ports.back();
      ports.pop_back();
    }
    while (static_cast<int>(ports.size()) < count)
      ports.push_back(new PortItem(id_, output, static_cast<int>(ports.size()), this));
    for (int i = 0; i < count; ++i) ports[i]->setPos(output ? layout_.outputPos(i) : layout_.inputPos(i));
  };
  resize(inputs_, layout_.inputs, false);
  resize(outputs_, layout_.outputs, true);
}

PortItem* NodeItem::inputPort(int slot) const {
  return slot >= 0 && slot < static_cast<int>(inputs_.size()) ? inputs_[slot] : nullptr;
}

PortItem* NodeItem::outputPort(int port) const {
  return port >= 0 && port < static_cast<int>(outputs_.size()) ? outputs_[port] : nullptr;
}

QRectF NodeItem::boundingRect() const {
  // Room for the selection outline and the error badge that sits on the corner.
  return layout_.rect().adjusted(-3, -8, 8, 3);
}

void NodeItem::paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget*) {
  const QRectF r = layout_.rect();
  const double c = NodeStyle::kCorner;
  if (option->levelOfDetailFromTransform(p->worldTransform()) < NodeStyle::kDetailZoom) {
    // Zoomed far out (Note [Level of detail]): a card in the category colour, outlined when
    // selected or wrong, so the shape of the network and its problems still read.
    p->setPen(isSelected() || has_error_ ? QPen(isSelected() ? QColor("#ffb300") : QColor("#d32f2f"), 6) : Qt::NoPen);
    p->setBrush(layout_.color);
    p->drawRect(r);
    return;
  }
  p->setRenderHint(QPainter::Antialiasing);
  p->setRenderHint(QPainter::TextAntialiasing);

  // Body, then the header in the category colour clipped to the body's rounded top.
  QPainterPath body;
  body.addRoundedRect(r, c, c);
  p->setPen(Qt::NoPen);
  p->setBrush(QColor(0, 0, 0, 40));
  p->drawPath(body.translated(2, 3));  // soft shadow
  const CanvasColors colors = CanvasColors::current();
  p->setBrush(colors.node_body);
  p->drawPath(body);
  p->save();
  p->setClipPath(body);
  p->fillRect(QRectF(r.left(), r.top(), r.width(), NodeStyle::kHeader), layout_.color);
  p->restore();
  QPen outline(isSelected() ? QColor("#ffb300") : (has_error_ ? QColor("#d32f2f") : layout_.color.darker(140)),
               isSelected() || has_error_ ? 2.5 : 1.2);
  p->setPen(outline);
  p->setBrush(Qt::NoBrush);
  p->drawPath(body);

  const double pad = 7;
  p->setPen(Qt::white);
  p->setFont(NodeStyle::titleFont());
  QRectF title(r.left() + pad, r.top(), r.width() - 2 * pad - (problem_.isEmpty() ? 0 : 12), NodeStyle::kHeader);
  p->drawText(title, Qt::AlignVCenter | Qt::AlignLeft,
              p->fontMetrics().elidedText(layout_.type, Qt::ElideRight, static_cast<int>(title.width())));

  QFont text = NodeStyle::textFont();
  double y = NodeStyle::kHeader + 4;
  auto line = [&](const QString& s, const QColor& color, bool bold) {
    text.setBold(bold);
    p->setFont(text);
    p->setPen(color);
    QRectF box(r.left() + pad + 2, y, r.width() - 2 * pad - 4, NodeStyle::kLine);
    p->drawText(box, Qt::AlignVCenter | Qt::AlignLeft,
                p->fontMetrics().elidedText(s, Qt::ElideMiddle, static_cast<int>(box.width())));
    y += NodeStyle::kLine;
  };
  line(layout_.name, colors.node_text, true);
  for (const QString& s : layout_.lines) line(s, colors.node_detail, false);

  if (!problem_.isEmpty()) {
    // Error badge on the header's corner; the node's tooltip carries the message.
    QPointF centre(r.right() - 4, r.top() - 1);
    p->setPen(QPen(Qt::white, 1.5));
    p->setBrush(has_error_ ? QColor("#d32f2f") : QColor("#f9a825"));
    p->drawEllipse(centre, 7.5, 7.5);
    QFont bang = NodeStyle::titleFont();
    bang.setPixelSize(11);
    p->setFont(bang);
    p->drawText(QRectF(centre.x() - 7.5, centre.y() - 7.5, 15, 15), Qt::AlignCenter, "!");
  }
}

}  // namespace nl::editor
