// Any ONNX node without a layer form becomes a generic OnnxOp node that keeps the op type,
// domain, opset, attributes and constant inputs (Note [Generic ONNX ops] in
// engine/graph/onnx_ops/onnx_op.h), so the imported graph is whole and editable, runs where
// the op table has the op, and exports back as the same op.
#include "engine/run/graph_executor.h"
#include "importers/onnx/onnx_importer.h"

namespace nl::importers::detail {

namespace {

// Attributes the OnnxOp layer declares itself; an ONNX attribute may not take these names.
bool reserved(const std::string& name) {
  return name == "op_type" || name == "domain" || name == "opset" || name == "num_outputs" || name == "inputs" ||
         name.find('.') != std::string::npos;
}

// Integer constants up to this many values are node attributes (shape inference reads them);
// larger ones are weights like float constants.
constexpr int64_t kMaxIntAttribute = 4096;

std::vector<int64_t> dims_of(const Tensor& t) { return std::vector<int64_t>(t.shape().begin(), t.shape().end()); }

}  // namespace

AttrMap Importer::onnx_attributes(const onnx::NodeProto& n) const {
  AttrMap a;
  for (const auto& at : n.attribute()) {
    const std::string& name = at.name();
    if (reserved(name)) error(n, "attribute '" + name + "' clashes with a name Netloom uses for generic ops");
    switch (at.type()) {
      case onnx::AttributeProto::INT: a[name] = int64_t{at.i()}; break;
      case onnx::AttributeProto::FLOAT: a[name] = clean(at.f()); break;
      case onnx::AttributeProto::STRING: a[name] = at.s(); break;
      case onnx::AttributeProto::INTS: a[name] = std::vector<int64_t>(at.ints().begin(), at.ints().end()); break;
      case onnx::AttributeProto::FLOATS: {
        std::vector<double> v;
        for (float f : at.floats()) v.push_back(clean(f));
        a[name] = v;
        break;
      }
      case onnx::AttributeProto::TENSOR: {
        // A one-value tensor (ConstantOfShape's value): the value, and its element type.
        Tensor t = tensor_from_proto(at.t(), file_ + ": node '" + n.name() + "' attribute '" + name + "'",
                                     [&](size_t bytes, const std::string& what) { return read_external(at.t(), bytes, what); });
        if (t.numel() != 1) error(n, "tensor attribute '" + name + "' holds " + std::to_string(t.numel()) + " values; only one-value tensors are supported");
        a[name] = std::vector<double>{t.to(DType::Float32).item()};
        a[name + ".dtype"] = int64_t{at.t().data_type() == onnx::TensorProto::INT32 ? onnx::TensorProto::INT64
                                                                                    : at.t().data_type()};
        break;
      }
      default:
        error(n, "attribute '" + name + "' is of a kind Netloom cannot hold (type " + std::to_string(at.type()) +
                     ": graphs, sparse tensors or string lists)");
    }
  }
  return a;
}

void Importer::map_generic(const onnx::NodeProto& n) {
  AttrMap a = onnx_attributes(n);
  a["op_type"] = n.op_type();
  if (!n.domain().empty()) a["domain"] = n.domain();
  a["opset"] = opset_;
  a["num_outputs"] = int64_t{std::max(n.output_size(), 1)};
  std::string layout;
  bool all_ports = true;
  std::vector<std::string> ports;
  std::map<std::string, Tensor> weights;
  for (int j = 0; j < n.input_size(); ++j) {
    const std::string& v = n.input(j);
    std::string token;
    std::string key = "in" + std::to_string(j);
    if (v.empty()) {
      all_ports = false;
    } else if (const Tensor* t = constant(v)) {
      all_ports = false;
      token = "const";
      a[key + ".shape"] = dims_of(*t);
      bool is_int = t->dtype() == DType::Int64 || t->dtype() == DType::Bool;
      if (is_int && t->numel() <= kMaxIntAttribute) {
        a[key + ".value"] = t->to(DType::Int64).contiguous().to_vector<int64_t>();
        if (t->dtype() == DType::Bool) a[key + ".dtype"] = int64_t{onnx::TensorProto::BOOL};
      } else {
        if (t->dtype() != DType::Float32) a[key + ".dtype"] = int64_t{onnx_elem_type(t->dtype())};
        weights[key] = *t;
      }
    } else {
      token = "port";
      ports.push_back(v);
    }
    layout += (j ? "," : "") + token;
  }
  if (!all_ports) a["inputs"] = layout;
  auto r = graph_.add_node("OnnxOp", layer_name(n), a);
  if (!r) error(n, "cannot become a generic OnnxOp node: " + r.error);
  NodeId id = r.value;
  try {
    for (size_t s = 0; s < ports.size(); ++s) connect(n, ports[s], id, static_cast<int>(s));
  } catch (const NoLayer& e) {
    error(n, e.why);
  }
  for (const auto& [key, t] : weights) set_weight(id, key, t);
  for (int p = 0; p < n.output_size(); ++p)
    if (!n.output(p).empty()) values_[n.output(p)] = {id, p};
}

// A constant a graph output (or a layer that takes only data) needs as a value: an OnnxOp
// Identity holding it.
PortRef Importer::materialize_constant(const std::string& value) {
  const Tensor& t = constants_.at(value);
  AttrMap a = {{"op_type", std::string("Identity")}, {"opset", opset_}, {"inputs", std::string("const")}};
  a["in0.shape"] = dims_of(t);
  bool is_int = t.dtype() == DType::Int64 || t.dtype() == DType::Bool;
  if (is_int && t.numel() <= kMaxIntAttribute) {
    a["in0.value"] = t.to(DType::Int64).contiguous().to_vector<int64_t>();
    if (t.dtype() == DType::Bool) a["in0.dtype"] = int64_t{onnx::TensorProto::BOOL};
  } else if (t.dtype() != DType::Float32) {
    a["in0.dtype"] = int64_t{onnx_elem_type(t.dtype())};
  }
  auto r = graph_.add_node("OnnxOp", free_name(value), a);
  NL_CHECK(r, file_, ": constant '", value, "': ", r.error);
  if (!a.count("in0.value")) set_weight(r.value, "in0", t);
  values_[value] = {r.value, 0};
  return {r.value, 0};
}

}  // namespace nl::importers::detail
