// The ONNX importer's working state, shared by the files that implement it (private to
// importers/onnx; the public entry points are in onnx_import.h):
//   onnx_reading.cpp        parsing with limits, tensors, external data, opsets, ranks
//   onnx_importer.cpp       the driver: the op table, graph building, names, layout
//   onnx_layer_mapping.cpp  one ONNX op → one Netloom layer (Conv, Gemm, pools, shape ops …)
//   onnx_patterns.cpp       multi-node patterns folded into one layer (GELU, LayerNorm, SiLU)
//   onnx_tagged_layers.cpp  layers a Netloom export wrote as several nodes, read back whole
//   onnx_generic_op.cpp     any other op → an OnnxOp node (Note [Generic ONNX ops])
//   onnx_constant_folding.cpp  nodes computable at import time (shape subgraphs) → constants
#pragma once
#include <onnx/onnx_pb.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/graph/graph_analysis.h"
#include "engine/graph/model_graph.h"
#include "importers/onnx/onnx_import.h"

namespace nl::importers::detail {

using graph::AttrMap;
using graph::NodeId;
using graph::PortRef;

inline constexpr int kMinOpset = 7, kMaxOpset = 18;

// Float attributes travel as float32: 1e-5 comes back as 9.99999975e-06. Seven significant
// digits is what float32 holds, so round-tripped settings read as the user typed them.
double clean(double v);
// The ONNX element type of a dtype (defined with the exporter, in onnx_export.cpp).
int32_t onnx_elem_type(DType t);
// Bytes per element of an integer element type read into int64 (Note [Widened integers]), else 0.
int widened_integer_bytes(int32_t data_type);

// Thrown by a layer mapping when this node has no layer form (Div outside the GELU pattern, a
// Conv whose weight is computed); the importer then makes it a generic OnnxOp node.
struct NoLayer {
  std::string why;
};

// What ONNX's shape inference knows of a value: its rank and its sizes (-1 where unknown).
struct ValueShape {
  std::vector<int64_t> dims;
  std::vector<std::string> params;  // the symbolic name of each unknown size ("batch"), or empty
  int32_t elem_type = 0;
};

// One element of a shape computation folded at import (Note [Shape folding]): a known
// integer, or the size of axis `axis` of value `of`, unknown until run time ("?": an unknown
// computed from such sizes, a copy of none).
struct ShapeElement {
  int64_t value = 0;
  std::string of;  // empty: `value` is known
  int64_t axis = 0;
  bool known() const { return of.empty(); }
};
struct ShapeValue {
  std::vector<ShapeElement> elems;
  bool scalar = false;  // a 0-d value (one element), else 1-d
};

class Importer {
 public:
  Importer(const onnx::ModelProto& m, std::string file, std::string folder, const OnnxImportOptions& o)
      : m_(m), g_(m.graph()), file_(std::move(file)), folder_(std::move(folder)), frozen_(o.frozen_inputs) {}

  project::Project run();

  // `external` reads a tensor stored outside the message (Note [External data]).
  static Tensor tensor_from_proto(const onnx::TensorProto& t, const std::string& what,
                                  const std::function<std::string(size_t, const std::string&)>& external);
  // int8 … uint64 tensors, read into int64 (Note [Widened integers]); `width`: bytes per element.
  static Tensor widened_integers(const onnx::TensorProto& t, const std::string& what, const Shape& shape, int width,
                                 const std::function<std::string(size_t, const std::string&)>& external);

 private:
  [[noreturn]] void error(const onnx::NodeProto& n, const std::string& what) const {
    fail(file_, ": node '", n.name(), "' (", n.op_type(), "): ", what);
  }
  [[noreturn]] static void no_layer(const std::string& why) { throw NoLayer{why}; }

  // ---- the model's envelope (onnx_reading.cpp) ----
  void check_opsets();
  void check_old_opset() const;  // Note [Old opsets]
  void read_ranks();
  int64_t rank_of(const onnx::NodeProto& n, const std::string& value) const;
  const ValueShape* shape_of(const std::string& value) const;
  Tensor read_tensor(const onnx::TensorProto& t) const;
  std::string read_external(const onnx::TensorProto& t, size_t bytes, const std::string& what) const;

  // ---- constants and attributes (onnx_importer.cpp) ----
  const Tensor* constant(const std::string& value) const;
  const Tensor& require_constant(const onnx::NodeProto& n, int input, const char* what) const;
  std::vector<int64_t> const_ints(const onnx::NodeProto& n, int input, const char* what) const;
  std::optional<double> const_scalar(const std::string& value) const;
  static const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name);
  static int64_t attr_i(const onnx::NodeProto& n, const std::string& name, int64_t def);
  static double attr_f(const onnx::NodeProto& n, const std::string& name, double def);
  static std::vector<int64_t> attr_ints(const onnx::NodeProto& n, const std::string& name, std::vector<int64_t> def);
  static std::string attr_s(const onnx::NodeProto& n, const std::string& name, std::string def);

  // ---- the graph being built (onnx_importer.cpp) ----
  static std::string netloom_layer(const onnx::NodeProto& n);
  // Whether a multi-node pattern may fold `b` into `a`'s layer: not when a Netloom export
  // says they are two layers a user drew (Sigmoid then Mul is not always SiLU).
  static bool same_layer(const onnx::NodeProto& a, const onnx::NodeProto& b);
  std::string layer_name(const onnx::NodeProto& n);
  std::string free_name(const std::string& base);
  NodeId add_layer(const onnx::NodeProto& n, const std::string& type, const AttrMap& attrs);
  void connect(const onnx::NodeProto& n, const std::string& value, NodeId id, int slot);
  void set_weight(NodeId id, const std::string& param, const Tensor& t);
  // A one-input layer fed by the node's first input, producing its first output.
  // `last`: the final node of a folded pattern, whose name the layer takes.
  NodeId unary(const onnx::NodeProto& n, const std::string& type, const AttrMap& attrs = {},
               const std::string& out = {}, const onnx::NodeProto* last = nullptr);
  void add_input(const onnx::ValueInfoProto& in);
  void add_output(const onnx::ValueInfoProto& out);
  void index_consumers(int i);
  bool is_graph_output(const std::string& v) const;
  // The one node reading `value` when exactly one does (and it is not a graph output).
  const onnx::NodeProto* only_consumer(const std::string& value, const char* op, int* index = nullptr) const;
  static bool near(std::optional<double> v, double want);
  // The other input of a binary node, given one of them.
  static std::string other_input(const onnx::NodeProto& n, const std::string& one);
  void map_node(int index);
  void map_mapped(const onnx::NodeProto& n);
  bool map_layer(const onnx::NodeProto& n);  // false: the op has no layer mapping at all
  // Left to right by longest path from an input, stacked top to bottom within a column.
  void layout();

  // ---- one op → one layer (onnx_layer_mapping.cpp) ----
  void read_constant_node(const onnx::NodeProto& n);
  void linear(const onnx::NodeProto& n, const std::string& x, const Tensor& w_out_in, const Tensor* bias,
              const std::string& out, const onnx::NodeProto* last = nullptr);
  void map_gemm(const onnx::NodeProto& n);
  void map_matmul(const onnx::NodeProto& n);
  // pads [b1, b2, …, e1, e2, …] → symmetric padding, or the end-heavy padding of "same".
  struct Padding {
    std::vector<int64_t> pads;
    bool same = false;
  };
  Padding read_pads(const onnx::NodeProto& n, size_t spatial, const std::vector<int64_t>& k,
                    const std::vector<int64_t>& d, const std::vector<int64_t>& stride) const;
  static graph::AttrValue window(const std::vector<int64_t>& v);
  void map_conv(const onnx::NodeProto& n);
  void map_conv_transpose(const onnx::NodeProto& n);
  void map_batch_norm(const onnx::NodeProto& n);
  void map_layer_norm(const onnx::NodeProto& n);
  void map_softmax(const onnx::NodeProto& n);
  void map_clip(const onnx::NodeProto& n);
  void map_pool(const onnx::NodeProto& n);
  void map_global_pool(const onnx::NodeProto& n);
  void map_flatten(const onnx::NodeProto& n);
  void map_reshape(const onnx::NodeProto& n);
  void map_transpose(const onnx::NodeProto& n);
  void map_variadic(const onnx::NodeProto& n, const std::string& type, const AttrMap& attrs);
  void map_binary(const onnx::NodeProto& n, const std::string& op);
  void map_identity(const onnx::NodeProto& n);
  void map_dropout(const onnx::NodeProto& n);
  void map_gather(const onnx::NodeProto& n);
  void map_slice(const onnx::NodeProto& n);
  void map_split(const onnx::NodeProto& n);
  void map_pad(const onnx::NodeProto& n);

  // ---- multi-node patterns (onnx_patterns.cpp, onnx_tagged_layers.cpp) ----
  // The nodes a Netloom export wrote for one LSTM or GRU layer, read back into that layer
  // (Note [Recurrent export] in onnx_export.cpp). Throws NoLayer when they do not fit.
  void map_tagged_recurrent(const std::string& layer, const std::vector<int>& group);
  // The same for GroupNorm (Reshape → InstanceNormalization → Reshape → Mul → Add).
  void map_tagged_group_norm(const std::string& layer, const std::vector<int>& group);
  // The same for MultiheadAttention (encoder = false) and TransformerEncoderLayer.
  void map_tagged_attention(const std::string& layer, const std::vector<int>& group, bool encoder);
  // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) from its first node, Mul(x, x): GELU (tanh).
  bool map_tanh_gelu(const onnx::NodeProto& n);
  void map_sigmoid(const onnx::NodeProto& n);
  void map_div(const onnx::NodeProto& n);
  void map_reduce_mean(const onnx::NodeProto& n);

  // ---- generic ops (onnx_generic_op.cpp) ----
  void map_generic(const onnx::NodeProto& n);
  // The node's ONNX attributes as node attributes (Note [Generic ONNX ops]).
  AttrMap onnx_attributes(const onnx::NodeProto& n) const;
  // An OnnxOp Identity node holding constant `value`, for a graph output that is a constant.
  PortRef materialize_constant(const std::string& value);

  // ---- import-time evaluation (onnx_constant_folding.cpp) ----
  // Computes `n` now when every input is a constant (or a Shape of a value whose size ONNX
  // inferred) and the op is one Netloom runs; its outputs become constants. False otherwise.
  bool fold_constant(const onnx::NodeProto& n);
  // Shape/Gather/Unsqueeze/Concat … over shapes with unknown sizes (Note [Shape folding]).
  bool fold_shape_computation(const onnx::NodeProto& n);
  // The value as a connectable port: a node folded as a shape computation whose result a
  // layer needs as data after all is added now as a generic node.
  bool ensure_value(const std::string& value);
  // Reshape whose target is a folded shape computation: the same node with a constant target
  // (0 where a size is copied from the input), or nothing when that cannot be proved.
  std::optional<onnx::NodeProto> reshape_with_folded_target(const onnx::NodeProto& n);

  const onnx::ModelProto& m_;
  const onnx::GraphProto& g_;
  std::string file_, folder_;
  int64_t opset_ = 0;
  graph::ModelGraph graph_;
  std::map<std::string, Tensor> weights_;
  std::map<std::string, Tensor> constants_;
  std::map<std::string, Tensor> transposed_weights_;  // Transpose(W) outputs, for MatMul → Linear
  std::map<std::string, PortRef> values_;
  std::map<std::string, std::vector<int>> consumers_;
  std::map<std::string, std::string> output_identity_;  // graph output → the value it renames
  std::map<std::string, ValueShape> shapes_;            // from ONNX shape inference
  // Shapes from Netloom's analysis of graph_ where ONNX's inference has none (shape_of).
  mutable std::map<std::string, ValueShape> derived_shapes_;
  mutable graph::GraphAnalysis analysis_;
  mutable NodeId analyzed_below_ = 0;
  std::map<std::string, ShapeValue> shape_values_;  // Note [Shape folding]
  std::map<std::string, int> folded_producer_;          // value → index of the node folded into it
  std::set<int> consumed_;
  std::map<std::string, std::vector<int>> tagged_;  // Netloom layer name → its nodes, in order
  std::set<std::string> used_names_;
  std::map<std::string, Tensor> frozen_;
};

}  // namespace nl::importers::detail
