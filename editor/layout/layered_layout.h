// Auto-layout's computation: a layered (Sugiyama) layout by graphviz's `dot`, on a plain
// copy of the graph — node ids, sizes and edges — so it can run on a worker thread while
// the user keeps editing the live document.
//
//   LayoutInput in{LayoutDirection::LeftToRight, {{id, 124, 60}, …}, {{a, b}, …}};
//   LayoutResult out = compute_layered_layout(in);   // out.positions[id] = top-left
#pragma once
#include <QPointF>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "engine/graph/model_graph.h"

namespace nl::editor {

enum class LayoutDirection { LeftToRight, TopToBottom };

struct LayoutInput {
  struct Box {
    graph::NodeId id = 0;
    double width = 0, height = 0;
    std::string cluster;  // boxes with the same non-empty name are kept together (a block)
  };
  LayoutDirection direction = LayoutDirection::LeftToRight;
  std::vector<Box> nodes;
  std::vector<std::pair<graph::NodeId, graph::NodeId>> edges;  // from → to; duplicates are fine
};

struct LayoutResult {
  std::map<graph::NodeId, QPointF> positions;  // top-left corners in scene coordinates
  std::thread::id computed_on;                 // which thread ran it (the UI must not)
  std::string error;                           // non-empty when graphviz failed
};

// Runs dot; graphviz keeps global state, so calls are serialised internally.
LayoutResult compute_layered_layout(const LayoutInput& input);

}  // namespace nl::editor
