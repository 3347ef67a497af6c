// The ONNX importer's driver: reads constants, maps every node (a layer when one fits, else a
// generic OnnxOp node; Note [Layers first]), and builds and lays out the model graph.
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/run/graph_executor.h"
#include "importers/onnx/onnx_importer.h"

namespace nl::importers::detail {

namespace fs = std::filesystem;

project::Project Importer::run() {
  check_opsets();
  read_ranks();
  for (const auto& t : g_.initializer()) constants_[t.name()] = read_tensor(t);
  for (const auto& [name, t] : frozen_) constants_[name] = t;
  // Graph outputs keep their names (they are what a run returns); layers yield to them.
  for (const auto& out : g_.output()) used_names_.insert(out.name());
  for (const auto& in : g_.input())
    if (!constants_.count(in.name())) add_input(in);
  for (int i = 0; i < g_.node_size(); ++i) {
    index_consumers(i);
    if (std::string layer = netloom_layer(g_.node(i)); !layer.empty()) tagged_[layer].push_back(i);
  }
  // Constant nodes first: a pattern looks ahead at constants that PyTorch places just before
  // their own consumer, after the node that starts the pattern.
  for (int i = 0; i < g_.node_size(); ++i)
    if (g_.node(i).op_type() == "Constant" && (g_.node(i).domain().empty() || g_.node(i).domain() == "ai.onnx")) {
      read_constant_node(g_.node(i));
      consumed_.insert(i);
    }
  for (int i = 0; i < g_.node_size(); ++i)
    if (!consumed_.count(i)) map_node(i);
  for (const auto& out : g_.output()) add_output(out);
  layout();
  project::Project p;
  p.name = g_.name().empty() ? fs::path(file_).stem().string() : g_.name();
  p.description = m_.doc_string();
  p.graph = std::move(graph_);
  p.weights = std::move(weights_);
  return p;
}

const Tensor* Importer::constant(const std::string& value) const {
  auto it = constants_.find(value);
  return it == constants_.end() ? nullptr : &it->second;
}

const Tensor& Importer::require_constant(const onnx::NodeProto& n, int input, const char* what) const {
  if (input >= n.input_size() || n.input(input).empty()) error(n, std::string("has no ") + what);
  const Tensor* t = constant(n.input(input));
  if (!t) no_layer(std::string(what) + " '" + n.input(input) + "' is computed, and the layer needs a constant");
  return *t;
}

std::vector<int64_t> Importer::const_ints(const onnx::NodeProto& n, int input, const char* what) const {
  const Tensor& t = require_constant(n, input, what);
  if (t.dtype() != DType::Int64) error(n, std::string(what) + " must hold integers");
  return t.to_vector<int64_t>();
}

std::optional<double> Importer::const_scalar(const std::string& value) const {
  const Tensor* t = constant(value);
  if (!t || t->numel() != 1) return std::nullopt;
  return t->to(DType::Float32).item();
}

// ---- attributes ----
const onnx::AttributeProto* Importer::find_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

int64_t Importer::attr_i(const onnx::NodeProto& n, const std::string& name, int64_t def) {
  const auto* a = find_attr(n, name);
  return a ? a->i() : def;
}

double Importer::attr_f(const onnx::NodeProto& n, const std::string& name, double def) {
  const auto* a = find_attr(n, name);
  return a ? clean(a->f()) : def;
}

std::vector<int64_t> Importer::attr_ints(const onnx::NodeProto& n, const std::string& name,
                                      std::vector<int64_t> def) {
  const auto* a = find_attr(n, name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : def;
}

std::string Importer::attr_s(const onnx::NodeProto& n, const std::string& name, std::string def) {
  const auto* a = find_attr(n, name);
  return a ? a->s() : def;
}

// ---- the graph being built ----
// The layer a Netloom export wrote this node for (its doc_string), or empty.
std::string Importer::netloom_layer(const onnx::NodeProto& n) {
  static const std::string tag = "Netloom layer '";
  const std::string& d = n.doc_string();
  if (d.rfind(tag, 0) != 0) return {};
  auto end = d.rfind("' (");
  return end == std::string::npos || end < tag.size() ? std::string() : d.substr(tag.size(), end - tag.size());
}

// Whether a multi-node pattern may fold `b` into `a`'s layer: not when a Netloom export
// says they are two layers a user drew (Sigmoid then Mul is not always SiLU).
bool Importer::same_layer(const onnx::NodeProto& a, const onnx::NodeProto& b) {
  std::string la = netloom_layer(a), lb = netloom_layer(b);
  return la.empty() || lb.empty() || la == lb;
}

std::string Importer::layer_name(const onnx::NodeProto& n) {
  std::string tagged = netloom_layer(n);
  std::string base = !tagged.empty()      ? tagged
                     : !n.name().empty()  ? n.name()
                     : n.output_size()    ? n.output(0)
                                          : n.op_type();
  return free_name(base);
}

// `base` itself while unused (names come back as exported), else base_2, base_3 …
std::string Importer::free_name(const std::string& base) {
  std::string name = base;
  for (int i = 2; used_names_.count(name); ++i) name = base + "_" + std::to_string(i);
  used_names_.insert(name);
  return name;
}

NodeId Importer::add_layer(const onnx::NodeProto& n, const std::string& type, const AttrMap& attrs) {
  auto r = graph_.add_node(type, layer_name(n), attrs);
  if (!r) no_layer("cannot become a " + type + " layer: " + r.error);
  return r.value;
}

void Importer::connect(const onnx::NodeProto& n, const std::string& value, NodeId id, int slot) {
  ensure_value(value);
  auto it = values_.find(value);
  if (it == values_.end()) {
    if (constant(value)) no_layer("input '" + value + "' is a constant, which the layer takes only as data");
    error(n, "uses '" + value + "' before anything produces it (the graph is not topologically sorted)");
  }
  auto r = graph_.connect({it->second, {id, slot}});
  if (!r) no_layer("cannot connect '" + value + "': " + r.error);
}

void Importer::set_weight(NodeId id, const std::string& param, const Tensor& t) {
  weights_[run::module_name_for(graph_.node(id).name) + "." + param] = t.contiguous().clone();
}

// A one-input layer fed by the node's first input, producing its first output.
// `last`: the final node of a folded pattern, whose name the layer takes.
NodeId Importer::unary(const onnx::NodeProto& n, const std::string& type, const AttrMap& attrs,
                        const std::string& out, const onnx::NodeProto* last) {
  NodeId id = add_layer(last ? *last : n, type, attrs);
  connect(n, n.input(0), id, 0);
  values_[out.empty() ? n.output(0) : out] = {id, 0};
  return id;
}

void Importer::add_input(const onnx::ValueInfoProto& in) {
  const auto& tt = in.type().tensor_type();
  std::string dtype;
  if (tt.elem_type() == onnx::TensorProto::FLOAT)
    dtype = "float32";
  else if (tt.elem_type() == onnx::TensorProto::INT64 || tt.elem_type() == onnx::TensorProto::INT32 ||
           widened_integer_bytes(tt.elem_type()))
    dtype = "int64";  // Netloom computes integers in int64; narrower data is widened as it is read
  else if (tt.elem_type() == onnx::TensorProto::BOOL)
    dtype = "bool";
  else if (tt.elem_type() == onnx::TensorProto::DOUBLE)
    dtype = "float32";  // narrowed as it is read, as double initializers are
  else if (tt.elem_type() == onnx::TensorProto::UINT8)
    dtype = "uint8";
  else if (tt.elem_type() == onnx::TensorProto::FLOAT16)
    dtype = "float16";
  else if (tt.elem_type() == onnx::TensorProto::BFLOAT16)
    dtype = "bfloat16";
  else
    fail(file_, ": graph input '", in.name(), "' has element type ", tt.elem_type(),
         " (float32, float64, float16, bfloat16, any integer type or bool only)");
  std::vector<int64_t> shape;
  for (const auto& d : tt.shape().dim()) shape.push_back(d.has_dim_value() ? d.dim_value() : -1);
  auto r = graph_.add_node("Input", free_name(in.name()), {{"shape", shape}, {"dtype", dtype}});
  NL_CHECK(r, file_, ": graph input '", in.name(), "': ", r.error);
  values_[in.name()] = {r.value, 0};
}

void Importer::add_output(const onnx::ValueInfoProto& out) {
  std::string source = out.name();
  const std::string& name = out.name();
  if (auto it = output_identity_.find(out.name()); it != output_identity_.end()) source = it->second;
  ensure_value(source);
  if (!values_.count(source) && constant(source)) materialize_constant(source);  // a folded output
  auto r = graph_.add_node("Output", name);
  NL_CHECK(r, file_, ": graph output '", out.name(), "': ", r.error);
  auto v = values_.find(source);
  NL_CHECK(v != values_.end(), file_, ": graph output '", out.name(), "' is not produced by any node");
  auto c = graph_.connect({v->second, {r.value, 0}});
  NL_CHECK(c, file_, ": graph output '", out.name(), "': ", c.error);
}

// ---- consumers, for patterns that span nodes ----
void Importer::index_consumers(int i) {
  for (const auto& v : g_.node(i).input())
    if (!v.empty()) consumers_[v].push_back(i);
}

bool Importer::is_graph_output(const std::string& v) const {
  for (const auto& o : g_.output())
    if (o.name() == v) return true;
  return false;
}

// The one node reading `value` when exactly one does (and it is not a graph output).
const onnx::NodeProto* Importer::only_consumer(const std::string& value, const char* op, int* index) const {
  auto it = consumers_.find(value);
  if (it == consumers_.end() || it->second.size() != 1 || is_graph_output(value)) return nullptr;
  const onnx::NodeProto& c = g_.node(it->second[0]);
  if (c.op_type() != op) return nullptr;
  if (index) *index = it->second[0];
  return &c;
}

bool Importer::near(std::optional<double> v, double want) { return v && std::abs(*v - want) < 1e-4 * std::max(1.0, std::abs(want)); }

// The other input of a binary node, given one of them.
std::string Importer::other_input(const onnx::NodeProto& n, const std::string& one) {
  return n.input(0) == one ? n.input(1) : n.input(0);
}

// ---- the op table ----
void Importer::map_node(int index) {
  const onnx::NodeProto& n = g_.node(index);
  if (n.op_type() == "Constant") return read_constant_node(n);
  // A recurrent layer Netloom exported as several nodes comes back whole, from its first node.
  if (std::string layer = netloom_layer(n); !layer.empty()) {
    const std::vector<int>& group = tagged_[layer];
    const std::string& doc = n.doc_string();
    auto ends_with = [&](const std::string& tail) {
      return doc.size() >= tail.size() && doc.compare(doc.size() - tail.size(), tail.size(), tail) == 0;
    };
    bool recurrent = ends_with("(LSTM)") || ends_with("(GRU)"), group_norm = ends_with("(GroupNorm)");
    bool attention = ends_with("(MultiheadAttention)"), encoder = ends_with("(TransformerEncoderLayer)");
    if ((recurrent || group_norm || attention || encoder) && group.front() == index) {
      NodeId first_new = graph_.next_id();
      try {
        if (recurrent) return map_tagged_recurrent(layer, group);
        if (group_norm) return map_tagged_group_norm(layer, group);
        return map_tagged_attention(layer, group, encoder);
      } catch (const NoLayer&) {
        // Not as Netloom writes it after all: the nodes map one by one.
        for (NodeId id = first_new; id < graph_.next_id(); ++id)
          if (graph_.find(id)) graph_.remove_node(id);
      }
    }
  }
  if (fold_constant(n)) return;
  if (n.op_type() == "Reshape")
    if (auto folded = reshape_with_folded_target(n)) return map_mapped(*folded);
  map_mapped(n);
}

// A node that folding did not consume: its layer, else a generic node (Note [Layers first]).
void Importer::map_mapped(const onnx::NodeProto& n) {
  // A mapping that gives up part-way leaves nothing behind: the nodes it added go again.
  NodeId first_new = graph_.next_id();
  try {
    if (map_layer(n)) return;
  } catch (const NoLayer&) {
    std::vector<NodeId> added;
    for (const auto& [id, node] : graph_.nodes())
      if (id >= first_new) added.push_back(id);
    for (NodeId id : added) {
      std::string name = graph_.node(id).name;
      std::string prefix = run::module_name_for(name) + ".";
      for (auto it = weights_.lower_bound(prefix); it != weights_.end() && it->first.rfind(prefix, 0) == 0;)
        it = weights_.erase(it);
      used_names_.erase(name);
      graph_.remove_node(id);
    }
    for (auto it = values_.begin(); it != values_.end();)
      it = it->second.node >= first_new ? values_.erase(it) : std::next(it);
  }
  map_generic(n);
}

// Note [Layers first]: an op becomes the layer a person would draw whenever its form allows
// (a Conv with a constant weight is a Conv2d layer, Clip(0, 6) is ReLU6); a mapping that
// finds a form it cannot express throws NoLayer (map_mapped removes whatever it added), and
// the node becomes a generic OnnxOp node instead, which runs the op as ONNX defines it.
bool Importer::map_layer(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  if (op == "Gemm") return map_gemm(n), true;
  if (op == "MatMul") return map_matmul(n), true;
  if (op == "Conv") return map_conv(n), true;
  if (op == "ConvTranspose") return map_conv_transpose(n), true;
  if (op == "BatchNormalization") return map_batch_norm(n), true;
  if (op == "LayerNormalization") return map_layer_norm(n), true;
  if (op == "Relu") return unary(n, "ReLU"), true;
  if (op == "LeakyRelu") return unary(n, "LeakyReLU", {{"negative_slope", attr_f(n, "alpha", 0.01)}}), true;
  if (op == "Tanh") return unary(n, "Tanh"), true;
  if (op == "Sigmoid") return map_sigmoid(n), true;
  if (op == "Softmax") return map_softmax(n), true;
  if (op == "Clip") return map_clip(n), true;
  if (op == "Div") return map_div(n), true;
  if (op == "ReduceMean") return map_reduce_mean(n), true;
  if (op == "MaxPool" || op == "AveragePool") return map_pool(n), true;
  if (op == "GlobalAveragePool") return map_global_pool(n), true;
  if (op == "Flatten") return map_flatten(n), true;
  if (op == "Reshape") return map_reshape(n), true;
  if (op == "Transpose") return map_transpose(n), true;
  if (op == "Concat") return map_variadic(n, "Concat", {{"dim", attr_i(n, "axis", 1)}}), true;
  if (op == "Sum") {
    if (n.input_size() < 2) no_layer("Sum of one input has no layer form");  // Add takes two or more
    return map_variadic(n, "Add", {}), true;
  }
  if (op == "Add" || op == "Mul") return map_binary(n, op), true;
  if (op == "Identity") return map_identity(n), true;
  if (op == "Dropout") return map_dropout(n), true;
  if (op == "Gather") return map_gather(n), true;
  if (op == "Slice") return map_slice(n), true;
  if (op == "Split") return map_split(n), true;
  if (op == "Pad") return map_pad(n), true;
  return false;
}

// Left to right by longest path from an input, stacked top to bottom within a column.
void Importer::layout() {
  std::map<NodeId, int> column;
  std::map<int, int> rows;
  for (NodeId id : graph_.topological_order()) {
    int c = 0;
    for (const auto& e : graph_.edges_into(id)) c = std::max(c, column[e.from.node] + 1);
    column[id] = c;
    graph::NodeUi ui = graph_.node(id).ui;
    ui.x = 220.0 * c;
    ui.y = 120.0 * rows[c]++;
    graph_.set_ui(id, ui);
  }
}

}  // namespace nl::importers::detail
