// Import-time evaluation: nodes whose inputs are all constants run now (through the generic op
// table) and become constants, and shape computations over sizes unknown until run time are
// folded symbolically, so the Shape → Gather → Unsqueeze → Concat → Reshape chains of older
// PyTorch exports become one Reshape layer.
//
// Note [Shape folding]: Shape(x) of a value whose rank ONNX inferred gives one element per
// axis, known or "the size of axis k of x". Gather, Unsqueeze, Squeeze, Concat, Slice, Cast
// and Identity move such elements around without computing on them. A Reshape whose target
// consists of known sizes and of "axis i of a value whose axis i is the same symbolic size as
// axis i of the reshaped input" gets the target with 0 (ONNX's "copy this size") there, so it
// needs no run-time shape; one size that is neither known nor such a copy (N·heads) becomes
// -1. Arithmetic on known sizes folds; on unknown ones it gives an unknown. A value whose
// consumer needs it as data after all is added then as generic nodes (Importer::ensure_value).
#include <algorithm>

#include "engine/graph/onnx_ops/onnx_op.h"
#include "importers/onnx/onnx_importer.h"

namespace nl::importers::detail {

namespace {

Tensor int_tensor(const std::vector<int64_t>& v, bool scalar) {
  return scalar ? tensor(v, Shape{}) : tensor(v, {static_cast<int64_t>(v.size())});
}

}  // namespace

bool Importer::fold_constant(const onnx::NodeProto& n) {
  if (!n.domain().empty() && n.domain() != "ai.onnx") return false;
  const std::string& op = n.op_type();
  if (op == "Shape" && !constant(n.input(0))) return fold_shape_computation(n);
  const graph::onnx_ops::OpImpl* impl = graph::onnx_ops::find(op);
  if (!impl) return false;
  bool any = false;
  std::vector<Tensor> in;
  for (const auto& v : n.input()) {
    if (v.empty()) {
      in.emplace_back();
      continue;
    }
    const Tensor* t = constant(v);
    if (!t) return fold_shape_computation(n);
    in.push_back(*t);
    any = true;
  }
  if (!any) return false;
  try {
    AttrMap a = onnx_attributes(n);
    graph::onnx_ops::RunArgs args(a, op, opset_, std::max(n.output_size(), 1));
    std::vector<Tensor> out = impl->run(args, in);
    for (int p = 0; p < n.output_size() && p < static_cast<int>(out.size()); ++p)
      if (!n.output(p).empty()) constants_[n.output(p)] = out[p].contiguous();
  } catch (const std::exception&) {
    return false;  // the node stays, and says what is wrong when the model runs
  }
  return true;
}

bool Importer::fold_shape_computation(const onnx::NodeProto& n) {
  const std::string& op = n.op_type();
  // An input as a shape value: folded before, or a small integer constant.
  auto value_of = [&](const std::string& v, ShapeValue& out) {
    if (auto it = shape_values_.find(v); it != shape_values_.end()) {
      out = it->second;
      return true;
    }
    const Tensor* t = constant(v);
    if (!t || t->dtype() != DType::Int64 || t->dim() > 1) return false;
    out = {};
    out.scalar = t->dim() == 0;
    for (int64_t x : t->to_vector<int64_t>()) out.elems.push_back({x, {}, 0});
    return true;
  };
  auto any_unknown = [&](const std::vector<std::string>& inputs) {
    for (const auto& v : inputs)
      if (shape_values_.count(v)) return true;
    return false;
  };
  ShapeValue r;
  std::vector<std::string> inputs(n.input().begin(), n.input().end());
  if (op == "Shape") {
    const ValueShape* s = shape_of(n.input(0));
    if (!s) return false;
    auto rank = static_cast<int64_t>(s->dims.size());
    int64_t start = attr_i(n, "start", 0), end = attr_i(n, "end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
    for (int64_t d = start; d < end; ++d)
      r.elems.push_back(s->dims[d] >= 0 ? ShapeElement{s->dims[d], {}, 0} : ShapeElement{0, n.input(0), d});
  } else if (!any_unknown(inputs)) {
    return false;
  } else if (op == "Gather") {
    ShapeValue data;
    const Tensor* idx = constant(n.input(1));
    if (!value_of(n.input(0), data) || data.scalar || !idx || idx->dim() > 1 || attr_i(n, "axis", 0) != 0) return false;
    r.scalar = idx->dim() == 0;
    for (int64_t i : idx->to(DType::Int64).to_vector<int64_t>()) {
      if (i < 0) i += static_cast<int64_t>(data.elems.size());
      if (i < 0 || i >= static_cast<int64_t>(data.elems.size())) return false;
      r.elems.push_back(data.elems[i]);
    }
  } else if (op == "Unsqueeze" || op == "Squeeze") {
    if (!value_of(n.input(0), r)) return false;
    if (op == "Unsqueeze" && !r.scalar) return false;  // only scalar → 1-d
    if (op == "Squeeze" && (r.scalar || r.elems.size() != 1)) return false;
    r.scalar = op == "Squeeze";
  } else if (op == "Concat") {
    if (attr_i(n, "axis", 0) != 0) return false;
    for (const auto& v : inputs) {
      ShapeValue part;
      if (!value_of(v, part) || part.scalar) return false;
      r.elems.insert(r.elems.end(), part.elems.begin(), part.elems.end());
    }
  } else if (op == "Mul" || op == "Add" || op == "Sub" || op == "Div") {
    // Arithmetic on sizes: known when both sides are, else an unknown that copies nothing.
    ShapeValue a, b;
    if (n.input_size() != 2 || !value_of(n.input(0), a) || !value_of(n.input(1), b)) return false;
    size_t count = std::max(a.elems.size(), b.elems.size());
    if ((a.elems.size() != count && a.elems.size() != 1) || (b.elems.size() != count && b.elems.size() != 1)) return false;
    r.scalar = a.scalar && b.scalar;
    for (size_t k = 0; k < count; ++k) {
      const ShapeElement &x = a.elems[a.elems.size() == 1 ? 0 : k], &y = b.elems[b.elems.size() == 1 ? 0 : k];
      if (!x.known() || !y.known() || (op == "Div" && y.value == 0)) {
        r.elems.push_back({0, "?", 0});
        continue;
      }
      int64_t v = op == "Mul" ? x.value * y.value : op == "Add" ? x.value + y.value : op == "Sub" ? x.value - y.value
                                                                                    : x.value / y.value;
      r.elems.push_back({v, {}, 0});
    }
  } else if (op == "Identity" || (op == "Cast" && attr_i(n, "to", 0) == onnx::TensorProto::INT64)) {
    if (!value_of(n.input(0), r)) return false;
  } else if (op == "Slice" && opset_ >= 10) {
    ShapeValue data;
    const Tensor *st = constant(n.input(1)), *en = constant(n.input(2));
    if (!value_of(n.input(0), data) || data.scalar || !st || !en || st->numel() != 1 || en->numel() != 1) return false;
    if (n.input_size() > 4 && !n.input(4).empty()) {
      const Tensor* step = constant(n.input(4));
      if (!step || step->to(DType::Int64).to_vector<int64_t>() != std::vector<int64_t>{1}) return false;
    }
    auto size = static_cast<int64_t>(data.elems.size());
    int64_t b = st->to(DType::Int64).to_vector<int64_t>()[0], e = en->to(DType::Int64).to_vector<int64_t>()[0];
    if (b < 0) b += size;
    if (e < 0) e += size;
    b = std::clamp<int64_t>(b, 0, size);
    e = std::clamp<int64_t>(e, b, size);
    r.elems.assign(data.elems.begin() + b, data.elems.begin() + e);
  } else {
    return false;
  }
  bool all_known = std::all_of(r.elems.begin(), r.elems.end(), [](const ShapeElement& e) { return e.known(); });
  if (all_known) {
    std::vector<int64_t> v;
    for (const auto& e : r.elems) v.push_back(e.value);
    constants_[n.output(0)] = int_tensor(v, r.scalar);
  } else {
    shape_values_[n.output(0)] = r;
  }
  for (int i = 0; i < g_.node_size(); ++i)
    if (&g_.node(i) == &n) folded_producer_[n.output(0)] = i;
  return true;
}

bool Importer::ensure_value(const std::string& value) {
  if (values_.count(value) || constant(value)) return true;
  auto it = folded_producer_.find(value);
  if (it == folded_producer_.end()) return false;
  map_generic(g_.node(it->second));  // connects its own inputs, adding their producers first
  return values_.count(value) > 0;
}

std::optional<onnx::NodeProto> Importer::reshape_with_folded_target(const onnx::NodeProto& n) {
  if (n.input_size() < 2 || constant(n.input(1)) || attr_i(n, "allowzero", 0)) return std::nullopt;
  auto it = shape_values_.find(n.input(1));
  if (it == shape_values_.end() || it->second.scalar) return std::nullopt;
  const ValueShape* x = shape_of(n.input(0));
  std::vector<int64_t> target;
  int inferred = 0;
  for (size_t i = 0; i < it->second.elems.size(); ++i) {
    const ShapeElement& e = it->second.elems[i];
    if (e.known()) {
      target.push_back(e.value);
      continue;
    }
    // "axis i of v" copies axis i of the input when both are the same symbolic size.
    const ValueShape* src = e.of == "?" ? nullptr : shape_of(e.of);
    bool same = e.axis == static_cast<int64_t>(i) && x && src && i < x->dims.size() &&
                (e.of == n.input(0) || (!x->params[i].empty() && x->params[i] == src->params[e.axis]));
    // One size that is neither known nor copied is what the others leave: -1.
    if (!same && ++inferred > 1) return std::nullopt;
    target.push_back(same ? 0 : -1);
  }
  std::string name = n.input(1) + "/folded";
  constants_[name] = tensor(target, {static_cast<int64_t>(target.size())});
  onnx::NodeProto copy = n;
  copy.set_input(1, name);
  return copy;
}

}  // namespace nl::importers::detail
