// Node sizes, fonts, colours and port positions.
#include "editor/canvas/node_style.h"

#include <QGuiApplication>
#include <QPalette>

#include <algorithm>
#include <map>

namespace nl::editor {

CanvasColors CanvasColors::current() {
  bool dark = QGuiApplication::palette().color(QPalette::Window).lightness() < 128;
  if (dark)
    return {QColor("#263238"), QColor("#2e3c43"), QColor("#37474f"), QColor("#37474f"), QColor("#eceff1"),
            QColor("#b0bec5"), QColor("#90a4ae"), QColor(38, 50, 56, 230), QColor("#cfd8dc"), QColor("#78909c")};
  return {QColor("#eceff1"), QColor("#dde3e6"), QColor("#cfd8dc"), QColor("#fafafa"), QColor("#212121"),
          QColor("#616161"), QColor("#78909c"), QColor(255, 255, 255, 225), QColor("#37474f"), QColor("#455a64")};
}

QColor NodeStyle::categoryColor(const QString& category) {
  // Hues kept apart so neighbouring categories in a typical network read as different.
  static const std::map<QString, QColor> colors = {
      {"Input/Output", QColor("#5c6bc0")}, {"Loss", QColor("#8e24aa")},         {"Dense", QColor("#1e88e5")},
      {"Convolution", QColor("#00897b")},  {"Pooling", QColor("#43a047")},      {"Normalization", QColor("#f4511e")},
      {"Activation", QColor("#fb8c00")},   {"Regularization", QColor("#6d4c41")}, {"Recurrent", QColor("#d81b60")},
      {"Shape", QColor("#546e7a")},        {"Merge", QColor("#757575")},
      {"Attention", QColor("#c2185b")},   {"ONNX", QColor("#8d6e63")}};
  auto it = colors.find(category);
  if (it != colors.end()) return it->second;
  return QColor::fromHsv(static_cast<int>(qHash(category) % 360), 150, 190);
}

QFont NodeStyle::titleFont() {
  QFont f;
  f.setPixelSize(12);
  f.setBold(true);
  return f;
}

QFont NodeStyle::textFont() {
  QFont f;
  f.setPixelSize(10);
  return f;
}

QFont NodeStyle::labelFont() {
  QFont f;
  f.setPixelSize(9);
  return f;
}

NodeLayout NodeLayout::of(const GraphDocument& doc, graph::NodeId id) {
  const graph::ModelGraph& g = doc.graph();
  const graph::Node& n = g.node(id);
  const graph::LayerSchema& schema = g.registry().get(n.type);
  NodeLayout l;
  l.type = QString::fromStdString(n.type);
  l.name = QString::fromStdString(n.name);
  l.category = QString::fromStdString(schema.category);
  l.color = n.ui.color.empty() ? NodeStyle::categoryColor(l.category) : QColor(QString::fromStdString(n.ui.color));
  // The first attributes of the schema are the ones that define the layer (out_features,
  // out_channels, kernel_size): show those, with defaults filled in.
  graph::AttrMap attrs = g.resolved_attributes(id);
  // A folded node (ui.collapsed outside a block, Note [Blocks in the model graph]) shows its
  // type, name and ports only.
  const bool folded = n.ui.collapsed && n.ui.group.empty();
  for (const graph::AttrSpec& spec : schema.attrs) {
    if (folded || l.lines.size() >= NodeStyle::kKeyAttributes) break;
    // Lists without spaces: "[-1,1,28,28]" fits a node where "[-1, 1, 28, 28]" is cut.
    QString value = QString::fromStdString(graph::attr_value_to_string(attrs.at(spec.name)));
    if (value.startsWith('[')) value.remove(' ');
    l.lines << QString::fromStdString(spec.name) + ": " + value;
  }
  // A variadic input shows one free slot after the last connected one, to wire the next.
  l.inputs = g.num_input_slots(id);
  int variadic = schema.variadic_input();
  if (variadic >= 0 && g.edge_into({id, l.inputs - 1})) ++l.inputs;
  for (int i = 0; i < l.inputs; ++i) l.input_names << QString::fromStdString(g.input_port_spec(id, i).name);
  l.outputs = schema.output_count(attrs);
  for (int i = 0; i < l.outputs; ++i) {
    const auto& spec = schema.outputs[std::min<size_t>(i, schema.outputs.size() - 1)];
    l.output_names << QString::fromStdString(spec.name);
  }
  return l;
}

QRectF NodeLayout::rect() const {
  double text = NodeStyle::kLine * (1 + lines.size()) + 8;
  double ports = NodeStyle::kPortSpacing * std::max(inputs, outputs) + 6;
  return QRectF(0, 0, NodeStyle::kWidth, NodeStyle::kHeader + std::max(text, ports));
}

QPointF NodeLayout::inputPos(int slot) const {
  return QPointF(0, NodeStyle::kHeader + 4 + NodeStyle::kPortSpacing * (slot + 0.5));
}

QPointF NodeLayout::outputPos(int port) const {
  return QPointF(NodeStyle::kWidth, NodeStyle::kHeader + 4 + NodeStyle::kPortSpacing * (port + 0.5));
}

}  // namespace nl::editor
