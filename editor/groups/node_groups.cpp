// Blocks of nodes: membership, collapsed state and the ports of a collapsed block.
#include "editor/groups/node_groups.h"

#include <algorithm>
#include <set>

namespace nl::editor {

std::map<std::string, NodeGroup> node_groups(const graph::ModelGraph& g) {
  std::map<std::string, NodeGroup> groups;
  for (const auto& [id, node] : g.nodes()) {
    if (node.ui.group.empty()) continue;
    NodeGroup& group = groups[node.ui.group];
    if (group.members.empty()) {
      group.name = node.ui.group;
      group.collapsed = true;
    }
    group.members.push_back(id);
    group.collapsed = group.collapsed && node.ui.collapsed;
  }
  return groups;
}

std::optional<NodeGroup> node_group(const graph::ModelGraph& g, const std::string& name) {
  if (name.empty()) return std::nullopt;
  NodeGroup group{name, {}, true};
  for (const auto& [id, node] : g.nodes()) {
    if (node.ui.group != name) continue;
    group.members.push_back(id);
    group.collapsed = group.collapsed && node.ui.collapsed;
  }
  if (group.members.empty()) return std::nullopt;
  return group;
}

std::string unused_group_name(const graph::ModelGraph& g) {
  std::set<std::string> used;
  for (const auto& [id, node] : g.nodes()) used.insert(node.ui.group);
  for (int i = 1;; ++i) {
    std::string name = "block " + std::to_string(i);
    if (!used.count(name)) return name;
  }
}

GroupBoundary group_boundary(const graph::ModelGraph& g, const std::vector<graph::NodeId>& members) {
  std::set<graph::NodeId> inside(members.begin(), members.end());
  std::vector<graph::NodeId> ordered = members;
  std::stable_sort(ordered.begin(), ordered.end(), [&](graph::NodeId a, graph::NodeId b) {
    const graph::NodeUi &ua = g.node(a).ui, &ub = g.node(b).ui;
    return ua.y != ub.y ? ua.y < ub.y : ua.x < ub.x;
  });
  GroupBoundary b;
  for (graph::NodeId id : ordered) {
    const graph::Node& n = g.node(id);
    const graph::LayerSchema& schema = g.registry().get(n.type);
    for (int slot = 0; slot < g.num_input_slots(id); ++slot) {
      std::optional<graph::Edge> e = g.edge_into({id, slot});
      if (!e || !inside.count(e->from.node)) b.inputs.push_back({id, slot});
    }
    int outputs = schema.output_count(g.resolved_attributes(id));
    std::vector<bool> feeds_inside(outputs, false), feeds_outside(outputs, false);
    for (const graph::Edge& e : g.edges_from(id)) {
      if (e.from.port >= outputs) continue;
      (inside.count(e.to.node) ? feeds_inside : feeds_outside)[e.from.port] = true;
    }
    for (int port = 0; port < outputs; ++port)
      if (feeds_outside[port] || !feeds_inside[port]) b.outputs.push_back({id, port});
  }
  return b;
}

}  // namespace nl::editor
