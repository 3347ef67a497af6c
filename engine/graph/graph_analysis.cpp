// Whole-graph shape inference, validation messages and the model summary.
#include "engine/graph/graph_analysis.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <exception>
#include <set>

namespace nl::graph {

namespace {

void mark_reaching_output(const ModelGraph& g, GraphAnalysis& a) {
  std::vector<NodeId> stack;
  for (const auto& [id, n] : g.nodes())
    if (n.type == "Output" || g.registry().get(n.type).training_only) stack.push_back(id);
  std::map<NodeId, std::vector<NodeId>> predecessors;
  for (const Edge& e : g.edges()) predecessors[e.to.node].push_back(e.from.node);
  while (!stack.empty()) {
    NodeId n = stack.back();
    stack.pop_back();
    NodeAnalysis& na = a.nodes[n];
    if (na.reaches_output) continue;
    na.reaches_output = true;
    for (NodeId p : predecessors[n]) stack.push_back(p);
  }
}

// Collects the node's input tensors from its incoming edges; false (with a message when the
// fault is here) when inference cannot run.
bool gather_inputs(const ModelGraph& g, const Node& n, const std::vector<const Edge*>& incoming, GraphAnalysis& a,
                   std::vector<std::optional<TensorInfo>>& in) {
  const LayerSchema& schema = g.registry().get(n.type);
  int variadic = schema.variadic_input();
  int slots = static_cast<int>(schema.inputs.size());
  for (const Edge* e : incoming) slots = std::max(slots, e->to.port + 1);
  in.assign(slots, std::nullopt);
  std::vector<const Edge*> by_slot(slots, nullptr);
  for (const Edge* e : incoming) by_slot[e->to.port] = e;
  bool upstream_ok = true;
  for (int s = 0; s < slots; ++s) {
    const PortSpec& spec = schema.inputs[variadic >= 0 && s >= variadic ? variadic : s];
    if (!by_slot[s]) {
      if (spec.optional) continue;
      std::string what = variadic >= 0 && s >= variadic
                             ? "input " + std::to_string(s - variadic + 1) + " of '" + spec.name + "' is not connected"
                             : "input '" + spec.name + "' is not connected";
      a.messages.push_back({n.id, Severity::Error, what, s});
      return false;
    }
    const Edge& e = *by_slot[s];
    const NodeAnalysis& src = a.nodes[e.from.node];
    if (!src.inferred || e.from.port >= static_cast<int>(src.outputs.size()) || !src.outputs[e.from.port]) {
      upstream_ok = false;
      continue;
    }
    in[s] = src.outputs[e.from.port];
  }
  return upstream_ok;
}

void infer_node(const ModelGraph& g, const Node& n, const std::vector<const Edge*>& incoming, GraphAnalysis& a) {
  NodeAnalysis& na = a.nodes[n.id];
  if (!gather_inputs(g, n, incoming, a, na.inputs)) return;
  const LayerSchema& schema = g.registry().get(n.type);
  std::vector<const TensorInfo*> ptrs;
  for (const auto& t : na.inputs) ptrs.push_back(t ? &*t : nullptr);
  LayerContext ctx(schema, n.attrs, ptrs);
  try {
    schema.infer(ctx);
    int expected = schema.output_count(ctx.attrs());
    if (static_cast<int>(ctx.outputs.size()) != expected) {
      a.messages.push_back({n.id, Severity::Error,
                            "internal: inference gave " + std::to_string(ctx.outputs.size()) + " outputs, expected " +
                                std::to_string(expected)});
      return;
    }
    if (schema.cost) na.cost = schema.cost(ctx);
  } catch (const LayerError& e) {
    a.messages.push_back({n.id, Severity::Error, e.message, e.input_port});
    return;
  } catch (const std::exception& e) {
    a.messages.push_back({n.id, Severity::Error, e.what()});
    return;
  }
  for (const auto& w : ctx.warnings()) a.messages.push_back({n.id, Severity::Warning, w});
  na.outputs.assign(ctx.outputs.begin(), ctx.outputs.end());
  for (const auto& t : ctx.outputs)
    na.activation_bytes += numel_per_sample(t.shape) * static_cast<int64_t>(dtype_size(t.dtype));
  na.inferred = true;
}

}  // namespace

GraphAnalysis analyze(const ModelGraph& g) {
  GraphAnalysis a;
  a.order = g.topological_order();
  for (const auto& [id, n] : g.nodes()) a.nodes[id];
  mark_reaching_output(g, a);

  if (g.nodes_of_type("Input").empty())
    a.messages.push_back({0, Severity::Error, "the model has no Input node"});
  if (g.nodes_of_type("Output").empty())
    a.messages.push_back({0, Severity::Warning, "the model has no Output node, so nothing runs"});

  // Incoming edges per node, gathered once (Note [Analysis cost]).
  std::map<NodeId, std::vector<const Edge*>> incoming;
  for (const Edge& e : g.edges()) incoming[e.to.node].push_back(&e);
  static const std::vector<const Edge*> none;
  for (NodeId id : a.order) {
    const Node& n = g.node(id);
    auto it = incoming.find(id);
    infer_node(g, n, it == incoming.end() ? none : it->second, a);
    if (!a.nodes[id].reaches_output && n.type != "Output")
      a.messages.push_back({id, Severity::Warning, "'" + n.name + "' is not connected to an Output, so it does not run"});
  }
  return a;
}

bool GraphAnalysis::has_errors() const {
  return std::any_of(messages.begin(), messages.end(), [](const NodeMessage& m) { return m.severity == Severity::Error; });
}

std::vector<NodeMessage> GraphAnalysis::messages_for(NodeId id) const {
  std::vector<NodeMessage> out;
  for (const auto& m : messages)
    if (m.node == id) out.push_back(m);
  return out;
}

const TensorInfo* GraphAnalysis::output(NodeId id, int port) const {
  auto it = nodes.find(id);
  if (it == nodes.end() || port < 0 || port >= static_cast<int>(it->second.outputs.size())) return nullptr;
  const auto& t = it->second.outputs[port];
  return t ? &*t : nullptr;
}

const TensorInfo* GraphAnalysis::input(NodeId id, int slot) const {
  auto it = nodes.find(id);
  if (it == nodes.end() || slot < 0 || slot >= static_cast<int>(it->second.inputs.size())) return nullptr;
  const auto& t = it->second.inputs[slot];
  return t ? &*t : nullptr;
}

namespace {
template <class F>
int64_t sum_over_running(const std::map<NodeId, NodeAnalysis>& nodes, F field) {
  int64_t s = 0;
  for (const auto& [id, n] : nodes)
    if (n.reaches_output) s += field(n);
  return s;
}
}  // namespace

int64_t GraphAnalysis::total_params() const {
  return sum_over_running(nodes, [](const NodeAnalysis& n) { return n.cost.params; });
}
int64_t GraphAnalysis::total_flops() const {
  return sum_over_running(nodes, [](const NodeAnalysis& n) { return n.cost.flops; });
}
int64_t GraphAnalysis::total_activation_bytes() const {
  return sum_over_running(nodes, [](const NodeAnalysis& n) { return n.activation_bytes; });
}

// ---------------------------------------------------------------------------------------
// Summary

ModelSummary summarize(const ModelGraph& g, const GraphAnalysis& a) {
  ModelSummary s;
  for (NodeId id : a.order) {
    const Node& n = g.node(id);
    const NodeAnalysis& na = a.nodes.at(id);
    SummaryRow row{id, n.name, n.type, {}, na.cost.params, na.cost.flops, na.activation_bytes};
    if (n.type == "Output") {
      row.output_shape = na.inputs.empty() || !na.inputs[0] ? "\u2014" : shape_to_string(na.inputs[0]->shape);
    } else if (!na.inferred) {
      row.output_shape = "\u2014";
    } else {
      for (size_t i = 0; i < na.outputs.size(); ++i)
        row.output_shape += (i ? ", " : "") + shape_to_string(na.outputs[i]->shape);
    }
    s.rows.push_back(row);
  }
  s.params = a.total_params();
  s.flops = a.total_flops();
  s.activation_bytes = a.total_activation_bytes();
  return s;
}

std::string human_count(int64_t n) {
  const char* units[] = {"", " k", " M", " G", " T", " P"};
  double v = static_cast<double>(n);
  int u = 0;
  while (std::abs(v) >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(n));
  else
    std::snprintf(buf, sizeof buf, "%.3g%s", v, units[u]);
  return buf;
}

std::string human_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

namespace {
// Display width of a UTF-8 string (counts code points; "×" and "—" are one column).
size_t columns(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}
std::string pad(const std::string& s, size_t width, bool right) {
  std::string fill(width > columns(s) ? width - columns(s) : 0, ' ');
  return right ? fill + s : s + fill;
}
}  // namespace

std::string ModelSummary::to_text() const {
  std::vector<std::array<std::string, 6>> table;
  table.push_back({"Layer", "Type", "Output shape", "Params", "FLOPs", "Memory"});
  for (const auto& r : rows)
    table.push_back({r.name, r.type, r.output_shape, human_count(r.params), human_count(r.flops),
                     human_bytes(r.activation_bytes)});
  table.push_back({"Total", "", "", human_count(params), human_count(flops), human_bytes(activation_bytes)});
  std::array<size_t, 6> width{};
  for (const auto& row : table)
    for (size_t c = 0; c < 6; ++c) width[c] = std::max(width[c], columns(row[c]));
  std::string out;
  auto line = [&](const std::array<std::string, 6>& row) {
    for (size_t c = 0; c < 6; ++c) out += (c ? "  " : "") + pad(row[c], width[c], c >= 3);
    out += "\n";
  };
  size_t total_width = 10;
  for (size_t w : width) total_width += w;
  std::string rule;
  for (size_t i = 0; i < total_width; ++i) rule += "\u2500";
  line(table.front());
  out += rule + "\n";
  for (size_t i = 1; i + 1 < table.size(); ++i) line(table[i]);
  out += rule + "\n";
  line(table.back());
  out += "(FLOPs and memory per sample; memory is the size of each layer's outputs)\n";
  return out;
}

}  // namespace nl::graph
