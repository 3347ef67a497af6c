// Iteration over several tensors of one shape with arbitrary strides: dimensions that are
// contiguous in every operand are merged, and the innermost run is handed to a callback
// that can test for unit strides and use a plain (vectorisable) loop. Large loops are split
// across OpenMP threads by outer index.
#pragma once
#include <omp.h>

#include <array>
#include <cstdint>

#include "engine/core/shape.h"

namespace nl::cpu {

// Element count above which loops run in parallel: below it, thread start-up costs more
// than the work.
constexpr int64_t kParallelThreshold = 32768;

template <int K>
struct StridedLayout {
  int ndim = 0;
  int64_t shape[Shape::kMaxRank];
  int64_t strides[K][Shape::kMaxRank];  // in elements
};

// Builds a layout with merged dimensions. Size-1 dims are dropped.
template <int K>
StridedLayout<K> make_layout(const Shape& shape, const std::array<const Shape*, K>& strides) {
  StridedLayout<K> L;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = L.ndim > 0;
    for (int k = 0; merge && k < K; ++k)
      merge = L.strides[k][L.ndim - 1] == (*strides[k])[d] * shape[d];
    if (merge) {
      L.shape[L.ndim - 1] *= shape[d];
      for (int k = 0; k < K; ++k) L.strides[k][L.ndim - 1] = (*strides[k])[d];
    } else {
      L.shape[L.ndim] = shape[d];
      for (int k = 0; k < K; ++k) L.strides[k][L.ndim] = (*strides[k])[d];
      ++L.ndim;
    }
  }
  if (L.ndim == 0) {  // a single element
    L.ndim = 1;
    L.shape[0] = 1;
    for (int k = 0; k < K; ++k) L.strides[k][0] = 1;
  }
  return L;
}

// Calls fn(offsets, n, inner_strides) for every innermost run, where offsets[k] is the
// element offset of operand k at the start of the run.
template <int K, class F>
void for_each_run(const StridedLayout<K>& L, F&& fn) {
  const int nd = L.ndim;
  const int64_t inner = L.shape[nd - 1];
  std::array<int64_t, K> inner_strides;
  for (int k = 0; k < K; ++k) inner_strides[k] = L.strides[k][nd - 1];
  int64_t outer = 1;
  for (int d = 0; d < nd - 1; ++d) outer *= L.shape[d];

  auto run_range = [&](int64_t begin, int64_t end) {
    // Decompose `begin` into a multi-index over the outer dims, then step it like an odometer.
    int64_t idx[Shape::kMaxRank] = {};
    std::array<int64_t, K> off{};
    int64_t rem = begin;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = rem % L.shape[d];
      rem /= L.shape[d];
      for (int k = 0; k < K; ++k) off[k] += idx[d] * L.strides[k][d];
    }
    for (int64_t o = begin; o < end; ++o) {
      fn(off, inner, inner_strides);
      for (int d = nd - 2; d >= 0; --d) {
        if (++idx[d] < L.shape[d]) {
          for (int k = 0; k < K; ++k) off[k] += L.strides[k][d];
          break;
        }
        for (int k = 0; k < K; ++k) off[k] -= (L.shape[d] - 1) * L.strides[k][d];
        idx[d] = 0;
      }
    }
  };

  int64_t total = outer * inner;
  if (total < kParallelThreshold || omp_get_max_threads() == 1) {
    run_range(0, outer);
    return;
  }
  if (outer == 1) {  // one long run (contiguous tensors merge to this): split the run itself
#pragma omp parallel
    {
      int nt = omp_get_num_threads(), t = omp_get_thread_num();
      int64_t chunk = ((inner + nt - 1) / nt + 15) & ~int64_t(15);
      int64_t b = std::min(inner, t * chunk), e = std::min(inner, b + chunk);
      std::array<int64_t, K> off;
      for (int k = 0; k < K; ++k) off[k] = b * inner_strides[k];
      if (b < e) fn(off, e - b, inner_strides);
    }
    return;
  }
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (outer + nt - 1) / nt;
    int64_t b = t * chunk, e = std::min(outer, b + chunk);
    if (b < e) run_range(b, e);
  }
}

// Parallel loop over [0, n) in contiguous chunks when n is large.
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& fn) {
  if (n < grain || omp_get_max_threads() == 1) {
    fn(int64_t(0), n);
    return;
  }
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (n + nt - 1) / nt;
    int64_t b = t * chunk, e = std::min(n, b + chunk);
    if (b < e) fn(b, e);
  }
}

}  // namespace nl::cpu
