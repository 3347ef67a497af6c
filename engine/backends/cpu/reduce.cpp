// CPU reductions (sum, mean, max, min, prod, argmax, argmin) over any set of dimensions.
// Three layouts are handled: reduced elements contiguous (rows), reduced dims outermost
// (columns, e.g. a bias gradient), and anything else through strided iteration.
#include <cmath>
#include <limits>

#include "engine/backends/cpu/cpu_backend.h"
#include "engine/backends/cpu/strided_loop.h"

namespace nl {
namespace {

struct Block {  // a set of dims (sizes + strides), merged where possible
  int n = 0;
  int64_t size[Shape::kMaxRank];
  int64_t stride[Shape::kMaxRank];
  int64_t numel = 1;
  void add(int64_t sz, int64_t st) {
    if (sz == 1) return;
    numel *= sz;
    if (n > 0 && stride[n - 1] == st * sz) {
      size[n - 1] *= sz;
      stride[n - 1] = st;
      return;
    }
    size[n] = sz;
    stride[n] = st;
    ++n;
  }
  bool unit() const { return n == 0 || (n == 1 && stride[0] == 1); }
  // Offset of the i-th element (row-major over the block's dims).
  int64_t offset(int64_t i) const {
    int64_t off = 0;
    for (int d = n - 1; d >= 0; --d) {
      off += (i % size[d]) * stride[d];
      i /= size[d];
    }
    return off;
  }
};

template <class T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

template <class T>
T identity(ReduceOp op) {
  switch (op) {
    case ReduceOp::Max: return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                                    : std::numeric_limits<T>::lowest();
    case ReduceOp::Min: return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity()
                                                                    : std::numeric_limits<T>::max();
    case ReduceOp::Prod: return T(1);
    default: return T(0);
  }
}

template <class T>
inline T combine_minmax(ReduceOp op, T acc, T v) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(v) || std::isnan(acc)) return std::numeric_limits<T>::quiet_NaN();
  return op == ReduceOp::Max ? (v > acc ? v : acc) : (v < acc ? v : acc);
}

// Reduces `n` elements at p with stride s.
template <class T>
Acc<T> reduce_run(ReduceOp op, const T* p, int64_t n, int64_t s) {
  if (op == ReduceOp::Sum || op == ReduceOp::Mean) {
    if (s == 1) {
      // Float partial sums over blocks (vectorised), blocks summed in double for accuracy.
      Acc<T> total = 0;
      for (int64_t b = 0; b < n; b += 256) {
        int64_t e = std::min(n, b + 256);
        T part = 0;
#pragma omp simd reduction(+ : part)
        for (int64_t i = b; i < e; ++i) part += p[i];
        total += part;
      }
      return total;
    }
    Acc<T> total = 0;
    for (int64_t i = 0; i < n; ++i) total += p[i * s];
    return total;
  }
  if (op == ReduceOp::Prod) {
    Acc<T> total = 1;
    for (int64_t i = 0; i < n; ++i) total *= p[i * s];
    return total;
  }
  T acc = identity<T>(op);
  for (int64_t i = 0; i < n; ++i) acc = combine_minmax(op, acc, p[i * s]);
  return static_cast<Acc<T>>(acc);
}

template <class T>
void reduce_typed(ReduceOp op, const Tensor& x, const std::vector<bool>& red, Tensor& out) {
  Block kept, reduced;
  for (int d = 0; d < x.dim(); ++d) (red[d] ? reduced : kept).add(x.shape()[d], x.strides()[d]);
  const T* px = x.data<T>();
  const int64_t K = kept.numel, R = reduced.numel;
  const bool is_arg = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
  const double mean_scale = R > 0 ? 1.0 / static_cast<double>(R) : std::numeric_limits<double>::quiet_NaN();

  if (is_arg) {
    int64_t* po = out.data<int64_t>();
    cpu::parallel_for(K, std::max<int64_t>(1, cpu::kParallelThreshold / std::max<int64_t>(R, 1)),
                      [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const T* base = px + kept.offset(k);
        int64_t best_i = 0;
        T best = base[reduced.offset(0)];
        for (int64_t r = 1; r < R; ++r) {
          T v = base[reduced.offset(r)];
          bool better;
          if constexpr (std::is_floating_point_v<T>) {
            if (std::isnan(best)) break;  // NaN counts as the extreme; the first one wins
            better = std::isnan(v) || (op == ReduceOp::ArgMax ? v > best : v < best);
          } else {
            better = op == ReduceOp::ArgMax ? v > best : v < best;
          }
          if (better) {
            best = v;
            best_i = r;
          }
        }
        po[k] = best_i;
      }
    });
    return;
  }

  T* po = out.data<T>();
  auto finish = [&](Acc<T> v) -> T {
    if (op == ReduceOp::Mean) return static_cast<T>(static_cast<double>(v) * mean_scale);
    return static_cast<T>(v);
  };

  if (R == 0) {  // empty reduction: the op's identity (mean of nothing is NaN, as in PyTorch)
    for (int64_t k = 0; k < K; ++k) po[k] = op == ReduceOp::Mean ? finish(0) : identity<T>(op);
    NL_CHECK(op != ReduceOp::Max && op != ReduceOp::Min, "max/min: cannot reduce over an empty dimension");
    return;
  }

  if (reduced.unit()) {  // each output reduces a contiguous run
    cpu::parallel_for(K, std::max<int64_t>(1, cpu::kParallelThreshold / R), [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) po[k] = finish(reduce_run<T>(op, px + kept.offset(k), R, 1));
    });
    return;
  }

  if (kept.unit() && op != ReduceOp::Prod) {  // reduce over outer dims: accumulate whole rows
    cpu::parallel_for(K, 1024, [&](int64_t b, int64_t e) {
      std::vector<Acc<T>> acc(static_cast<size_t>(e - b));
      if (op == ReduceOp::Sum || op == ReduceOp::Mean) {
        for (int64_t r = 0; r < R; ++r) {
          const T* row = px + reduced.offset(r) + b;
          for (int64_t k = 0; k < e - b; ++k) acc[k] += row[k];
        }
      } else {
        for (int64_t k = 0; k < e - b; ++k) acc[k] = static_cast<Acc<T>>(identity<T>(op));
        for (int64_t r = 0; r < R; ++r) {
          const T* row = px + reduced.offset(r) + b;
          for (int64_t k = 0; k < e - b; ++k)
            acc[k] = static_cast<Acc<T>>(combine_minmax(op, static_cast<T>(acc[k]), row[k]));
        }
      }
      for (int64_t k = 0; k < e - b; ++k) po[b + k] = finish(acc[k]);
    });
    return;
  }

  // General layout: per output, walk the reduced block; its innermost dim is a strided run.
  const int64_t inner = reduced.size[reduced.n - 1], inner_stride = reduced.stride[reduced.n - 1];
  Block outer_red = reduced;
  outer_red.n -= 1;
  const int64_t runs = R / inner;
  cpu::parallel_for(K, std::max<int64_t>(1, cpu::kParallelThreshold / R), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const T* base = px + kept.offset(k);
      Acc<T> acc = (op == ReduceOp::Sum || op == ReduceOp::Mean) ? 0 : static_cast<Acc<T>>(identity<T>(op));
      for (int64_t q = 0; q < runs; ++q) {
        Acc<T> part = reduce_run<T>(op, base + outer_red.offset(q), inner, inner_stride);
        if (op == ReduceOp::Sum || op == ReduceOp::Mean) acc += part;
        else if (op == ReduceOp::Prod) acc *= part;
        else acc = static_cast<Acc<T>>(combine_minmax(op, static_cast<T>(acc), static_cast<T>(part)));
      }
      po[k] = finish(acc);
    }
  });
}

}  // namespace

void CpuBackend::reduce(ReduceOp op, const Tensor& x, const std::vector<bool>& red, Tensor& out) {
  NL_CHECK(static_cast<int>(red.size()) == x.dim(), "reduce: mask has ", red.size(), " entries for rank ", x.dim());
  switch (x.dtype()) {
    case DType::Float32: return reduce_typed<float>(op, x, red, out);
    case DType::Float64: return reduce_typed<double>(op, x, red, out);
    case DType::Int64: return reduce_typed<int64_t>(op, x, red, out);
    case DType::Int32: return reduce_typed<int32_t>(op, x, red, out);
    default: fail("reduce: dtype ", dtype_name(x.dtype()), " is not supported; convert to float32 first");
  }
}

}  // namespace nl
