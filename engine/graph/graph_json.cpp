// Model graph ↔ JSON (Note [Attribute encoding] in graph_json.h) and clipboard snippets.
#include "engine/graph/graph_json.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "engine/core/error.h"
#include "engine/io/json_fields.h"

namespace nl::graph {

using nlohmann::json;

// ---------------------------------------------------------------------------------------
// Writing

json attr_to_json(const AttrValue& value) {
  // nlohmann writes a double in its shortest exact form and always with ".0" or an
  // exponent, and an int64 as an integer: the two stay distinguishable in the text.
  return std::visit([](const auto& v) { return json(v); }, value);
}

json node_to_json(const Node& node) {
  json attrs = json::object();
  for (const auto& [name, value] : node.attrs) attrs[name] = attr_to_json(value);
  return json{{"id", node.id},
              {"type", node.type},
              {"name", node.name},
              {"attrs", attrs},
              {"ui",
               {{"x", node.ui.x},
                {"y", node.ui.y},
                {"color", node.ui.color},
                {"collapsed", node.ui.collapsed},
                {"group", node.ui.group}}}};
}

namespace {

json edge_to_json(const Edge& e) {
  return json{{"from", {e.from.node, e.from.port}}, {"to", {e.to.node, e.to.port}}};
}

// Edges in a stable order (by destination, then source), so saving twice gives the same bytes.
json edges_to_json(std::vector<Edge> edges) {
  std::sort(edges.begin(), edges.end(),
            [](const Edge& a, const Edge& b) { return std::tie(a.to, a.from) < std::tie(b.to, b.from); });
  json out = json::array();
  for (const Edge& e : edges) out.push_back(edge_to_json(e));
  return out;
}

}  // namespace

json graph_to_json(const ModelGraph& graph) {
  json nodes = json::array();
  for (const auto& [id, n] : graph.nodes()) nodes.push_back(node_to_json(n));
  return json{{"nodes", nodes}, {"edges", edges_to_json(graph.edges())}};
}

// ---------------------------------------------------------------------------------------
// Reading

namespace {

// The value of `f` as the kind the schema declares (Note [Attribute encoding]).
AttrValue attr_from_json(const io::JsonField& f, AttrKind kind) {
  const json& v = f.value();
  auto expected = [&](const char* what) -> AttrValue { f.fail(std::string("expected ") + what + ", got " + io::json_excerpt(v)); };
  switch (kind) {
    case AttrKind::Bool:
      if (!v.is_boolean()) return expected("true or false");
      return v.get<bool>();
    case AttrKind::Int:
      if (!v.is_number_integer()) return expected("an int");
      return f.as_int();
    case AttrKind::Float:
      if (!v.is_number()) return expected("a float");
      return v.get<double>();
    case AttrKind::String:
    case AttrKind::Choice:
      if (!v.is_string()) return expected("a string");
      return v.get<std::string>();
    case AttrKind::Ints: {
      if (!v.is_array()) return expected("an int list");
      std::vector<int64_t> out;
      for (size_t i = 0; i < v.size(); ++i) {
        io::JsonField e = f.at(i);
        if (!e.value().is_number_integer()) e.fail("expected an int, got " + io::json_excerpt(e.value()));
        out.push_back(e.as_int());
      }
      return out;
    }
    case AttrKind::Floats: {
      if (!v.is_array()) return expected("a float list");
      std::vector<double> out;
      for (size_t i = 0; i < v.size(); ++i) out.push_back(f.at(i).as_double());
      return out;
    }
  }
  return expected("a known attribute kind");
}

// The kind of an attribute no schema declares (Note [Attribute encoding]): an int list when
// every element is an integer (an empty list too), a float list otherwise.
AttrKind open_attr_kind(const io::JsonField& f) {
  const json& v = f.value();
  if (v.is_boolean()) return AttrKind::Bool;
  if (v.is_number_integer()) return AttrKind::Int;
  if (v.is_number()) return AttrKind::Float;
  if (v.is_string()) return AttrKind::String;
  if (v.is_array()) {
    for (const auto& e : v)
      if (!e.is_number_integer()) return AttrKind::Floats;
    return AttrKind::Ints;
  }
  f.fail("expected a number, string or list, got " + io::json_excerpt(v));
}

NodeUi ui_from_json(const io::JsonField& f) {
  NodeUi ui;
  f.read("x", ui.x);
  f.read("y", ui.y);
  f.read("color", ui.color);
  f.read("collapsed", ui.collapsed);
  f.read("group", ui.group);
  return ui;
}

// A node as written, its attributes converted and checked against the schema (so errors
// name the attribute's field rather than the whole node). Ids and names are checked by
// insert_node.
Node node_from_json(const io::JsonField& f, const LayerRegistry& registry) {
  Node n;
  n.id = f["id"].as_int();
  io::JsonField type = f["type"];
  n.type = type.as_string();
  const LayerSchema* schema = registry.find(n.type);
  if (!schema) type.fail("unknown layer type '" + n.type + "'");
  n.name = f["name"].as_string();
  if (auto attrs = f.find("attrs")) {
    attrs->expect_object();
    for (const auto& [name, value] : attrs->value().items()) {
      io::JsonField a = (*attrs)[name];
      const AttrSpec* spec = schema->find_attr(name);
      if (!spec && schema->open_attributes) {  // undeclared: the JSON value says the kind
        n.attrs[name] = attr_from_json(a, open_attr_kind(a));
        continue;
      }
      if (!spec) a.fail(n.type + " has no attribute '" + name + "'");
      AttrValue parsed = attr_from_json(a, spec->kind);
      if (std::string why = spec->check(parsed); !why.empty()) a.fail(why);
      n.attrs[name] = std::move(parsed);
    }
  }
  if (auto ui = f.find("ui")) n.ui = ui_from_json(*ui);
  return n;
}

PortRef port_from_json(const io::JsonField& f) {
  if (f.size() != 2) f.fail("expected [node id, port], got " + io::json_excerpt(f.value()));
  int64_t port = f.at(1).as_int();
  if (port < 0 || port > 1 << 20) f.at(1).fail("port " + std::to_string(port) + " is out of range");
  return {f.at(0).as_int(), static_cast<int>(port)};
}

Edge edge_from_json(const io::JsonField& f) { return {port_from_json(f["from"]), port_from_json(f["to"])}; }

// The nodes and edges of a graph or snippet document, parsed but not yet inserted.
struct ParsedGraph {
  std::vector<Node> nodes;
  std::vector<io::JsonField> node_fields;
  std::vector<Edge> edges;
  std::vector<io::JsonField> edge_fields;
};

ParsedGraph parse_graph(const io::JsonField& root, const LayerRegistry& registry) {
  ParsedGraph p;
  io::JsonField nodes = root["nodes"];
  for (size_t i = 0; i < nodes.size(); ++i) {
    p.node_fields.push_back(nodes.at(i));
    p.nodes.push_back(node_from_json(nodes.at(i), registry));
  }
  if (auto edges = root.find("edges"))
    for (size_t i = 0; i < edges->size(); ++i) {
      p.edge_fields.push_back(edges->at(i));
      p.edges.push_back(edge_from_json(edges->at(i)));
    }
  return p;
}

}  // namespace

ModelGraph graph_from_json(const json& j, const LayerRegistry& registry, const std::string& path,
                           const std::string& file) {
  io::JsonField root(j, path, file);
  ParsedGraph p = parse_graph(root, registry);
  ModelGraph g(registry);
  for (size_t i = 0; i < p.nodes.size(); ++i)
    if (EditResult r = g.insert_node(p.nodes[i]); !r) p.node_fields[i].fail(r.error);
  for (size_t i = 0; i < p.edges.size(); ++i)
    if (EditResult r = g.connect(p.edges[i]); !r) p.edge_fields[i].fail(r.error);
  return g;
}

// ---------------------------------------------------------------------------------------
// Snippets

json snippet_to_json(const ModelGraph& graph, const std::vector<NodeId>& ids) {
  std::set<NodeId> selected(ids.begin(), ids.end());
  json nodes = json::array();
  for (NodeId id : selected) nodes.push_back(node_to_json(graph.node(id)));
  std::vector<Edge> inner;
  for (const Edge& e : graph.edges())
    if (selected.count(e.from.node) && selected.count(e.to.node)) inner.push_back(e);
  return json{{"format", "netloom-snippet"}, {"nodes", nodes}, {"edges", edges_to_json(inner)}};
}

namespace {

// `name` when neither the target nor an earlier pasted node uses it, else name_2, name_3 …
std::string paste_name(const ModelGraph& target, const std::set<std::string>& taken, const std::string& name) {
  auto free = [&](const std::string& n) { return !target.find_by_name(n) && !taken.count(n); };
  if (free(name)) return name;
  for (int k = 2;; ++k)
    if (std::string candidate = name + "_" + std::to_string(k); free(candidate)) return candidate;
}

}  // namespace

PastePlan plan_paste(const ModelGraph& target, const json& snippet, double offset_x, double offset_y) {
  io::JsonField root(snippet, "", "snippet");
  root.expect_object();
  if (auto format = root.find("format"); format && format->as_string() != "netloom-snippet")
    format->fail("expected \"netloom-snippet\", got " + io::json_excerpt(format->value()));
  ParsedGraph p = parse_graph(root, target.registry());
  PastePlan plan;
  std::set<std::string> taken;
  NodeId next = target.next_id();
  for (size_t i = 0; i < p.nodes.size(); ++i) {
    Node n = p.nodes[i];
    if (!plan.id_map.emplace(n.id, next).second)
      p.node_fields[i]["id"].fail("node id " + std::to_string(n.id) + " appears twice");
    n.id = next++;
    n.name = paste_name(target, taken, n.name);
    taken.insert(n.name);
    n.ui.x += offset_x;
    n.ui.y += offset_y;
    plan.nodes.push_back(std::move(n));
  }
  for (size_t i = 0; i < p.edges.size(); ++i) {
    Edge e = p.edges[i];
    auto from = plan.id_map.find(e.from.node), to = plan.id_map.find(e.to.node);
    if (from == plan.id_map.end() || to == plan.id_map.end())
      p.edge_fields[i].fail("connects a node that is not in the snippet");
    e.from.node = from->second;
    e.to.node = to->second;
    plan.edges.push_back(e);
  }
  return plan;
}

std::map<NodeId, NodeId> paste_snippet(ModelGraph& target, const json& snippet, double offset_x, double offset_y) {
  PastePlan plan = plan_paste(target, snippet, offset_x, offset_y);
  std::vector<NodeId> added;
  auto undo_and_fail = [&](const std::string& why) {
    for (NodeId id : added) target.remove_node(id);  // also drops the edges among them
    throw Error("paste: " + why);
  };
  for (const Node& n : plan.nodes) {
    if (EditResult r = target.insert_node(n); !r) undo_and_fail(r.error);
    added.push_back(n.id);
  }
  for (const Edge& e : plan.edges)
    if (EditResult r = target.connect(e); !r) undo_and_fail(r.error);
  return plan.id_map;
}

}  // namespace nl::graph
