// Auto-layout's computation through graphviz (libgvc + libcgraph).
#include "editor/layout/layered_layout.h"

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#include <mutex>
#include <string>

namespace nl::editor {

namespace {

constexpr double kPointsPerInch = 72;  // graphviz sizes are inches, positions points (= scene px)

void set(void* obj, const char* name, const std::string& value) {
  agsafeset(obj, const_cast<char*>(name), const_cast<char*>(value.c_str()), const_cast<char*>(""));
}

}  // namespace

LayoutResult compute_layered_layout(const LayoutInput& input) {
  static std::mutex graphviz;  // its context, symbol tables and error state are global
  std::lock_guard lock(graphviz);
  LayoutResult out;
  out.computed_on = std::this_thread::get_id();
  if (input.nodes.empty()) return out;

  GVC_t* gvc = gvContext();
  Agraph_t* g = agopen(const_cast<char*>("netloom"), Agdirected, nullptr);
  set(g, "rankdir", input.direction == LayoutDirection::LeftToRight ? "LR" : "TB");
  // Room between ranks for an edge's shape label, and between siblings for their ports.
  set(g, "ranksep", input.direction == LayoutDirection::LeftToRight ? "1.0" : "0.6");
  set(g, "nodesep", "0.35");
  std::map<graph::NodeId, Agnode_t*> nodes;
  std::map<std::string, Agraph_t*> clusters;  // dot draws a "cluster…" subgraph as a box of its own
  for (const LayoutInput::Box& b : input.nodes) {
    Agraph_t* parent = g;
    if (!b.cluster.empty()) {
      Agraph_t*& c = clusters[b.cluster];
      if (!c) {
        c = agsubg(g, const_cast<char*>(("cluster" + std::to_string(clusters.size())).c_str()), 1);
        set(c, "margin", "24");  // room for the block's frame and title bar
      }
      parent = c;
    }
    Agnode_t* n = agnode(parent, const_cast<char*>(std::to_string(b.id).c_str()), 1);
    set(n, "shape", "box");
    set(n, "fixedsize", "true");
    set(n, "width", std::to_string(b.width / kPointsPerInch));
    set(n, "height", std::to_string(b.height / kPointsPerInch));
    nodes[b.id] = n;
  }
  for (const auto& [from, to] : input.edges) {
    auto a = nodes.find(from), b = nodes.find(to);
    if (a != nodes.end() && b != nodes.end()) agedge(g, a->second, b->second, nullptr, 1);
  }
  if (gvLayout(gvc, g, "dot") != 0) {
    out.error = "graphviz could not lay out the graph (is the dot layout plugin installed?)";
  } else {
    // dot's y axis points up and positions are centres; the scene's y points down and
    // node positions are top-left corners.
    for (const LayoutInput::Box& b : input.nodes) {
      pointf c = ND_coord(nodes[b.id]);
      out.positions[b.id] = QPointF(c.x - b.width / 2, -c.y - b.height / 2);
    }
    gvFreeLayout(gvc, g);
  }
  agclose(g);
  gvFreeContext(gvc);
  return out;
}

}  // namespace nl::editor
