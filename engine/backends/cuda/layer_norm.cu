// CUDA layer normalisation over the trailing `normalized_numel` (d) elements of each row
// of a contiguous float32 tensor, forward and backward, with the CPU backend's formulas
// and conventions (engine/backends/cpu/norm.cpp):
//   μ = mean(x), ρ = 1/sqrt(mean((x-μ)²) + eps) (two-pass variance), y = (x-μ)·ρ·w + b;
//   with ĝ = g·w and x̂ = (x-μ)·ρ:  dx = ρ·(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)),
//   dw = Σ_rows g·x̂, db = Σ_rows g.
// weight and bias may be undefined (then w = 1, b = 0); grad_x, grad_weight and
// grad_bias may be undefined when not wanted, and are then not computed.
//
// Rows go to one warp each when d <= 1024 and to one block each beyond; the passes over a
// row after the first read it from L1/L2. Sums are accumulated in double, as on the CPU:
// a float mean of rows far from zero (x ≈ 1000, std 0.01) would be off by a fair part of
// the standard deviation. dw and db are column sums over the rows: blocks
// of 32 adjacent columns (coalesced) x 16 row-strided threads, the rows split over grid.y
// when there are few columns, and the split partials summed by a second kernel (no
// atomics, so the result is the same on every run).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "engine/backends/cuda/block_reduce.cuh"
#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/kernel_utils.cuh"

namespace nl::cuda {
namespace {

constexpr unsigned kMaxBlocks = 65535u * 8u;
constexpr int64_t kWarpRowMax = 1024;
constexpr int kRowThreads = 256;
constexpr int kColX = 32, kColY = 16;

unsigned blocks_for(int64_t work_items, int64_t per_block) {
  const int64_t b = (work_items + per_block - 1) / per_block;
  return static_cast<unsigned>(std::clamp<int64_t>(b, 1, kMaxBlocks));
}

// A row is reduced by a warp (kWholeBlock false) or by the whole block.
template <bool kWholeBlock>
struct RowGroup {
  int lane, lanes;
  int64_t first, step;  // first row and row step of this group
  __device__ RowGroup() {
    if constexpr (kWholeBlock) {
      lane = threadIdx.x;
      lanes = blockDim.x;
      first = blockIdx.x;
      step = gridDim.x;
    } else {
      lane = threadIdx.x & 31;
      lanes = 32;
      const int64_t warps = blockDim.x >> 5;
      first = static_cast<int64_t>(blockIdx.x) * warps + (threadIdx.x >> 5);
      step = static_cast<int64_t>(gridDim.x) * warps;
    }
  }
  __device__ double sum(double v, double* smem) const {
    if constexpr (kWholeBlock) return block_reduce(v, SumOf<double>{}, 0.0, smem);
    else return warp_reduce(v, SumOf<double>{});
  }
};

template <bool kWholeBlock>
__global__ void layer_norm_kernel(const float* __restrict__ x, const float* __restrict__ w,
                                  const float* __restrict__ b, float* __restrict__ y, float* __restrict__ mean,
                                  float* __restrict__ rstd, int64_t rows, int64_t d, double eps) {
  __shared__ double smem[32];
  const RowGroup<kWholeBlock> grp;
  // The row loop is uniform over the group, so every lane reaches the reductions.
  for (int64_t r = grp.first; r < rows; r += grp.step) {
    const float* p = x + r * d;
    float* q = y + r * d;
    double s = 0;
    for (int64_t k = grp.lane; k < d; k += grp.lanes) s += p[k];
    const double mu_d = grp.sum(s, smem) / static_cast<double>(d);
    double sq = 0;
    for (int64_t k = grp.lane; k < d; k += grp.lanes) {
      const double dev = p[k] - mu_d;
      sq += dev * dev;
    }
    const double rs_d = 1.0 / ::sqrt(grp.sum(sq, smem) / static_cast<double>(d) + eps);
    const float mu = static_cast<float>(mu_d), rs = static_cast<float>(rs_d);
    if (grp.lane == 0) {
      mean[r] = mu;
      rstd[r] = rs;
    }
    for (int64_t k = grp.lane; k < d; k += grp.lanes) {
      float v = (p[k] - mu) * rs;
      if (w) v *= w[k];
      if (b) v += b[k];
      q[k] = v;
    }
  }
}

template <bool kWholeBlock>
__global__ void layer_norm_backward_x_kernel(const float* __restrict__ g, const float* __restrict__ x,
                                             const float* __restrict__ w, const float* __restrict__ mean,
                                             const float* __restrict__ rstd, float* __restrict__ gx, int64_t rows,
                                             int64_t d) {
  __shared__ double smem[32];
  const RowGroup<kWholeBlock> grp;
  for (int64_t r = grp.first; r < rows; r += grp.step) {
    const float* gp = g + r * d;
    const float* xp = x + r * d;
    const float mu = mean[r], rs = rstd[r];
    double sum_gw = 0, sum_gw_xhat = 0;
    for (int64_t k = grp.lane; k < d; k += grp.lanes) {
      const float gwk = gp[k] * (w ? w[k] : 1.0f);
      sum_gw += gwk;
      sum_gw_xhat += gwk * ((xp[k] - mu) * rs);
    }
    const float mean_gw = static_cast<float>(grp.sum(sum_gw, smem) / static_cast<double>(d));
    const float mean_gw_xhat = static_cast<float>(grp.sum(sum_gw_xhat, smem) / static_cast<double>(d));
    float* out = gx + r * d;
    for (int64_t k = grp.lane; k < d; k += grp.lanes) {
      const float xhat = (xp[k] - mu) * rs;
      out[k] = rs * (gp[k] * (w ? w[k] : 1.0f) - mean_gw - xhat * mean_gw_xhat);
    }
  }
}

// Column sums dw[k] = Σ g·x̂, db[k] = Σ g over the rows [s·chunk, (s+1)·chunk) of split s
// = blockIdx.y, written to out_w/out_b at [s·d + k] (either may be null): the final
// float gradients, or double partials when the rows are split.
template <class Out>
__global__ void layer_norm_param_grad_kernel(const float* __restrict__ g, const float* __restrict__ x,
                                             const float* __restrict__ mean, const float* __restrict__ rstd,
                                             int64_t rows, int64_t d, int64_t chunk, Out* __restrict__ out_w,
                                             Out* __restrict__ out_b) {
  __shared__ double sw[kColY][kColX];
  __shared__ double sb[kColY][kColX];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t r1 = r0 + chunk < rows ? r0 + chunk : rows;
  for (int64_t kb = static_cast<int64_t>(blockIdx.x) * kColX; kb < d; kb += static_cast<int64_t>(gridDim.x) * kColX) {
    const int64_t k = kb + tx;
    double aw = 0, ab = 0;
    if (k < d) {
      for (int64_t r = r0 + ty; r < r1; r += kColY) {
        const float gv = g[r * d + k];
        aw += gv * ((x[r * d + k] - mean[r]) * rstd[r]);
        ab += gv;
      }
    }
    sw[ty][tx] = aw;
    sb[ty][tx] = ab;
    __syncthreads();
    for (int h = kColY / 2; h > 0; h >>= 1) {
      if (ty < h) {
        sw[ty][tx] += sw[ty + h][tx];
        sb[ty][tx] += sb[ty + h][tx];
      }
      __syncthreads();
    }
    if (ty == 0 && k < d) {
      const int64_t o = static_cast<int64_t>(blockIdx.y) * d + k;
      if (out_w) out_w[o] = static_cast<Out>(sw[0][tx]);
      if (out_b) out_b[o] = static_cast<Out>(sb[0][tx]);
    }
    __syncthreads();  // sw/sb are rewritten by the next iteration
  }
}

// Sums the `splits` partial rows [splits, d] column by column.
__global__ void sum_partials_kernel(const double* __restrict__ partial, int64_t splits, int64_t d,
                                    float* __restrict__ out) {
  NL_GRID_STRIDE_LOOP(k, d) {
    double acc = 0;
    for (int64_t s = 0; s < splits; ++s) acc += partial[s * d + k];
    out[k] = static_cast<float>(acc);
  }
}

const float* data_or_null(const Tensor& t) { return t.defined() ? device_ptr<const float>(t) : nullptr; }
float* mutable_data_or_null(Tensor& t) { return t.defined() ? device_ptr<float>(t) : nullptr; }

// Undefined tensors pass; the kernels index rows of contiguous tensors (the op makes them
// so), so a strided one is refused rather than read wrongly.
void check_float(const char* op, const Tensor& t, const char* what) {
  if (!t.defined()) return;
  NL_CHECK(t.dtype() == DType::Float32, op, ": ", what, " must be float32, got ", dtype_name(t.dtype()));
  NL_CHECK(t.is_contiguous(), op, ": ", what, " must be contiguous");
}

}  // namespace

void CudaBackend::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_numel,
                             double eps, Tensor& out, Tensor& mean, Tensor& rstd) {
  check_float("layer_norm", x, "input");
  check_float("layer_norm", weight, "weight");
  check_float("layer_norm", bias, "bias");
  check_float("layer_norm", out, "output");
  const int64_t d = normalized_numel;
  const int64_t rows = d > 0 ? x.numel() / d : 0;
  if (rows == 0) return;
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  const float* xd = device_ptr<const float>(x);
  const float* w = data_or_null(weight);
  const float* b = data_or_null(bias);
  float* y = device_ptr<float>(out);
  float* md = device_ptr<float>(mean);
  float* rd = device_ptr<float>(rstd);
  if (d <= kWarpRowMax) {
    layer_norm_kernel<false><<<blocks_for(rows, kRowThreads / 32), kRowThreads, 0, stream>>>(xd, w, b, y, md, rd,
                                                                                            rows, d, eps);
  } else {
    const int threads = d >= 8192 ? 512 : 256;
    layer_norm_kernel<true><<<blocks_for(rows, 1), threads, 0, stream>>>(xd, w, b, y, md, rd, rows, d, eps);
  }
  NL_CUDA_CHECK_LAUNCH("layer_norm");
}

void CudaBackend::layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                      const Tensor& mean, const Tensor& rstd, int64_t normalized_numel,
                                      Tensor& grad_x, Tensor& grad_weight, Tensor& grad_bias) {
  const char* op = "layer_norm_backward";
  check_float(op, grad_out, "grad_out");
  check_float(op, x, "input");
  check_float(op, weight, "weight");
  check_float(op, grad_x, "grad_x");
  check_float(op, grad_weight, "grad_weight");
  check_float(op, grad_bias, "grad_bias");
  const int64_t d = normalized_numel;
  const int64_t rows = d > 0 ? x.numel() / d : 0;
  float* gx = mutable_data_or_null(grad_x);
  float* gw = mutable_data_or_null(grad_weight);
  float* gb = mutable_data_or_null(grad_bias);
  if (d == 0) return;
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  if (rows == 0) {  // sums over no rows
    if (gw) NL_CUDA_CHECK(cudaMemsetAsync(gw, 0, sizeof(float) * d, stream), op);
    if (gb) NL_CUDA_CHECK(cudaMemsetAsync(gb, 0, sizeof(float) * d, stream), op);
    return;
  }
  const float* g = device_ptr<const float>(grad_out);
  const float* xd = device_ptr<const float>(x);
  const float* w = data_or_null(weight);
  const float* md = device_ptr<const float>(mean);
  const float* rd = device_ptr<const float>(rstd);

  if (gx) {
    if (d <= kWarpRowMax) {
      layer_norm_backward_x_kernel<false><<<blocks_for(rows, kRowThreads / 32), kRowThreads, 0, stream>>>(
          g, xd, w, md, rd, gx, rows, d);
    } else {
      const int threads = d >= 8192 ? 512 : 256;
      layer_norm_backward_x_kernel<true><<<blocks_for(rows, 1), threads, 0, stream>>>(g, xd, w, md, rd, gx, rows, d);
    }
    NL_CUDA_CHECK_LAUNCH(op);
  }
  if (!gw && !gb) return;

  // Split the rows over grid.y until about 4 blocks per SM run, each thread summing at
  // least 16 rows.
  const int64_t blocks_x = (d + kColX - 1) / kColX;
  const int64_t target = 4LL * device_properties(index_).multiProcessorCount;
  int64_t splits = 1;
  if (blocks_x < target)
    splits = std::clamp<int64_t>(std::min((target + blocks_x - 1) / blocks_x, rows / (kColY * 16)), 1, 65535);
  const int64_t chunk = (rows + splits - 1) / splits;
  splits = (rows + chunk - 1) / chunk;
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>(blocks_x, kMaxBlocks)), static_cast<unsigned>(splits));
  const dim3 block(kColX, kColY);
  if (splits == 1) {
    layer_norm_param_grad_kernel<float><<<grid, block, 0, stream>>>(g, xd, md, rd, rows, d, chunk, gw, gb);
    NL_CUDA_CHECK_LAUNCH(op);
    return;
  }
  Tensor partial = Tensor::empty({2 * splits * d}, DType::Float64, Device::cuda(index_));
  double* pw = device_ptr<double>(partial);
  double* pb = pw + splits * d;
  layer_norm_param_grad_kernel<double><<<grid, block, 0, stream>>>(g, xd, md, rd, rows, d, chunk,
                                                                   gw ? pw : nullptr, gb ? pb : nullptr);
  NL_CUDA_CHECK_LAUNCH(op);
  if (gw) {
    sum_partials_kernel<<<grid_for(d), kThreads, 0, stream>>>(pw, splits, d, gw);
    NL_CUDA_CHECK_LAUNCH(op);
  }
  if (gb) {
    sum_partials_kernel<<<grid_for(d), kThreads, 0, stream>>>(pb, splits, d, gb);
    NL_CUDA_CHECK_LAUNCH(op);
  }
}

}  // namespace nl::cuda
