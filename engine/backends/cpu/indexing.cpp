// CPU kernels for embedding lookup, gather along a dimension and their scatter-add
// gradients. Every index is range-checked before any memory is touched, with an error that
// names the bad value and where it sits.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/backends/cpu/cpu_backend.h"

namespace nl {
namespace {

constexpr int64_t kParallelElements = 1 << 15;

// Checked serially up front: an exception cannot leave an OpenMP region.
void check_indices(const char* op, const int64_t* idx, int64_t n, int64_t limit) {
  for (int64_t i = 0; i < n; ++i)
    if (idx[i] < 0 || idx[i] >= limit)
      fail(op, ": index ", idx[i], " at position ", i, " is out of range for a dimension of size ", limit);
}

// gather/scatter_add address x through index's shape: index is [outer..., J, inner...]
// (dims before `dim`, along it, after it) and each of its elements maps to
//   x[outer_offset[o] + index·stride(dim) + inner_offset[p]].
// The offsets are tabulated once because index may be smaller than x in every dimension.
struct GatherLayout {
  std::vector<int64_t> outer_offset, inner_offset;
  int64_t along = 1;      // J, index's size along dim
  int64_t x_stride = 1;   // x's stride along dim
  int64_t x_size = 1;     // x's size along dim (the index limit)

  GatherLayout(const Shape& x_shape, int dim, const Shape& index_shape) {
    const Shape xs = contiguous_strides(x_shape);
    along = index_shape[dim];
    x_stride = xs[dim];
    x_size = x_shape[dim];
    outer_offset = offsets(index_shape, xs, 0, dim);
    inner_offset = offsets(index_shape, xs, dim + 1, index_shape.size());
  }
  int64_t outer() const { return static_cast<int64_t>(outer_offset.size()); }
  int64_t inner() const { return static_cast<int64_t>(inner_offset.size()); }

  // Row-major enumeration of index dims [d0, d1) and the matching x offsets.
  static std::vector<int64_t> offsets(const Shape& shape, const Shape& x_strides, int d0, int d1) {
    std::vector<int64_t> out{0};
    for (int d = d0; d < d1; ++d) {
      std::vector<int64_t> next;
      next.reserve(out.size() * shape[d]);
      for (int64_t base : out)
        for (int64_t i = 0; i < shape[d]; ++i) next.push_back(base + i * x_strides[d]);
      out.swap(next);
    }
    return out;
  }
};

}  // namespace

void CpuBackend::embedding(const Tensor& weight, const Tensor& indices, Tensor& out) {
  const int64_t rows = weight.size(0), width = weight.size(1), n = indices.numel();
  const float* w = weight.data<float>();
  const int64_t* idx = indices.data<int64_t>();
  float* y = out.data<float>();
  check_indices("embedding", idx, n, rows);
#pragma omp parallel for schedule(static) if (n * width > kParallelElements)
  for (int64_t i = 0; i < n; ++i) std::memcpy(y + i * width, w + idx[i] * width, width * sizeof(float));
}

// Repeated indices add into the same row, so threads split the columns, never the indices.
void CpuBackend::embedding_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_weight) {
  const int64_t rows = grad_weight.size(0), width = grad_weight.size(1), n = indices.numel();
  const float* g = grad_out.data<float>();
  const int64_t* idx = indices.data<int64_t>();
  float* gw = grad_weight.data<float>();
  check_indices("embedding_backward", idx, n, rows);
  const bool parallel = n * width > kParallelElements && width >= 64;
#pragma omp parallel if (parallel)
  {
    const int threads = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t c0 = width * tid / threads, c1 = width * (tid + 1) / threads;
    for (int64_t i = 0; i < n; ++i) {
      const float* src = g + i * width;
      float* dst = gw + idx[i] * width;
      for (int64_t c = c0; c < c1; ++c) dst[c] += src[c];
    }
  }
}

void CpuBackend::gather(const Tensor& x, int dim, const Tensor& index, Tensor& out) {
  const GatherLayout L(x.shape(), dim, index.shape());
  const float* xd = x.data<float>();
  const int64_t* idx = index.data<int64_t>();
  float* y = out.data<float>();
  check_indices("gather", idx, index.numel(), L.x_size);
  const int64_t inner = L.inner();
  // Each (outer, j) pair is a contiguous run of `inner` outputs.
#pragma omp parallel for schedule(static) if (index.numel() > kParallelElements)
  for (int64_t r = 0; r < L.outer() * L.along; ++r) {
    const int64_t base = L.outer_offset[r / L.along];
    const int64_t* ir = idx + r * inner;
    float* yr = y + r * inner;
    for (int64_t p = 0; p < inner; ++p) yr[p] = xd[base + ir[p] * L.x_stride + L.inner_offset[p]];
  }
}

// Two index elements can only hit the same x element when they differ solely in their
// position along `dim`, so splitting the work over outer positions (or, when there are too
// few of those, over inner positions) is free of races.
void CpuBackend::scatter_add(const Tensor& grad_out, int dim, const Tensor& index, Tensor& grad_x) {
  const GatherLayout L(grad_x.shape(), dim, index.shape());
  const float* g = grad_out.data<float>();
  const int64_t* idx = index.data<int64_t>();
  float* gx = grad_x.data<float>();
  check_indices("scatter_add", idx, index.numel(), L.x_size);
  const int64_t outer = L.outer(), inner = L.inner(), along = L.along;
  const bool parallel = index.numel() > kParallelElements;
  if (outer >= inner) {
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < along; ++j) {
        const int64_t r = o * along + j;
        for (int64_t p = 0; p < inner; ++p)
          gx[L.outer_offset[o] + idx[r * inner + p] * L.x_stride + L.inner_offset[p]] += g[r * inner + p];
      }
  } else {
#pragma omp parallel if (parallel)
    {
      const int threads = omp_get_num_threads(), tid = omp_get_thread_num();
      const int64_t p0 = inner * tid / threads, p1 = inner * (tid + 1) / threads;
      for (int64_t r = 0; r < outer * along; ++r) {
        const int64_t base = L.outer_offset[r / along];
        for (int64_t p = p0; p < p1; ++p)
          gx[base + idx[r * inner + p] * L.x_stride + L.inner_offset[p]] += g[r * inner + p];
      }
    }
  }
}

}  // namespace nl
