// The model graph document: edit requests that succeed or change nothing, and queries.
#include "engine/graph/model_graph.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <set>

#include "engine/core/error.h"

namespace nl::graph {

ModelGraph::ModelGraph(const LayerRegistry& registry) : registry_(&registry) {}

namespace {
std::string describe(const Node& n) { return n.type + " '" + n.name + "'"; }
}  // namespace

// ---------------------------------------------------------------------------------------
// Nodes

EditValue<NodeId> ModelGraph::add_node(const std::string& type, const std::string& name, const AttrMap& attrs,
                                       const NodeUi& ui) {
  EditValue<NodeId> out;
  Node n;
  n.id = next_id_;
  n.type = type;
  n.name = name.empty() ? unique_name(type) : name;
  n.attrs = attrs;
  n.ui = ui;
  EditResult r = insert_node(n);
  out.ok = r.ok;
  out.error = r.error;
  if (r) out.value = n.id;
  return out;
}

EditResult ModelGraph::insert_node(const Node& node) {
  const LayerSchema* schema = registry_->find(node.type);
  if (!schema) return EditResult::failure("unknown layer type '" + node.type + "'");
  if (node.id <= 0) return EditResult::failure("node id must be positive, got " + std::to_string(node.id));
  if (nodes_.count(node.id)) return EditResult::failure("node id " + std::to_string(node.id) + " is already in use");
  if (node.name.empty()) return EditResult::failure("a node needs a name");
  if (find_by_name(node.name)) return EditResult::failure("the name '" + node.name + "' is already used");
  for (const auto& [name, value] : node.attrs)
    if (EditResult r = check_attribute(node, name, value); !r) return r;
  nodes_.emplace(node.id, node);
  next_id_ = std::max(next_id_, node.id + 1);
  return EditResult::success();
}

EditValue<RemovedNode> ModelGraph::remove_node(NodeId id) {
  EditValue<RemovedNode> out;
  auto it = nodes_.find(id);
  if (it == nodes_.end()) {
    out.ok = false;
    out.error = "no node with id " + std::to_string(id);
    return out;
  }
  out.value.node = it->second;
  auto touches = [id](const Edge& e) { return e.from.node == id || e.to.node == id; };
  for (const Edge& e : edges_)
    if (touches(e)) out.value.edges.push_back(e);
  edges_.erase(std::remove_if(edges_.begin(), edges_.end(), touches), edges_.end());
  nodes_.erase(it);
  return out;
}

EditResult ModelGraph::restore_node(const RemovedNode& removed) {
  // Check every edge before inserting anything, so a failure changes nothing.
  if (EditResult r = insert_node(removed.node); !r) return r;
  std::vector<Edge> added;
  for (const Edge& e : removed.edges) {
    EditResult r = connect(e);
    if (!r) {
      for (const Edge& a : added) disconnect(a);
      nodes_.erase(removed.node.id);
      return r;
    }
    added.push_back(e);
  }
  return EditResult::success();
}

EditResult ModelGraph::check_attribute(const Node& n, const std::string& name, const AttrValue& value) const {
  const LayerSchema& schema = registry_->get(n.type);
  const AttrSpec* spec = schema.find_attr(name);
  if (!spec && schema.open_attributes) {
    if (name.empty()) return EditResult::failure(describe(n) + ": an attribute needs a name");
    if (const double* d = std::get_if<double>(&value); d && !std::isfinite(*d))
      return EditResult::failure(describe(n) + ": " + name + " must be a finite number");
    return EditResult::success();
  }
  if (!spec) return EditResult::failure(describe(n) + " has no attribute '" + name + "'");
  std::string why = spec->check(value);
  if (!why.empty()) return EditResult::failure(describe(n) + ": " + why);
  return EditResult::success();
}

EditResult ModelGraph::set_attribute(NodeId id, const std::string& name, const AttrValue& value) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return EditResult::failure("no node with id " + std::to_string(id));
  if (EditResult r = check_attribute(it->second, name, value); !r) return r;
  // A changed output count (Split) must not strand edges on outputs that no longer exist.
  const LayerSchema& schema = registry_->get(it->second.type);
  if (schema.num_outputs) {
    AttrMap attrs = resolved_attributes(id);
    attrs[name] = value;
    int count = schema.output_count(attrs);
    for (const Edge& e : edges_from(id))
      if (e.from.port >= count)
        return EditResult::failure(describe(it->second) + ": output " + std::to_string(e.from.port) +
                                   " is connected; disconnect it before reducing the outputs to " +
                                   std::to_string(count));
  }
  it->second.attrs[name] = value;
  return EditResult::success();
}

EditResult ModelGraph::reset_attribute(NodeId id, const std::string& name) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return EditResult::failure("no node with id " + std::to_string(id));
  const LayerSchema& schema = registry_->get(it->second.type);
  const AttrSpec* spec = schema.find_attr(name);
  if (!spec && schema.open_attributes && it->second.attrs.count(name)) {
    it->second.attrs.erase(name);  // an undeclared attribute has no default: resetting removes it
    return EditResult::success();
  }
  if (!spec) return EditResult::failure(describe(it->second) + " has no attribute '" + name + "'");
  AttrMap saved = it->second.attrs;
  it->second.attrs.erase(name);
  // Going back to the default is a set like any other (it may strand Split outputs).
  EditResult r = set_attribute(id, name, spec->default_value);
  it->second.attrs = saved;
  if (!r) return r;
  it->second.attrs.erase(name);
  return r;
}

EditResult ModelGraph::rename(NodeId id, const std::string& name) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return EditResult::failure("no node with id " + std::to_string(id));
  if (name.empty()) return EditResult::failure("a node needs a name");
  if (name == it->second.name) return EditResult::success();
  if (find_by_name(name)) return EditResult::failure("the name '" + name + "' is already used");
  it->second.name = name;
  return EditResult::success();
}

EditResult ModelGraph::set_ui(NodeId id, const NodeUi& ui) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) return EditResult::failure("no node with id " + std::to_string(id));
  it->second.ui = ui;
  return EditResult::success();
}

// ---------------------------------------------------------------------------------------
// Edges

namespace {
bool types_compatible(PortType out, PortType in) {
  return out == PortType::Any || in == PortType::Any || out == in;
}
}  // namespace

EditResult ModelGraph::connect(const Edge& e) {
  const Node* src = find(e.from.node);
  const Node* dst = find(e.to.node);
  if (!src) return EditResult::failure("no node with id " + std::to_string(e.from.node));
  if (!dst) return EditResult::failure("no node with id " + std::to_string(e.to.node));
  const LayerSchema& ss = registry_->get(src->type);
  const LayerSchema& ds = registry_->get(dst->type);
  int out_count = ss.output_count(resolved_attributes(src->id));
  if (e.from.port < 0 || e.from.port >= out_count)
    return EditResult::failure(describe(*src) + " has no output " + std::to_string(e.from.port));
  int variadic = ds.variadic_input();
  bool in_range = e.to.port >= 0 &&
                  (e.to.port < static_cast<int>(ds.inputs.size()) || (variadic >= 0 && e.to.port >= variadic));
  if (!in_range) return EditResult::failure(describe(*dst) + " has no input " + std::to_string(e.to.port));
  if (std::find(edges_.begin(), edges_.end(), e) != edges_.end())
    return EditResult::failure("these ports are already connected");
  if (auto existing = edge_into(e.to)) {
    const Node& other = node(existing->from.node);
    return EditResult::failure("input '" + input_port_spec(dst->id, e.to.port).name + "' of " + describe(*dst) +
                               " is already connected to " + describe(other));
  }
  const PortSpec& out_spec = ss.outputs.empty() ? PortSpec{} : ss.outputs[std::min<size_t>(e.from.port, ss.outputs.size() - 1)];
  const PortSpec& in_spec = input_port_spec(dst->id, e.to.port);
  if (!types_compatible(out_spec.type, in_spec.type))
    return EditResult::failure("cannot connect a " + std::string(port_type_name(out_spec.type)) + " output of " +
                               describe(*src) + " to the " + port_type_name(in_spec.type) + " input '" +
                               in_spec.name + "' of " + describe(*dst));
  if (src->id == dst->id || reaches(dst->id, src->id))
    return EditResult::failure("connecting " + describe(*src) + " to " + describe(*dst) + " would make a cycle");
  edges_.push_back(e);
  return EditResult::success();
}

EditResult ModelGraph::disconnect(const Edge& e) {
  auto it = std::find(edges_.begin(), edges_.end(), e);
  if (it == edges_.end()) return EditResult::failure("these ports are not connected");
  edges_.erase(it);
  return EditResult::success();
}

bool ModelGraph::reaches(NodeId from, NodeId to) const {
  std::set<NodeId> seen{from};
  std::vector<NodeId> stack{from};
  while (!stack.empty()) {
    NodeId n = stack.back();
    stack.pop_back();
    if (n == to) return true;
    for (const Edge& e : edges_)
      if (e.from.node == n && seen.insert(e.to.node).second) stack.push_back(e.to.node);
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Queries

const Node* ModelGraph::find(NodeId id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

const Node& ModelGraph::node(NodeId id) const {
  if (const Node* n = find(id)) return *n;
  throw Error("no node with id " + std::to_string(id));
}

const Node* ModelGraph::find_by_name(const std::string& name) const {
  for (const auto& [id, n] : nodes_)
    if (n.name == name) return &n;
  return nullptr;
}

std::vector<Edge> ModelGraph::edges_into(NodeId id) const {
  std::vector<Edge> out;
  for (const Edge& e : edges_)
    if (e.to.node == id) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const Edge& a, const Edge& b) { return a.to.port < b.to.port; });
  return out;
}

std::vector<Edge> ModelGraph::edges_from(NodeId id) const {
  std::vector<Edge> out;
  for (const Edge& e : edges_)
    if (e.from.node == id) out.push_back(e);
  return out;
}

std::optional<Edge> ModelGraph::edge_into(PortRef input) const {
  for (const Edge& e : edges_)
    if (e.to == input) return e;
  return std::nullopt;
}

AttrValue ModelGraph::attribute(NodeId id, const std::string& name) const {
  const Node& n = node(id);
  if (auto it = n.attrs.find(name); it != n.attrs.end()) return it->second;
  const AttrSpec* spec = registry_->get(n.type).find_attr(name);
  if (!spec) throw Error(describe(n) + " has no attribute '" + name + "'");
  return spec->default_value;
}

AttrMap ModelGraph::resolved_attributes(NodeId id) const {
  const Node& n = node(id);
  AttrMap out = n.attrs;
  for (const auto& spec : registry_->get(n.type).attrs)
    if (!out.count(spec.name)) out[spec.name] = spec.default_value;
  return out;
}

int ModelGraph::num_input_slots(NodeId id) const {
  const LayerSchema& s = registry_->get(node(id).type);
  int variadic = s.variadic_input();
  if (variadic < 0) return static_cast<int>(s.inputs.size());
  int slots = variadic + 1;
  for (const Edge& e : edges_)
    if (e.to.node == id) slots = std::max(slots, e.to.port + 1);
  return slots;
}

const PortSpec& ModelGraph::input_port_spec(NodeId id, int slot) const {
  const LayerSchema& s = registry_->get(node(id).type);
  int variadic = s.variadic_input();
  if (variadic >= 0 && slot >= variadic) return s.inputs[variadic];
  if (slot < 0 || slot >= static_cast<int>(s.inputs.size()))
    throw Error(describe(node(id)) + " has no input " + std::to_string(slot));
  return s.inputs[slot];
}

std::vector<NodeId> ModelGraph::topological_order() const {
  // Kahn's algorithm with a min-heap on ids, so equal graphs give equal orders.
  std::map<NodeId, int> indegree;
  std::map<NodeId, std::vector<NodeId>> successors;
  for (const auto& [id, n] : nodes_) indegree[id] = 0;
  for (const Edge& e : edges_) {
    indegree[e.to.node]++;
    successors[e.from.node].push_back(e.to.node);
  }
  std::priority_queue<NodeId, std::vector<NodeId>, std::greater<>> ready;
  for (const auto& [id, d] : indegree)
    if (d == 0) ready.push(id);
  std::vector<NodeId> order;
  order.reserve(nodes_.size());
  while (!ready.empty()) {
    NodeId n = ready.top();
    ready.pop();
    order.push_back(n);
    for (NodeId s : successors[n])
      if (--indegree[s] == 0) ready.push(s);
  }
  return order;  // shorter than size() only if a cycle slipped in (consistency_error says so)
}

std::vector<NodeId> ModelGraph::nodes_of_type(const std::string& type) const {
  std::vector<NodeId> out;
  for (const auto& [id, n] : nodes_)
    if (n.type == type) out.push_back(id);
  return out;
}

std::string ModelGraph::unique_name(const std::string& base) const {
  std::string stem = base;
  // "Conv2d" → "conv2d", the way people name layers in code.
  std::transform(stem.begin(), stem.end(), stem.begin(), [](unsigned char c) { return std::tolower(c); });
  std::set<std::string> used;
  for (const auto& [id, n] : nodes_) used.insert(n.name);
  for (int i = 1;; ++i) {
    std::string candidate = stem + "_" + std::to_string(i);
    if (!used.count(candidate)) return candidate;
  }
}

std::string ModelGraph::consistency_error() const {
  std::set<std::string> names;
  for (const auto& [id, n] : nodes_) {
    if (id != n.id) return "node keyed " + std::to_string(id) + " has id " + std::to_string(n.id);
    if (id >= next_id_) return "node id " + std::to_string(id) + " is not below next_id";
    if (!registry_->find(n.type)) return "node " + std::to_string(id) + " has unknown type " + n.type;
    if (!names.insert(n.name).second) return "name '" + n.name + "' is used twice";
  }
  std::set<PortRef> inputs;
  std::set<Edge> seen;
  for (const Edge& e : edges_) {
    const Node* a = find(e.from.node);
    const Node* b = find(e.to.node);
    if (!a || !b) return "an edge references a missing node";
    if (!seen.insert(e).second) return "an edge appears twice";
    if (!inputs.insert(e.to).second) return "input " + std::to_string(e.to.port) + " of '" + b->name + "' has two edges";
    if (e.from.port >= registry_->get(a->type).output_count(resolved_attributes(a->id)))
      return "an edge leaves a missing output of '" + a->name + "'";
  }
  if (topological_order().size() != nodes_.size()) return "the graph has a cycle";
  return {};
}

bool ModelGraph::operator==(const ModelGraph& other) const {
  if (nodes_ != other.nodes_) return false;
  std::set<Edge> a(edges_.begin(), edges_.end()), b(other.edges_.begin(), other.edges_.end());
  return a == b;
}

}  // namespace nl::graph
