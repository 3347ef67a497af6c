// A port circle on a node: a child item of the node that knows which port it is (node id,
// direction, index) and how to look while a wire is being dragged.
#pragma once
#include <QGraphicsItem>

#include "engine/graph/model_graph.h"

namespace nl::editor {

class PortItem : public QGraphicsItem {
 public:
  enum { Type = UserType + 2 };
  enum class Highlight { None, Compatible, Incompatible };

  PortItem(graph::NodeId node, bool output, int index, QGraphicsItem* parent);
  int type() const override { return Type; }
  graph::NodeId node() const { return node_; }
  bool isOutput() const { return output_; }
  int index() const { return index_; }
  graph::PortRef ref() const { return {node_, index_}; }

  void setHighlight(Highlight h);
  Highlight highlight() const { return highlight_; }
  void setConnected(bool connected);

  QRectF boundingRect() const override;
  void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

 protected:
  void hoverEnterEvent(QGraphicsSceneHoverEvent* event) override;
  void hoverLeaveEvent(QGraphicsSceneHoverEvent* event) override;

 private:
  graph::NodeId node_;
  bool output_;
  int index_;
  bool connected_ = false;
  bool hovered_ = false;
  Highlight highlight_ = Highlight::None;
};

}  // namespace nl::editor
