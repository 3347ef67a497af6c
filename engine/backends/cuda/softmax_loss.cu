// CUDA softmax / log-softmax along any dim of a contiguous float32 tensor, forward and
// backward, and the fused cross-entropy (log-softmax + NLL + label smoothing) forward and
// backward, with the formulas of the CPU backend (engine/backends/cpu/softmax.cpp):
//   softmax: y = e^(x - max) / Σ e^(x - max)      log-softmax: y = (x - max) - log Σ
//   backward: dx = y·(g - Σ g·y)                  log: dx = g - e^y · Σ g
// The max ignores NaN (as `m < v ? v : m`), so a NaN in a row still makes the row NaN
// through e^(NaN - max), and an all -inf row gives NaN, both as on the CPU. Softmax sums
// are accumulated in float (the CPU uses double), so results agree to float rounding;
// cross-entropy sums in double, as the CPU, so small losses keep their precision.
//
// The tensor is seen as [outer, n, inner] with the softmax dim in the middle:
// - inner == 1 (the last dim): one warp per row when n <= 1024, the row held in
//   registers so it is read once; one block per row beyond that (three passes that hit L2);
// - inner > 1: blocks of (bx, by) threads, bx adjacent columns (coalesced) and by threads
//   splitting each column's n elements, combined in shared memory.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "engine/backends/cuda/block_reduce.cuh"
#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/index_check.cuh"
#include "engine/backends/cuda/kernel_utils.cuh"

namespace nl::cuda {
namespace {

constexpr unsigned kMaxBlocks = 65535u * 8u;
constexpr int kWarpRowsMax = 1024;  // longest row held in one warp's registers (32 per lane)
constexpr int kRowThreads = 256;    // threads per block for the per-row kernels
constexpr int kColumnThreads = 256;

struct DimLayout {
  int64_t outer = 1, n = 1, inner = 1;
  DimLayout(const Shape& shape, int dim) {
    for (int i = 0; i < dim; ++i) outer *= shape[i];
    n = shape.size() ? shape[dim] : 1;
    for (int i = dim + 1; i < shape.size(); ++i) inner *= shape[i];
  }
};

unsigned blocks_for(int64_t work_items, int64_t per_block) {
  const int64_t b = (work_items + per_block - 1) / per_block;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, kMaxBlocks));
}

// ---- Rows held in registers: one warp per row, kPerLane elements per lane ----

template <int kPerLane>
__global__ void softmax_warp_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int n,
                                    bool log) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = blockDim.x >> 5;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * warps + (threadIdx.x >> 5); row < rows;
       row += static_cast<int64_t>(gridDim.x) * warps) {
    const float* xr = x + row * n;
    float* yr = y + row * n;
    float v[kPerLane];
    float mx = -INFINITY;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int c = lane + 32 * j;
      v[j] = c < n ? xr[c] : -INFINITY;
      mx = fmaxf(mx, v[j]);
    }
    mx = warp_reduce(mx, MaxIgnoringNan{});
    float sum = 0.f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      if (lane + 32 * j < n) {
        const float e = expf(v[j] - mx);
        sum += e;
        if (!log) v[j] = e;
      }
    }
    sum = warp_reduce(sum, SumOf<float>{});
    // (x - max) - log Σ rather than x - (max + log Σ), as the CPU: keeps the fraction of x.
    const float fix = log ? logf(sum) : 1.f / sum;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int c = lane + 32 * j;
      if (c < n) yr[c] = log ? (v[j] - mx) - fix : v[j] * fix;
    }
  }
}

template <int kPerLane>
__global__ void softmax_backward_warp_kernel(const float* __restrict__ g, const float* __restrict__ y,
                                             float* __restrict__ gx, int64_t rows, int n, bool log) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = blockDim.x >> 5;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * warps + (threadIdx.x >> 5); row < rows;
       row += static_cast<int64_t>(gridDim.x) * warps) {
    const float* gr = g + row * n;
    const float* yr = y + row * n;
    float gv[kPerLane], yv[kPerLane];
    float dot = 0.f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int c = lane + 32 * j;
      gv[j] = c < n ? gr[c] : 0.f;
      yv[j] = c < n ? yr[c] : 0.f;
      dot += log ? gv[j] : gv[j] * yv[j];
    }
    dot = warp_reduce(dot, SumOf<float>{});
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int c = lane + 32 * j;
      if (c < n) gx[row * n + c] = log ? gv[j] - expf(yv[j]) * dot : yv[j] * (gv[j] - dot);
    }
  }
}

// ---- Long rows: one block per row ----

__global__ void softmax_block_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t rows, int64_t n,
                                     bool log) {
  __shared__ float smem[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* xr = x + row * n;
    float* yr = y + row * n;
    float mx = -INFINITY;
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) mx = fmaxf(mx, xr[c]);
    mx = block_reduce(mx, MaxIgnoringNan{}, -INFINITY, smem);
    float sum = 0.f;
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) sum += expf(xr[c] - mx);
    sum = block_reduce(sum, SumOf<float>{}, 0.f, smem);
    const float fix = log ? logf(sum) : 1.f / sum;
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x)
      yr[c] = log ? (xr[c] - mx) - fix : expf(xr[c] - mx) * fix;
  }
}

__global__ void softmax_backward_block_kernel(const float* __restrict__ g, const float* __restrict__ y,
                                              float* __restrict__ gx, int64_t rows, int64_t n, bool log) {
  __shared__ float smem[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* gr = g + row * n;
    const float* yr = y + row * n;
    float dot = 0.f;
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x) dot += log ? gr[c] : gr[c] * yr[c];
    dot = block_reduce(dot, SumOf<float>{}, 0.f, smem);
    for (int64_t c = threadIdx.x; c < n; c += blockDim.x)
      gx[row * n + c] = log ? gr[c] - expf(yr[c]) * dot : yr[c] * (gr[c] - dot);
  }
}

// ---- Softmax along a non-last dim: columns of stride `inner` ----

// Combines the by values of each column (threads with the same threadIdx.x) and returns
// the result to all of them. blockDim.y is a power of two.
template <class F>
__device__ float reduce_over_y(float v, F combine, float* smem) {
  const int bx = blockDim.x, tx = threadIdx.x, ty = threadIdx.y;
  smem[ty * bx + tx] = v;
  __syncthreads();
  for (int h = blockDim.y >> 1; h > 0; h >>= 1) {
    if (ty < h) smem[ty * bx + tx] = combine(smem[ty * bx + tx], smem[(ty + h) * bx + tx]);
    __syncthreads();
  }
  const float r = smem[tx];
  __syncthreads();  // smem is rewritten by the next call
  return r;
}

__global__ void softmax_columns_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t outer, int64_t n,
                                       int64_t inner, bool log) {
  __shared__ float smem[kColumnThreads];
  const int64_t tiles = (inner + blockDim.x - 1) / blockDim.x;
  for (int64_t t = blockIdx.x; t < outer * tiles; t += gridDim.x) {
    const int64_t o = t / tiles, p = (t % tiles) * blockDim.x + threadIdx.x;
    const bool valid = p < inner;
    const float* xc = x + o * n * inner + p;
    float* yc = y + o * n * inner + p;
    float mx = -INFINITY;
    if (valid)
      for (int64_t k = threadIdx.y; k < n; k += blockDim.y) mx = fmaxf(mx, xc[k * inner]);
    mx = reduce_over_y(mx, MaxIgnoringNan{}, smem);
    float sum = 0.f;
    if (valid)
      for (int64_t k = threadIdx.y; k < n; k += blockDim.y) sum += expf(xc[k * inner] - mx);
    sum = reduce_over_y(sum, SumOf<float>{}, smem);
    const float fix = log ? logf(sum) : 1.f / sum;
    if (valid)
      for (int64_t k = threadIdx.y; k < n; k += blockDim.y) {
        const float v = xc[k * inner];
        yc[k * inner] = log ? (v - mx) - fix : expf(v - mx) * fix;
      }
  }
}

__global__ void softmax_backward_columns_kernel(const float* __restrict__ g, const float* __restrict__ y,
                                                float* __restrict__ gx, int64_t outer, int64_t n, int64_t inner,
                                                bool log) {
  __shared__ float smem[kColumnThreads];
  const int64_t tiles = (inner + blockDim.x - 1) / blockDim.x;
  for (int64_t t = blockIdx.x; t < outer * tiles; t += gridDim.x) {
    const int64_t o = t / tiles, p = (t % tiles) * blockDim.x + threadIdx.x;
    const bool valid = p < inner;
    const int64_t base = o * n * inner + p;
    float dot = 0.f;
    if (valid)
      for (int64_t k = threadIdx.y; k < n; k += blockDim.y) {
        const int64_t i = base + k * inner;
        dot += log ? g[i] : g[i] * y[i];
      }
    dot = reduce_over_y(dot, SumOf<float>{}, smem);
    if (valid)
      for (int64_t k = threadIdx.y; k < n; k += blockDim.y) {
        const int64_t i = base + k * inner;
        gx[i] = log ? g[i] - expf(y[i]) * dot : y[i] * (g[i] - dot);
      }
  }
}

dim3 column_block(int64_t inner) {
  const int bx = std::min(32, next_pow2(inner));
  return dim3(bx, kColumnThreads / bx);
}

// Calls launch(Tag<kPerLane>) with the smallest register row that holds n elements.
template <int K>
struct PerLane {
  static constexpr int value = K;
};
template <class F>
void with_per_lane(int64_t n, F&& launch) {
  const int64_t per_lane = (n + 31) / 32;
  if (per_lane <= 1) return launch(PerLane<1>{});
  if (per_lane <= 2) return launch(PerLane<2>{});
  if (per_lane <= 4) return launch(PerLane<4>{});
  if (per_lane <= 8) return launch(PerLane<8>{});
  if (per_lane <= 16) return launch(PerLane<16>{});
  return launch(PerLane<32>{});
}

// The kernels index rows of contiguous tensors (the ops make them so); a strided tensor
// here is refused rather than read wrongly.
void check_float(const char* op, const Tensor& t, const char* what) {
  NL_CHECK(t.dtype() == DType::Float32, op, ": ", what, " must be float32, got ", dtype_name(t.dtype()));
  NL_CHECK(t.is_contiguous(), op, ": ", what, " must be contiguous");
}

// ---- Cross-entropy ----

// One row of C classes per group: a warp (kWholeBlock false, for C <= 1024) or a block.
template <bool kWholeBlock, class T, class F>
__device__ __forceinline__ T group_reduce(T v, F combine, T identity, T* smem) {
  if constexpr (kWholeBlock) return block_reduce(v, combine, identity, smem);
  else return warp_reduce(v, combine);
}

// losses[i] = lse_i - (1-ε)·x[i, t_i] - ε·mean_c x[i, c] (0 where t_i is ignore_index).
// The sums and the final arithmetic are in double as on the CPU: a confident prediction's
// loss log(1 + tiny) would round to 0 in a float sum. Targets out of range are recorded in
// `bad` (see index_check.cuh) and never used as an address.
template <bool kWholeBlock>
__global__ void cross_entropy_kernel(const float* __restrict__ x, const int64_t* __restrict__ target,
                                     float* __restrict__ losses, float* __restrict__ lse, int64_t N, int64_t C,
                                     int64_t ignore_index, double eps, unsigned long long* bad) {
  __shared__ float smem[32];
  __shared__ double smem_d[32];
  const int lanes = kWholeBlock ? blockDim.x : 32;
  const int lane = kWholeBlock ? threadIdx.x : (threadIdx.x & 31);
  const int64_t groups = kWholeBlock ? 1 : (blockDim.x >> 5);
  const int64_t group = kWholeBlock ? 0 : (threadIdx.x >> 5);
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * groups + group; i < N;
       i += static_cast<int64_t>(gridDim.x) * groups) {
    const float* row = x + i * C;
    float mx = -INFINITY;
    for (int64_t c = lane; c < C; c += lanes) mx = fmaxf(mx, row[c]);
    mx = group_reduce<kWholeBlock>(mx, MaxIgnoringNan{}, -INFINITY, smem);
    double sum = 0, total = 0;
    for (int64_t c = lane; c < C; c += lanes) {
      const float v = row[c];
      sum += expf(v - mx);
      total += v;
    }
    sum = group_reduce<kWholeBlock>(sum, SumOf<double>{}, 0.0, smem_d);
    total = group_reduce<kWholeBlock>(total, SumOf<double>{}, 0.0, smem_d);
    if (lane == 0) {
      const double l = static_cast<double>(mx) + ::log(sum);
      lse[i] = static_cast<float>(l);
      const int64_t t = target[i];
      if (t == ignore_index) {
        losses[i] = 0.f;
      } else if (t < 0 || t >= C) {
        note_bad_index(bad, i);
        losses[i] = 0.f;
      } else {
        double value = l - (1 - eps) * static_cast<double>(row[t]);
        if (eps != 0) value -= eps * total / static_cast<double>(C);
        losses[i] = static_cast<float>(value);
      }
    }
  }
}

// grad[i, k] = s_i·(e^(x - lse_i) - ε/C) - [k == t_i]·s_i·(1-ε); rows with t_i ==
// ignore_index get 0. One thread per element: every element is independent.
__global__ void cross_entropy_backward_kernel(const float* __restrict__ x, const int64_t* __restrict__ target,
                                              const float* __restrict__ lse, const float* __restrict__ scale,
                                              float* __restrict__ gx, int64_t N, int64_t C, int64_t ignore_index,
                                              float off_target, float on_target, unsigned long long* bad) {
  NL_GRID_STRIDE_LOOP(e, N * C) {
    const int64_t i = e / C, k = e - i * C;
    const int64_t t = target[i];
    if (t == ignore_index) {
      gx[e] = 0.f;
      continue;
    }
    if (t < 0 || t >= C) {
      // Reported later when checks are deferred: leave a defined gradient meanwhile.
      note_bad_index(bad, i);
      gx[e] = 0.f;
      continue;
    }
    const float s = scale[i];
    float v = s * (expf(x[e] - lse[i]) - off_target);
    if (k == t) v -= s * on_target;
    gx[e] = v;
  }
}

// The CPU's message (check_targets in engine/backends/cpu/softmax.cpp), for both passes.
// The CPU's message for a target out of range, as the probe's message function.
auto target_message(int64_t classes, int64_t ignore_index) {
  return [classes, ignore_index](int64_t value, int64_t position) {
    return "cross_entropy: target " + std::to_string(value) + " at position " + std::to_string(position) +
           " is out of range for " + std::to_string(classes) + " classes (expected 0.." +
           std::to_string(classes - 1) + " or ignore_index " + std::to_string(ignore_index) + ")";
  };
}

}  // namespace

void CudaBackend::softmax(const Tensor& x, int dim, bool log, Tensor& out) {
  const char* op = log ? "log_softmax" : "softmax";
  check_float(op, x, "input");
  check_float(op, out, "output");
  if (x.numel() == 0) return;
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  const DimLayout L(x.shape(), dim);
  const float* xd = device_ptr<const float>(x);
  float* yd = device_ptr<float>(out);
  if (L.inner == 1) {
    const int64_t rows = L.outer;
    if (L.n <= kWarpRowsMax) {
      const int n = static_cast<int>(L.n);
      with_per_lane(L.n, [&](auto per_lane) {
        softmax_warp_kernel<decltype(per_lane)::value>
            <<<blocks_for(rows, kRowThreads / 32), kRowThreads, 0, stream>>>(xd, yd, rows, n, log);
      });
    } else {
      const int threads = L.n >= 8192 ? 512 : 256;
      softmax_block_kernel<<<blocks_for(rows, 1), threads, 0, stream>>>(xd, yd, rows, L.n, log);
    }
  } else {
    const dim3 block = column_block(L.inner);
    const int64_t tiles = (L.inner + block.x - 1) / block.x;
    softmax_columns_kernel<<<blocks_for(L.outer * tiles, 1), block, 0, stream>>>(xd, yd, L.outer, L.n, L.inner, log);
  }
  NL_CUDA_CHECK_LAUNCH(op);
}

void CudaBackend::softmax_backward(const Tensor& grad_out, const Tensor& y, int dim, bool log, Tensor& grad_x) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  check_float(op, grad_out, "grad_out");
  check_float(op, y, "output");
  check_float(op, grad_x, "grad_x");
  NL_CHECK(grad_out.shape() == y.shape(), op, ": grad_out shape ", grad_out.shape().str(), " differs from output shape ",
           y.shape().str());
  if (y.numel() == 0) return;
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  const DimLayout L(y.shape(), dim);
  const float* g = device_ptr<const float>(grad_out);
  const float* yd = device_ptr<const float>(y);
  float* gx = device_ptr<float>(grad_x);
  if (L.inner == 1) {
    const int64_t rows = L.outer;
    if (L.n <= kWarpRowsMax) {
      const int n = static_cast<int>(L.n);
      with_per_lane(L.n, [&](auto per_lane) {
        softmax_backward_warp_kernel<decltype(per_lane)::value>
            <<<blocks_for(rows, kRowThreads / 32), kRowThreads, 0, stream>>>(g, yd, gx, rows, n, log);
      });
    } else {
      const int threads = L.n >= 8192 ? 512 : 256;
      softmax_backward_block_kernel<<<blocks_for(rows, 1), threads, 0, stream>>>(g, yd, gx, rows, L.n, log);
    }
  } else {
    const dim3 block = column_block(L.inner);
    const int64_t tiles = (L.inner + block.x - 1) / block.x;
    softmax_backward_columns_kernel<<<blocks_for(L.outer * tiles, 1), block, 0, stream>>>(g, yd, gx, L.outer, L.n,
                                                                                          L.inner, log);
  }
  NL_CUDA_CHECK_LAUNCH(op);
}

void CudaBackend::cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                                double label_smoothing, Tensor& losses, Tensor& lse) {
  check_float("cross_entropy", logits, "logits");
  check_float("cross_entropy", losses, "losses");
  check_float("cross_entropy", lse, "lse");
  NL_CHECK(target.dtype() == DType::Int64, "cross_entropy: target must be int64 class indices, got ",
           dtype_name(target.dtype()));
  NL_CHECK(target.is_contiguous(), "cross_entropy: target must be contiguous");
  NL_CHECK(logits.dim() == 2 && target.dim() == 1 && target.size(0) == logits.size(0),
           "cross_entropy: expected logits [N, C] and target [N], got ", logits.shape().str(), " and ",
           target.shape().str());
  const int64_t n = logits.size(0), c = logits.size(1);
  if (n == 0) return;
  NL_CHECK(c > 0, "cross_entropy: logits have no classes (shape ", logits.shape().str(), ")");
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  BadIndexProbe probe(index_, stream, "cross_entropy");
  const float* x = device_ptr<const float>(logits);
  const int64_t* t = device_ptr<const int64_t>(target);
  float* loss = device_ptr<float>(losses);
  float* l = device_ptr<float>(lse);
  if (c <= kWarpRowsMax) {
    cross_entropy_kernel<false><<<blocks_for(n, kRowThreads / 32), kRowThreads, 0, stream>>>(
        x, t, loss, l, n, c, ignore_index, label_smoothing, probe.flag());
  } else {
    cross_entropy_kernel<true><<<blocks_for(n, 1), 512, 0, stream>>>(x, t, loss, l, n, c, ignore_index,
                                                                     label_smoothing, probe.flag());
  }
  NL_CUDA_CHECK_LAUNCH("cross_entropy");
  probe.check(t, target_message(c, ignore_index));
}

// The targets are checked again, as on the CPU (the backend may be called directly): one
// stream synchronisation after the kernel is queued, none in the trainer's steps (deferred).
void CudaBackend::cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse,
                                         const Tensor& scale, int64_t ignore_index, double label_smoothing,
                                         Tensor& grad_logits) {
  check_float("cross_entropy_backward", logits, "logits");
  check_float("cross_entropy_backward", lse, "lse");
  check_float("cross_entropy_backward", scale, "scale");
  NL_CHECK(target.dtype() == DType::Int64, "cross_entropy_backward: target must be int64 class indices, got ",
           dtype_name(target.dtype()));
  NL_CHECK(target.is_contiguous(), "cross_entropy_backward: target must be contiguous");
  check_float("cross_entropy_backward", grad_logits, "grad_logits");
  const int64_t n = logits.size(0), c = logits.size(1);
  if (n == 0 || c == 0) return;
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  BadIndexProbe probe(index_, stream, "cross_entropy_backward");
  const int64_t* t = device_ptr<const int64_t>(target);
  const float off_target = static_cast<float>(label_smoothing / c);
  const float on_target = static_cast<float>(1 - label_smoothing);
  cross_entropy_backward_kernel<<<grid_for(n * c), kThreads, 0, stream>>>(
      device_ptr<const float>(logits), t, device_ptr<const float>(lse), device_ptr<const float>(scale),
      device_ptr<float>(grad_logits), n, c, ignore_index, off_target, on_target, probe.flag());
  NL_CUDA_CHECK_LAUNCH("cross_entropy_backward");
  probe.check(t, target_message(c, ignore_index));
}

}  // namespace nl::cuda
