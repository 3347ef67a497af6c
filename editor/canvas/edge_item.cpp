// An edge on the canvas: curve, shape label, error colour.
#include "editor/canvas/edge_item.h"

#include <QFontMetricsF>
#include <QPainter>
#include <QPainterPathStroker>
#include <QStyleOptionGraphicsItem>
#include <algorithm>
#include <cmath>

#include "editor/canvas/node_style.h"

namespace nl::editor {

EdgeItem::EdgeItem(const GraphDocument& doc, const graph::Edge& edge) : doc_(doc), edge_(edge) {
  setFlags(ItemIsSelectable);
  setZValue(0);  // under the nodes: a wire never hides a node's text
  sync();
}

QPainterPath EdgeItem::curve(QPointF from, QPointF to) {
  // Horizontal tangents at both ports, as in shader editors; the handle grows with the
  // distance so a wire going backwards loops around instead of cutting through nodes.
  double dx = std::max(40.0, std::abs(to.x() - from.x()) * 0.5);
  if (to.x() < from.x()) dx = std::max(dx, 80.0 + std::abs(to.y() - from.y()) * 0.25);
  QPainterPath path(from);
  path.cubicTo(from + QPointF(dx, 0), to - QPointF(dx, 0), to);
  return path;
}

void EdgeItem::setEnds(QPointF from, QPointF to) {
  if (from == from_ && to == to_ && !path_.isEmpty()) return;
  prepareGeometryChange();
  from_ = from;
  to_ = to;
  path_ = curve(from, to);
  updateGeometry();
}

void EdgeItem::updateGeometry() {
  shape_ = QPainterPath();
  label_rect_ = QRectF();
  if (!label_.isEmpty() && !path_.isEmpty()) {
    static const QFontMetricsF fm(NodeStyle::labelFont());
    QSizeF size(fm.horizontalAdvance(label_) + 8, fm.height() + 2);
    // Just above the middle of the curve, where it runs between two nodes. The curve is
    // symmetric about its midpoint, so the middle is the Bézier at t = 0.5.
    QPointF mid = path_.pointAtPercent(0.5);
    label_rect_ = QRectF(mid.x() - size.width() / 2, mid.y() - size.height() - 3, size.width(), size.height());
  }
  bounds_ = path_.boundingRect().adjusted(-4, -4, 4, 4).united(label_rect_.adjusted(-1, -1, 1, 1));
}

void EdgeItem::sync() {
  const graph::GraphAnalysis& a = doc_.analysis();
  const graph::TensorInfo* t = a.output(edge_.from.node, edge_.from.port);
  QString label = t ? QString::fromStdString(graph::shape_to_string(t->shape)) : QString();
  bool blamed = false;
  problem_.clear();
  for (const graph::NodeMessage& m : a.messages_for(edge_.to.node))
    if (m.input_port == edge_.to.port && m.severity == graph::Severity::Error) {
      blamed = true;
      problem_ = QString::fromStdString(m.text);
    }
  bool relabel = label != label_;
  if (relabel || blamed != blamed_) prepareGeometryChange();
  label_ = label;
  blamed_ = blamed;
  if (relabel) updateGeometry();
  setToolTip(problem_.isEmpty() ? label_ : label_ + "\n" + problem_);
  update();
}

QRectF EdgeItem::boundingRect() const { return bounds_; }

QPainterPath EdgeItem::shape() const {
  // A wire is thin: select it within a few pixels, or by its label.
  if (shape_.isEmpty() && !path_.isEmpty()) {
    QPainterPathStroker stroker;
    stroker.setWidth(10);
    shape_ = stroker.createStroke(path_);
    if (!label_.isEmpty()) shape_.addRect(label_rect_);
  }
  return shape_;
}

void EdgeItem::paint(QPainter* p, const QStyleOptionGraphicsItem* option, QWidget*) {
  const bool detail = option->levelOfDetailFromTransform(p->worldTransform()) >= NodeStyle::kDetailZoom;
  p->setRenderHint(QPainter::Antialiasing, detail);
  const CanvasColors colors = CanvasColors::current();
  QColor color = blamed_ ? QColor("#e53935") : colors.edge;
  if (isSelected()) color = QColor("#ffb300");
  p->setPen(QPen(color, isSelected() ? 3.0 : 2.0, Qt::SolidLine, Qt::RoundCap));
  p->setBrush(Qt::NoBrush);
  p->drawPath(path_);
  if (label_.isEmpty() || !detail) return;  // Note [Level of detail]
  QRectF box = labelRect();
  p->setPen(Qt::NoPen);
  p->setBrush(colors.label_background);
  p->drawRoundedRect(box, 3, 3);
  p->setFont(NodeStyle::labelFont());
  p->setPen(blamed_ ? QColor("#ef5350") : colors.label_text);
  p->drawText(box, Qt::AlignCenter, label_);
}

}  // namespace nl::editor
