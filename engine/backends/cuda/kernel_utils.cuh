// Shared pieces of the CUDA kernels (.cu files only): device pointers of tensors, strided
// indexing of up to Shape::kMaxRank dims, launch geometry, and the dtype → C++ type
// dispatch with float accumulation for half types (as PyTorch's acc_type).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_context.h"
#include "engine/core/storage.h"
#include "engine/core/tensor.h"

namespace nl::cuda {

// Element pointer of a device tensor (storage base + offset); Tensor::raw_data is CPU-only.
template <class T = void>
inline T* device_ptr(const Tensor& t) {
  char* base = static_cast<char*>(t.storage()->data());
  return reinterpret_cast<T*>(base + t.offset() * static_cast<int64_t>(t.element_size()));
}

// Maps a linear (row-major) index over `sizes` to an element offset through `strides`.
// Passed to kernels by value (about 136 bytes of kernel parameters).
struct StridedIndexer {
  int dim = 0;
  int64_t sizes[Shape::kMaxRank] = {};
  int64_t strides[Shape::kMaxRank] = {};

  __host__ __device__ int64_t offset(int64_t linear) const {
    int64_t off = 0;
    for (int d = dim - 1; d >= 0; --d) {
      int64_t i = linear % sizes[d];
      linear /= sizes[d];
      off += i * strides[d];
    }
    return off;
  }
};

// Indexer over `t`'s own shape and strides. Size-1 dims are dropped (they add nothing)
// and a contiguous tensor collapses to one dim, so the common case costs one division.
inline StridedIndexer make_indexer(const Tensor& t) {
  StridedIndexer ix;
  if (t.is_contiguous()) {
    ix.dim = 1;
    ix.sizes[0] = t.numel() > 0 ? t.numel() : 1;
    ix.strides[0] = 1;
    return ix;
  }
  for (int d = 0; d < t.dim(); ++d) {
    if (t.size(d) == 1) continue;
    ix.sizes[ix.dim] = t.size(d);
    ix.strides[ix.dim] = t.stride(d);
    ++ix.dim;
  }
  if (ix.dim == 0) {
    ix.dim = 1;
    ix.sizes[0] = 1;
    ix.strides[0] = 0;
  }
  return ix;
}

constexpr int kThreads = 256;

// Blocks for a grid-stride loop over n elements (capped: each thread loops).
inline unsigned grid_for(int64_t n, int threads = kThreads) {
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks < 1) blocks = 1;
  if (blocks > 65535LL * 8) blocks = 65535LL * 8;
  return static_cast<unsigned>(blocks);
}

#define NL_GRID_STRIDE_LOOP(i, n)                                                            \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

// Accumulation type: float for the half types, else the type itself.
template <class T>
struct Acc {
  using type = T;
};
template <>
struct Acc<__half> {
  using type = float;
};
template <>
struct Acc<__nv_bfloat16> {
  using type = float;
};
template <class T>
using acc_t = typename Acc<T>::type;

// Conversions between any two element types on the device (half types through float).
template <class D, class S>
__host__ __device__ inline D convert(S s) {
  if constexpr (std::is_same_v<D, S>) {
    return s;
  } else if constexpr (std::is_same_v<S, __half> || std::is_same_v<S, __nv_bfloat16>) {
    return convert<D>(static_cast<float>(s));
  } else if constexpr (std::is_same_v<D, __half>) {
    return __float2half_rn(static_cast<float>(s));
  } else if constexpr (std::is_same_v<D, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(s));
  } else if constexpr (std::is_same_v<D, bool>) {
    return s != S(0);
  } else {
    return static_cast<D>(s);
  }
}

template <class T>
struct Tag {
  using type = T;
};

// Calls fn(Tag<T>{}) with the device element type of `t`.
template <class F>
decltype(auto) dispatch_all(DType t, F&& fn) {
  switch (t) {
    case DType::Float32: return fn(Tag<float>{});
    case DType::Float64: return fn(Tag<double>{});
    case DType::Float16: return fn(Tag<__half>{});
    case DType::BFloat16: return fn(Tag<__nv_bfloat16>{});
    case DType::Int64: return fn(Tag<int64_t>{});
    case DType::Int32: return fn(Tag<int32_t>{});
    case DType::UInt8: return fn(Tag<uint8_t>{});
    case DType::Bool: return fn(Tag<bool>{});
  }
  fail("cuda: unknown dtype");
}

// Floating types only (Float32, Float64, Float16, BFloat16); `op` names the op in the error.
template <class F>
decltype(auto) dispatch_floating(DType t, const char* op, F&& fn) {
  switch (t) {
    case DType::Float32: return fn(Tag<float>{});
    case DType::Float64: return fn(Tag<double>{});
    case DType::Float16: return fn(Tag<__half>{});
    case DType::BFloat16: return fn(Tag<__nv_bfloat16>{});
    default: break;
  }
  fail(op, ": ", dtype_name(t), " is not supported on CUDA (floating types only)");
}

}  // namespace nl::cuda
