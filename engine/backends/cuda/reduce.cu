// CUDA reductions (sum, mean, max, min, prod, argmax, argmin) over any set of dims of a
// strided input, with the CPU backend's semantics (engine/backends/cpu/reduce.cpp).
//
// Note [Reduction layouts]: the input is seen as K outputs x R reduced elements, both
// index spaces being merged runs of (size, stride) dims. Two kernels cover every layout:
// - rows: a group of G threads (G = 1..32 lanes of a warp, or a whole 512-thread block)
//   reduces one output; used when the reduced elements are contiguous (softmax-like
//   rows, the last dims) and for any layout the columns kernel does not fit;
// - columns: threads of a warp take adjacent outputs and the block's other dimension
//   walks the reduced elements; used when the kept dims are contiguous and the reduced
//   ones are not (sum over N of [N, C]: a bias gradient), so loads stay coalesced.
// When there are too few outputs to fill the GPU (a full reduction to a scalar, or a few
// long columns), the reduced range is split over grid.y; each block writes a partial
// accumulator and a second rows pass combines the partials. No atomics, so results are
// deterministic run to run.
//
// Semantics kept from the CPU: sums of integers accumulate in int64 and are cast to the
// output type; float products accumulate in double; max/min propagate NaN; argmax/argmin
// return the first NaN, else the first index of the extreme value; the mean of nothing is
// NaN, the sum 0 and the product 1, and max/min of nothing is an error. Float sums
// accumulate in float (double for double, float for the half types), so they agree with
// the CPU's double sums to float rounding rather than bit for bit.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "engine/backends/cuda/block_reduce.cuh"
#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/kernel_utils.cuh"

namespace nl::cuda {
namespace {

constexpr int kMaxRank = Shape::kMaxRank;

// A set of dims merged where strides allow (as the CPU's Block), row-major.
struct Dims {
  int n = 0;
  int64_t numel = 1;
  int64_t size[kMaxRank] = {};
  int64_t stride[kMaxRank] = {};

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
  __device__ __forceinline__ int64_t offset(int64_t i) const {
    if (n == 1) return i * stride[0];  // the common, division-free case
    int64_t off = 0;
    for (int d = n - 1; d >= 0; --d) {
      off += (i % size[d]) * stride[d];
      i /= size[d];
    }
    return off;
  }
};

// ---- Reduction operators: identity, load (element -> accumulator), combine ----

template <class T>
constexpr bool kIsFloat = std::is_floating_point_v<T>;

template <class A>
__device__ __forceinline__ bool is_nan(A v) {
  if constexpr (kIsFloat<A>) return isnan(v);
  else return false;
}

template <class T, class A>
struct SumOp {
  using acc = A;
  static __device__ __forceinline__ A identity() { return A(0); }
  static __device__ __forceinline__ A load(T v, int64_t) { return convert<A>(v); }
  __device__ __forceinline__ A operator()(A a, A b) const { return a + b; }
};

template <class T, class A>
struct ProdOp {
  using acc = A;
  static __device__ __forceinline__ A identity() { return A(1); }
  static __device__ __forceinline__ A load(T v, int64_t) { return convert<A>(v); }
  __device__ __forceinline__ A operator()(A a, A b) const { return a * b; }
};

template <class A, bool kMax>
__device__ __forceinline__ A worst() {
  if constexpr (kIsFloat<A>) return kMax ? -INFINITY : INFINITY;
  else return kMax ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max();
}

// Max/min; a NaN anywhere makes the result NaN (the CPU's combine_minmax).
template <class T, class A, bool kMax>
struct ExtremeOp {
  using acc = A;
  static __device__ __forceinline__ A identity() { return worst<A, kMax>(); }
  static __device__ __forceinline__ A load(T v, int64_t) { return convert<A>(v); }
  __device__ __forceinline__ A operator()(A a, A b) const {
    if (is_nan(a)) return a;
    if (is_nan(b)) return b;
    return kMax ? (b > a ? b : a) : (b < a ? b : a);
  }
};

template <class V>
struct ArgAcc {  // plain (no initialisers): it lives in shared memory
  V v;
  int64_t i;
};

template <class V>
__device__ __forceinline__ ArgAcc<V> shfl_xor(ArgAcc<V> a, int lane_mask, int width) {
  return {::nl::cuda::shfl_xor(a.v, lane_mask, width), ::nl::cuda::shfl_xor(a.i, lane_mask, width)};
}

// (value, index) pairs. The combine is associative and commutative, so any reduction
// order gives the CPU's serial answer: a NaN beats everything (the smallest index among
// NaNs), then the extreme value, ties going to the smaller index.
template <class T, class V, bool kMax>
struct ArgOp {
  using acc = ArgAcc<V>;
  static __device__ __forceinline__ acc identity() { return {worst<V, kMax>(), std::numeric_limits<int64_t>::max()}; }
  static __device__ __forceinline__ acc load(T v, int64_t r) { return {convert<V>(v), r}; }
  __device__ __forceinline__ acc operator()(acc a, acc b) const {
    const bool an = is_nan(a.v), bn = is_nan(b.v);
    if (an || bn) {
      if (an && bn) return a.i < b.i ? a : b;
      return an ? a : b;
    }
    if (a.v == b.v) return a.i < b.i ? a : b;
    return (kMax ? a.v > b.v : a.v < b.v) ? a : b;
  }
};

// ---- Sources (what a kernel reduces) and sinks (where it writes) ----

template <class T, class Op>
struct InputSource {
  const T* x;
  Dims kept, red;
  __device__ __forceinline__ int64_t row(int64_t k) const { return kept.offset(k); }
  __device__ __forceinline__ typename Op::acc at(int64_t row, int64_t r) const {
    return Op::load(x[row + red.offset(r)], r);
  }
};

template <class A>
struct PartialSource {  // partials of a split reduction: [K, S] accumulators
  const A* p;
  int64_t splits;
  __device__ __forceinline__ int64_t row(int64_t k) const { return k * splits; }
  __device__ __forceinline__ A at(int64_t row, int64_t r) const { return p[row + r]; }
};

template <class A>
struct PartialSink {
  A* p;
  int64_t splits;
  __device__ __forceinline__ void write(int64_t k, int64_t s, A a) const { p[k * splits + s] = a; }
};

// Final values: the accumulator cast to the output type, times 1/R for the mean (in
// double, as the CPU), or the index for argmax/argmin.
template <class Out, class A>
struct OutputSink {
  Out* out;
  bool mean;
  double scale;
  __device__ __forceinline__ void write(int64_t k, int64_t, A a) const {
    if (mean) out[k] = convert<Out>(static_cast<double>(a) * scale);
    else out[k] = convert<Out>(a);
  }
};
template <class V>
struct OutputSink<int64_t, ArgAcc<V>> {
  int64_t* out;
  bool mean;
  double scale;
  __device__ __forceinline__ void write(int64_t k, int64_t, ArgAcc<V> a) const { out[k] = a.i; }
};

// ---- Kernels ----

// Rows (Note [Reduction layouts]): block (G, rows per block); G <= 32 reduces with warp
// shuffles over groups of G lanes, G > 32 (then one row per block) through shared memory.
// grid.y splits the reduced range into chunks of `chunk` elements.
template <class Op, class Source, class Sink>
__global__ void reduce_rows_kernel(Op op, Source src, Sink sink, int64_t K, int64_t R, int64_t chunk) {
  using A = typename Op::acc;
  __shared__ __align__(16) unsigned char smem_raw[32 * sizeof(A)];
  A* smem = reinterpret_cast<A*>(smem_raw);
  const int G = blockDim.x, tx = threadIdx.x;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t r1 = r0 + chunk < R ? r0 + chunk : R;
  // The loop bound is uniform over the block, so every lane reaches the shuffles.
  for (int64_t kb = static_cast<int64_t>(blockIdx.x) * blockDim.y; kb < K;
       kb += static_cast<int64_t>(gridDim.x) * blockDim.y) {
    const int64_t k = kb + threadIdx.y;
    A acc = Op::identity();
    if (k < K) {
      const int64_t base = src.row(k);
      int64_t r = r0 + tx;
      // Four independent loads in flight per thread.
      for (; r + 3 * G < r1; r += 4 * G) {
        const A a0 = src.at(base, r), a1 = src.at(base, r + G), a2 = src.at(base, r + 2 * G),
                a3 = src.at(base, r + 3 * G);
        acc = op(acc, op(op(a0, a1), op(a2, a3)));
      }
      for (; r < r1; r += G) acc = op(acc, src.at(base, r));
    }
    if (G <= 32) acc = warp_reduce(acc, op, G);
    else acc = block_reduce(acc, op, Op::identity(), smem);
    if (tx == 0 && k < K) sink.write(k, blockIdx.y, acc);
  }
}

// Columns: block (bx, by), powers of two with bx * by <= kColThreads; lanes x take adjacent outputs,
// rows y stride through the reduced range; the by partials meet in shared memory.
constexpr int kColThreads = 512;

template <class Op, class Source, class Sink>
__global__ void reduce_cols_kernel(Op op, Source src, Sink sink, int64_t K, int64_t R, int64_t chunk) {
  using A = typename Op::acc;
  __shared__ __align__(16) unsigned char smem_raw[kColThreads * sizeof(A)];
  A* smem = reinterpret_cast<A*>(smem_raw);
  const int bx = blockDim.x, by = blockDim.y, tx = threadIdx.x, ty = threadIdx.y;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t r1 = r0 + chunk < R ? r0 + chunk : R;
  for (int64_t kb = static_cast<int64_t>(blockIdx.x) * bx; kb < K; kb += static_cast<int64_t>(gridDim.x) * bx) {
    const int64_t k = kb + tx;
    A acc = Op::identity();
    if (k < K) {
      const int64_t base = src.row(k);
      int64_t r = r0 + ty;
      for (; r + 3 * by < r1; r += 4 * by) {
        const A a0 = src.at(base, r), a1 = src.at(base, r + by), a2 = src.at(base, r + 2 * by),
                a3 = src.at(base, r + 3 * by);
        acc = op(acc, op(op(a0, a1), op(a2, a3)));
      }
      for (; r < r1; r += by) acc = op(acc, src.at(base, r));
    }
    smem[ty * bx + tx] = acc;
    __syncthreads();
    for (int h = by >> 1; h > 0; h >>= 1) {
      if (ty < h) smem[ty * bx + tx] = op(smem[ty * bx + tx], smem[(ty + h) * bx + tx]);
      __syncthreads();
    }
    if (ty == 0 && k < K) sink.write(k, blockIdx.y, smem[tx]);
    __syncthreads();  // smem is rewritten by the next iteration
  }
}

// ---- Launch planning ----

constexpr unsigned kMaxGridX = 65535u * 8u;

struct Launch {
  dim3 grid, block;
  int64_t chunk = 0;  // reduced elements per grid.y split
  int64_t splits() const { return grid.y; }
};

// Splits of the reduced range so that about `target` blocks run, each thread still
// reducing at least `min_per_thread` elements.
void choose_splits(Launch& l, int64_t blocks_x, int64_t R, int64_t threads_per_output, int64_t target) {
  constexpr int64_t kMinPerThread = 32;
  int64_t splits = 1;
  if (blocks_x < target && R > 0) {
    const int64_t by_occupancy = (target + blocks_x - 1) / blocks_x;
    const int64_t by_work = std::max<int64_t>(1, R / (threads_per_output * kMinPerThread));
    splits = std::clamp<int64_t>(std::min(by_occupancy, by_work), 1, 65535);
  }
  l.chunk = R > 0 ? (R + splits - 1) / splits : 0;
  if (l.chunk > 0) splits = (R + l.chunk - 1) / l.chunk;  // no empty split
  l.grid.y = static_cast<unsigned>(splits);
}

Launch plan_rows(int64_t K, int64_t R, int64_t target) {
  Launch l;
  int G, rows_per_block;
  if (R >= 4096) {
    G = 512;
    rows_per_block = 1;
  } else if (R > 32) {
    G = 32;
    rows_per_block = 8;
  } else {
    G = next_pow2(std::max<int64_t>(R, 1));
    rows_per_block = 256 / G;
  }
  l.block = dim3(G, rows_per_block);
  const int64_t blocks_x = (K + rows_per_block - 1) / rows_per_block;
  l.grid = dim3(static_cast<unsigned>(std::min<int64_t>(blocks_x, kMaxGridX)), 1);
  choose_splits(l, blocks_x, R, G, target);
  return l;
}

Launch plan_cols(int64_t K, int64_t R, int64_t inner_kept, int64_t target) {
  Launch l;
  int bx = std::min(32, next_pow2(inner_kept));
  // No more row threads than rows; with few rows (sum over N = 2 of [2, 10^6]) the spare
  // threads take more adjacent outputs instead of idling.
  const int by = std::min<int>(kColThreads / bx, next_pow2(R));
  while (bx * by < kColThreads && bx < next_pow2(K)) bx *= 2;
  l.block = dim3(bx, by);
  const int64_t blocks_x = (K + bx - 1) / bx;
  l.grid = dim3(static_cast<unsigned>(std::min<int64_t>(blocks_x, kMaxGridX)), 1);
  choose_splits(l, blocks_x, R, by, target);
  return l;
}

template <class Op, class Source, class Sink>
void launch_rows(const Launch& l, cudaStream_t stream, const Op& op, const Source& src, const Sink& sink, int64_t K,
                 int64_t R) {
  reduce_rows_kernel<<<l.grid, l.block, 0, stream>>>(op, src, sink, K, R, l.chunk);
  NL_CUDA_CHECK_LAUNCH("reduce");
}

template <class Op, class Source, class Sink>
void launch_cols(const Launch& l, cudaStream_t stream, const Op& op, const Source& src, const Sink& sink, int64_t K,
                 int64_t R) {
  reduce_cols_kernel<<<l.grid, l.block, 0, stream>>>(op, src, sink, K, R, l.chunk);
  NL_CUDA_CHECK_LAUNCH("reduce");
}

struct Problem {
  Dims kept, red;
  bool columns = false;
  int64_t K = 0, R = 0;
  int device = 0;
  cudaStream_t stream = nullptr;
  int64_t target_blocks = 1;
  bool mean = false;
};

// Runs one operator: plan, first pass, and (when split) the pass over the partials.
template <class T, class Out, class Op>
void run(const Problem& p, const Tensor& x, Tensor& out) {
  using A = typename Op::acc;
  const Op op{};
  const InputSource<T, Op> src{device_ptr<const T>(x), p.kept, p.red};
  const OutputSink<Out, A> final_sink{device_ptr<Out>(out), p.mean,
                                      p.R > 0 ? 1.0 / static_cast<double>(p.R)
                                              : std::numeric_limits<double>::quiet_NaN()};
  const Launch l = p.columns ? plan_cols(p.K, p.R, p.kept.size[p.kept.n - 1], p.target_blocks)
                             : plan_rows(p.K, p.R, p.target_blocks);
  if (l.splits() == 1) {
    if (p.columns) launch_cols(l, p.stream, op, src, final_sink, p.K, p.R);
    else launch_rows(l, p.stream, op, src, final_sink, p.K, p.R);
    return;
  }
  const int64_t S = l.splits();
  Tensor partial = Tensor::empty({p.K * S * static_cast<int64_t>(sizeof(A))}, DType::UInt8, Device::cuda(p.device));
  const PartialSink<A> partial_sink{device_ptr<A>(partial), S};
  if (p.columns) launch_cols(l, p.stream, op, src, partial_sink, p.K, p.R);
  else launch_rows(l, p.stream, op, src, partial_sink, p.K, p.R);
  const Launch second = plan_rows(p.K, S, /*target=*/0);  // S is small: no further split
  launch_rows(second, p.stream, op, PartialSource<A>{device_ptr<const A>(partial), S}, final_sink, p.K, S);
  // `partial` is released here while the kernels may still run: the allocator hands
  // memory out again only in the order of this stream, so reuse waits for them.
}

// Accumulator types: sums of integers in int64, float (double for double) for floats;
// products of floats in double; max/min in the element type (float for half types).
template <class T>
using SumAcc = std::conditional_t<std::is_integral_v<T>, int64_t, std::conditional_t<std::is_same_v<T, double>, double, float>>;
template <class T>
using ProdAcc = std::conditional_t<std::is_integral_v<T>, int64_t, double>;
template <class T>
using ExtremeAcc = std::conditional_t<std::is_integral_v<T> || std::is_same_v<T, double>, T, float>;

template <class T>
void reduce_typed(ReduceOp op, const Problem& p, const Tensor& x, Tensor& out) {
  switch (op) {
    case ReduceOp::Sum:
    case ReduceOp::Mean: return run<T, T, SumOp<T, SumAcc<T>>>(p, x, out);
    case ReduceOp::Prod: return run<T, T, ProdOp<T, ProdAcc<T>>>(p, x, out);
    case ReduceOp::Max: return run<T, T, ExtremeOp<T, ExtremeAcc<T>, true>>(p, x, out);
    case ReduceOp::Min: return run<T, T, ExtremeOp<T, ExtremeAcc<T>, false>>(p, x, out);
    case ReduceOp::ArgMax: return run<T, int64_t, ArgOp<T, ExtremeAcc<T>, true>>(p, x, out);
    case ReduceOp::ArgMin: return run<T, int64_t, ArgOp<T, ExtremeAcc<T>, false>>(p, x, out);
  }
}

const char* op_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Mean: return "mean";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
    case ReduceOp::Prod: return "prod";
    case ReduceOp::ArgMax: return "argmax";
    case ReduceOp::ArgMin: return "argmin";
  }
  return "reduce";
}

}  // namespace

void CudaBackend::reduce(ReduceOp op, const Tensor& x, const std::vector<bool>& red, Tensor& out) {
  NL_CHECK(static_cast<int>(red.size()) == x.dim(), "reduce: mask has ", red.size(), " entries for rank ", x.dim());
  const DType dt = x.dtype();
  // The CPU's dtypes plus the half types (accumulated in float); Bool/UInt8 sums are
  // converted to int64 by the op before they get here.
  NL_CHECK(dt == DType::Float32 || dt == DType::Float64 || dt == DType::Int64 || dt == DType::Int32 ||
               dt == DType::Float16 || dt == DType::BFloat16,
           "reduce: dtype ", dtype_name(dt), " is not supported; convert to float32 first");
  const bool is_arg = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
  const DType want = is_arg ? DType::Int64 : dt;
  NL_CHECK(out.dtype() == want, op_name(op), ": output is ", dtype_name(out.dtype()), ", expected ",
           dtype_name(want));
  DeviceGuard guard(index_);

  Problem p;
  p.device = index_;
  p.stream = compute_stream(index_);
  p.mean = op == ReduceOp::Mean;
  for (int d = 0; d < x.dim(); ++d)
    if (!red[d]) p.kept.add(x.size(d), x.stride(d));
  // The order of the reduced elements only matters for argmax/argmin (which reduce one
  // dim); for the rest, visit them by decreasing stride so the innermost run is the
  // smallest stride (a transposed input still reads contiguous runs).
  std::vector<std::pair<int64_t, int64_t>> reduced;  // (size, stride)
  for (int d = 0; d < x.dim(); ++d)
    if (red[d]) reduced.emplace_back(x.size(d), x.stride(d));
  if (!is_arg)
    std::stable_sort(reduced.begin(), reduced.end(),
                     [](const auto& a, const auto& b) { return std::llabs(a.second) > std::llabs(b.second); });
  for (const auto& [size, stride] : reduced) p.red.add(size, stride);
  p.K = p.kept.numel;
  p.R = p.red.numel;

  if (p.R == 0) {
    NL_CHECK(op != ReduceOp::Max && op != ReduceOp::Min, "max/min: cannot reduce over an empty dimension");
    NL_CHECK(!is_arg || p.K == 0, op_name(op), ": cannot reduce over an empty dimension");
  }
  if (p.K == 0) return;

  const bool red_inner_unit = p.red.n > 0 && p.red.stride[p.red.n - 1] == 1;
  const bool kept_inner_unit = p.kept.n > 0 && p.kept.stride[p.kept.n - 1] == 1;
  p.columns = !red_inner_unit && kept_inner_unit && p.R > 1;
  p.target_blocks = 4LL * device_properties(index_).multiProcessorCount;

  switch (dt) {
    case DType::Float32: return reduce_typed<float>(op, p, x, out);
    case DType::Float64: return reduce_typed<double>(op, p, x, out);
    case DType::Float16: return reduce_typed<__half>(op, p, x, out);
    case DType::BFloat16: return reduce_typed<__nv_bfloat16>(op, p, x, out);
    case DType::Int64: return reduce_typed<int64_t>(op, p, x, out);
    case DType::Int32: return reduce_typed<int32_t>(op, p, x, out);
    default: break;
  }
}

}  // namespace nl::cuda
