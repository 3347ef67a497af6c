// The generic ONNX op table and the helpers its families share (see onnx_op.h).
#include <algorithm>

#include "engine/core/error.h"
#include "engine/graph/onnx_ops/onnx_op.h"

namespace nl::graph::onnx_ops {

namespace {

template <class T>
const T* get(const AttrMap& attrs, const std::string& name, const OpAttrs& a) {
  auto it = attrs.find(name);
  if (it == attrs.end()) return nullptr;
  if (const T* v = std::get_if<T>(&it->second)) return v;
  a.fail("attribute '" + name + "' has the wrong kind (" + attr_value_to_string(it->second) + ")");
}

}  // namespace

void OpAttrs::fail(const std::string& message) const { throw Error(op_ + ": " + message); }

int64_t OpAttrs::i(const std::string& name, int64_t def) const {
  auto it = attrs_.find(name);
  if (it != attrs_.end())
    if (const bool* b = std::get_if<bool>(&it->second)) return *b ? 1 : 0;
  const int64_t* v = get<int64_t>(attrs_, name, *this);
  return v ? *v : def;
}
double OpAttrs::f(const std::string& name, double def) const {
  auto it = attrs_.find(name);
  if (it != attrs_.end())
    if (const int64_t* n = std::get_if<int64_t>(&it->second)) return static_cast<double>(*n);
  const double* v = get<double>(attrs_, name, *this);
  return v ? *v : def;
}
std::string OpAttrs::s(const std::string& name, const std::string& def) const {
  const std::string* v = get<std::string>(attrs_, name, *this);
  return v ? *v : def;
}
std::vector<int64_t> OpAttrs::ints(const std::string& name, const std::vector<int64_t>& def) const {
  auto it = attrs_.find(name);
  if (it != attrs_.end())  // an empty list reads back from a file as either kind
    if (const auto* d = std::get_if<std::vector<double>>(&it->second); d && d->empty()) return {};
  const auto* v = get<std::vector<int64_t>>(attrs_, name, *this);
  return v ? *v : def;
}
std::vector<double> OpAttrs::floats(const std::string& name, const std::vector<double>& def) const {
  auto it = attrs_.find(name);
  if (it != attrs_.end())
    if (const auto* n = std::get_if<std::vector<int64_t>>(&it->second))
      return std::vector<double>(n->begin(), n->end());
  const auto* v = get<std::vector<double>>(attrs_, name, *this);
  return v ? *v : def;
}

const TensorInfo& InferArgs::input(size_t k) const {
  if (!has_input(k)) fail("input " + std::to_string(k) + " is missing");
  return *in_[k].info;
}
const std::vector<int64_t>* InferArgs::value(size_t k) const { return k < in_.size() ? in_[k].value : nullptr; }

SymShape broadcast_shapes(const OpAttrs& a, const SymShape& x, const SymShape& y) {
  size_t n = std::max(x.size(), y.size());
  SymShape out(n);
  for (size_t r = 0; r < n; ++r) {
    Dim dx = r < x.size() ? x[x.size() - 1 - r] : Dim::known(1);
    Dim dy = r < y.size() ? y[y.size() - 1 - r] : Dim::known(1);
    Dim d;
    if (dx.is_known() && dy.is_known()) {
      if (dx.size != dy.size && dx.size != 1 && dy.size != 1)
        a.fail("shapes " + shape_to_string(x) + " and " + shape_to_string(y) + " do not broadcast");
      d = dx.size == 1 ? dy : dx;
    } else if (dx.is_known()) {
      d = dx.size == 1 ? dy : dx;  // a symbolic size meeting a known one must be it (or 1)
    } else if (dy.is_known()) {
      d = dy.size == 1 ? dx : dy;
    } else {
      d = dx == dy ? dx : Dim::symbolic();
    }
    out[n - 1 - r] = d;
  }
  return out;
}

int64_t normalize_axis(const OpAttrs& a, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= std::max<int64_t>(rank, 1))
    a.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

DType dtype_from_onnx(const OpAttrs& a, int64_t t) {
  switch (t) {
    case 1: return DType::Float32;
    case 6:  // INT32: Netloom computes integers in int64
    case 7: return DType::Int64;
    case 9: return DType::Bool;
    case 2: return DType::UInt8;
    case 10: return DType::Float16;
    case 16: return DType::BFloat16;
    case 11: return DType::Float32;  // DOUBLE: narrowed, as double tensors are when read
    default:
      a.fail("element type " + std::to_string(t) +
             " is not supported (float32, float64, float16, bfloat16, int32, int64, uint8, bool)");
  }
}

Tensor wrap_integer(const Tensor& x, DType to) {
  if (to == DType::Int64) return x.to(DType::Int64);
  std::vector<int64_t> v = int_values(x);
  Tensor out = Tensor::empty(x.shape(), to);
  switch (to) {
    case DType::UInt8: {
      auto* p = static_cast<uint8_t*>(out.raw_data());
      for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<uint8_t>(v[i]);
      break;
    }
    case DType::Int32: {
      auto* p = static_cast<int32_t*>(out.raw_data());
      for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<int32_t>(v[i]);
      break;
    }
    default: throw Error(std::string("wrap_integer: ") + dtype_name(to) + " is not an integer type");
  }
  return on_device(out, x.device());
}

Tensor on_device(const Tensor& t, Device device) {
  return !t.defined() || t.device() == device ? t : t.to(device);
}

Device data_device(const std::vector<Tensor>& inputs) {
  for (const Tensor& t : inputs)
    if (t.defined() && !t.device().is_cpu()) return t.device();
  return Device::cpu();
}

std::vector<Tensor> same_device(const std::vector<Tensor>& inputs) {
  const Device d = data_device(inputs);
  std::vector<Tensor> out;
  out.reserve(inputs.size());
  for (const Tensor& t : inputs) out.push_back(on_device(t, d));
  return out;
}

std::vector<int64_t> int_values(const Tensor& t) { return t.to(DType::Int64).contiguous().to_vector<int64_t>(); }

Dim dim_of(int64_t size) { return size >= 0 ? Dim::known(size) : Dim::symbolic(); }

namespace {
const OpTable& table() {
  static const OpTable t = [] {
    OpTable t;
    register_elementwise_ops(t);
    register_shape_ops(t);
    register_reduce_ops(t);
    register_nn_ops(t);
    register_rnn_ops(t);
    register_slice_pad_ops(t);
    return t;
  }();
  return t;
}
}  // namespace

const OpImpl* find(const std::string& op_type) {
  auto it = table().find(op_type);
  return it == table().end() ? nullptr : &it->second;
}

std::vector<std::string> supported_ops() {
  std::vector<std::string> out;
  for (const auto& [name, impl] : table()) out.push_back(name);
  return out;
}

}  // namespace nl::graph::onnx_ops
