// CUDA embedding lookup, gather along a dim, and their scatter-add gradients
// (embedding_backward, scatter_add), for float32 (the CPU's dtype) and float64.
//
// Indices are range-checked like the CPU's check_indices, with the same message naming the
// first bad value and its position. A kernel cannot throw, so each kernel skips an index
// that is out of range (it never becomes an address) and records its position in a device
// flag; the host reads the flag back after queuing the kernel (one stream synchronisation)
// and throws. See index_check.cuh. The scatters accumulate with atomicAdd, so repeated
// indices add up in an unspecified order (sums equal the CPU's to float rounding).
#include <cuda_runtime.h>

#include <algorithm>

#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/index_check.cuh"
#include "engine/backends/cuda/kernel_utils.cuh"

namespace nl::cuda {
namespace {

constexpr int kRowThreads = 256;  // 8 warps, one table row each

unsigned blocks_for(int64_t work_items, int64_t per_block) {
  const int64_t b = (work_items + per_block - 1) / per_block;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, 65535LL * 8));
}

// One warp per looked-up row: lanes copy adjacent columns (coalesced on both sides).
template <class T>
__global__ void embedding_kernel(const T* __restrict__ w, const int64_t* __restrict__ idx, T* __restrict__ out,
                                 int64_t n, int64_t rows, int64_t width, unsigned long long* bad) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = blockDim.x >> 5;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * warps + (threadIdx.x >> 5); i < n;
       i += static_cast<int64_t>(gridDim.x) * warps) {
    const int64_t r = idx[i];
    if (r < 0 || r >= rows) {
      // Reported later when checks are deferred: a zero row meanwhile, not stale memory.
      if (lane == 0) note_bad_index(bad, i);
      for (int64_t c = lane; c < width; c += 32) out[i * width + c] = T(0);
      continue;
    }
    const T* src = w + r * width;
    T* dst = out + i * width;
    for (int64_t c = lane; c < width; c += 32) dst[c] = src[c];
  }
}

template <class T>
__global__ void embedding_backward_kernel(const T* __restrict__ g, const int64_t* __restrict__ idx,
                                          T* __restrict__ gw, int64_t n, int64_t rows, int64_t width,
                                          unsigned long long* bad) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = blockDim.x >> 5;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * warps + (threadIdx.x >> 5); i < n;
       i += static_cast<int64_t>(gridDim.x) * warps) {
    const int64_t r = idx[i];
    if (r < 0 || r >= rows) {
      if (lane == 0) note_bad_index(bad, i);
      continue;
    }
    const T* src = g + i * width;
    T* dst = gw + r * width;
    for (int64_t c = lane; c < width; c += 32) atomicAdd(dst + c, src[c]);
  }
}

// gather/scatter_add address x through index's shape: element e of index (row-major over
// index's shape) maps to x[Σ_{d != dim} coord_d(e)·x_stride_d + index[e]·x_stride_dim].
// `ix` walks index's shape with x's strides (any strides work) and stride 0 along dim.
StridedIndexer gather_indexer(const Tensor& x, int dim, const Tensor& index) {
  StridedIndexer ix;
  ix.dim = index.dim();
  for (int d = 0; d < index.dim(); ++d) {
    ix.sizes[d] = index.size(d);
    ix.strides[d] = d == dim ? 0 : x.stride(d);
  }
  return ix;
}

template <class T>
__global__ void gather_kernel(const T* __restrict__ x, const int64_t* __restrict__ idx, T* __restrict__ out,
                              StridedIndexer ix, int64_t n, int64_t limit, int64_t dim_stride,
                              unsigned long long* bad) {
  NL_GRID_STRIDE_LOOP(e, n) {
    const int64_t j = idx[e];
    if (j < 0 || j >= limit) {
      note_bad_index(bad, e);
      out[e] = T(0);  // defined until the deferred check reports it
      continue;
    }
    out[e] = x[ix.offset(e) + j * dim_stride];
  }
}

template <class T>
__global__ void scatter_add_kernel(const T* __restrict__ g, const int64_t* __restrict__ idx, T* __restrict__ gx,
                                   StridedIndexer ix, int64_t n, int64_t limit, int64_t dim_stride,
                                   unsigned long long* bad) {
  NL_GRID_STRIDE_LOOP(e, n) {
    const int64_t j = idx[e];
    if (j < 0 || j >= limit) {
      note_bad_index(bad, e);
      continue;
    }
    atomicAdd(gx + ix.offset(e) + j * dim_stride, g[e]);
  }
}

// float32 and float64 (atomicAdd exists natively for both).
template <class F>
void dispatch_index_dtype(DType t, const char* op, F&& fn) {
  switch (t) {
    case DType::Float32: return fn(Tag<float>{});
    case DType::Float64: return fn(Tag<double>{});
    default: break;
  }
  fail(op, ": ", dtype_name(t), " is not supported on CUDA (float32 and float64 only)");
}

void check_index_dtype(const char* op, const Tensor& index) {
  NL_CHECK(index.dtype() == DType::Int64, op, ": index must be int64, got ", dtype_name(index.dtype()));
  NL_CHECK(index.is_contiguous(), op, ": index must be contiguous");
}

// Tables, rows of gradients and outputs are indexed as contiguous (the ops make them so);
// a strided tensor here is refused rather than read wrongly.
void check_contiguous(const char* op, const Tensor& t, const char* what) {
  NL_CHECK(t.is_contiguous(), op, ": ", what, " must be contiguous");
}

void check_same_dtype(const char* op, const Tensor& a, const char* a_name, const Tensor& b, const char* b_name) {
  NL_CHECK(a.dtype() == b.dtype(), op, ": ", a_name, " is ", dtype_name(a.dtype()), " but ", b_name, " is ",
           dtype_name(b.dtype()));
}

// Reads the probe; throws the CPU's message when an index was out of range.
void finish_check(const BadIndexProbe& probe, const char* op, const int64_t* idx, int64_t limit) {
  const std::string name = op;
  probe.check(idx, [name, limit](int64_t value, int64_t position) {
    return name + ": index " + std::to_string(value) + " at position " + std::to_string(position) +
           " is out of range for a dimension of size " + std::to_string(limit);
  });
}

// What every index kernel's entry point does around its launch: on `device`'s compute
// stream, with a probe the kernel flags when an index is out of range, `launch(tag, stream,
// flag)` for the dtype `dtype`; then the launch is checked and the probe read (or its check
// queued), naming `op`.
template <class Launch>
void run_index_kernel(int device, const char* op, DType dtype, const int64_t* idx, int64_t limit, Launch launch) {
  DeviceGuard guard(device);
  cudaStream_t stream = compute_stream(device);
  BadIndexProbe probe(device, stream, op);
  dispatch_index_dtype(dtype, op, [&](auto tag) { launch(tag, stream, probe.flag()); });
  NL_CUDA_CHECK_LAUNCH(op);
  finish_check(probe, op, idx, limit);
}

}  // namespace

void CudaBackend::embedding(const Tensor& weight, const Tensor& indices, Tensor& out) {
  check_index_dtype("embedding", indices);
  check_same_dtype("embedding", out, "output", weight, "weight");
  check_contiguous("embedding", weight, "weight");
  check_contiguous("embedding", out, "output");
  const int64_t rows = weight.size(0), width = weight.size(1), n = indices.numel();
  if (n == 0) return;
  const int64_t* idx = device_ptr<const int64_t>(indices);
  run_index_kernel(index_, "embedding", weight.dtype(), idx, rows, [&](auto tag, cudaStream_t stream, auto* flag) {
    using T = typename decltype(tag)::type;
    embedding_kernel<T><<<blocks_for(n, kRowThreads / 32), kRowThreads, 0, stream>>>(
        device_ptr<const T>(weight), idx, device_ptr<T>(out), n, rows, width, flag);
  });
}

void CudaBackend::embedding_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_weight) {
  check_index_dtype("embedding_backward", indices);
  check_same_dtype("embedding_backward", grad_out, "grad_out", grad_weight, "grad_weight");
  check_contiguous("embedding_backward", grad_out, "grad_out");
  check_contiguous("embedding_backward", grad_weight, "grad_weight");
  const int64_t rows = grad_weight.size(0), width = grad_weight.size(1), n = indices.numel();
  if (n == 0) return;
  const int64_t* idx = device_ptr<const int64_t>(indices);
  run_index_kernel(index_, "embedding_backward", grad_weight.dtype(), idx, rows,
                   [&](auto tag, cudaStream_t stream, auto* flag) {
                     using T = typename decltype(tag)::type;
                     embedding_backward_kernel<T><<<blocks_for(n, kRowThreads / 32), kRowThreads, 0, stream>>>(
                         device_ptr<const T>(grad_out), idx, device_ptr<T>(grad_weight), n, rows, width, flag);
                   });
}

void CudaBackend::gather(const Tensor& x, int dim, const Tensor& index, Tensor& out) {
  check_index_dtype("gather", index);
  check_same_dtype("gather", out, "output", x, "input");
  check_contiguous("gather", out, "output");
  NL_CHECK(index.dim() == x.dim() && dim >= 0 && dim < x.dim(), "gather: index shape ", index.shape().str(),
           " and dimension ", dim, " do not fit input shape ", x.shape().str());
  const int64_t n = index.numel();
  if (n == 0) return;
  const int64_t* idx = device_ptr<const int64_t>(index);
  const StridedIndexer ix = gather_indexer(x, dim, index);
  const int64_t limit = x.size(dim), dim_stride = x.stride(dim);
  run_index_kernel(index_, "gather", x.dtype(), idx, limit, [&](auto tag, cudaStream_t stream, auto* flag) {
    using T = typename decltype(tag)::type;
    gather_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(device_ptr<const T>(x), idx, device_ptr<T>(out), ix, n,
                                                           limit, dim_stride, flag);
  });
}

void CudaBackend::scatter_add(const Tensor& grad_out, int dim, const Tensor& index, Tensor& grad_x) {
  check_index_dtype("scatter_add", index);
  check_same_dtype("scatter_add", grad_out, "grad_out", grad_x, "grad_x");
  check_contiguous("scatter_add", grad_out, "grad_out");
  NL_CHECK(index.dim() == grad_x.dim() && dim >= 0 && dim < grad_x.dim(), "scatter_add: index shape ",
           index.shape().str(), " and dimension ", dim, " do not fit shape ", grad_x.shape().str());
  const int64_t n = index.numel();
  if (n == 0) return;
  const int64_t* idx = device_ptr<const int64_t>(index);
  const StridedIndexer ix = gather_indexer(grad_x, dim, index);
  const int64_t limit = grad_x.size(dim), dim_stride = grad_x.stride(dim);
  run_index_kernel(index_, "scatter_add", grad_x.dtype(), idx, limit, [&](auto tag, cudaStream_t stream, auto* flag) {
    using T = typename decltype(tag)::type;
    scatter_add_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(device_ptr<const T>(grad_out), idx,
                                                                device_ptr<T>(grad_x), ix, n, limit, dim_stride, flag);
  });
}

}  // namespace nl::cuda
