// One ONNX op → one Netloom layer (or a short chain of them): Gemm/MatMul → Linear, Conv,
// BatchNormalization, pools, shape ops. A form a layer cannot express throws NoLayer before
// anything is added (Note [Layers first]).
#include <algorithm>
#include <limits>

#include "engine/ops/elementwise.h"
#include "importers/onnx/onnx_importer.h"

namespace nl::importers::detail {

void Importer::read_constant_node(const onnx::NodeProto& n) {
  const auto* a = find_attr(n, "value");
  if (a && a->has_t()) {
    constants_[n.output(0)] = read_tensor(a->t());
  } else if (const auto* f = find_attr(n, "value_float")) {
    constants_[n.output(0)] = tensor(std::vector<float>{f->f()}, Shape{});
  } else if (const auto* fs = find_attr(n, "value_floats")) {
    constants_[n.output(0)] =
        tensor(std::vector<float>(fs->floats().begin(), fs->floats().end()), {static_cast<int64_t>(fs->floats_size())});
  } else if (const auto* i = find_attr(n, "value_int")) {
    constants_[n.output(0)] = tensor(std::vector<int64_t>{i->i()}, Shape{});
  } else if (const auto* is = find_attr(n, "value_ints")) {
    constants_[n.output(0)] =
        tensor(std::vector<int64_t>(is->ints().begin(), is->ints().end()), {static_cast<int64_t>(is->ints_size())});
  } else {
    error(n, "only Constant nodes with a tensor, float(s) or int(s) value are supported");
  }
}

// x·W + b as a Linear layer; `w_out_in` is W in PyTorch's out×in layout.
void Importer::linear(const onnx::NodeProto& n, const std::string& x, const Tensor& w_out_in, const Tensor* bias,
            const std::string& out, const onnx::NodeProto* last) {
  NodeId id = add_layer(last ? *last : n, "Linear", {{"out_features", w_out_in.size(0)}, {"bias", bias != nullptr}});
  connect(n, x, id, 0);
  set_weight(id, "weight", w_out_in);
  if (bias) set_weight(id, "bias", bias->reshape({w_out_in.size(0)}));
  values_[out] = {id, 0};
}

void Importer::map_gemm(const onnx::NodeProto& n) {
  if (attr_i(n, "transA", 0)) no_layer("only Gemm with transA = 0 maps to Linear");
  const Tensor& b = require_constant(n, 1, "weight B");
  if (b.dim() != 2) error(n, "weight B must be 2-d");
  Tensor w = attr_i(n, "transB", 0) ? b : b.t().contiguous();
  const Tensor* c = n.input_size() > 2 && !n.input(2).empty() ? &require_constant(n, 2, "bias C") : nullptr;
  if (c && c->numel() != w.size(0) && c->numel() != 1) no_layer("only a bias C with one value per output maps to Linear");
  // alpha and beta scale the constants, so the layer holds the weights it applies.
  double alpha = find_attr(n, "alpha") ? find_attr(n, "alpha")->f() : 1.0;
  double beta = find_attr(n, "beta") ? find_attr(n, "beta")->f() : 1.0;
  if (alpha != 1.0) w = mul(w, alpha);
  Tensor bias;
  if (c) {
    bias = c->numel() == 1 ? mul(ones({w.size(0)}), c->to(DType::Float32).item()) : c->reshape({w.size(0)});
    if (beta != 1.0) bias = mul(bias, beta);
  }
  linear(n, n.input(0), w, c ? &bias : nullptr, n.output(0));
}

void Importer::map_matmul(const onnx::NodeProto& n) {
  // B constant (or a Transpose of one, as Netloom writes it): a Linear layer.
  Tensor w;
  if (const Tensor* b = constant(n.input(1)); b && b->dim() == 2) w = b->t().contiguous();
  if (auto it = transposed_weights_.find(n.input(1)); it != transposed_weights_.end()) w = it->second;
  if (!w.defined()) {
    NodeId id = add_layer(n, "MatMul", {});
    connect(n, n.input(0), id, 0);
    connect(n, n.input(1), id, 1);
    values_[n.output(0)] = {id, 0};
    return;
  }
  int add_index = -1;
  const onnx::NodeProto* add = only_consumer(n.output(0), "Add", &add_index);
  const Tensor* bias = add ? constant(other_input(*add, n.output(0))) : nullptr;
  if (bias && bias->numel() == w.size(0) && bias->dim() == 1 && same_layer(n, *add)) {
    consumed_.insert(add_index);
    linear(n, n.input(0), w, bias, add->output(0), add);
  } else {
    linear(n, n.input(0), w, nullptr, n.output(0));
  }
}

Importer::Padding Importer::read_pads(const onnx::NodeProto& n, size_t spatial, const std::vector<int64_t>& k,
                  const std::vector<int64_t>& d, const std::vector<int64_t>& stride) const {
  std::string auto_pad = attr_s(n, "auto_pad", "NOTSET");
  bool unit_stride = std::all_of(stride.begin(), stride.end(), [](int64_t s) { return s == 1; });
  if (auto_pad == "VALID") return {std::vector<int64_t>(spatial, 0), false};
  if (auto_pad == "SAME_UPPER" && unit_stride) return {std::vector<int64_t>(spatial, 0), true};
  if (auto_pad != "NOTSET") no_layer("auto_pad " + auto_pad + " has no layer form");
  std::vector<int64_t> pads = attr_ints(n, "pads", std::vector<int64_t>(2 * spatial, 0));
  if (pads.size() != 2 * spatial) error(n, "pads must hold 2 values per spatial dimension");
  bool symmetric = true, same = unit_stride;
  for (size_t j = 0; j < spatial; ++j) {
    symmetric &= pads[j] == pads[j + spatial];
    int64_t total = d.empty() ? k[j] - 1 : d[j] * (k[j] - 1);
    same &= pads[j] == total / 2 && pads[j + spatial] == total - total / 2;
  }
  if (symmetric) return {std::vector<int64_t>(pads.begin(), pads.begin() + spatial), false};
  if (same) return {std::vector<int64_t>(spatial, 0), true};
  no_layer("asymmetric padding has no layer form");
}

// Conv1d takes integers, the 2-d layers pairs.
graph::AttrValue Importer::window(const std::vector<int64_t>& v) {
  if (v.size() == 1) return v[0];
  return v;
}

void Importer::map_conv(const onnx::NodeProto& n) {
  const Tensor& w = require_constant(n, 1, "weight W");
  if (w.dim() != 3 && w.dim() != 4) no_layer("only 1-d and 2-d convolutions map to a layer (Conv1d, Conv2d)");
  size_t spatial = w.dim() - 2;
  std::vector<int64_t> k(w.shape().begin() + 2, w.shape().end());
  std::vector<int64_t> stride = attr_ints(n, "strides", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> dil = attr_ints(n, "dilations", std::vector<int64_t>(spatial, 1));
  Padding p = read_pads(n, spatial, k, dil, stride);
  bool bias = n.input_size() > 2 && !n.input(2).empty();
  AttrMap a = {{"out_channels", w.size(0)}, {"kernel_size", window(k)},         {"stride", window(stride)},
               {"dilation", window(dil)},   {"groups", attr_i(n, "group", 1)}, {"bias", bias},
               {"padding_type", std::string(p.same ? "same" : "explicit")}};
  if (!p.same) a["padding"] = window(p.pads);  // "same" ignores it: left at its default
  NodeId id = unary(n, spatial == 1 ? "Conv1d" : "Conv2d", a);
  set_weight(id, "weight", w);
  if (bias) set_weight(id, "bias", require_constant(n, 2, "bias B"));
}

void Importer::map_conv_transpose(const onnx::NodeProto& n) {
  const Tensor& w = require_constant(n, 1, "weight W");
  if (w.dim() != 4) no_layer("only 2-d transposed convolutions map to a layer (ConvTranspose2d)");
  if (find_attr(n, "output_shape")) no_layer("ConvTranspose with output_shape has no layer form");
  std::vector<int64_t> k = {w.size(2), w.size(3)};
  std::vector<int64_t> stride = attr_ints(n, "strides", {1, 1}), dil = attr_ints(n, "dilations", {1, 1});
  std::vector<int64_t> pads = attr_ints(n, "pads", {0, 0, 0, 0});
  if (attr_s(n, "auto_pad", "NOTSET") != "NOTSET" || pads.size() != 4 || pads[0] != pads[2] || pads[1] != pads[3])
    no_layer("only explicit symmetric padding of ConvTranspose has a layer form");
  int64_t group = attr_i(n, "group", 1);
  bool bias = n.input_size() > 2 && !n.input(2).empty();
  NodeId id = unary(n, "ConvTranspose2d",
                    {{"out_channels", w.size(1) * group},
                     {"kernel_size", k},
                     {"stride", stride},
                     {"padding", std::vector<int64_t>{pads[0], pads[1]}},
                     {"dilation", dil},
                     {"output_padding", attr_ints(n, "output_padding", {0, 0})},
                     {"groups", group},
                     {"bias", bias}});
  set_weight(id, "weight", w);
  if (bias) set_weight(id, "bias", require_constant(n, 2, "bias B"));
}

void Importer::map_batch_norm(const onnx::NodeProto& n) {
  if (attr_i(n, "training_mode", 0)) no_layer("training_mode = 1 has no layer form");
  int64_t rank = rank_of(n, n.input(0));
  if (rank < 2 || rank > 4) no_layer("BatchNorm layers take rank 2-4 inputs, got rank " + std::to_string(rank));
  NodeId id = unary(n, rank == 4 ? "BatchNorm2d" : "BatchNorm1d",
                    {{"eps", attr_f(n, "epsilon", 1e-5)}, {"momentum", clean(1.0 - attr_f(n, "momentum", 0.9))}});
  set_weight(id, "weight", require_constant(n, 1, "scale"));
  set_weight(id, "bias", require_constant(n, 2, "bias B"));
  set_weight(id, "running_mean", require_constant(n, 3, "mean"));
  set_weight(id, "running_var", require_constant(n, 4, "var"));
  set_weight(id, "num_batches_tracked", zeros({}, {.dtype = DType::Int64}));
}

void Importer::map_layer_norm(const onnx::NodeProto& n) {
  int64_t axis = attr_i(n, "axis", -1);
  int64_t dims = axis < 0 ? -axis : rank_of(n, n.input(0)) - axis;
  const Tensor& scale = require_constant(n, 1, "scale");
  NodeId id = unary(n, "LayerNorm", {{"normalized_dims", dims}, {"eps", attr_f(n, "epsilon", 1e-5)}});
  set_weight(id, "weight", scale);
  set_weight(id, "bias", n.input_size() > 2 && !n.input(2).empty() ? require_constant(n, 2, "bias B")
                                                                    : zeros(scale.shape()));
}

void Importer::map_softmax(const onnx::NodeProto& n) {
  int64_t axis = attr_i(n, "axis", opset_ >= 13 ? -1 : 1);
  // Before opset 13 Softmax flattened the axes from `axis` on; it equals a per-axis
  // softmax only over the last axis.
  if (opset_ < 13 && axis != -1 && axis != rank_of(n, n.input(0)) - 1)
    no_layer("opset " + std::to_string(opset_) + " Softmax over axis " + std::to_string(axis) +
             " (not the last) has no layer form");
  unary(n, "Softmax", {{"dim", axis}});
}

void Importer::map_clip(const onnx::NodeProto& n) {
  std::optional<double> lo, hi;
  if (opset_ < 11) {
    lo = attr_f(n, "min", -std::numeric_limits<float>::max());
    hi = attr_f(n, "max", std::numeric_limits<float>::max());
  } else {
    if (n.input_size() > 1 && !n.input(1).empty()) lo = const_scalar(n.input(1));
    if (n.input_size() > 2 && !n.input(2).empty()) hi = const_scalar(n.input(2));
  }
  if (near(lo, 0) && near(hi, 6)) return (void)unary(n, "ReLU6");
  if (near(lo, 0) && (!hi || *hi >= std::numeric_limits<float>::max())) return (void)unary(n, "ReLU");
  no_layer("only Clip(0, 6) (ReLU6) and Clip(0) (ReLU) have a layer form");
}

void Importer::map_pool(const onnx::NodeProto& n) {
  bool is_max = n.op_type() == "MaxPool";
  if (n.output_size() > 1 && !n.output(1).empty()) no_layer("the Indices output has no layer form");
  // The pooling layers run on float32; other element types (uint8 images) stay generic.
  if (const ValueShape* s = shape_of(n.input(0)); s && s->elem_type && s->elem_type != onnx::TensorProto::FLOAT)
    no_layer("only float32 pooling maps to a layer");
  std::vector<int64_t> k = attr_ints(n, "kernel_shape", {});
  if (k.size() != 2) no_layer("only 2-d pooling maps to a layer (MaxPool2d, AvgPool2d)");
  std::vector<int64_t> stride = attr_ints(n, "strides", {1, 1}), dil = attr_ints(n, "dilations", {1, 1});
  Padding p = read_pads(n, 2, k, dil, stride);
  if (p.same) no_layer("\"same\" padding of a pooling layer has no layer form");
  for (size_t j = 0; j < 2; ++j)  // the pooling layers take at most half the window (as PyTorch)
    if (2 * p.pads[j] > k[j]) no_layer("padding larger than half the window has no layer form");
  AttrMap a = {{"kernel_size", k},
               {"stride", stride},
               {"padding", p.pads},
               {"ceil_mode", attr_i(n, "ceil_mode", 0) != 0}};
  if (is_max)
    a["dilation"] = dil;
  else
    a["count_include_pad"] = attr_i(n, "count_include_pad", 0) != 0;
  unary(n, is_max ? "MaxPool2d" : "AvgPool2d", a);
}

// GlobalAveragePool read only by Flatten(axis 1) is GlobalAvgPool2d (N×C).
void Importer::map_global_pool(const onnx::NodeProto& n) {
  if (rank_of(n, n.input(0)) != 4) no_layer("only 2-d global pooling (N×C×H×W) maps to a layer");
  int flat_index = -1;
  const onnx::NodeProto* flat = only_consumer(n.output(0), "Flatten", &flat_index);
  if (flat && attr_i(*flat, "axis", 1) == 1 && same_layer(n, *flat)) {
    consumed_.insert(flat_index);
    unary(n, "GlobalAvgPool2d", {}, flat->output(0), flat);
    return;
  }
  unary(n, "AdaptiveAvgPool2d", {{"output_size", std::vector<int64_t>{1, 1}}});
}

void Importer::map_flatten(const onnx::NodeProto& n) {
  int64_t axis = attr_i(n, "axis", 1);
  if (axis == 1) return (void)unary(n, "Flatten", {{"start_dim", int64_t{1}}, {"end_dim", int64_t{-1}}});
  if (axis == 0) return (void)unary(n, "Reshape", {{"shape", std::vector<int64_t>{1, -1}}});
  int64_t rank = rank_of(n, n.input(0));
  if (axis < 0) axis += rank;
  if (axis == 1) return (void)unary(n, "Flatten", {{"start_dim", int64_t{1}}, {"end_dim", int64_t{-1}}});
  if (axis <= 0 || axis >= rank) no_layer("Flatten with axis " + std::to_string(axis) + " has no layer form");
  // Two merges: the trailing axes into one, then the leading ones.
  NodeId tail = unary(n, "Flatten", {{"start_dim", axis}, {"end_dim", int64_t{-1}}}, n.output(0) + "/tail");
  NodeId head = add_layer(n, "Flatten", {{"start_dim", int64_t{0}}, {"end_dim", axis - 1}});
  auto r = graph_.connect({{tail, 0}, {head, 0}});
  if (!r) error(n, r.error);
  values_[n.output(0)] = {head, 0};
}

void Importer::map_variadic(const onnx::NodeProto& n, const std::string& type, const AttrMap& attrs) {
  NodeId id = add_layer(n, type, attrs);
  for (int s = 0; s < n.input_size(); ++s) connect(n, n.input(s), id, s);
  values_[n.output(0)] = {id, 0};
}

void Importer::map_binary(const onnx::NodeProto& n, const std::string& op) {
  if (op == "Mul" && map_tanh_gelu(n)) return;
  if (constant(n.input(0)) || constant(n.input(1)))
    no_layer(op + " with a constant operand has no layer form");
  map_variadic(n, op, {});
}

void Importer::map_identity(const onnx::NodeProto& n) {
  // An Identity that only renames a value into a graph output is how Output nodes export.
  if (is_graph_output(n.output(0)) && n.name() == n.output(0) && !consumers_.count(n.output(0))) {
    output_identity_[n.output(0)] = n.input(0);
    return;
  }
  if (const Tensor* t = constant(n.input(0))) {
    constants_[n.output(0)] = *t;
    return;
  }
  unary(n, "Identity");
}

void Importer::map_dropout(const onnx::NodeProto& n) {
  if (n.input_size() > 2 && !n.input(2).empty()) {  // training_mode: random masks, not a layer at inference
    const Tensor* mode = constant(n.input(2));
    if (!mode || mode->to(DType::Int64).to_vector<int64_t>() != std::vector<int64_t>{0})
      no_layer("Dropout with training_mode is random");
  }
  if (n.output_size() > 1 && !n.output(1).empty() && (consumers_.count(n.output(1)) || is_graph_output(n.output(1))))
    no_layer("the mask output has no layer form");
  double p = opset_ >= 12 ? (n.input_size() > 1 && !n.input(1).empty() ? const_scalar(n.input(1)).value_or(0.5)
                                                                       : 0.5)
                          : attr_f(n, "ratio", 0.5);
  unary(n, "Dropout", {{"p", clean(p)}});
}

void Importer::map_gather(const onnx::NodeProto& n) {
  const Tensor* table = constant(n.input(0));
  if (!table || table->dim() != 2 || attr_i(n, "axis", 0) != 0)
    no_layer("only Gather of rows of a 2-d initializer (an embedding table) has a layer form");
  NodeId id = add_layer(n, "Embedding", {{"num_embeddings", table->size(0)}, {"embedding_dim", table->size(1)}});
  connect(n, n.input(1), id, 0);
  set_weight(id, "weight", *table);
  values_[n.output(0)] = {id, 0};
}

void Importer::map_slice(const onnx::NodeProto& n) {
  std::vector<int64_t> starts, ends, axes, steps;
  if (opset_ < 10) {
    starts = attr_ints(n, "starts", {});
    ends = attr_ints(n, "ends", {});
    axes = attr_ints(n, "axes", {});
  } else {
    starts = const_ints(n, 1, "starts");
    ends = const_ints(n, 2, "ends");
    if (n.input_size() > 3 && !n.input(3).empty()) axes = const_ints(n, 3, "axes");
    if (n.input_size() > 4 && !n.input(4).empty()) steps = const_ints(n, 4, "steps");
  }
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (starts.size() != ends.size() || axes.size() != starts.size() || steps.size() != starts.size())
    error(n, "starts, ends, axes and steps differ in length");
  for (int64_t step : steps)
    if (step < 1) no_layer("only positive steps have a layer form");
  // One Slice layer per axis, chained.
  std::string value = n.input(0);
  for (size_t k = 0; k < starts.size(); ++k) {
    NodeId id = add_layer(n, "Slice", {{"dim", axes[k]}, {"start", starts[k]}, {"end", ends[k]}, {"step", steps[k]}});
    connect(n, value, id, 0);
    value = k + 1 == starts.size() ? n.output(0) : n.output(0) + "/axis" + std::to_string(k);
    values_[value] = {id, 0};
  }
}

void Importer::map_split(const onnx::NodeProto& n) {
  std::vector<int64_t> sizes;
  if (opset_ >= 13 && n.input_size() > 1 && !n.input(1).empty())
    sizes = const_ints(n, 1, "split");
  else if (opset_ < 13)
    sizes = attr_ints(n, "split", {});
  AttrMap a = {{"dim", attr_i(n, "axis", 0)}, {"num_outputs", int64_t{n.output_size()}}};
  // Equal sizes are what an empty list means, and keep a round trip's attributes as drawn;
  // not zero sizes (an empty input split into empty parts), which equal parts cannot give.
  bool equal = std::all_of(sizes.begin(), sizes.end(), [&](int64_t v) { return v == sizes.front(); }) &&
               !sizes.empty() && sizes.front() > 0;
  if (!sizes.empty() && !equal) a["sizes"] = sizes;
  NodeId id = add_layer(n, "Split", a);
  connect(n, n.input(0), id, 0);
  for (int p = 0; p < n.output_size(); ++p) values_[n.output(p)] = {id, p};
}

void Importer::map_reshape(const onnx::NodeProto& n) {
  if (attr_i(n, "allowzero", 0)) no_layer("Reshape with allowzero = 1 has no layer");
  unary(n, "Reshape", {{"shape", const_ints(n, 1, "shape")}});
}

void Importer::map_transpose(const onnx::NodeProto& n) {
  std::vector<int64_t> perm = attr_ints(n, "perm", {});
  if (const Tensor* w = constant(n.input(0)); w && w->dim() == 2 && (perm.empty() || perm == std::vector<int64_t>{1, 0})) {
    transposed_weights_[n.output(0)] = *w;  // a transposed weight, folded (MatMul → Linear)
    constants_[n.output(0)] = w->t().contiguous();
    return;
  }
  if (perm.empty())  // reverses the axes
    for (int64_t d = rank_of(n, n.input(0)) - 1; d >= 0; --d) perm.push_back(d);
  unary(n, "Permute", {{"dims", perm}});
}

// A Pad that adds nothing (PyTorch writes one before AveragePool at opset 11) is the value it
// reads; any other pad is a generic node.
void Importer::map_pad(const onnx::NodeProto& n) {
  std::vector<int64_t> pads = opset_ < 11 ? attr_ints(n, "pads", {}) : const_ints(n, 1, "pads");
  if (attr_s(n, "mode", "constant") != "constant" || std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p != 0; }))
    no_layer("Pad has no layer form");
  if (!ensure_value(n.input(0)) || !values_.count(n.input(0))) no_layer("Pad of a constant");
  values_[n.output(0)] = values_.at(n.input(0));
}

}  // namespace nl::importers::detail
