// CUDA max and average pooling over NCHW planes (float32), forward and backward, with the
// CPU backend's rules (engine/backends/cpu/pool.cpp):
// - max: taps visited row-major over the window; a tap wins when it is the window's first
//   in-bounds tap, greater than the best so far, or NaN (so the first of equal maxima is
//   kept and the last NaN wins). Indices are flat positions in the H*W plane; a window
//   lying wholly in the padding gives -inf with index -1, which backward skips.
// - avg: the divisor of a window is PyTorch's (clipped to the padded input with
//   count_include_pad, to the real input otherwise; at least 1). The forward sums taps in
//   the CPU's order, so its results are the CPU's bit for bit.
// One thread per output (forward) or per input cell (average backward, a gather over the
// windows that cover the cell, so no atomics); max backward has no window geometry (only
// the indices), so it scatters with atomicAdd.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/kernel_utils.cuh"

namespace nl::cuda {
namespace {

struct Geometry {
  int64_t planes, in_h, in_w, out_h, out_w;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool count_include_pad;
};

Geometry make_geometry(const Shape& in, const Shape& out, const Pool2dParams& p) {
  return {in[0] * in[1], in[2],         in[3],         out[2],        out[3],        p.kernel[0], p.kernel[1],
          p.stride[0],   p.stride[1],   p.padding[0],  p.padding[1],  p.dilation[0], p.dilation[1],
          p.count_include_pad};
}

__global__ void max_pool2d_kernel(const float* __restrict__ x, float* __restrict__ out, int64_t* __restrict__ indices,
                                  Geometry g) {
  const int64_t out_plane = g.out_h * g.out_w;
  NL_GRID_STRIDE_LOOP(e, g.planes * out_plane) {
    const int64_t plane = e / out_plane, rest = e - plane * out_plane;
    const int64_t oh = rest / g.out_w, ow = rest - oh * g.out_w;
    const float* in = x + plane * g.in_h * g.in_w;
    float best = -INFINITY;
    int64_t best_index = -1;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ih = oh * g.sh - g.ph + i * g.dh;
      if (ih < 0 || ih >= g.in_h) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t iw = ow * g.sw - g.pw + j * g.dw;
        if (iw < 0 || iw >= g.in_w) continue;
        const float v = in[ih * g.in_w + iw];
        if (best_index < 0 || v > best || isnan(v)) {
          best = v;
          best_index = ih * g.in_w + iw;
        }
      }
    }
    out[e] = best;
    indices[e] = best_index;
  }
}

__global__ void max_pool2d_backward_kernel(const float* __restrict__ grad_out, const int64_t* __restrict__ indices,
                                           float* __restrict__ grad_x, int64_t planes, int64_t out_plane,
                                           int64_t in_plane) {
  NL_GRID_STRIDE_LOOP(e, planes * out_plane) {
    const int64_t k = indices[e];
    if (k < 0 || k >= in_plane) continue;  // -1: the window saw only padding
    const int64_t plane = e / out_plane;
    atomicAdd(grad_x + plane * in_plane + k, grad_out[e]);
  }
}

// Taps of window `o` along one axis that the average divides by (avg_axis_counts on the CPU).
__device__ __forceinline__ int64_t avg_axis_count(int64_t o, int64_t in_size, int64_t kernel, int64_t stride,
                                                  int64_t pad, bool count_include_pad) {
  const int64_t start = o * stride - pad;
  const int64_t end = min(start + kernel, in_size + pad);
  return count_include_pad ? end - start : min(end, in_size) - max(start, int64_t(0));
}

__device__ __forceinline__ float avg_divisor(const Geometry& g, int64_t oh, int64_t ow) {
  const int64_t rows = avg_axis_count(oh, g.in_h, g.kh, g.sh, g.ph, g.count_include_pad);
  const int64_t cols = avg_axis_count(ow, g.in_w, g.kw, g.sw, g.pw, g.count_include_pad);
  return static_cast<float>(max(rows * cols, int64_t(1)));
}

__global__ void avg_pool2d_kernel(const float* __restrict__ x, float* __restrict__ out, Geometry g) {
  const int64_t out_plane = g.out_h * g.out_w;
  NL_GRID_STRIDE_LOOP(e, g.planes * out_plane) {
    const int64_t plane = e / out_plane, rest = e - plane * out_plane;
    const int64_t oh = rest / g.out_w, ow = rest - oh * g.out_w;
    const float* in = x + plane * g.in_h * g.in_w;
    float sum = 0.f;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ih = oh * g.sh - g.ph + i;
      if (ih < 0 || ih >= g.in_h) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t iw = ow * g.sw - g.pw + j;
        if (iw < 0 || iw >= g.in_w) continue;
        sum += in[ih * g.in_w + iw];
      }
    }
    out[e] = sum / avg_divisor(g, oh, ow);
  }
}

// Outputs o along one axis whose window [o·stride - pad, o·stride - pad + kernel) holds
// input position i: [lo, hi] (empty when lo > hi).
__device__ __forceinline__ void covering_windows(int64_t i, int64_t kernel, int64_t stride, int64_t pad,
                                                 int64_t out_size, int64_t& lo, int64_t& hi) {
  const int64_t first = i + pad - kernel + 1;  // smallest window start that still covers i
  lo = first > 0 ? (first + stride - 1) / stride : 0;
  hi = min((i + pad) / stride, out_size - 1);
}

__global__ void avg_pool2d_backward_kernel(const float* __restrict__ grad_out, float* __restrict__ grad_x,
                                           Geometry g) {
  const int64_t in_plane = g.in_h * g.in_w;
  NL_GRID_STRIDE_LOOP(e, g.planes * in_plane) {
    const int64_t plane = e / in_plane, rest = e - plane * in_plane;
    const int64_t ih = rest / g.in_w, iw = rest - ih * g.in_w;
    int64_t oh0, oh1, ow0, ow1;
    covering_windows(ih, g.kh, g.sh, g.ph, g.out_h, oh0, oh1);
    covering_windows(iw, g.kw, g.sw, g.pw, g.out_w, ow0, ow1);
    const float* go = grad_out + plane * g.out_h * g.out_w;
    float acc = 0.f;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) acc += go[oh * g.out_w + ow] / avg_divisor(g, oh, ow);
    grad_x[e] = acc;
  }
}

void check_float(const char* op, const Tensor& t, const char* what) {
  NL_CHECK(t.dtype() == DType::Float32, op, ": ", what, " must be float32, got ", dtype_name(t.dtype()));
}

// The kernels index contiguous NCHW planes (the ops make them so); a strided tensor here
// is refused rather than read wrongly.
void check_4d(const char* op, const Tensor& t, const char* what) {
  NL_CHECK(t.dim() == 4, op, ": ", what, " must be 4-D [N, C, H, W], got ", t.shape().str());
  NL_CHECK(t.is_contiguous(), op, ": ", what, " must be contiguous");
}

}  // namespace

void CudaBackend::max_pool2d(const Tensor& x, Tensor& out, Tensor& indices, const Pool2dParams& p) {
  check_float("max_pool2d", x, "input");
  check_4d("max_pool2d", x, "input");
  check_4d("max_pool2d", out, "output");
  NL_CHECK(indices.dtype() == DType::Int64, "max_pool2d: indices must be int64, got ", dtype_name(indices.dtype()));
  const Geometry g = make_geometry(x.shape(), out.shape(), p);
  const int64_t n = out.numel();
  if (n == 0) return;
  DeviceGuard guard(index_);
  max_pool2d_kernel<<<grid_for(n), kThreads, 0, compute_stream(index_)>>>(
      device_ptr<const float>(x), device_ptr<float>(out), device_ptr<int64_t>(indices), g);
  NL_CUDA_CHECK_LAUNCH("max_pool2d");
}

void CudaBackend::max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_x) {
  check_float("max_pool2d_backward", grad_out, "grad_out");
  check_4d("max_pool2d_backward", grad_out, "grad_out");
  check_4d("max_pool2d_backward", grad_x, "grad_x");
  NL_CHECK(indices.dtype() == DType::Int64 && indices.shape() == grad_out.shape() && indices.is_contiguous(),
           "max_pool2d_backward: indices must be contiguous int64 of shape ", grad_out.shape().str(), ", got ",
           dtype_name(indices.dtype()), " ", indices.shape().str());
  if (grad_x.numel() == 0) return;
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  NL_CUDA_CHECK(cudaMemsetAsync(device_ptr<float>(grad_x), 0, sizeof(float) * grad_x.numel(), stream),
                "max_pool2d_backward");
  const int64_t planes = grad_x.size(0) * grad_x.size(1);
  const int64_t out_plane = grad_out.size(2) * grad_out.size(3), in_plane = grad_x.size(2) * grad_x.size(3);
  const int64_t n = planes * out_plane;
  if (n == 0) return;
  max_pool2d_backward_kernel<<<grid_for(n), kThreads, 0, stream>>>(
      device_ptr<const float>(grad_out), device_ptr<const int64_t>(indices), device_ptr<float>(grad_x), planes,
      out_plane, in_plane);
  NL_CUDA_CHECK_LAUNCH("max_pool2d_backward");
}

void CudaBackend::avg_pool2d(const Tensor& x, Tensor& out, const Pool2dParams& p) {
  check_float("avg_pool2d", x, "input");
  check_4d("avg_pool2d", x, "input");
  check_4d("avg_pool2d", out, "output");
  const Geometry g = make_geometry(x.shape(), out.shape(), p);
  const int64_t n = out.numel();
  if (n == 0) return;
  DeviceGuard guard(index_);
  avg_pool2d_kernel<<<grid_for(n), kThreads, 0, compute_stream(index_)>>>(device_ptr<const float>(x),
                                                                         device_ptr<float>(out), g);
  NL_CUDA_CHECK_LAUNCH("avg_pool2d");
}

void CudaBackend::avg_pool2d_backward(const Tensor& grad_out, Tensor& grad_x, const Pool2dParams& p) {
  check_float("avg_pool2d_backward", grad_out, "grad_out");
  check_4d("avg_pool2d_backward", grad_out, "grad_out");
  check_4d("avg_pool2d_backward", grad_x, "grad_x");
  const Geometry g = make_geometry(grad_x.shape(), grad_out.shape(), p);
  const int64_t n = grad_x.numel();
  if (n == 0) return;
  DeviceGuard guard(index_);
  avg_pool2d_backward_kernel<<<grid_for(n), kThreads, 0, compute_stream(index_)>>>(
      device_ptr<const float>(grad_out), device_ptr<float>(grad_x), g);
  NL_CUDA_CHECK_LAUNCH("avg_pool2d_backward");
}

}  // namespace nl::cuda
