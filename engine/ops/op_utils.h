// Internal helpers shared by op implementations: raw (non-recording) views, broadcasting
// views, type promotion and device checks.
#pragma once
#include <memory>

#include "engine/autograd/node.h"
#include "engine/backends/backend.h"
#include "engine/core/tensor.h"

namespace nl::detail {

// A view of `base` with the given geometry that records no autograd: for ops that hand
// reshaped operands to kernels and record their own node.
inline Tensor raw_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

// `t` viewed with `shape` by NumPy broadcasting (stride 0 on expanded dims); no autograd.
inline Tensor broadcast_view(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  Shape st;
  st.resize(shape.size());
  int lead = shape.size() - t.dim();
  for (int i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      st[i] = 0;
    } else {
      int64_t s = t.shape()[i - lead];
      st[i] = (s == 1 && shape[i] != 1) ? 0 : t.strides()[i - lead];
    }
  }
  return raw_view(t, shape, st, t.offset());
}

// Result dtype of a binary op: floating beats integer beats bool; wider wins within a kind.
inline DType promote(DType a, DType b) {
  if (a == b) return a;
  auto rank = [](DType t) {
    switch (t) {
      case DType::Bool: return 0;
      case DType::UInt8: return 1;
      case DType::Int32: return 2;
      case DType::Int64: return 3;
      case DType::Float16: return 4;
      case DType::BFloat16: return 5;
      case DType::Float32: return 6;
      case DType::Float64: return 7;
    }
    return 0;
  };
  if ((a == DType::Float16 && b == DType::BFloat16) || (b == DType::Float16 && a == DType::BFloat16))
    return DType::Float32;
  return rank(a) >= rank(b) ? a : b;
}

inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  NL_CHECK(a.device() == b.device(), op, ": tensors are on different devices (", a.device().str(), " and ",
           b.device().str(), ")");
}

inline void check_defined(const char* op, const Tensor& t, const char* what) {
  NL_CHECK(t.defined(), op, ": ", what, " is undefined");
}

}  // namespace nl::detail
