// The model graph: the one document that the editor edits, the executor runs and the
// importers read and write. Nodes with stable integer ids, a layer type from the registry,
// a user name, attribute values and UI metadata; edges from an output port to an input port.
// Graph inputs and outputs are the Input and Output nodes.
//
//   ModelGraph g;                                    // uses LayerRegistry::builtin()
//   NodeId in = g.add_node("Input", "x", {{"shape", std::vector<int64_t>{-1, 2}}}).value;
//   NodeId fc = g.add_node("Linear", "fc1", {{"out_features", int64_t{16}}}).value;
//   EditResult r = g.connect({{in, 0}, {fc, 0}});
//   if (!r) show(r.error);                           // "cycle: …", "input already connected" …
//
// Note [Edit requests]: every mutation either succeeds or changes nothing and says why, so
// the editor can build undo on it (Kdenlive's model). Each successful mutation can be undone
// by the inverse request: add_node ↔ remove_node (which returns the removed node with its
// edges, for restore_node), connect ↔ disconnect, set_attribute with the old value. Ids are
// never reused within a graph, so undo/redo and copy/paste can name nodes by id.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph/attribute.h"
#include "engine/graph/layer_registry.h"

namespace nl::graph {

using NodeId = int64_t;

// Free-form UI data the engine ignores (canvas position, colour, collapsed, group).
struct NodeUi {
  double x = 0, y = 0;
  std::string color;  // "#rrggbb" or empty for the category colour
  bool collapsed = false;
  std::string group;  // name of the block this node belongs to, if any
  bool operator==(const NodeUi&) const = default;
};

struct Node {
  NodeId id = 0;
  std::string type;
  std::string name;
  AttrMap attrs;  // only attributes the user set; defaults come from the schema
  NodeUi ui;
  bool operator==(const Node&) const = default;
};

struct PortRef {
  NodeId node = 0;
  int port = 0;
  bool operator==(const PortRef&) const = default;
  auto operator<=>(const PortRef&) const = default;
};

struct Edge {
  PortRef from;  // output port
  PortRef to;    // input port (a slot index ≥ the variadic port's index for variadic inputs)
  bool operator==(const Edge&) const = default;
  auto operator<=>(const Edge&) const = default;
};

struct EditResult {
  bool ok = true;
  std::string error;
  explicit operator bool() const { return ok; }
  static EditResult success() { return {}; }
  static EditResult failure(std::string why) { return {false, std::move(why)}; }
};

template <class T>
struct EditValue : EditResult {
  T value{};
};

// A node and all edges touching it: what remove_node returns and restore_node puts back.
struct RemovedNode {
  Node node;
  std::vector<Edge> edges;
};

class ModelGraph {
 public:
  explicit ModelGraph(const LayerRegistry& registry = LayerRegistry::builtin());
  const LayerRegistry& registry() const { return *registry_; }

  // --- Edit requests (Note [Edit requests]) ---
  // Adds a node with a fresh id. The name must be unique (empty: "<type><n>" is chosen).
  EditValue<NodeId> add_node(const std::string& type, const std::string& name = {}, const AttrMap& attrs = {},
                             const NodeUi& ui = {});
  // Adds a node with a given id (redo, paste, file load); fails if the id is in use.
  EditResult insert_node(const Node& node);
  EditValue<RemovedNode> remove_node(NodeId id);
  EditResult restore_node(const RemovedNode& removed);
  EditResult connect(const Edge& edge);
  EditResult disconnect(const Edge& edge);
  EditResult set_attribute(NodeId id, const std::string& name, const AttrValue& value);
  EditResult reset_attribute(NodeId id, const std::string& name);  // back to the default
  EditResult rename(NodeId id, const std::string& name);
  EditResult set_ui(NodeId id, const NodeUi& ui);

  // --- Queries ---
  const Node* find(NodeId id) const;
  const Node& node(NodeId id) const;  // throws when absent
  const Node* find_by_name(const std::string& name) const;
  const std::map<NodeId, Node>& nodes() const { return nodes_; }
  const std::vector<Edge>& edges() const { return edges_; }
  std::vector<Edge> edges_into(NodeId id) const;
  std::vector<Edge> edges_from(NodeId id) const;
  std::optional<Edge> edge_into(PortRef input) const;
  // The attribute's value, or the schema default when the node does not set it.
  AttrValue attribute(NodeId id, const std::string& name) const;
  AttrMap resolved_attributes(NodeId id) const;  // defaults filled in
  // Number of input slots: the schema's ports, with a variadic port counted as many slots
  // as its highest connected slot + 1 (at least 1).
  int num_input_slots(NodeId id) const;
  const PortSpec& input_port_spec(NodeId id, int slot) const;
  // Nodes in an order where every edge goes forward; ties broken by id so it is stable.
  // Valid graphs have no cycles (connect refuses them).
  std::vector<NodeId> topological_order() const;
  std::vector<NodeId> nodes_of_type(const std::string& type) const;
  NodeId next_id() const { return next_id_; }
  // A name not used yet: base, base1, base2 …
  std::string unique_name(const std::string& base) const;
  size_t size() const { return nodes_.size(); }

  // Structural checks for tests: edges reference existing nodes and ports, single inputs
  // have at most one edge, no cycles, names unique. Empty when consistent.
  std::string consistency_error() const;
  bool operator==(const ModelGraph& other) const;  // same nodes and edge set

 private:
  EditResult check_attribute(const Node& n, const std::string& name, const AttrValue& value) const;
  bool reaches(NodeId from, NodeId to) const;  // a path from → … → to exists

  const LayerRegistry* registry_;
  std::map<NodeId, Node> nodes_;
  std::vector<Edge> edges_;
  NodeId next_id_ = 1;
};

}  // namespace nl::graph
