// Per-channel kernels around the cuDNN calls (see channel_kernels.h): conv bias add and the
// batch-norm pieces outside cuDNN's training path. Tensors viewed as [N, C, S].
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "engine/backends/cuda/channel_kernels.h"
#include "engine/backends/cuda/kernel_utils.cuh"

namespace nl::cuda {
namespace {

// x [N, C, *] as N, C and S = product of the trailing dims.
struct ChannelShape {
  int64_t n = 0, c = 0, s = 0;
  explicit ChannelShape(const Tensor& x) {
    n = x.dim() > 0 ? x.size(0) : 1;
    c = x.dim() > 1 ? x.size(1) : 1;
    s = (n * c) > 0 ? x.numel() / (n * c) : 0;
  }
};

template <class T>
__global__ void add_channel_bias_kernel(T* __restrict__ out, const T* __restrict__ bias, int64_t numel,
                                        int64_t channels, int64_t plane) {
  using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
  NL_GRID_STRIDE_LOOP(i, numel) {
    const int64_t c = (i / plane) % channels;
    out[i] = convert<T>(convert<A>(out[i]) + convert<A>(bias[c]));
  }
}

__global__ void fill_float_kernel(float* __restrict__ p, float value, int64_t numel) {
  NL_GRID_STRIDE_LOOP(i, numel) p[i] = value;
}

__global__ void eval_stats_kernel(const float* __restrict__ rm, const float* __restrict__ rv, double eps,
                                  float* __restrict__ sm, float* __restrict__ si, int64_t channels) {
  NL_GRID_STRIDE_LOOP(c, channels) {
    sm[c] = rm[c];
    si[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(rv[c]) + eps));
  }
}

__global__ void eval_backward_input_kernel(const float* __restrict__ g, const float* __restrict__ w,
                                           const float* __restrict__ si, float* __restrict__ gx, int64_t numel,
                                           int64_t channels, int64_t plane) {
  NL_GRID_STRIDE_LOOP(i, numel) {
    const int64_t c = (i / plane) % channels;
    // The scale is formed in double and rounded once, as the CPU does.
    const float a = static_cast<float>((w ? static_cast<double>(w[c]) : 1.0) * static_cast<double>(si[c]));
    gx[i] = a * g[i];
  }
}

constexpr int kReduceThreads = 256;

// Sums two doubles over the block; the result is valid in thread 0.
__device__ void block_sum2(double& a, double& b) {
  __shared__ double sa[kReduceThreads / 32], sb[kReduceThreads / 32];
  for (int off = 16; off > 0; off >>= 1) {
    a += __shfl_down_sync(0xffffffffu, a, off);
    b += __shfl_down_sync(0xffffffffu, b, off);
  }
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) {
    sa[warp] = a;
    sb[warp] = b;
  }
  __syncthreads();
  if (warp == 0) {
    a = lane < kReduceThreads / 32 ? sa[lane] : 0.0;
    b = lane < kReduceThreads / 32 ? sb[lane] : 0.0;
    for (int off = 16; off > 0; off >>= 1) {
      a += __shfl_down_sync(0xffffffffu, a, off);
      b += __shfl_down_sync(0xffffffffu, b, off);
    }
  }
}

// Block (c, split) sums g and g·(x - mean[c]) over its share of channel c's N·S values and
// writes the pair to partial[(c * splits + split) * 2 + {0, 1}].
__global__ void param_grad_partials_kernel(const float* __restrict__ g, const float* __restrict__ x,
                                           const float* __restrict__ mean, double* __restrict__ partial,
                                           int64_t channels, int64_t plane, int64_t count, int64_t per_split) {
  const int64_t c = blockIdx.x;
  const int64_t split = blockIdx.y;
  const int64_t begin = split * per_split;
  const int64_t end = begin + per_split < count ? begin + per_split : count;
  const float m = mean[c];
  double sum_g = 0, sum_gxc = 0;
  for (int64_t k = begin + threadIdx.x; k < end; k += blockDim.x) {
    const int64_t n = k / plane, s = k - n * plane;
    const int64_t off = (n * channels + c) * plane + s;
    const double gv = g[off];
    sum_g += gv;
    sum_gxc += gv * static_cast<double>(x[off] - m);
  }
  block_sum2(sum_g, sum_gxc);
  if (threadIdx.x == 0) {
    partial[(c * gridDim.y + split) * 2] = sum_g;
    partial[(c * gridDim.y + split) * 2 + 1] = sum_gxc;
  }
}

// Adds the splits of each channel in a fixed order (deterministic) and writes the gradients.
__global__ void param_grad_finish_kernel(const double* __restrict__ partial, const float* __restrict__ invstd,
                                         float* __restrict__ gw, float* __restrict__ gb, int64_t channels,
                                         int64_t splits) {
  NL_GRID_STRIDE_LOOP(c, channels) {
    double sum_g = 0, sum_gxc = 0;
    for (int64_t k = 0; k < splits; ++k) {
      sum_g += partial[(c * splits + k) * 2];
      sum_gxc += partial[(c * splits + k) * 2 + 1];
    }
    if (gw) gw[c] = static_cast<float>(sum_gxc * static_cast<double>(invstd[c]));
    if (gb) gb[c] = static_cast<float>(sum_g);
  }
}

void check_float32(const Tensor& t, const char* op, const char* what) {
  NL_CHECK(t.dtype() == DType::Float32, op, ": ", what, " must be float32 on CUDA, got ", dtype_name(t.dtype()));
}

}  // namespace

void add_channel_bias(const Tensor& bias, Tensor& out, int device, const char* op) {
  NL_CHECK(bias.dtype() == out.dtype(), op, ": bias is ", dtype_name(bias.dtype()), " but the output is ",
           dtype_name(out.dtype()));
  const ChannelShape L(out);
  const int64_t numel = out.numel();
  if (numel == 0) return;
  cudaStream_t stream = compute_stream(device);
  dispatch_floating(out.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    add_channel_bias_kernel<T><<<grid_for(numel), kThreads, 0, stream>>>(device_ptr<T>(out), device_ptr<T>(bias),
                                                                         numel, L.c, L.s);
  });
  NL_CUDA_CHECK_LAUNCH(op);
}

void fill_float(Tensor& t, float value, int device, const char* op) {
  check_float32(t, op, "buffer");
  const int64_t numel = t.numel();
  if (numel == 0) return;
  fill_float_kernel<<<grid_for(numel), kThreads, 0, compute_stream(device)>>>(device_ptr<float>(t), value, numel);
  NL_CUDA_CHECK_LAUNCH(op);
}

void batch_norm_eval_stats(const Tensor& running_mean, const Tensor& running_var, double eps, Tensor& save_mean,
                           Tensor& save_invstd, int device) {
  const int64_t channels = save_mean.numel();
  if (channels == 0) return;
  eval_stats_kernel<<<grid_for(channels), kThreads, 0, compute_stream(device)>>>(
      device_ptr<float>(running_mean), device_ptr<float>(running_var), eps, device_ptr<float>(save_mean),
      device_ptr<float>(save_invstd), channels);
  NL_CUDA_CHECK_LAUNCH("batch_norm");
}

void batch_norm_param_grads(const Tensor& grad_out, const Tensor& x, const Tensor& save_mean,
                            const Tensor& save_invstd, Tensor& grad_weight, Tensor& grad_bias, int device) {
  if (!grad_weight.defined() && !grad_bias.defined()) return;
  const ChannelShape L(x);
  const int64_t channels = L.c, count = L.n * L.s;
  if (channels == 0) return;
  cudaStream_t stream = compute_stream(device);
  // Split long channels over several blocks so that a few channels still fill the GPU
  // (about 1024 blocks in all), each block taking at least 4096 values.
  constexpr int64_t kMinPerBlock = 4096, kTargetBlocks = 1024, kMaxSplits = 65535;
  int64_t splits = (count + kMinPerBlock - 1) / kMinPerBlock;
  splits = std::min<int64_t>({splits, std::max<int64_t>(kTargetBlocks / channels, 1), kMaxSplits});
  splits = std::max<int64_t>(splits, 1);
  const int64_t per_split = (count + splits - 1) / splits;
  NL_CHECK(channels <= 0x7fffffffLL, "batch_norm: too many channels for one CUDA grid (", channels, ")");
  Tensor partial = Tensor::empty(Shape{channels * splits * 2}, DType::Float64, Device::cuda(device));
  const dim3 grid(static_cast<unsigned>(channels), static_cast<unsigned>(splits));
  param_grad_partials_kernel<<<grid, kReduceThreads, 0, stream>>>(
      device_ptr<float>(grad_out), device_ptr<float>(x), device_ptr<float>(save_mean), device_ptr<double>(partial),
      channels, std::max<int64_t>(L.s, 1), count, std::max<int64_t>(per_split, 1));
  NL_CUDA_CHECK_LAUNCH("batch_norm_backward");
  param_grad_finish_kernel<<<grid_for(channels), kThreads, 0, stream>>>(
      device_ptr<double>(partial), device_ptr<float>(save_invstd),
      grad_weight.defined() ? device_ptr<float>(grad_weight) : nullptr,
      grad_bias.defined() ? device_ptr<float>(grad_bias) : nullptr, channels, splits);
  NL_CUDA_CHECK_LAUNCH("batch_norm_backward");
}

void batch_norm_eval_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& save_invstd,
                                    Tensor& grad_x, int device) {
  const ChannelShape L(grad_x);
  const int64_t numel = grad_x.numel();
  if (numel == 0) return;
  eval_backward_input_kernel<<<grid_for(numel), kThreads, 0, compute_stream(device)>>>(
      device_ptr<float>(grad_out), weight.defined() ? device_ptr<float>(weight) : nullptr,
      device_ptr<float>(save_invstd), device_ptr<float>(grad_x), numel, L.c, L.s);
  NL_CUDA_CHECK_LAUNCH("batch_norm_backward");
}

}  // namespace nl::cuda
