// A port circle on a node.
#include "editor/canvas/port_item.h"

#include <QCursor>
#include <QPainter>
#include <QStyleOptionGraphicsItem>

#include "editor/canvas/node_style.h"

namespace nl::editor {

PortItem::PortItem(graph::NodeId node, bool output, int index, QGraphicsItem* parent)
    : QGraphicsItem(parent), node_(node), output_(output), index_(index) {
  setAcceptHoverEvents(true);
  setCursor(Qt::CrossCursor);
}

void PortItem::setHighlight(Highlight h) {
  if (h == highlight_) return;
  highlight_ = h;
  update();
}

void PortItem::setConnected(bool connected) {
  if (connected == connected_) return;
  connected_ = connected;
  update();
}

QRectF PortItem::boundingRect() const {
  // Larger than the circle: a port is easy to hit and its highlight ring fits.
  double r = NodeStyle::kPortRadius + 4;
  return QRectF(-r, -r, 2 * r, 2 * r);
}

void PortItem::paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget*) {
  // Too small to see or hit when zoomed far out (Note [Level of detail]); a highlighted
  // port still shows while a wire is dragged.
  if (highlight_ == Highlight::None && option->levelOfDetailFromTransform(p->worldTransform()) < NodeStyle::kDetailZoom)
    return;
  p->setRenderHint(QPainter::Antialiasing);
  double r = NodeStyle::kPortRadius + (hovered_ ? 1.5 : 0);
  QColor fill = connected_ ? QColor("#eceff1") : QColor("#90a4ae");
  QColor ring("#37474f");
  if (highlight_ == Highlight::Compatible) {
    fill = QColor("#66bb6a");
    ring = QColor("#1b5e20");
    r += 1.5;
  } else if (highlight_ == Highlight::Incompatible) {
    fill = QColor("#cfd8dc");
    ring = QColor("#b0bec5");
  }
  p->setPen(QPen(ring, 1.5));
  p->setBrush(fill);
  p->drawEllipse(QPointF(0, 0), r, r);
}

void PortItem::hoverEnterEvent(QGraphicsSceneHoverEvent*) {
  hovered_ = true;
  update();
}

void PortItem::hoverLeaveEvent(QGraphicsSceneHoverEvent*) {
  hovered_ = false;
  update();
}

}  // namespace nl::editor
