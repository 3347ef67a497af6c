// The ONNX exporter's working state, shared by the files that implement it (private to
// importers/onnx; the public entry points are in onnx_export.h):
//   onnx_export.cpp            the driver (walk, names, checker) and the one-op layers
//   onnx_export_composite.cpp  layers written as several nodes: GELU, LayerNorm before opset
//                              17, GroupNorm, LSTM/GRU, attention; and generic OnnxOp nodes
#pragma once
#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/graph/graph_analysis.h"
#include "importers/onnx/onnx_export.h"

namespace nl::importers::detail {

using graph::AttrMap;
using graph::ModelGraph;
using graph::Node;
using graph::NodeId;

int32_t onnx_elem_type(DType t);
void fill_tensor(onnx::TensorProto& t, const std::string& name, const Tensor& value);

class Exporter {
 public:
  Exporter(const ModelGraph& g, const std::map<std::string, Tensor>& weights, const OnnxExportOptions& o)
      : g_(g), weights_(weights), opts_(o), analysis_(graph::analyze(g)) {}

  onnx::ModelProto run();

 private:
  // Nodes a run computes: the Output nodes and everything they depend on. The Loss node and
  // inputs only it reads (targets) are training-only and stay out.
  std::set<NodeId> needed_nodes() const;

  void check_analysis() const;

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
  void emit(const Node& n);

  // GroupNorm as PyTorch exports it: the channels reshaped into groups, InstanceNormalization
  // over each group (unit scale, zero shift), the input's shape restored, then the per-channel
  // affine. The importer reads the tagged nodes back into one layer.
  void emit_group_norm(const Node& n, const AttrMap& a);

  // Note [Attention export]: MultiheadAttention and TransformerEncoderLayer decompose into
  // the MatMul/Add projections, head Reshape/Transpose, scaled MatMul, Softmax and the output
  // projection that PyTorch exports, batch-first inside (Transpose around when the layer is
  // not). Each node is named "<layer>/<part>" (q_proj, k_proj, v_proj, q_heads, dropout,
  // out_proj; linear1, activation, linear2, norm1, norm2 with the attention under
  // "self_attn/"), so the importer can read the tagged nodes back into one layer
  // (Importer::map_tagged_attention). A Dropout node (the identity at inference) carries the
  // dropout setting.
  Tensor param_of(const Node& n, const std::string& name);

  // x·Wᵀ (+ b) as MatMul and Add named "<layer>/<part>" and "<layer>/<part>_bias".
  std::string linear_nodes(const Node& n, const std::string& part, const std::string& x, const Tensor& w,
                           const Tensor& bias, const std::string& out_name = {});

  std::string layer_norm_nodes(const Node& n, const std::string& part, const std::string& x, const Tensor& scale,
                               const Tensor& shift, double eps);

  // Batch-first attention of q over k/v; `module` prefixes the weight names ("self_attn.").
  std::string attention_nodes(const Node& n, const std::string& part, const std::string& q, const std::string& k,
                              const std::string& v, int64_t e, int64_t heads, const std::string& module,
                              double dropout, const std::string& out_name = {});

  std::string batch_first_value(const Node& n, const std::string& x, const std::string& part);

  void emit_multihead_attention(const Node& n, const AttrMap& a);

  void emit_encoder_layer(const Node& n, const AttrMap& a);

  // Note [Recurrent export]: one ONNX LSTM/GRU node per stacked layer, as PyTorch exports
  // them. ONNX orders the gate blocks differently (LSTM i,o,f,c for PyTorch's i,f,g,o; GRU
  // z,r,h for r,z,n), stacks the directions, and wants time-major input; GRU keeps its hidden
  // bias inside the reset product (linear_before_reset = 1). Y [T, D, N, H] becomes the next
  // layer's [T, N, D·H]; the final state Y_h [D, N, H] becomes N×D·H. The importer reads the
  // nodes tagged with the layer's name back into one layer (Importer::map_tagged_recurrent).
  Tensor onnx_gates(const Tensor& w, bool lstm, int64_t h);

  void emit_recurrent(const Node& n, const AttrMap& a, bool lstm);

  // Opsets in which an op changed incompatibly (an attribute became an input, a default or
  // the meaning of an axis changed), for ops the generic table runs.
  static std::vector<int64_t> breaking_versions(const std::string& op);

  // A generic node goes back out as the op it holds (Note [Generic ONNX ops]).
  void emit_generic(const Node& n, const AttrMap& a);

  void emit_linear(const Node& n, const AttrMap& a);

  void emit_conv(const Node& n, const AttrMap& a, size_t spatial);

  void emit_batch_norm(const Node& n, const AttrMap& a);

  void emit_layer_norm(const Node& n, const AttrMap& a);

  void emit_gelu(const Node& n, const AttrMap& a);

  void emit_adaptive_pool(const Node& n, const AttrMap& a);

  void emit_flatten(const Node& n, const AttrMap& a);

  void emit_split(const Node& n, const AttrMap& a);

  const ModelGraph& g_;
  const std::map<std::string, Tensor>& weights_;
  OnnxExportOptions opts_;
  graph::GraphAnalysis analysis_;
  onnx::ModelProto model_;
  onnx::GraphProto* gp_ = nullptr;
  std::map<std::string, bool> used_weights_;
};

}  // namespace nl::importers::detail
