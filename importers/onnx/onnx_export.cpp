// ONNX export: walks the model graph in topological order and emits one ONNX node (or a
// short decomposition) per layer; see onnx_export.h and Note [ONNX names].
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include <cmath>

#include "engine/io/file_bytes.h"
#include "engine/run/graph_executor.h"
#include "importers/onnx/onnx_exporter.h"

namespace nl::importers {

namespace detail {

int32_t onnx_elem_type(DType t) {
  switch (t) {
    case DType::Float32: return onnx::TensorProto::FLOAT;
    case DType::Int64: return onnx::TensorProto::INT64;
    case DType::Bool: return onnx::TensorProto::BOOL;
    case DType::UInt8: return onnx::TensorProto::UINT8;
    case DType::Float16: return onnx::TensorProto::FLOAT16;
    case DType::BFloat16: return onnx::TensorProto::BFLOAT16;
    case DType::Float64: return onnx::TensorProto::DOUBLE;
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

onnx::ModelProto Exporter::run() {
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

std::set<NodeId> Exporter::needed_nodes() const {
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

void Exporter::check_analysis() const {
  for (const auto& m : analysis_.messages)
    if (m.severity == graph::Severity::Error) {
      const Node* n = g_.find(m.node);
      fail("ONNX export: the graph has errors; ", n ? "node '" + n->name + "' (" + n->type + "): " : "", m.text);
    }
}

void Exporter::emit(const Node& n) {
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

void Exporter::emit_linear(const Node& n, const AttrMap& a) {
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

void Exporter::emit_conv(const Node& n, const AttrMap& a, size_t spatial) {
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

void Exporter::emit_batch_norm(const Node& n, const AttrMap& a) {
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

void Exporter::emit_adaptive_pool(const Node& n, const AttrMap& a) {
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

void Exporter::emit_flatten(const Node& n, const AttrMap& a) {
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

void Exporter::emit_split(const Node& n, const AttrMap& a) {
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

}  // namespace detail

using detail::Exporter;
using graph::ModelGraph;


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
