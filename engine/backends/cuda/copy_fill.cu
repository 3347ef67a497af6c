// CUDA memory kernels: copy with casting between any strides and dtypes, fill, arange.
// Semantics follow the CPU backend (engine/backends/cpu/cpu_backend.cpp): the same
// conversions (half types through float, bool as != 0), fill and arange values computed
// the way the CPU computes them.
//
// To keep compile time down (Note [Elementwise kernel layout] in elementwise.cu) a
// same-dtype copy moves bits with one kernel per element size, and a converting copy has
// one kernel per source dtype that switches on the destination dtype at run time.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/kernel_utils.cuh"

namespace nl::cuda {
namespace {

// ---- Layout of (dst, src) over one shape ----------------------------------------------
// Same scheme as elementwise.cu's Layout: size-1 dims dropped, dims merged where both
// operands are contiguous across them, 32-bit index division when the count allows.

struct CopyLayout {
  int dim = 0;
  int64_t sizes[Shape::kMaxRank] = {};
  int64_t dst_strides[Shape::kMaxRank] = {};
  int64_t src_strides[Shape::kMaxRank] = {};

  template <class I>
  __device__ __forceinline__ void offsets(int64_t linear, int64_t& dst, int64_t& src) const {
    dst = 0;
    src = 0;
    I rem = static_cast<I>(linear);
    for (int d = dim - 1; d > 0; --d) {
      const I size = static_cast<I>(sizes[d]);
      const I q = rem / size;
      const int64_t i = static_cast<int64_t>(rem - q * size);
      rem = q;
      dst += i * dst_strides[d];
      src += i * src_strides[d];
    }
    dst += static_cast<int64_t>(rem) * dst_strides[0];
    src += static_cast<int64_t>(rem) * src_strides[0];
  }
};

// `src` may be undefined (fill): then only the destination's layout counts.
CopyLayout make_copy_layout(const Tensor& dst, const Tensor* src) {
  CopyLayout L;
  const Shape& shape = dst.shape();
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int64_t ds = dst.stride(d), ss = src ? src->stride(d) : 0;
    if (L.dim > 0 && L.dst_strides[L.dim - 1] == ds * shape[d] && L.src_strides[L.dim - 1] == ss * shape[d]) {
      L.sizes[L.dim - 1] *= shape[d];
      L.dst_strides[L.dim - 1] = ds;
      L.src_strides[L.dim - 1] = ss;
    } else {
      L.sizes[L.dim] = shape[d];
      L.dst_strides[L.dim] = ds;
      L.src_strides[L.dim] = ss;
      ++L.dim;
    }
  }
  if (L.dim == 0) {  // one element
    L.dim = 1;
    L.sizes[0] = 1;
    L.dst_strides[0] = 1;
    L.src_strides[0] = 1;
  }
  return L;
}

inline bool small_index(int64_t numel) { return numel <= static_cast<int64_t>(UINT32_MAX); }

// Element types by size, for kernels that only move bits.
template <class F>
decltype(auto) dispatch_size(size_t bytes, F&& fn) {
  switch (bytes) {
    case 1: return fn(Tag<uint8_t>{});
    case 2: return fn(Tag<uint16_t>{});
    case 4: return fn(Tag<uint32_t>{});
    case 8: return fn(Tag<uint64_t>{});
    default: break;
  }
  fail("cuda: unexpected element size ", bytes);
}

// ---- Conversions ------------------------------------------------------------------------

// kernel_utils' convert, except floating → uint8 goes through int32 as x86 does (the CPU
// build's static_cast), so a negative float gives the same wrapped byte on both devices
// (the GPU's direct conversion would saturate to 0).
template <class D, class S>
__device__ __forceinline__ D cast(S s) {
  if constexpr (std::is_same_v<D, uint8_t> && !std::is_integral_v<S>) {
    return static_cast<uint8_t>(convert<int32_t>(s));
  } else {
    return convert<D>(s);
  }
}

template <class S>
__device__ __forceinline__ void store_as(DType dt, void* dst, int64_t off, S v) {
  switch (dt) {
    case DType::Float32: static_cast<float*>(dst)[off] = cast<float>(v); break;
    case DType::Float64: static_cast<double*>(dst)[off] = cast<double>(v); break;
    case DType::Float16: static_cast<__half*>(dst)[off] = cast<__half>(v); break;
    case DType::BFloat16: static_cast<__nv_bfloat16*>(dst)[off] = cast<__nv_bfloat16>(v); break;
    case DType::Int64: static_cast<int64_t*>(dst)[off] = cast<int64_t>(v); break;
    case DType::Int32: static_cast<int32_t*>(dst)[off] = cast<int32_t>(v); break;
    case DType::UInt8: static_cast<uint8_t*>(dst)[off] = cast<uint8_t>(v); break;
    case DType::Bool: static_cast<bool*>(dst)[off] = cast<bool>(v); break;
  }
}

// ---- Kernels ----------------------------------------------------------------------------

template <class W>
__global__ void copy_flat_kernel(int64_t n, W* dst, int64_t sd, const W* src, int64_t ss) {
  NL_GRID_STRIDE_LOOP(i, n) dst[i * sd] = src[i * ss];
}

template <class W, class I>
__global__ void copy_strided_kernel(int64_t n, CopyLayout L, W* dst, const W* src) {
  NL_GRID_STRIDE_LOOP(i, n) {
    int64_t od, os;
    L.offsets<I>(i, od, os);
    dst[od] = src[os];
  }
}

// A transposing copy: dst[b][r][c] = src[b][r][c] where dst is contiguous along c and src
// along r (x.t().contiguous(), permutes that swap the two innermost dims). Read and write
// both coalesce through a 32 x 32 tile in shared memory (33 columns: no bank conflicts);
// the naive loop reads one element per 32-byte sector. Blocks are 32 x 8 threads.
constexpr int kTile = 32;
constexpr int kTileRows = 8;

template <class W>
__global__ void transpose_copy_kernel(int64_t batches, int64_t rows, int64_t cols, W* dst, int64_t dst_b,
                                      int64_t dst_r, const W* src, int64_t src_b, int64_t src_c) {
  __shared__ W tile[kTile][kTile + 1];
  const int tx = threadIdx.x, ty = threadIdx.y;
  // Every loop bound depends on the block only, so all threads reach each __syncthreads.
  for (int64_t b = blockIdx.z; b < batches; b += gridDim.z) {
    for (int64_t r0 = static_cast<int64_t>(blockIdx.y) * kTile; r0 < rows; r0 += static_cast<int64_t>(gridDim.y) * kTile) {
      for (int64_t c0 = static_cast<int64_t>(blockIdx.x) * kTile; c0 < cols;
           c0 += static_cast<int64_t>(gridDim.x) * kTile) {
        for (int k = ty; k < kTile; k += kTileRows) {  // consecutive threads: consecutive r
          const int64_t r = r0 + tx, c = c0 + k;
          if (r < rows && c < cols) tile[k][tx] = src[b * src_b + c * src_c + r];
        }
        __syncthreads();
        for (int k = ty; k < kTile; k += kTileRows) {  // consecutive threads: consecutive c
          const int64_t r = r0 + k, c = c0 + tx;
          if (r < rows && c < cols) dst[b * dst_b + r * dst_r + c] = tile[tx][k];
        }
        __syncthreads();
      }
    }
  }
}

// Runs transpose_copy_kernel when the merged layout has its shape: 2 or 3 dims (the first
// of 3 a batch), the destination contiguous along the last, the source along the one
// before, both at least half a tile.
bool launch_transpose_copy(const CopyLayout& L, void* dst, const void* src, size_t element_size,
                           cudaStream_t stream) {
  if (L.dim != 2 && L.dim != 3) return false;
  const int last = L.dim - 1;
  if (L.dst_strides[last] != 1 || L.src_strides[last - 1] != 1) return false;
  const int64_t rows = L.sizes[last - 1], cols = L.sizes[last];
  if (rows < 16 || cols < 16) return false;
  const int64_t batches = L.dim == 3 ? L.sizes[0] : 1;
  const int64_t dst_b = L.dim == 3 ? L.dst_strides[0] : 0, src_b = L.dim == 3 ? L.src_strides[0] : 0;
  const dim3 block(kTile, kTileRows);
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>((cols + kTile - 1) / kTile, 65535LL * 8)),
                  static_cast<unsigned>(std::min<int64_t>((rows + kTile - 1) / kTile, 65535)),
                  static_cast<unsigned>(std::min<int64_t>(batches, 65535)));
  dispatch_size(element_size, [&](auto tag) {
    using W = typename decltype(tag)::type;
    transpose_copy_kernel<W><<<grid, block, 0, stream>>>(batches, rows, cols, static_cast<W*>(dst), dst_b,
                                                         L.dst_strides[last - 1], static_cast<const W*>(src), src_b,
                                                         L.src_strides[last]);
  });
  return true;
}

template <class S>
__global__ void convert_flat_kernel(int64_t n, DType dt, void* dst, int64_t sd, const S* src, int64_t ss) {
  // The destination dtype is uniform over the grid: each case is its own loop.
  switch (dt) {
#define NL_CONVERT_CASE(D, C)                                                        \
  case DType::D: {                                                                   \
    C* d = static_cast<C*>(dst);                                                     \
    NL_GRID_STRIDE_LOOP(i, n) d[i * sd] = cast<C>(src[i * ss]);                      \
    return;                                                                          \
  }
    NL_CONVERT_CASE(Float32, float)
    NL_CONVERT_CASE(Float64, double)
    NL_CONVERT_CASE(Float16, __half)
    NL_CONVERT_CASE(BFloat16, __nv_bfloat16)
    NL_CONVERT_CASE(Int64, int64_t)
    NL_CONVERT_CASE(Int32, int32_t)
    NL_CONVERT_CASE(UInt8, uint8_t)
    NL_CONVERT_CASE(Bool, bool)
#undef NL_CONVERT_CASE
  }
}

template <class S, class I>
__global__ void convert_strided_kernel(int64_t n, CopyLayout L, DType dt, void* dst, const S* src) {
  NL_GRID_STRIDE_LOOP(i, n) {
    int64_t od, os;
    L.offsets<I>(i, od, os);
    store_as(dt, dst, od, src[os]);
  }
}

template <class W>
__global__ void fill_flat_kernel(int64_t n, W* dst, int64_t sd, W value) {
  NL_GRID_STRIDE_LOOP(i, n) dst[i * sd] = value;
}

template <class W, class I>
__global__ void fill_strided_kernel(int64_t n, CopyLayout L, W* dst, W value) {
  NL_GRID_STRIDE_LOOP(i, n) {
    int64_t od, os;
    L.offsets<I>(i, od, os);
    dst[od] = value;
  }
}

template <class T>
__global__ void arange_kernel(int64_t n, T* dst, double start, double step) {
  // start + step * i in double with separate roundings (no fused multiply-add), as the
  // CPU computes it, so integer dtypes truncate the same values.
  NL_GRID_STRIDE_LOOP(i, n) dst[i] = cast<T>(__dadd_rn(start, __dmul_rn(step, static_cast<double>(i))));
}

// ---- Host helpers -----------------------------------------------------------------------

// `value` converted to `dt` on the host exactly as the CPU backend's fill converts it
// (cpu::convert: static_cast, bool as != 0, half types through float), as raw bits.
uint64_t fill_bits(DType dt, double value) {
  uint64_t bits = 0;
  auto put = [&](auto v) { std::memcpy(&bits, &v, sizeof(v)); };
  switch (dt) {
    case DType::Float32: put(static_cast<float>(value)); break;
    case DType::Float64: put(value); break;
    case DType::Float16: put(float_to_half(static_cast<float>(value))); break;
    case DType::BFloat16: put(float_to_bfloat16(static_cast<float>(value))); break;
    case DType::Int64: put(static_cast<int64_t>(value)); break;
    case DType::Int32: put(static_cast<int32_t>(value)); break;
    case DType::UInt8: put(static_cast<uint8_t>(value)); break;
    case DType::Bool: put(static_cast<uint8_t>(value != 0.0)); break;
  }
  return bits;
}

// True when every byte of the element pattern is the same, so cudaMemsetAsync can fill.
bool uniform_bytes(uint64_t bits, size_t size, unsigned char& byte) {
  unsigned char b[8];
  std::memcpy(b, &bits, 8);  // little-endian: the element's bytes come first
  for (size_t i = 1; i < size; ++i)
    if (b[i] != b[0]) return false;
  byte = b[0];
  return true;
}

}  // namespace

// ---- Backend entry points -----------------------------------------------------------------

void CudaBackend::copy(const Tensor& src, Tensor& dst) {
  NL_CHECK(src.shape() == dst.shape(), "copy: shapes differ: ", src.shape().str(), " → ", dst.shape().str());
  if (src.numel() == 0) return;
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  const int64_t n = src.numel();
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    NL_CUDA_CHECK(cudaMemcpyAsync(device_ptr(dst), device_ptr(src), static_cast<size_t>(n) * src.element_size(),
                                  cudaMemcpyDeviceToDevice, stream),
                  "copy");
    return;
  }
  const CopyLayout L = make_copy_layout(dst, &src);
  const bool flat = L.dim == 1;
  if (src.dtype() == dst.dtype()) {
    dispatch_size(src.element_size(), [&](auto tag) {
      using W = typename decltype(tag)::type;
      W* d = device_ptr<W>(dst);
      const W* s = device_ptr<const W>(src);
      if (flat) {
        copy_flat_kernel<W><<<grid_for(n), kThreads, 0, stream>>>(n, d, L.dst_strides[0], s, L.src_strides[0]);
      } else if (launch_transpose_copy(L, d, s, sizeof(W), stream)) {
        // done
      } else if (small_index(n)) {
        copy_strided_kernel<W, uint32_t><<<grid_for(n), kThreads, 0, stream>>>(n, L, d, s);
      } else {
        copy_strided_kernel<W, int64_t><<<grid_for(n), kThreads, 0, stream>>>(n, L, d, s);
      }
    });
  } else {
    dispatch_all(src.dtype(), [&](auto tag) {
      using S = typename decltype(tag)::type;
      void* d = device_ptr(dst);
      const S* s = device_ptr<const S>(src);
      const DType dt = dst.dtype();
      if (flat) {
        convert_flat_kernel<S><<<grid_for(n), kThreads, 0, stream>>>(n, dt, d, L.dst_strides[0], s,
                                                                     L.src_strides[0]);
      } else if (small_index(n)) {
        convert_strided_kernel<S, uint32_t><<<grid_for(n), kThreads, 0, stream>>>(n, L, dt, d, s);
      } else {
        convert_strided_kernel<S, int64_t><<<grid_for(n), kThreads, 0, stream>>>(n, L, dt, d, s);
      }
    });
  }
  NL_CUDA_CHECK_LAUNCH("copy");
}

void CudaBackend::fill(Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  const int64_t n = dst.numel();
  const size_t size = dst.element_size();
  const uint64_t bits = fill_bits(dst.dtype(), value);
  unsigned char byte = 0;
  if (dst.is_contiguous() && uniform_bytes(bits, size, byte)) {  // zeros, bytes, bools
    NL_CUDA_CHECK(cudaMemsetAsync(device_ptr(dst), byte, static_cast<size_t>(n) * size, stream), "fill");
    return;
  }
  const CopyLayout L = make_copy_layout(dst, nullptr);
  dispatch_size(size, [&](auto tag) {
    using W = typename decltype(tag)::type;
    W v;
    std::memcpy(&v, &bits, sizeof(W));
    W* d = device_ptr<W>(dst);
    if (L.dim == 1) {
      fill_flat_kernel<W><<<grid_for(n), kThreads, 0, stream>>>(n, d, L.dst_strides[0], v);
    } else if (small_index(n)) {
      fill_strided_kernel<W, uint32_t><<<grid_for(n), kThreads, 0, stream>>>(n, L, d, v);
    } else {
      fill_strided_kernel<W, int64_t><<<grid_for(n), kThreads, 0, stream>>>(n, L, d, v);
    }
  });
  NL_CUDA_CHECK_LAUNCH("fill");
}

void CudaBackend::arange(Tensor& dst, double start, double step) {
  if (dst.numel() == 0) return;
  NL_CHECK(dst.is_contiguous(), "arange: destination must be contiguous");
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  const int64_t n = dst.numel();
  dispatch_all(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    arange_kernel<T><<<grid_for(n), kThreads, 0, stream>>>(n, device_ptr<T>(dst), start, step);
  });
  NL_CUDA_CHECK_LAUNCH("arange");
}

}  // namespace nl::cuda
