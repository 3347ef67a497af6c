// An edge on the canvas: a cubic Bézier from an output port to an input port, labelled
// with the inferred shape of the tensor it carries and drawn red when the analysis blames
// the input it feeds. It holds only the edge (node ids and ports); the scene gives it the
// port positions, the document its label.
#pragma once
#include <QGraphicsItem>
#include <QPainterPath>

#include "editor/graph_document.h"

namespace nl::editor {

class EdgeItem : public QGraphicsItem {
 public:
  enum { Type = UserType + 3 };

  EdgeItem(const GraphDocument& doc, const graph::Edge& edge);
  int type() const override { return Type; }
  const graph::Edge& edge() const { return edge_; }

  // Endpoints in scene coordinates (the port centres).
  void setEnds(QPointF from, QPointF to);
  // Re-reads the label and the error state from the document's analysis.
  void sync();
  const QString& label() const { return label_; }
  bool isBlamed() const { return blamed_; }

  // The curve between two points, shared with the wire drawn while dragging.
  static QPainterPath curve(QPointF from, QPointF to);

  QRectF boundingRect() const override;
  QPainterPath shape() const override;
  void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

 private:
  QRectF labelRect() const { return label_rect_; }
  // Recomputes the label's box and the bounds after the curve or the label changed.
  void updateGeometry();

  const GraphDocument& doc_;
  graph::Edge edge_;
  QPointF from_, to_;
  QPainterPath path_;
  // Note [Edge geometry cache]: the scene asks boundingRect() for every item it indexes,
  // sorts or paints, and the label's place needs the curve's midpoint (a Bézier length
  // computation): computed once per change here, not per call. The hit shape is built on
  // first use (hover, selection) and dropped on change.
  QRectF label_rect_, bounds_;
  mutable QPainterPath shape_;
  QString label_, problem_;
  bool blamed_ = false;
};

}  // namespace nl::editor
