// Warp- and block-wide reductions shared by the reduction, softmax/loss and layer-norm
// kernels (.cu files only). All of them use xor butterflies, so every participating lane
// ends with the same result, and take the combine step as a functor so one code path
// serves sums, maxima and the (value, index) pairs of argmax.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace nl::cuda {

constexpr unsigned kFullMask = 0xffffffffu;

__device__ __forceinline__ float shfl_xor(float v, int lane_mask, int width) {
  return __shfl_xor_sync(kFullMask, v, lane_mask, width);
}
__device__ __forceinline__ double shfl_xor(double v, int lane_mask, int width) {
  return __shfl_xor_sync(kFullMask, v, lane_mask, width);
}
__device__ __forceinline__ int32_t shfl_xor(int32_t v, int lane_mask, int width) {
  return __shfl_xor_sync(kFullMask, v, lane_mask, width);
}
__device__ __forceinline__ int64_t shfl_xor(int64_t v, int lane_mask, int width) {
  return static_cast<int64_t>(__shfl_xor_sync(kFullMask, static_cast<long long>(v), lane_mask, width));
}

// Reduces over aligned groups of `width` lanes (a power of two <= 32). Every lane of the
// warp must call it (full mask); lanes of a group end with the group's result.
template <class T, class F>
__device__ __forceinline__ T warp_reduce(T v, F combine, int width = 32) {
  for (int m = width >> 1; m > 0; m >>= 1) v = combine(v, shfl_xor(v, m, width));
  return v;
}

template <class T>
struct SumOf {
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};

// Max that ignores NaN operands, as `m < v ? v : m` does on the CPU: a NaN in the data
// still makes the softmax row NaN through exp(NaN - m).
struct MaxIgnoringNan {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Block-wide reduction for a one-dimensional block whose size is a multiple of 32; every
// thread must call it and gets the result. `smem` holds at least 32 values; it may be
// reused by the next call (the leading barrier keeps the calls apart).
template <class T, class F>
__device__ __forceinline__ T block_reduce(T v, F combine, T identity, T* smem) {
  v = warp_reduce(v, combine);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  // Every warp reduces the partials itself, so no second barrier is needed to broadcast.
  v = lane < warps ? smem[lane] : identity;
  return warp_reduce(v, combine);
}

// Smallest power of two >= n (n <= 2^30), at least 1.
inline int next_pow2(int64_t n) {
  int p = 1;
  while (p < n && p < (1 << 30)) p <<= 1;
  return p;
}

}  // namespace nl::cuda
