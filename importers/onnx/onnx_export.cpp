// ONNX export: walks the model graph in topological order and emits one ONNX node (or a
// short decomposition) per layer; see onnx_export.h and Note [ONNX names].
#include "importers/onnx/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "engine/core/error.h"
#include "engine/graph/graph_analysis.h"
#include "engine/io/file_bytes.h"
#include "engine/ops/movement.h"
#include "engine/run/graph_executor.h"

namespace nl::importers {

namespace {

using graph::AttrMap;
using graph::ModelGraph;
using graph::Node;
using graph::NodeId;

int32_t onnx_elem_type(DType t) {
  switch (t) {
    case DType::Float32: return onnx::TensorProto::FLOAT;
    case DType::Int64: return onnx::TensorProto::INT64;
    case DType::Bool: return onnx::TensorProto::BOOL;
    default: fail("ONNX export: tensors of dtype ", dtype_name(t), " are not exported yet");
  }
}

void fill_tensor(onnx::TensorProto& t, const std::string& name, const Tensor& value) {
  Tensor c = value.to(Device::cpu()).contiguous();
  t.set_name(name);
  t.set_data_type(onnx_elem_type(c.dtype()));
  for (int64_t d : c.shape()) t.add_dims(d);
  t.set_raw_data(c.raw_data(), static_cast<size_t>(c.numel()) * c.element_size());
}

class Exporter {
 public:
  Exporter(const ModelGraph& g, const std::map<std::string, Tensor>& weights, const OnnxExportOptions& o)
      : g_(g), weights_(weights), opts_(o), analysis_(graph::analyze(g)) {}

  onnx::ModelProto run() {
    NL_CHECK(opts_.opset >= kOnnxMinExportOpset && opts_.opset <= kOnnxMaxExportOpset, "ONNX export: opset ",
             opts_.opset, " is not supported (", kOnnxMinExportOpset, "–", kOnnxMaxExportOpset, ")");
    check_analysis();
    model_.set_ir_version(8);  // what onnx 1.12 writes; readable by every runtime of opset 13+
    model_.set_producer_name("Netloom");
    model_.set_producer_version("0.1");
    if (!opts_.doc_string.empty()) model_.set_doc_string(opts_.doc_string);
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opts_.opset);
    gp_ = model_.mutable_graph();
    gp_->set_name(opts_.model_name.empty() ? "netloom" : opts_.model_name);
    std::set<NodeId> needed = needed_nodes();
    for (NodeId id : g_.topological_order())
      if (needed.count(id)) emit(g_.node(id));
    return std::move(model_);
  }

 private:
  // Nodes a run computes: the Output nodes and everything they depend on. The Loss node and
  // inputs only it reads (targets) are training-only and stay out.
  std::set<NodeId> needed_nodes() const {
    std::set<NodeId> needed;
    std::vector<NodeId> todo = g_.nodes_of_type("Output");
    NL_CHECK(!todo.empty(), "ONNX export: the graph has no Output node, so nothing would be exported");
    while (!todo.empty()) {
      NodeId id = todo.back();
      todo.pop_back();
      if (!needed.insert(id).second) continue;
      for (const auto& e : g_.edges_into(id)) todo.push_back(e.from.node);
    }
    return needed;
  }

  void check_analysis() const {
    for (const auto& m : analysis_.messages)
      if (m.severity == graph::Severity::Error) {
        const Node* n = g_.find(m.node);
        fail("ONNX export: the graph has errors; ", n ? "node '" + n->name + "' (" + n->type + "): " : "", m.text);
      }
  }

  // ---- names and values ----
  static std::string value_name(const Node& n, int port) {
    return port == 0 ? n.name : n.name + ":" + std::to_string(port);
  }
  std::string in(const Node& n, int slot) const {
    auto e = g_.edge_into({n.id, slot});
    NL_CHECK(e, "ONNX export: node '", n.name, "' (", n.type, ") has no input on slot ", slot);
    return value_name(g_.node(e->from.node), e->from.port);
  }
  std::string out(const Node& n, int port = 0) const { return value_name(n, port); }
  const graph::TensorInfo& in_info(const Node& n, int slot) const {
    const graph::TensorInfo* t = analysis_.input(n.id, slot);
    NL_CHECK(t, "ONNX export: node '", n.name, "' (", n.type, "): the shape of input ", slot, " is unknown");
    return *t;
  }
  const graph::TensorInfo& out_info(const Node& n, int port = 0) const {
    const graph::TensorInfo* t = analysis_.output(n.id, port);
    NL_CHECK(t, "ONNX export: node '", n.name, "' (", n.type, "): the shape of output ", port, " is unknown");
    return *t;
  }

  onnx::NodeProto* add(const std::string& op, const std::vector<std::string>& inputs,
                       const std::vector<std::string>& outputs, const Node& layer, const std::string& suffix = {}) {
    onnx::NodeProto* p = gp_->add_node();
    p->set_op_type(op);
    p->set_name(suffix.empty() ? layer.name : layer.name + "/" + suffix);
    p->set_doc_string("Netloom layer '" + layer.name + "' (" + layer.type + ")");
    for (const auto& i : inputs) p->add_input(i);
    for (const auto& o : outputs) p->add_output(o);
    return p;
  }
  static void attr(onnx::NodeProto* p, const std::string& name, int64_t v) {
    auto* a = p->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(onnx::NodeProto* p, const std::string& name, double v) {
    auto* a = p->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(static_cast<float>(v));
  }
  static void attr(onnx::NodeProto* p, const std::string& name, const std::vector<int64_t>& v) {
    auto* a = p->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }

  // The layer's weight `param` as an initializer named by its state-dict key.
  std::string weight(const Node& n, const std::string& param) {
    std::string key = run::module_name_for(n.name) + "." + param;
    auto it = weights_.find(key);
    NL_CHECK(it != weights_.end(), "ONNX export: node '", n.name, "' (", n.type, "): weight '", key,
             "' is missing (train the model or build it once so its weights exist)");
    if (used_weights_.insert({key, true}).second) fill_tensor(*gp_->add_initializer(), key, it->second);
    return key;
  }
  std::string constant(const Node& n, const std::string& suffix, const Tensor& value) {
    std::string name = n.name + "/" + suffix;
    fill_tensor(*gp_->add_initializer(), name, value);
    return name;
  }
  std::string const_ints(const Node& n, const std::string& suffix, const std::vector<int64_t>& v) {
    return constant(n, suffix, tensor(v, {static_cast<int64_t>(v.size())}));
  }
  std::string const_float(const Node& n, const std::string& suffix, float v) {
    return constant(n, suffix, tensor(std::vector<float>{v}, Shape{}));
  }

  static std::vector<int64_t> window(const AttrMap& a, const std::string& name, size_t spatial) {
    const auto& v = a.at(name);
    if (auto* i = std::get_if<int64_t>(&v)) return std::vector<int64_t>(spatial, *i);
    return std::get<std::vector<int64_t>>(v);
  }
  static std::vector<int64_t> twice(const std::vector<int64_t>& p) {
    std::vector<int64_t> r = p;
    r.insert(r.end(), p.begin(), p.end());
    return r;
  }
  static int64_t i(const AttrMap& a, const std::string& k) { return std::get<int64_t>(a.at(k)); }
  static double f(const AttrMap& a, const std::string& k) { return std::get<double>(a.at(k)); }
  static bool b(const AttrMap& a, const std::string& k) { return std::get<bool>(a.at(k)); }
  static const std::string& s(const AttrMap& a, const std::string& k) { return std::get<std::string>(a.at(k)); }

  void value_info(onnx::ValueInfoProto* v, const std::string& name, const graph::TensorInfo& t,
                  const std::string& owner) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx_elem_type(t.dtype));
    auto* shape = tt->mutable_shape();
    for (size_t d = 0; d < t.shape.size(); ++d) {
      auto* dim = shape->add_dim();
      if (t.shape[d].is_known())
        dim->set_dim_value(t.shape[d].size);
      else if (!t.shape[d].symbol.empty())
        dim->set_dim_param(t.shape[d].symbol);
      else if (!owner.empty())  // a graph input's free size: named so inputs can share nothing by accident
        dim->set_dim_param(owner + "_dim" + std::to_string(d));
    }
  }

  // ---- layers ----
  void emit(const Node& n) {
    const AttrMap a = g_.resolved_attributes(n.id);
    const std::string& t = n.type;
    if (t == "Input") {
      value_info(gp_->add_input(), n.name, out_info(n), n.name);
    } else if (t == "Output") {
      add("Identity", {in(n, 0)}, {n.name}, n);
      value_info(gp_->add_output(), n.name, in_info(n, 0), "");
    } else if (t == "Linear") {
      emit_linear(n, a);
    } else if (t == "Conv1d" || t == "Conv2d") {
      emit_conv(n, a, t == "Conv1d" ? 1 : 2);
    } else if (t == "ConvTranspose2d") {
      std::vector<std::string> ins = {in(n, 0), weight(n, "weight")};
      if (b(a, "bias")) ins.push_back(weight(n, "bias"));
      auto* p = add("ConvTranspose", ins, {out(n)}, n);
      attr(p, "kernel_shape", window(a, "kernel_size", 2));
      attr(p, "strides", window(a, "stride", 2));
      attr(p, "pads", twice(window(a, "padding", 2)));
      attr(p, "dilations", window(a, "dilation", 2));
      attr(p, "output_padding", window(a, "output_padding", 2));
      attr(p, "group", i(a, "groups"));
    } else if (t == "BatchNorm1d" || t == "BatchNorm2d") {
      emit_batch_norm(n, a);
    } else if (t == "LayerNorm") {
      emit_layer_norm(n, a);
    } else if (t == "ReLU") {
      add("Relu", {in(n, 0)}, {out(n)}, n);
    } else if (t == "LeakyReLU") {
      attr(add("LeakyRelu", {in(n, 0)}, {out(n)}, n), "alpha", f(a, "negative_slope"));
    } else if (t == "Sigmoid") {
      add("Sigmoid", {in(n, 0)}, {out(n)}, n);
    } else if (t == "Tanh") {
      add("Tanh", {in(n, 0)}, {out(n)}, n);
    } else if (t == "Softmax") {
      attr(add("Softmax", {in(n, 0)}, {out(n)}, n), "axis", i(a, "dim"));
    } else if (t == "ReLU6") {
      add("Clip", {in(n, 0), const_float(n, "min", 0.0f), const_float(n, "max", 6.0f)}, {out(n)}, n);
    } else if (t == "SiLU") {
      std::string sig = n.name + "/sigmoid";
      add("Sigmoid", {in(n, 0)}, {sig}, n, "sigmoid");
      add("Mul", {in(n, 0), sig}, {out(n)}, n);
    } else if (t == "GELU") {
      emit_gelu(n, a);
    } else if (t == "MaxPool2d" || t == "AvgPool2d") {
      bool is_max = t == "MaxPool2d";
      auto* p = add(is_max ? "MaxPool" : "AveragePool", {in(n, 0)}, {out(n)}, n);
      attr(p, "kernel_shape", window(a, "kernel_size", 2));
      attr(p, "strides", window(a, "stride", 2));
      attr(p, "pads", twice(window(a, "padding", 2)));
      attr(p, "ceil_mode", int64_t{b(a, "ceil_mode")});
      if (is_max)
        attr(p, "dilations", window(a, "dilation", 2));
      else
        attr(p, "count_include_pad", int64_t{b(a, "count_include_pad")});
    } else if (t == "AdaptiveAvgPool2d") {
      emit_adaptive_pool(n, a);
    } else if (t == "GlobalAvgPool2d") {
      std::string pooled = n.name + "/pooled";
      add("GlobalAveragePool", {in(n, 0)}, {pooled}, n, "pool");
      attr(add("Flatten", {pooled}, {out(n)}, n), "axis", int64_t{1});
    } else if (t == "Flatten") {
      emit_flatten(n, a);
    } else if (t == "Reshape") {
      add("Reshape", {in(n, 0), const_ints(n, "shape", std::get<std::vector<int64_t>>(a.at("shape")))}, {out(n)}, n);
    } else if (t == "Permute") {
      attr(add("Transpose", {in(n, 0)}, {out(n)}, n), "perm", std::get<std::vector<int64_t>>(a.at("dims")));
    } else if (t == "Slice") {
      add("Slice",
          {in(n, 0), const_ints(n, "starts", {i(a, "start")}), const_ints(n, "ends", {i(a, "end")}),
           const_ints(n, "axes", {i(a, "dim")}), const_ints(n, "steps", {i(a, "step")})},
          {out(n)}, n);
    } else if (t == "Split") {
      emit_split(n, a);
    } else if (t == "Concat") {
      std::vector<std::string> ins;
      for (int s = 0; s < g_.num_input_slots(n.id); ++s) ins.push_back(in(n, s));
      attr(add("Concat", ins, {out(n)}, n), "axis", i(a, "dim"));
    } else if (t == "Add") {
      std::vector<std::string> ins;
      for (int s = 0; s < g_.num_input_slots(n.id); ++s) ins.push_back(in(n, s));
      add(ins.size() == 2 ? "Add" : "Sum", ins, {out(n)}, n);
    } else if (t == "Mul") {
      add("Mul", {in(n, 0), in(n, 1)}, {out(n)}, n);
    } else if (t == "MatMul") {
      add("MatMul", {in(n, 0), in(n, 1)}, {out(n)}, n);
    } else if (t == "Identity") {
      add("Identity", {in(n, 0)}, {out(n)}, n);
    } else if (t == "Dropout") {
      // Dropout without training_mode is the identity at inference; its ratio keeps p.
      add("Dropout", {in(n, 0), const_float(n, "ratio", static_cast<float>(f(a, "p")))}, {out(n)}, n);
    } else if (t == "MultiheadAttention") {
      emit_multihead_attention(n, a);
    } else if (t == "TransformerEncoderLayer") {
      emit_encoder_layer(n, a);
    } else if (t == "GroupNorm") {
      emit_group_norm(n, a);
    } else if (t == "LSTM" || t == "GRU") {
      emit_recurrent(n, a, t == "LSTM");
    } else if (t == "OnnxOp") {
      emit_generic(n, a);
    } else if (t == "Embedding") {
      attr(add("Gather", {weight(n, "weight"), in(n, 0)}, {out(n)}, n), "axis", int64_t{0});
    } else {
      fail("ONNX export: node '", n.name, "' is a ", t, " layer, which has no ONNX mapping yet");
    }
  }

  // GroupNorm as PyTorch exports it: the channels reshaped into groups, InstanceNormalization
  // over each group (unit scale, zero shift), the input's shape restored, then the per-channel
  // affine. The importer reads the tagged nodes back into one layer.
  void emit_group_norm(const Node& n, const AttrMap& a) {
    const graph::TensorInfo& x = in_info(n, 0);
    int64_t groups = i(a, "num_groups"), channels = x.shape.at(1).size;
    std::string p = n.name + "/";
    bool affine = b(a, "affine");
    add("Reshape", {in(n, 0), const_ints(n, "group_shape", {0, groups, -1})}, {p + "grouped"}, n, "grouped");
    attr(add("InstanceNormalization",
             {p + "grouped", constant(n, "unit_scale", ones({groups})), constant(n, "zero_shift", zeros({groups}))},
             {p + "normalized"}, n, "normalized"),
         "epsilon", f(a, "eps"));
    add("Shape", {in(n, 0)}, {p + "shape"}, n, "shape");
    add("Reshape", {p + "normalized", p + "shape"}, {affine ? p + "restored" : out(n)}, n, affine ? "restored" : "");
    if (!affine) return;
    Shape per_channel{channels};
    for (int64_t d = 2; d < x.rank(); ++d) per_channel.push_back(1);
    auto param = [&](const std::string& name) {
      std::string key = run::module_name_for(n.name) + "." + name;
      auto it = weights_.find(key);
      NL_CHECK(it != weights_.end(), "ONNX export: node '", n.name, "' (GroupNorm): weight '", key, "' is missing");
      return it->second.to(Device::cpu()).contiguous().reshape(per_channel);
    };
    add("Mul", {p + "restored", constant(n, "weight", param("weight"))}, {p + "scaled"}, n, "scaled");
    add("Add", {p + "scaled", constant(n, "bias", param("bias"))}, {out(n)}, n);
  }

  // Note [Attention export]: MultiheadAttention and TransformerEncoderLayer decompose into
  // the MatMul/Add projections, head Reshape/Transpose, scaled MatMul, Softmax and the output
  // projection that PyTorch exports, batch-first inside (Transpose around when the layer is
  // not). Each node is named "<layer>/<part>" (q_proj, k_proj, v_proj, q_heads, dropout,
  // out_proj; linear1, activation, linear2, norm1, norm2 with the attention under
  // "self_attn/"), so the importer can read the tagged nodes back into one layer
  // (Importer::map_tagged_attention). A Dropout node (the identity at inference) carries the
  // dropout setting.
  Tensor param_of(const Node& n, const std::string& name) {
    std::string key = run::module_name_for(n.name) + "." + name;
    auto it = weights_.find(key);
    NL_CHECK(it != weights_.end(), "ONNX export: node '", n.name, "' (", n.type, "): weight '", key, "' is missing");
    return it->second.to(Device::cpu()).contiguous();
  }

  // x·Wᵀ (+ b) as MatMul and Add named "<layer>/<part>" and "<layer>/<part>_bias".
  std::string linear_nodes(const Node& n, const std::string& part, const std::string& x, const Tensor& w,
                           const Tensor& bias, const std::string& out_name = {}) {
    std::string mm = bias.defined() || out_name.empty() ? n.name + "/" + part : out_name;
    add("MatMul", {x, constant(n, part + "_weight_t", w.t().contiguous())}, {mm}, n, part);
    if (!bias.defined()) return mm;
    std::string out = out_name.empty() ? mm + "_biased" : out_name;
    add("Add", {mm, constant(n, part + "_bias_value", bias)}, {out}, n, part + "_bias");
    return out;
  }

  std::string layer_norm_nodes(const Node& n, const std::string& part, const std::string& x, const Tensor& scale,
                               const Tensor& shift, double eps) {
    std::string out = n.name + "/" + part;
    std::string sc = constant(n, part + "_weight", scale), sh = constant(n, part + "_bias", shift);
    if (opts_.opset >= 17) {
      auto* p = add("LayerNormalization", {x, sc, sh}, {out}, n, part);
      attr(p, "axis", int64_t{-1});
      attr(p, "epsilon", eps);
      return out;
    }
    std::string p = out + "/";
    std::vector<int64_t> axes = {-1};
    attr(add("ReduceMean", {x}, {p + "mean"}, n, part + "/mean"), "axes", axes);
    add("Sub", {x, p + "mean"}, {p + "centered"}, n, part + "/centered");
    add("Pow", {p + "centered", const_float(n, part + "_two", 2.0f)}, {p + "squared"}, n, part + "/squared");
    attr(add("ReduceMean", {p + "squared"}, {p + "var"}, n, part + "/var"), "axes", axes);
    add("Add", {p + "var", const_float(n, part + "_eps", static_cast<float>(eps))}, {p + "var_eps"}, n, part + "/var_eps");
    add("Sqrt", {p + "var_eps"}, {p + "std"}, n, part + "/std");
    add("Div", {p + "centered", p + "std"}, {p + "normalized"}, n, part + "/normalized");
    add("Mul", {p + "normalized", sc}, {p + "scaled"}, n, part + "/scaled");
    add("Add", {p + "scaled", sh}, {out}, n, part);
    return out;
  }

  // Batch-first attention of q over k/v; `module` prefixes the weight names ("self_attn.").
  std::string attention_nodes(const Node& n, const std::string& part, const std::string& q, const std::string& k,
                              const std::string& v, int64_t e, int64_t heads, const std::string& module,
                              double dropout, const std::string& out_name = {}) {
    int64_t d = e / heads;
    Tensor w = param_of(n, module + "in_proj_weight");
    Tensor bias = weights_.count(run::module_name_for(n.name) + "." + module + "in_proj_bias")
                      ? param_of(n, module + "in_proj_bias")
                      : Tensor();
    auto slice = [&](const Tensor& t, int64_t which) { return t.defined() ? t.narrow(0, which * e, e).contiguous() : t; };
    std::string p = n.name + "/" + part;
    std::string qp = linear_nodes(n, part + "q_proj", q, slice(w, 0), slice(bias, 0));
    std::string kp = linear_nodes(n, part + "k_proj", k, slice(w, 1), slice(bias, 1));
    std::string vp = linear_nodes(n, part + "v_proj", v, slice(w, 2), slice(bias, 2));
    std::string heads_shape = const_ints(n, part + "heads_shape", {0, 0, heads, d});
    auto split_heads = [&](const std::string& x, const std::string& which, std::vector<int64_t> perm) {
      add("Reshape", {x, heads_shape}, {p + which + "_heads"}, n, part + which + "_heads");
      attr(add("Transpose", {p + which + "_heads"}, {p + which + "_t"}, n, part + which + "_t"), "perm", perm);
      return p + which + "_t";
    };
    std::string qh = split_heads(qp, "q", {0, 2, 1, 3}), kh = split_heads(kp, "k", {0, 2, 3, 1});
    std::string vh = split_heads(vp, "v", {0, 2, 1, 3});
    add("MatMul", {qh, kh}, {p + "scores"}, n, part + "scores");
    add("Mul", {p + "scores", const_float(n, part + "scale", static_cast<float>(1.0 / std::sqrt(double(d))))},
        {p + "scaled"}, n, part + "scaled");
    attr(add("Softmax", {p + "scaled"}, {p + "weights"}, n, part + "weights"), "axis", int64_t{-1});
    add("Dropout", {p + "weights", const_float(n, part + "dropout_ratio", static_cast<float>(dropout))},
        {p + "weights_dropped"}, n, part + "dropout");
    add("MatMul", {p + "weights_dropped", vh}, {p + "context"}, n, part + "context");
    attr(add("Transpose", {p + "context"}, {p + "context_t"}, n, part + "context_t"), "perm",
         std::vector<int64_t>{0, 2, 1, 3});
    add("Reshape", {p + "context_t", const_ints(n, part + "merged_shape", {0, 0, e})}, {p + "merged"}, n,
        part + "merged");
    Tensor ob = weights_.count(run::module_name_for(n.name) + "." + module + "out_proj.bias")
                    ? param_of(n, module + "out_proj.bias")
                    : Tensor();
    return linear_nodes(n, part + "out_proj", p + "merged", param_of(n, module + "out_proj.weight"), ob, out_name);
  }

  std::string batch_first_value(const Node& n, const std::string& x, const std::string& part) {
    attr(add("Transpose", {x}, {n.name + "/" + part}, n, part), "perm", std::vector<int64_t>{1, 0, 2});
    return n.name + "/" + part;
  }

  void emit_multihead_attention(const Node& n, const AttrMap& a) {
    bool bf = b(a, "batch_first");
    int64_t e = in_info(n, 0).shape.at(2).size, heads = i(a, "num_heads");
    std::string q = in(n, 0);
    std::string k = g_.edge_into({n.id, 1}) ? in(n, 1) : q;
    std::string v = g_.edge_into({n.id, 2}) ? in(n, 2) : k;
    if (!bf) {
      std::string qb = batch_first_value(n, q, "q_bf");
      std::string kb = k == q ? qb : batch_first_value(n, k, "k_bf");
      std::string vb = v == k ? kb : v == q ? qb : batch_first_value(n, v, "v_bf");
      q = qb, k = kb, v = vb;
    }
    std::string y = attention_nodes(n, "", q, k, v, e, heads, "", f(a, "dropout"), bf ? out(n) : std::string());
    if (!bf) attr(add("Transpose", {y}, {out(n)}, n), "perm", std::vector<int64_t>{1, 0, 2});
  }

  void emit_encoder_layer(const Node& n, const AttrMap& a) {
    bool bf = b(a, "batch_first"), pre = b(a, "norm_first");
    int64_t e = in_info(n, 0).shape.at(2).size, heads = i(a, "nhead");
    double eps = f(a, "layer_norm_eps");
    std::string p = n.name + "/";
    std::string x = bf ? in(n, 0) : batch_first_value(n, in(n, 0), "x_bf");
    auto norm = [&](const std::string& which, const std::string& y) {
      return layer_norm_nodes(n, which, y, param_of(n, which + ".weight"), param_of(n, which + ".bias"), eps);
    };
    auto attention = [&](const std::string& y) {
      return attention_nodes(n, "self_attn/", y, y, y, e, heads, "self_attn.", f(a, "dropout"));
    };
    auto feed_forward = [&](const std::string& y) {
      std::string h = linear_nodes(n, "linear1", y, param_of(n, "linear1.weight"), param_of(n, "linear1.bias"));
      if (s(a, "activation") == "relu") {
        add("Relu", {h}, {p + "activation"}, n, "activation");
      } else {  // the Erf GELU, as emit_gelu writes it
        add("Div", {h, const_float(n, "gelu_sqrt2", static_cast<float>(std::sqrt(2.0)))}, {p + "gelu/scaled"}, n,
            "gelu/scaled");
        add("Erf", {p + "gelu/scaled"}, {p + "gelu/erf"}, n, "gelu/erf");
        add("Add", {p + "gelu/erf", const_float(n, "gelu_one", 1.0f)}, {p + "gelu/erf_plus_1"}, n, "gelu/erf_plus_1");
        add("Mul", {h, p + "gelu/erf_plus_1"}, {p + "gelu/times_x"}, n, "gelu/times_x");
        add("Mul", {p + "gelu/times_x", const_float(n, "gelu_half", 0.5f)}, {p + "activation"}, n, "activation");
      }
      return linear_nodes(n, "linear2", p + "activation", param_of(n, "linear2.weight"), param_of(n, "linear2.bias"));
    };
    std::string y;
    if (pre) {
      add("Add", {x, attention(norm("norm1", x))}, {p + "residual1"}, n, "residual1");
      std::string ff = feed_forward(norm("norm2", p + "residual1"));
      y = bf ? out(n) : p + "result_bf";
      add("Add", {p + "residual1", ff}, {y}, n, bf ? std::string() : "result_bf");
    } else {
      add("Add", {x, attention(x)}, {p + "residual1"}, n, "residual1");
      std::string x1 = norm("norm1", p + "residual1");
      add("Add", {x1, feed_forward(x1)}, {p + "residual2"}, n, "residual2");
      y = norm("norm2", p + "residual2");
    }
    // The layer's output carries its name: a final Transpose, or an Identity after a norm.
    if (!bf)
      attr(add("Transpose", {y}, {out(n)}, n), "perm", std::vector<int64_t>{1, 0, 2});
    else if (y != out(n))
      add("Identity", {y}, {out(n)}, n);
  }

  // Note [Recurrent export]: one ONNX LSTM/GRU node per stacked layer, as PyTorch exports
  // them. ONNX orders the gate blocks differently (LSTM i,o,f,c for PyTorch's i,f,g,o; GRU
  // z,r,h for r,z,n), stacks the directions, and wants time-major input; GRU keeps its hidden
  // bias inside the reset product (linear_before_reset = 1). Y [T, D, N, H] becomes the next
  // layer's [T, N, D·H]; the final state Y_h [D, N, H] becomes N×D·H. The importer reads the
  // nodes tagged with the layer's name back into one layer (Importer::map_tagged_recurrent).
  Tensor onnx_gates(const Tensor& w, bool lstm, int64_t h) {
    std::vector<int64_t> order = lstm ? std::vector<int64_t>{0, 3, 1, 2} : std::vector<int64_t>{1, 0, 2};
    std::vector<Tensor> blocks;
    for (int64_t g : order) blocks.push_back(w.narrow(0, g * h, h));
    return cat(blocks, 0);
  }

  void emit_recurrent(const Node& n, const AttrMap& a, bool lstm) {
    int64_t h = i(a, "hidden_size"), layers = i(a, "num_layers");
    bool bidirectional = b(a, "bidirectional"), batch_first = b(a, "batch_first"), bias = b(a, "bias");
    bool sequences = b(a, "return_sequences");
    int64_t directions = bidirectional ? 2 : 1;
    std::string prefix = n.name + "/", x = in(n, 0);
    if (batch_first) {
      attr(add("Transpose", {x}, {prefix + "time_major"}, n, "time_major"), "perm", std::vector<int64_t>{1, 0, 2});
      x = prefix + "time_major";
    }
    auto param = [&](const std::string& name) {
      std::string key = run::module_name_for(n.name) + "." + name;
      auto it = weights_.find(key);
      NL_CHECK(it != weights_.end(), "ONNX export: node '", n.name, "' (", n.type, "): weight '", key, "' is missing");
      return it->second.to(Device::cpu()).contiguous();
    };
    for (int64_t l = 0; l < layers; ++l) {
      std::vector<Tensor> w, r, bb;
      for (int64_t d = 0; d < directions; ++d) {
        std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
        w.push_back(onnx_gates(param("weight_ih" + suffix), lstm, h).unsqueeze(0));
        r.push_back(onnx_gates(param("weight_hh" + suffix), lstm, h).unsqueeze(0));
        if (bias)
          bb.push_back(cat({onnx_gates(param("bias_ih" + suffix), lstm, h), onnx_gates(param("bias_hh" + suffix), lstm, h)}, 0)
                           .unsqueeze(0));
      }
      std::string l_name = "l" + std::to_string(l);
      std::vector<std::string> ins = {x, constant(n, "W_" + l_name, cat(w, 0).contiguous()),
                                      constant(n, "R_" + l_name, cat(r, 0).contiguous())};
      if (bias) ins.push_back(constant(n, "B_" + l_name, cat(bb, 0).contiguous()));
      bool last = l + 1 == layers;
      std::string y = prefix + "Y_" + l_name, y_h = prefix + "Y_h_" + l_name;
      std::vector<std::string> outs = {last && !sequences ? std::string() : y};
      if (last && !sequences) outs.push_back(y_h);
      onnx::NodeProto* p = add(lstm ? "LSTM" : "GRU", ins, outs, n, l_name);
      attr(p, "hidden_size", h);
      auto* dir = p->add_attribute();
      dir->set_name("direction");
      dir->set_type(onnx::AttributeProto::STRING);
      dir->set_s(bidirectional ? "bidirectional" : "forward");
      if (!lstm) attr(p, "linear_before_reset", int64_t{1});
      if (last && !sequences) {
        std::string hn = prefix + "Y_h_batch_major";
        attr(add("Transpose", {y_h}, {hn}, n, "Y_h_batch_major"), "perm", std::vector<int64_t>{1, 0, 2});
        add("Reshape", {hn, const_ints(n, "final_shape", {0, -1})}, {out(n)}, n);
        return;
      }
      std::string t = prefix + "Y_" + l_name + "_tnd";
      attr(add("Transpose", {y}, {t}, n, "Y_" + l_name + "_tnd"), "perm", std::vector<int64_t>{0, 2, 1, 3});
      bool output_here = last && !batch_first;
      std::string merged = output_here ? out(n) : prefix + "seq_" + l_name;
      add("Reshape", {t, const_ints(n, "seq_shape_" + l_name, {0, 0, -1})}, {merged}, n,
          output_here ? std::string() : "seq_" + l_name);
      x = merged;
    }
    if (batch_first) attr(add("Transpose", {x}, {out(n)}, n), "perm", std::vector<int64_t>{1, 0, 2});
  }

  // Opsets in which an op changed incompatibly (an attribute became an input, a default or
  // the meaning of an axis changed), for ops the generic table runs.
  static std::vector<int64_t> breaking_versions(const std::string& op) {
    static const std::map<std::string, std::vector<int64_t>> table = {
        {"ReduceSum", {13}},     {"ReduceMean", {18}},     {"ReduceMax", {18}},       {"ReduceMin", {18}},
        {"ReduceProd", {18}},    {"ReduceL1", {18}},       {"ReduceL2", {18}},        {"ReduceSumSquare", {18}},
        {"ReduceLogSum", {18}},  {"ReduceLogSumExp", {18}}, {"Squeeze", {13}},        {"Unsqueeze", {13}},
        {"Split", {13, 18}},     {"Softmax", {13}},        {"LogSoftmax", {13}},      {"Hardmax", {13}},
        {"Clip", {11}},          {"Pad", {11}},            {"Slice", {10}},           {"Dropout", {12}},
        {"BatchNormalization", {9, 14}}, {"Upsample", {9, 10}}, {"Resize", {11, 13}}, {"TopK", {10}},
        {"GRU", {7}},            {"LSTM", {7}},
    };
    auto it = table.find(op);
    return it == table.end() ? std::vector<int64_t>{} : it->second;
  }

  // A generic node goes back out as the op it holds (Note [Generic ONNX ops]).
  void emit_generic(const Node& n, const AttrMap& a) {
    const std::string& op = s(a, "op_type");
    const std::string& domain = s(a, "domain");
    auto where = [&] { return "ONNX export: node '" + n.name + "' (OnnxOp " + op + "): "; };
    NL_CHECK(domain.empty() || domain == "ai.onnx", where(), "ops of domain '", domain, "' are not exported");
    const auto* schema = onnx::OpSchemaRegistry::Schema(op, static_cast<int>(opts_.opset), "");
    NL_CHECK(schema, where(), "no such op in opset ", opts_.opset);
    // An op whose inputs or attributes changed meaning between the node's opset and the
    // export's would compute something else (ReduceMean's axes moved from an attribute to an
    // input in opset 18); most new versions only add types or optional inputs.
    int64_t from = std::min<int64_t>(i(a, "opset"), opts_.opset), to = std::max<int64_t>(i(a, "opset"), opts_.opset);
    for (int64_t version : breaking_versions(op))
      NL_CHECK(version <= from || version > to, where(), "the op was imported from opset ", i(a, "opset"),
               " and its inputs or attributes changed in opset ", version, "; export at opset ", i(a, "opset"),
               " or replace the node with a layer");
    std::vector<std::string> layout;
    {
      const std::string& text = s(a, "inputs");
      std::string token;
      for (char c : text + ",") {
        if (c == ',') {
          layout.push_back(token);
          token.clear();
        } else {
          token += c;
        }
      }
      if (text.empty()) layout.assign(static_cast<size_t>(g_.num_input_slots(n.id)), "port");
      if (text.empty() && !g_.edge_into({n.id, 0})) layout.clear();
    }
    std::vector<std::string> ins;
    int slot = 0;
    for (size_t j = 0; j < layout.size(); ++j) {
      std::string key = "in" + std::to_string(j);
      if (layout[j] == "port") {
        ins.push_back(in(n, slot++));
      } else if (layout[j] == "const") {
        auto value = a.find(key + ".value");
        if (value != a.end()) {
          const auto& shape = std::get<std::vector<int64_t>>(a.at(key + ".shape"));
          Tensor t = tensor(std::get<std::vector<int64_t>>(value->second), Shape(shape.begin(), shape.end()));
          auto dt = a.find(key + ".dtype");
          if (dt != a.end() && std::get<int64_t>(dt->second) == onnx::TensorProto::BOOL) t = t.to(DType::Bool);
          ins.push_back(constant(n, key, t));
        } else {
          ins.push_back(weight(n, key));
        }
      } else {
        ins.push_back("");
      }
    }
    while (!ins.empty() && ins.back().empty()) ins.pop_back();
    std::vector<std::string> outs;
    for (int p = 0; p < static_cast<int>(i(a, "num_outputs")); ++p) outs.push_back(out(n, p));
    onnx::NodeProto* p = add(op, ins, outs, n);
    for (const auto& [name, v] : a) {
      if (name == "op_type" || name == "domain" || name == "opset" || name == "num_outputs" || name == "inputs" ||
          name.find('.') != std::string::npos)
        continue;
      auto declared = schema->attributes().find(name);
      auto type = declared != schema->attributes().end() ? declared->second.type : onnx::AttributeProto::UNDEFINED;
      auto* at = p->add_attribute();
      at->set_name(name);
      if (type == onnx::AttributeProto::TENSOR) {
        const auto& vals = std::get<std::vector<double>>(v);
        auto dt = a.find(name + ".dtype");
        DType dtype = dt != a.end() && std::get<int64_t>(dt->second) == onnx::TensorProto::INT64 ? DType::Int64
                      : dt != a.end() && std::get<int64_t>(dt->second) == onnx::TensorProto::BOOL ? DType::Bool
                                                                                                   : DType::Float32;
        at->set_type(onnx::AttributeProto::TENSOR);
        fill_tensor(*at->mutable_t(), "", tensor(std::vector<float>(vals.begin(), vals.end()), {1}).to(dtype));
      } else if (auto* x = std::get_if<int64_t>(&v)) {
        if (type == onnx::AttributeProto::FLOAT) {
          at->set_type(onnx::AttributeProto::FLOAT);
          at->set_f(static_cast<float>(*x));
        } else {
          at->set_type(onnx::AttributeProto::INT);
          at->set_i(*x);
        }
      } else if (auto* x = std::get_if<bool>(&v)) {
        at->set_type(onnx::AttributeProto::INT);
        at->set_i(*x);
      } else if (auto* x = std::get_if<double>(&v)) {
        at->set_type(onnx::AttributeProto::FLOAT);
        at->set_f(static_cast<float>(*x));
      } else if (auto* x = std::get_if<std::string>(&v)) {
        at->set_type(onnx::AttributeProto::STRING);
        at->set_s(*x);
      } else if (auto* x = std::get_if<std::vector<int64_t>>(&v)) {
        if (type == onnx::AttributeProto::FLOATS) {  // an empty list reads back as ints
          at->set_type(onnx::AttributeProto::FLOATS);
          for (int64_t e : *x) at->add_floats(static_cast<float>(e));
        } else {
          at->set_type(onnx::AttributeProto::INTS);
          for (int64_t e : *x) at->add_ints(e);
        }
      } else if (auto* x = std::get_if<std::vector<double>>(&v)) {
        at->set_type(onnx::AttributeProto::FLOATS);
        for (double e : *x) at->add_floats(static_cast<float>(e));
      }
    }
  }

  void emit_linear(const Node& n, const AttrMap& a) {
    bool bias = b(a, "bias");
    if (in_info(n, 0).rank() == 2) {
      std::vector<std::string> ins = {in(n, 0), weight(n, "weight")};
      if (bias) ins.push_back(weight(n, "bias"));
      attr(add("Gemm", ins, {out(n)}, n), "transB", int64_t{1});
      return;
    }
    // Gemm is 2-d only: x @ Wᵀ (+ b) over the leading dimensions, as PyTorch exports it.
    std::string wt = n.name + "/weight_t";
    attr(add("Transpose", {weight(n, "weight")}, {wt}, n, "weight_t"), "perm", std::vector<int64_t>{1, 0});
    if (!bias) {
      add("MatMul", {in(n, 0), wt}, {out(n)}, n);
      return;
    }
    std::string mm = n.name + "/matmul";
    add("MatMul", {in(n, 0), wt}, {mm}, n, "matmul");
    add("Add", {mm, weight(n, "bias")}, {out(n)}, n);
  }

  void emit_conv(const Node& n, const AttrMap& a, size_t spatial) {
    std::vector<int64_t> k = window(a, "kernel_size", spatial), d = window(a, "dilation", spatial);
    std::vector<int64_t> pads = twice(window(a, "padding", spatial));
    const std::string& type = s(a, "padding_type");
    if (type == "valid") pads.assign(2 * spatial, 0);
    if (type == "same")  // PyTorch puts the odd padding element at the end
      for (size_t j = 0; j < spatial; ++j) {
        int64_t total = d[j] * (k[j] - 1);
        pads[j] = total / 2;
        pads[j + spatial] = total - total / 2;
      }
    std::vector<std::string> ins = {in(n, 0), weight(n, "weight")};
    if (b(a, "bias")) ins.push_back(weight(n, "bias"));
    auto* p = add("Conv", ins, {out(n)}, n);
    attr(p, "kernel_shape", k);
    attr(p, "strides", window(a, "stride", spatial));
    attr(p, "pads", pads);
    attr(p, "dilations", d);
    attr(p, "group", i(a, "groups"));
  }

  void emit_batch_norm(const Node& n, const AttrMap& a) {
    NL_CHECK(b(a, "track_running_stats"), "ONNX export: node '", n.name, "' (", n.type,
             ") has track_running_stats off, so it normalises with batch statistics even at inference, which ONNX "
             "cannot express");
    int64_t c = in_info(n, 0).shape.at(1).size;
    std::string scale, shift;
    if (b(a, "affine")) {
      scale = weight(n, "weight");
      shift = weight(n, "bias");
    } else {
      scale = constant(n, "scale", ones({c}));
      shift = constant(n, "shift", zeros({c}));
    }
    auto* p = add("BatchNormalization",
                  {in(n, 0), scale, shift, weight(n, "running_mean"), weight(n, "running_var")}, {out(n)}, n);
    attr(p, "epsilon", f(a, "eps"));
    attr(p, "momentum", 1.0 - f(a, "momentum"));  // ONNX weighs the old statistics
  }

  void emit_layer_norm(const Node& n, const AttrMap& a) {
    const graph::TensorInfo& x = in_info(n, 0);
    int64_t k = i(a, "normalized_dims");
    Shape norm_shape;
    for (int64_t d = x.rank() - k; d < x.rank(); ++d) norm_shape.push_back(x.shape.at(d).size);
    std::string scale, shift;
    if (b(a, "elementwise_affine")) {
      scale = weight(n, "weight");
      shift = weight(n, "bias");
    } else {
      scale = constant(n, "scale", ones(norm_shape));
      shift = constant(n, "shift", zeros(norm_shape));
    }
    if (opts_.opset >= 17) {
      auto* p = add("LayerNormalization", {in(n, 0), scale, shift}, {out(n)}, n);
      attr(p, "axis", -k);
      attr(p, "epsilon", f(a, "eps"));
      return;
    }
    // Before opset 17: the ReduceMean/Sub/Pow/Sqrt/Div pattern PyTorch exports.
    std::vector<int64_t> axes;
    for (int64_t d = -k; d < 0; ++d) axes.push_back(d);
    std::string p = n.name + "/";
    attr(add("ReduceMean", {in(n, 0)}, {p + "mean"}, n, "mean"), "axes", axes);
    add("Sub", {in(n, 0), p + "mean"}, {p + "centered"}, n, "centered");
    add("Pow", {p + "centered", const_float(n, "two", 2.0f)}, {p + "squared"}, n, "squared");
    attr(add("ReduceMean", {p + "squared"}, {p + "var"}, n, "var"), "axes", axes);
    add("Add", {p + "var", const_float(n, "eps", static_cast<float>(f(a, "eps")))}, {p + "var_eps"}, n, "var_eps");
    add("Sqrt", {p + "var_eps"}, {p + "std"}, n, "std");
    add("Div", {p + "centered", p + "std"}, {p + "normalized"}, n, "normalized");
    add("Mul", {p + "normalized", scale}, {p + "scaled"}, n, "scaled");
    add("Add", {p + "scaled", shift}, {out(n)}, n);
  }

  void emit_gelu(const Node& n, const AttrMap& a) {
    std::string p = n.name + "/";
    if (s(a, "approximate") == "tanh") {
      // As PyTorch exports it before opset 20: 0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³))).
      add("Mul", {in(n, 0), in(n, 0)}, {p + "square"}, n, "square");
      add("Mul", {in(n, 0), p + "square"}, {p + "cube"}, n, "cube");
      add("Mul", {const_float(n, "kappa", 0.044715f), p + "cube"}, {p + "kappa_cube"}, n, "kappa_cube");
      add("Add", {in(n, 0), p + "kappa_cube"}, {p + "inner"}, n, "inner");
      add("Mul", {const_float(n, "beta", static_cast<float>(std::sqrt(2.0 / M_PI))), p + "inner"}, {p + "scaled"}, n,
          "scaled");
      add("Tanh", {p + "scaled"}, {p + "tanh"}, n, "tanh");
      add("Add", {const_float(n, "one", 1.0f), p + "tanh"}, {p + "tanh_plus_1"}, n, "tanh_plus_1");
      add("Mul", {in(n, 0), p + "tanh_plus_1"}, {p + "times_x"}, n, "times_x");
      add("Mul", {const_float(n, "half", 0.5f), p + "times_x"}, {out(n)}, n);
      return;
    }
    // The erf form as PyTorch exports it before opset 20: x · 0.5 · (1 + erf(x / √2)).
    add("Div", {in(n, 0), const_float(n, "sqrt2", static_cast<float>(std::sqrt(2.0)))}, {p + "scaled"}, n, "scaled");
    add("Erf", {p + "scaled"}, {p + "erf"}, n, "erf");
    add("Add", {p + "erf", const_float(n, "one", 1.0f)}, {p + "erf_plus_1"}, n, "erf_plus_1");
    add("Mul", {in(n, 0), p + "erf_plus_1"}, {p + "times_x"}, n, "times_x");
    add("Mul", {p + "times_x", const_float(n, "half", 0.5f)}, {out(n)}, n);
  }

  void emit_adaptive_pool(const Node& n, const AttrMap& a) {
    const auto& size = std::get<std::vector<int64_t>>(a.at("output_size"));
    if (size[0] == 1 && size[1] == 1) {
      add("GlobalAveragePool", {in(n, 0)}, {out(n)}, n);
      return;
    }
    // Other sizes are a plain average pool when the input divides evenly (the usual case).
    const graph::TensorInfo& x = in_info(n, 0);
    std::vector<int64_t> k(2);
    for (size_t d = 0; d < 2; ++d) {
      const graph::Dim& dim = x.shape.at(2 + d);
      NL_CHECK(dim.is_known() && dim.size % size[d] == 0, "ONNX export: node '", n.name,
               "' (AdaptiveAvgPool2d): output size ", size[d], " does not divide the input size ",
               graph::shape_to_string(x.shape), "; only evenly dividing sizes have an ONNX mapping");
      k[d] = dim.size / size[d];
    }
    auto* p = add("AveragePool", {in(n, 0)}, {out(n)}, n);
    attr(p, "kernel_shape", k);
    attr(p, "strides", k);
  }

  void emit_flatten(const Node& n, const AttrMap& a) {
    const graph::TensorInfo& x = in_info(n, 0);
    int64_t rank = x.rank();
    int64_t start = i(a, "start_dim"), end = i(a, "end_dim");
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    if (rank >= 2 && start == 1 && end == rank - 1) {  // exactly ONNX Flatten(axis = 1)
      attr(add("Flatten", {in(n, 0)}, {out(n)}, n), "axis", int64_t{1});
      return;
    }
    // Otherwise a Reshape: leading sizes copied (0), the merged run inferred (-1), trailing known.
    std::vector<int64_t> shape(static_cast<size_t>(std::max<int64_t>(start, 0)), 0);
    shape.push_back(-1);
    for (int64_t d = end + 1; d < rank; ++d) {
      NL_CHECK(x.shape[d].is_known(), "ONNX export: node '", n.name, "' (Flatten): dimension ", d, " of ",
               graph::shape_to_string(x.shape), " must be known to export this Flatten");
      shape.push_back(x.shape[d].size);
    }
    add("Reshape", {in(n, 0), const_ints(n, "shape", shape)}, {out(n)}, n);
  }

  void emit_split(const Node& n, const AttrMap& a) {
    int64_t dim = i(a, "dim"), count = i(a, "num_outputs");
    int64_t axis = dim < 0 ? dim + in_info(n, 0).rank() : dim;
    std::vector<int64_t> sizes;
    std::vector<std::string> outs;
    for (int port = 0; port < count; ++port) {
      const graph::Dim& d = out_info(n, port).shape.at(axis);
      NL_CHECK(d.is_known(), "ONNX export: node '", n.name, "' (Split): the size of piece ", port, " is unknown");
      sizes.push_back(d.size);
      outs.push_back(out(n, port));
    }
    attr(add("Split", {in(n, 0), const_ints(n, "split", sizes)}, outs, n), "axis", dim);
  }

  const ModelGraph& g_;
  const std::map<std::string, Tensor>& weights_;
  OnnxExportOptions opts_;
  graph::GraphAnalysis analysis_;
  onnx::ModelProto model_;
  onnx::GraphProto* gp_ = nullptr;
  std::map<std::string, bool> used_weights_;
};

}  // namespace

std::string export_onnx(const ModelGraph& graph, const std::map<std::string, Tensor>& weights,
                        const OnnxExportOptions& options) {
  onnx::ModelProto model = Exporter(graph, weights, options).run();
  try {
    onnx::checker::check_model(model);
    onnx::ShapeInferenceOptions strict(/*check_type=*/true, /*strict_mode=*/1, /*data_prop=*/false);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), strict);
  } catch (const std::exception& e) {
    fail("ONNX export: the ONNX checker refuses the exported model (a Netloom bug, please report it): ", e.what());
  }
  // Inferred value_info is for checking only; the file stays as lean as PyTorch's.
  model.mutable_graph()->clear_value_info();
  std::string bytes;
  NL_CHECK(model.SerializeToString(&bytes), "ONNX export: the model could not be serialized (over 2 GiB?)");
  return bytes;
}

void save_onnx(const ModelGraph& graph, const std::map<std::string, Tensor>& weights, const std::string& path,
               const OnnxExportOptions& options) {
  std::string bytes = export_onnx(graph, weights, options);
  io::AtomicFileWriter w(path);
  w.write(bytes.data(), bytes.size());
  w.commit();
}

}  // namespace nl::importers
