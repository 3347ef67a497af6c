// CUDA random fills (uniform, normal) and dropout masks, from a counter-based generator
// (Philox4x32-10, Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11)
// written here so the backend needs no cuRAND.
//
// Note [CUDA random streams]: each call draws a 64-bit key and a 64-bit counter offset
// from the host Generator (two next_u64()), so a result depends only on the generator's
// state: the same seed gives the same tensor, and every call advances the generator, so
// consecutive calls differ. Element group g (4 values for 24-bit floats, 2 for 53-bit
// doubles) is Philox(counter = {g, offset}, key); the numbers therefore do not depend on
// the launch geometry or the device. They are not the CPU's numbers (a Mersenne Twister
// drawn sequentially there) — only their distribution is the same: uniform floats carry
// 24 random bits (exact in float32, as Generator::next_float), doubles 53.
#include <cstdint>
#include <type_traits>

#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/kernel_utils.cuh"
#include "engine/core/generator.h"

namespace nl::cuda {
namespace {

struct PhiloxKey {
  uint32_t k0, k1;
};

struct PhiloxBlock {
  uint32_t v[4];
};

__host__ __device__ __forceinline__ uint32_t mulhi32(uint32_t a, uint32_t b) {
#ifdef __CUDA_ARCH__
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

// Philox4x32 with 10 rounds (the Random123 reference constants; checked against its
// known-answer vectors, e.g. counter 0, key 0 -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8).
__host__ __device__ __forceinline__ PhiloxBlock philox4x32_10(PhiloxBlock c, PhiloxKey k) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
  for (int r = 0; r < 10; ++r) {
    if (r > 0) {
      k.k0 += kW0;
      k.k1 += kW1;
    }
    const uint32_t hi0 = mulhi32(kM0, c.v[0]), lo0 = kM0 * c.v[0];
    const uint32_t hi1 = mulhi32(kM1, c.v[2]), lo1 = kM1 * c.v[2];
    c = PhiloxBlock{{hi1 ^ c.v[1] ^ k.k0, lo1, hi0 ^ c.v[3] ^ k.k1, lo0}};
  }
  return c;
}

struct PhiloxStream {
  PhiloxKey key;
  uint32_t offset_lo, offset_hi;

  __device__ __forceinline__ PhiloxBlock block(int64_t group) const {
    const uint64_t g = static_cast<uint64_t>(group);
    return philox4x32_10(
        PhiloxBlock{{static_cast<uint32_t>(g), static_cast<uint32_t>(g >> 32), offset_lo, offset_hi}}, key);
  }
};

// Advances `gen` (Note [CUDA random streams]).
PhiloxStream draw_stream(Generator& gen) {
  const uint64_t key = gen.next_u64();
  const uint64_t offset = gen.next_u64();
  return PhiloxStream{{static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32)},
                      static_cast<uint32_t>(offset),
                      static_cast<uint32_t>(offset >> 32)};
}

// Uniform in [0, 1) from 24 bits (exact in float) and from 53 bits (exact in double).
__device__ __forceinline__ float uniform24(uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }
__device__ __forceinline__ double uniform53(uint32_t hi, uint32_t lo) {
  const uint64_t bits = ((static_cast<uint64_t>(hi) << 32) | lo) >> 11;
  return static_cast<double>(bits) * (1.0 / 9007199254740992.0);
}
// In (0, 1], for the logarithm of Box–Muller.
__device__ __forceinline__ float uniform24_open0(uint32_t x) {
  return static_cast<float>((x >> 8) + 1u) * (1.0f / 16777216.0f);
}
__device__ __forceinline__ double uniform53_open0(uint32_t hi, uint32_t lo) {
  const uint64_t bits = ((static_cast<uint64_t>(hi) << 32) | lo) >> 11;
  return static_cast<double>(bits + 1u) * (1.0 / 9007199254740992.0);
}

// Doubles take 53-bit uniforms and double-precision Box–Muller; every other dtype uses
// 24-bit uniforms and float math (more precision than float16/bfloat16 can hold).
template <class T>
constexpr bool kWide = std::is_same_v<T, double>;
template <class T>
constexpr int kPerBlock = kWide<T> ? 2 : 4;

template <class T>
__global__ void uniform_kernel(int64_t n, T* dst, double low, double span, PhiloxStream rs) {
  constexpr int V = kPerBlock<T>;
  const int64_t groups = (n + V - 1) / V;
  NL_GRID_STRIDE_LOOP(g, groups) {
    const PhiloxBlock r = rs.block(g);
    double u[V];
    if constexpr (kWide<T>) {
      u[0] = uniform53(r.v[0], r.v[1]);
      u[1] = uniform53(r.v[2], r.v[3]);
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j) u[j] = uniform24(r.v[j]);
    }
    const int64_t base = g * V;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      // low + span * u in double with separate roundings, as the CPU computes it.
      if (base + j < n) dst[base + j] = convert<T>(__dadd_rn(low, __dmul_rn(span, u[j])));
    }
  }
}

template <class T>
__global__ void normal_kernel(int64_t n, T* dst, double mean, double std, PhiloxStream rs) {
  constexpr int V = kPerBlock<T>;
  const int64_t groups = (n + V - 1) / V;
  NL_GRID_STRIDE_LOOP(g, groups) {
    const PhiloxBlock r = rs.block(g);
    double z[V];
    if constexpr (kWide<T>) {  // one Box–Muller pair from two 53-bit uniforms
      const double u1 = uniform53_open0(r.v[0], r.v[1]);
      const double u2 = uniform53(r.v[2], r.v[3]);
      const double radius = sqrt(-2.0 * log(u1));
      double s, c;
      sincospi(2.0 * u2, &s, &c);
      z[0] = radius * c;
      z[1] = radius * s;
    } else {  // two pairs from four 24-bit uniforms
#pragma unroll
      for (int p = 0; p < 2; ++p) {
        const float u1 = uniform24_open0(r.v[2 * p]);
        const float u2 = uniform24(r.v[2 * p + 1]);
        const float radius = sqrtf(-2.0f * logf(u1));
        float s, c;
        sincospif(2.0f * u2, &s, &c);
        z[2 * p] = radius * c;
        z[2 * p + 1] = radius * s;
      }
    }
    const int64_t base = g * V;
#pragma unroll
    for (int j = 0; j < V; ++j) {
      if (base + j < n) dst[base + j] = convert<T>(__dadd_rn(mean, __dmul_rn(std, z[j])));
    }
  }
}

__global__ void dropout_mask_kernel(int64_t n, float* mask, float threshold, float scale, PhiloxStream rs) {
  const int64_t groups = (n + 3) / 4;
  NL_GRID_STRIDE_LOOP(g, groups) {
    const PhiloxBlock r = rs.block(g);
    const int64_t base = g * 4;
    if (base + 3 < n && (reinterpret_cast<uintptr_t>(mask) & 15) == 0) {
      float4 m;  // a whole group: one 16-byte store
      m.x = uniform24(r.v[0]) >= threshold ? scale : 0.0f;
      m.y = uniform24(r.v[1]) >= threshold ? scale : 0.0f;
      m.z = uniform24(r.v[2]) >= threshold ? scale : 0.0f;
      m.w = uniform24(r.v[3]) >= threshold ? scale : 0.0f;
      reinterpret_cast<float4*>(mask)[g] = m;
    } else {
#pragma unroll
      for (int j = 0; j < 4; ++j)
        if (base + j < n) mask[base + j] = uniform24(r.v[j]) >= threshold ? scale : 0.0f;
    }
  }
}

int64_t groups_for(DType dt, int64_t n) {
  const int64_t v = dt == DType::Float64 ? 2 : 4;
  return (n + v - 1) / v;
}

}  // namespace

// A captured step would replay the seed drawn at capture time: the same "random" numbers
// every step. Refusing makes the capture fail, and the trainer runs eager steps instead.
static void refuse_while_capturing(int index) {
  NL_CHECK(!is_capturing(index), "random numbers on cuda:", index,
           " cannot be captured in a CUDA graph: each replay would repeat the same numbers (dropout?)");
}

void CudaBackend::uniform(Tensor& dst, double low, double high, Generator& gen) {
  NL_CHECK(dst.is_contiguous(), "uniform: destination must be contiguous");
  if (dst.numel() == 0) return;
  DeviceGuard guard(index_);
  refuse_while_capturing(index_);
  const PhiloxStream rs = draw_stream(gen);
  const int64_t n = dst.numel();
  cudaStream_t stream = compute_stream(index_);
  dispatch_all(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    uniform_kernel<T><<<grid_for(groups_for(dst.dtype(), n)), kThreads, 0, stream>>>(n, device_ptr<T>(dst), low,
                                                                                     high - low, rs);
  });
  NL_CUDA_CHECK_LAUNCH("uniform");
}

void CudaBackend::normal(Tensor& dst, double mean, double std, Generator& gen) {
  NL_CHECK(dst.is_contiguous(), "normal: destination must be contiguous");
  if (dst.numel() == 0) return;
  DeviceGuard guard(index_);
  refuse_while_capturing(index_);
  const PhiloxStream rs = draw_stream(gen);
  const int64_t n = dst.numel();
  cudaStream_t stream = compute_stream(index_);
  dispatch_all(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    normal_kernel<T><<<grid_for(groups_for(dst.dtype(), n)), kThreads, 0, stream>>>(n, device_ptr<T>(dst), mean, std,
                                                                                    rs);
  });
  NL_CUDA_CHECK_LAUNCH("normal");
}

void CudaBackend::dropout_mask(Tensor& mask, double p, Generator& gen) {
  NL_CHECK(mask.dtype() == DType::Float32 && mask.is_contiguous(), "dropout: mask must be contiguous float32");
  if (mask.numel() == 0) return;
  DeviceGuard guard(index_);
  refuse_while_capturing(index_);
  const PhiloxStream rs = draw_stream(gen);
  const int64_t n = mask.numel();
  // As the CPU: keep where uniform >= p, scaled by 1/(1-p) (p = 1 keeps nothing).
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  const float threshold = static_cast<float>(p);
  dropout_mask_kernel<<<grid_for((n + 3) / 4), kThreads, 0, compute_stream(index_)>>>(n, device_ptr<float>(mask),
                                                                                      threshold, scale, rs);
  NL_CUDA_CHECK_LAUNCH("dropout");
}

}  // namespace nl::cuda
