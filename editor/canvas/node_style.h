// How nodes look and where their ports sit: sizes, fonts and category colours shared by
// node items, port items and edges (so an edge ends exactly on its port circle).
#pragma once
#include <QColor>
#include <QFont>
#include <QPointF>
#include <QRectF>
#include <QString>
#include <QStringList>

#include "editor/graph_document.h"

namespace nl::editor {

// The canvas' own colours, light or dark to match the application palette (the themes in
// app/gui set it), so a dark theme does not leave a glaring white canvas.
struct CanvasColors {
  QColor background, grid_minor, grid_major;
  QColor node_body, node_text, node_detail;
  QColor edge, label_background, label_text;
  QColor block;  // a block's frame title and collapsed header

  static CanvasColors current();  // from QGuiApplication's palette
};

struct NodeStyle {
  // Node width is chosen so that two nodes placed 200 apart (the examples' spacing) leave
  // room for an edge and its shape label between them.
  static constexpr double kWidth = 124;
  static constexpr double kHeader = 22;
  static constexpr double kLine = 15;
  static constexpr double kPortSpacing = 18;
  static constexpr double kPortRadius = 5.5;
  static constexpr double kCorner = 6;
  static constexpr int kKeyAttributes = 2;
  // Note [Level of detail]: zoomed far out, text is unreadable and ports too small to hit,
  // yet they cost most of a frame on a big graph. Below kDetailZoom nodes are plain
  // coloured cards, edges lose their labels and ports are not drawn.
  static constexpr double kDetailZoom = 0.35;

  static QColor categoryColor(const QString& category);
  static QFont titleFont();
  static QFont textFont();
  static QFont labelFont();  // edge shape labels
};

// The drawn content and port positions of one node, in the node item's coordinates
// (origin at the node's top-left corner, which is ui.x/ui.y in the scene).
struct NodeLayout {
  QString type, name, category;
  QStringList lines;  // key attributes, "name: value"
  QColor color;
  int inputs = 0, outputs = 0;
  QStringList input_names, output_names;

  static NodeLayout of(const GraphDocument& doc, graph::NodeId id);
  QRectF rect() const;
  QPointF inputPos(int slot) const;
  QPointF outputPos(int port) const;
};

}  // namespace nl::editor
