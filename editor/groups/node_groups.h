// Blocks ("groups") of nodes: which nodes form each named block, whether it is collapsed,
// and which ports a collapsed block shows on its edge. Pure functions of the model graph,
// so the scene, the commands and the tests agree on one definition.
//
// Note [Blocks in the model graph]: a block is not a node of the graph. Membership is each
// node's `ui.group` (the block's name), and for a node in a block `ui.collapsed` means "its
// block is shown collapsed" — every member carries the same value, set together by one
// command. The executor and the importers ignore both, so grouping never changes what runs,
// and a saved project keeps its blocks with no change to the file format.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph/model_graph.h"

namespace nl::editor {

struct NodeGroup {
  std::string name;
  std::vector<graph::NodeId> members;  // ascending ids
  bool collapsed = false;              // all members collapsed (Note [Blocks in the model graph])
};

// Every block of the graph by name.
std::map<std::string, NodeGroup> node_groups(const graph::ModelGraph& g);

// One block by name; nullopt when no node belongs to it.
std::optional<NodeGroup> node_group(const graph::ModelGraph& g, const std::string& name);

// A name not used by any block yet: "block 1", "block 2" …
std::string unused_group_name(const graph::ModelGraph& g);

// The ports a collapsed block shows: member inputs that are fed from outside the block or
// not fed at all, and member outputs that feed something outside or nothing (so a block
// can still be wired while collapsed). Ordered top to bottom by the members' positions.
struct GroupBoundary {
  std::vector<graph::PortRef> inputs;   // input slots of member nodes
  std::vector<graph::PortRef> outputs;  // output ports of member nodes
};
GroupBoundary group_boundary(const graph::ModelGraph& g, const std::vector<graph::NodeId>& members);

}  // namespace nl::editor
