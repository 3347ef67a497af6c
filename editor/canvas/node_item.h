// A node on the canvas. It holds only the node id and reads everything it shows (type,
// name, key attributes, ports, analysis messages) from the document on sync().
#pragma once
#include <QGraphicsItem>
#include <vector>

#include "editor/canvas/node_style.h"

namespace nl::editor {

class PortItem;

class NodeItem : public QGraphicsItem {
 public:
  enum { Type = UserType + 1 };

  NodeItem(const GraphDocument& doc, graph::NodeId id);
  int type() const override { return Type; }
  graph::NodeId id() const { return id_; }

  // Re-reads the node and its analysis; call after the document reports a change.
  void sync();
  PortItem* inputPort(int slot) const;
  PortItem* outputPort(int port) const;
  const std::vector<PortItem*>& inputPorts() const { return inputs_; }
  // The worst message's severity text for tests and the badge: "" when the node is fine.
  const QString& problem() const { return problem_; }
  bool hasError() const { return has_error_; }

  QRectF boundingRect() const override;
  void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget* widget) override;

 private:
  void rebuildPorts();

  const GraphDocument& doc_;
  graph::NodeId id_;
  NodeLayout layout_;
  std::vector<PortItem*> inputs_, outputs_;  // children, owned by this item
  QString problem_;
  bool has_error_ = false;
};

}  // namespace nl::editor
