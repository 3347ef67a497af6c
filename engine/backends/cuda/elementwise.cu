// CUDA elementwise kernels: unary ops and their derivatives, binary ops (inputs broadcast by
// stride-0 views), where. Formulas, dtype rules and error messages follow the CPU backend
// (engine/backends/cpu/elementwise.cpp) so both devices give the same results.
//
// Note [Elementwise kernel layout]: to keep compile time low (CI builds two real archs
// plus PTX on two cores) the op is a runtime argument, not a template parameter: one
// kernel per dtype switches on it. Two shapes of kernel exist:
// - "flat": every operand walks one dimension with its own stride (contiguous, a scalar
//   broadcast as stride 0, or a 1-D strided view), so offsets are i * stride and need no
//   division. For float32 (the training hot path) the switch on the op sits outside the
//   loop, so each op gets its own tight loop;
// - "strided": any layout, dims merged where every operand is contiguous across them
//   (as the CPU's make_layout); the linear index is split with 32-bit division when the
//   element count allows it (64-bit division costs several times more on the GPU).
// Outputs may alias the first input when both are contiguous (add_, mul_ rely on it):
// every element is read and written by the same thread, so this is race-free.
#include <cmath>
#include <type_traits>

#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/kernel_utils.cuh"

namespace nl::cuda {
namespace {

constexpr float kSqrt1_2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kTwoOverSqrtPi = 1.12837916709551257390f;

// ---- Layout of N operands over one shape ------------------------------------------------

template <int N>
struct Layout {
  int dim = 0;
  int64_t sizes[Shape::kMaxRank] = {};
  int64_t strides[N][Shape::kMaxRank] = {};

  // Element offsets of every operand at row-major linear index `linear`; I is the type
  // the index arithmetic runs in (uint32_t when numel fits, else int64_t).
  template <class I>
  __device__ __forceinline__ void offsets(int64_t linear, int64_t (&off)[N]) const {
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] = 0;
    I rem = static_cast<I>(linear);
    for (int d = dim - 1; d > 0; --d) {
      const I size = static_cast<I>(sizes[d]);
      const I q = rem / size;
      const int64_t i = static_cast<int64_t>(rem - q * size);
      rem = q;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += i * strides[k][d];
    }
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += static_cast<int64_t>(rem) * strides[k][0];
  }
};

// Drops size-1 dims and merges neighbours that are contiguous in every operand, so a
// contiguous (or scalar-broadcast) problem becomes one dim.
template <int N>
Layout<N> make_layout(const Shape& shape, const Tensor* const (&ops)[N]) {
  Layout<N> L;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = L.dim > 0;
    for (int k = 0; merge && k < N; ++k) merge = L.strides[k][L.dim - 1] == ops[k]->stride(d) * shape[d];
    if (merge) {
      L.sizes[L.dim - 1] *= shape[d];
      for (int k = 0; k < N; ++k) L.strides[k][L.dim - 1] = ops[k]->stride(d);
    } else {
      L.sizes[L.dim] = shape[d];
      for (int k = 0; k < N; ++k) L.strides[k][L.dim] = ops[k]->stride(d);
      ++L.dim;
    }
  }
  if (L.dim == 0) {  // one element
    L.dim = 1;
    L.sizes[0] = 1;
    for (int k = 0; k < N; ++k) L.strides[k][0] = 1;
  }
  return L;
}

// True when a 32-bit unsigned index covers the problem.
inline bool small_index(int64_t numel) { return numel <= static_cast<int64_t>(UINT32_MAX); }

template <int N>
struct FlatStrides {
  int64_t s[N];
};

template <int N>
FlatStrides<N> flat_strides(const Layout<N>& L) {
  FlatStrides<N> f;
  for (int k = 0; k < N; ++k) f.s[k] = L.strides[k][0];
  return f;
}

// Contiguous float32 operands whose addresses allow 16-byte loads run 4 elements per
// thread (float4), the rest of the launch being the scalar tail.
inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Threads for n elements, 4 per thread when vectorised.
inline unsigned grid_for_vec(int64_t n, bool vec4) { return grid_for(vec4 ? (n + 3) / 4 : n); }

__device__ __forceinline__ float4 load4(const float* p, int64_t i) { return reinterpret_cast<const float4*>(p)[i]; }
__device__ __forceinline__ void store4(float* p, int64_t i, float4 v) { reinterpret_cast<float4*>(p)[i] = v; }

// ---- Unary formulas (as the CPU's) --------------------------------------------------------

__device__ __forceinline__ float sigmoid_f(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float gelu_tanh_inner(float x) { return kSqrt2OverPi * (x + 0.044715f * x * x * x); }

// Float32 → float32 unary ops (all but IsNan and LogicalNot).
__device__ __forceinline__ float unary_f32(UnaryOp op, float v, float a, float b) {
  switch (op) {
    case UnaryOp::Neg: return -v;
    case UnaryOp::Exp: return expf(v);
    case UnaryOp::Log: return logf(v);
    case UnaryOp::Sqrt: return sqrtf(v);
    case UnaryOp::Rsqrt: return 1.0f / sqrtf(v);  // not rsqrtf: that one is approximate
    case UnaryOp::Abs: return fabsf(v);
    case UnaryOp::Relu: return v > 0.0f ? v : 0.0f;
    case UnaryOp::LeakyRelu: return v > 0.0f ? v : v * a;
    case UnaryOp::Sigmoid: return sigmoid_f(v);
    case UnaryOp::Tanh: return tanhf(v);
    case UnaryOp::GeluErf: return 0.5f * v * (1.0f + erff(v * kSqrt1_2));
    case UnaryOp::GeluTanh: return 0.5f * v * (1.0f + tanhf(gelu_tanh_inner(v)));
    case UnaryOp::Silu: return v * sigmoid_f(v);
    case UnaryOp::Softplus: return v > 20.0f ? v : log1pf(expf(v));  // PyTorch's threshold
    case UnaryOp::Erf: return erff(v);
    case UnaryOp::PowScalar:
      if (a == 2.0f) return v * v;
      if (a == 0.5f) return sqrtf(v);
      return powf(v, a);
    case UnaryOp::Clamp: {
      if (isnan(v)) return v;
      float m = v < a ? a : v;  // std::max(v, a)
      return b < m ? b : m;     // std::min(m, b)
    }
    case UnaryOp::AddScalar: return v + a;
    case UnaryOp::MulScalar: return v * a;
    case UnaryOp::RSubScalar: return a - v;
    case UnaryOp::Reciprocal: return 1.0f / v;
    case UnaryOp::Square: return v * v;
    case UnaryOp::Sign: return static_cast<float>((v > 0.0f) - (v < 0.0f));
    case UnaryOp::Sin: return sinf(v);
    case UnaryOp::Cos: return cosf(v);
    case UnaryOp::Floor: return floorf(v);
    case UnaryOp::Ceil: return ceilf(v);
    case UnaryOp::Round: return rintf(v);  // half to even, as std::nearbyint
    case UnaryOp::IsNan:
    case UnaryOp::LogicalNot: break;  // bool outputs: unary_to_bool
  }
  return 0.0f;
}

// Ops with a Bool output (any input dtype).
template <class T>
__device__ __forceinline__ bool unary_to_bool(UnaryOp op, T v) {
  if (op == UnaryOp::IsNan) {
    if constexpr (std::is_floating_point_v<T>) return isnan(v);
    return false;
  }
  return v == T(0);  // LogicalNot
}

// Scalars of the integer ops, cast to T on the host exactly as the CPU casts them
// (so even out-of-range casts agree with the CPU build).
struct IntScalars {
  int64_t a = 0;          // (T)alpha, for AddScalar, MulScalar, RSubScalar
  double da = 0, db = 0;  // alpha, beta for Clamp (the CPU clamps in double)
};

template <class T>
__device__ __forceinline__ T unary_int(UnaryOp op, T v, const IntScalars& s) {
  const T a = static_cast<T>(s.a);
  switch (op) {
    case UnaryOp::Neg: return static_cast<T>(-v);
    case UnaryOp::Abs:
      if constexpr (std::is_signed_v<T>) return static_cast<T>(v < 0 ? -v : v);
      return v;
    case UnaryOp::Sign:
      if constexpr (std::is_signed_v<T>) return static_cast<T>((v > 0) - (v < 0));
      return static_cast<T>(v > 0);
    case UnaryOp::Square: return static_cast<T>(v * v);
    case UnaryOp::AddScalar: return static_cast<T>(v + a);
    case UnaryOp::MulScalar: return static_cast<T>(v * a);
    case UnaryOp::RSubScalar: return static_cast<T>(a - v);
    case UnaryOp::Clamp: {
      double d = static_cast<double>(v);
      d = d < s.da ? s.da : d;  // std::max(d, alpha)
      d = s.db < d ? s.db : d;  // std::min(d, beta)
      if constexpr (std::is_same_v<T, bool>) return d != 0.0;
      // x86 truncates through a 32/64-bit integer; going through int64 matches it for
      // every value an int32/uint8 clamp can produce from in-range bounds.
      return static_cast<T>(static_cast<int64_t>(d));
    }
    default: break;
  }
  return T(0);
}

// ---- Unary kernels ------------------------------------------------------------------------

// Float32 → float32, flat layout: the switch is outside the loop (Note [Elementwise kernel
// layout]); `kOp` is a constant in each case so unary_f32 folds to one formula.
template <UnaryOp kOp>
__device__ __forceinline__ void unary_f32_flat_loop(int64_t n, const float* x, int64_t sx, float* out,
                                                    int64_t so, float a, float b, bool vec4) {
  if (vec4) {  // contiguous and 16-byte aligned (checked on the host)
    const int64_t n4 = n / 4;
    NL_GRID_STRIDE_LOOP(i, n4) {
      float4 v = load4(x, i);
      v.x = unary_f32(kOp, v.x, a, b);
      v.y = unary_f32(kOp, v.y, a, b);
      v.z = unary_f32(kOp, v.z, a, b);
      v.w = unary_f32(kOp, v.w, a, b);
      store4(out, i, v);
    }
    NL_GRID_STRIDE_LOOP(t, n - n4 * 4) out[n4 * 4 + t] = unary_f32(kOp, x[n4 * 4 + t], a, b);
  } else if (sx == 1 && so == 1) {
    NL_GRID_STRIDE_LOOP(i, n) out[i] = unary_f32(kOp, x[i], a, b);
  } else {
    NL_GRID_STRIDE_LOOP(i, n) out[i * so] = unary_f32(kOp, x[i * sx], a, b);
  }
}

#define NL_UNARY_CASE(op) \
  case UnaryOp::op: return unary_f32_flat_loop<UnaryOp::op>(n, x, sx, out, so, a, b, vec4);

__global__ void unary_f32_flat_kernel(UnaryOp op, int64_t n, const float* x, int64_t sx, float* out, int64_t so,
                                      float a, float b, bool vec4) {
  switch (op) {
    NL_UNARY_CASE(Neg) NL_UNARY_CASE(Exp) NL_UNARY_CASE(Log) NL_UNARY_CASE(Sqrt) NL_UNARY_CASE(Rsqrt)
    NL_UNARY_CASE(Abs) NL_UNARY_CASE(Relu) NL_UNARY_CASE(LeakyRelu) NL_UNARY_CASE(Sigmoid) NL_UNARY_CASE(Tanh)
    NL_UNARY_CASE(GeluErf) NL_UNARY_CASE(GeluTanh) NL_UNARY_CASE(Silu) NL_UNARY_CASE(Softplus) NL_UNARY_CASE(Erf)
    NL_UNARY_CASE(PowScalar) NL_UNARY_CASE(Clamp) NL_UNARY_CASE(AddScalar) NL_UNARY_CASE(MulScalar)
    NL_UNARY_CASE(RSubScalar) NL_UNARY_CASE(Reciprocal) NL_UNARY_CASE(Square) NL_UNARY_CASE(Sign)
    NL_UNARY_CASE(Sin) NL_UNARY_CASE(Cos) NL_UNARY_CASE(Floor) NL_UNARY_CASE(Ceil) NL_UNARY_CASE(Round)
    default: return;
  }
}
#undef NL_UNARY_CASE

// Everything else: the op is switched per element (a warp-uniform branch).
template <class T, class R>
__device__ __forceinline__ R unary_value(UnaryOp op, T v, float a, float b, const IntScalars& s) {
  if constexpr (std::is_same_v<R, bool> && !std::is_same_v<T, bool>) {
    return unary_to_bool(op, v);
  } else if constexpr (std::is_same_v<T, float>) {
    return unary_f32(op, v, a, b);
  } else {
    if constexpr (std::is_same_v<T, bool>) {
      if (op == UnaryOp::LogicalNot || op == UnaryOp::IsNan) return unary_to_bool(op, v);
    }
    return unary_int(op, v, s);
  }
}

template <class T, class R, class I>
__global__ void unary_strided_kernel(UnaryOp op, int64_t n, Layout<2> L, const T* x, R* out, float a, float b,
                                     IntScalars s) {
  NL_GRID_STRIDE_LOOP(i, n) {
    int64_t off[2];
    L.offsets<I>(i, off);
    out[off[0]] = unary_value<T, R>(op, x[off[1]], a, b, s);
  }
}

template <class T, class R>
__global__ void unary_flat_kernel(UnaryOp op, int64_t n, const T* x, int64_t sx, R* out, int64_t so, float a,
                                  float b, IntScalars s) {
  NL_GRID_STRIDE_LOOP(i, n) out[i * so] = unary_value<T, R>(op, x[i * sx], a, b, s);
}

template <class T, class R>
void launch_unary(int device, UnaryOp op, const Tensor& x, Tensor& out, float a, float b, const IntScalars& s) {
  const int64_t n = out.numel();
  const Tensor* ops[2] = {&out, &x};
  Layout<2> L = make_layout<2>(out.shape(), ops);
  const T* px = device_ptr<const T>(x);
  R* po = device_ptr<R>(out);
  cudaStream_t stream = compute_stream(device);
  if (L.dim == 1) {
    const int64_t so = L.strides[0][0], sx = L.strides[1][0];
    if constexpr (std::is_same_v<T, float> && std::is_same_v<R, float>) {
      const bool vec4 = sx == 1 && so == 1 && aligned16(px) && aligned16(po);
      unary_f32_flat_kernel<<<grid_for_vec(n, vec4), kThreads, 0, stream>>>(op, n, px, sx, po, so, a, b, vec4);
    } else {
      unary_flat_kernel<T, R><<<grid_for(n), kThreads, 0, stream>>>(op, n, px, sx, po, so, a, b, s);
    }
  } else if (small_index(n)) {
    unary_strided_kernel<T, R, uint32_t><<<grid_for(n), kThreads, 0, stream>>>(op, n, L, px, po, a, b, s);
  } else {
    unary_strided_kernel<T, R, int64_t><<<grid_for(n), kThreads, 0, stream>>>(op, n, L, px, po, a, b, s);
  }
  NL_CUDA_CHECK_LAUNCH("unary");
}

bool unary_to_bool_op(UnaryOp op) { return op == UnaryOp::IsNan || op == UnaryOp::LogicalNot; }

template <class T>
void unary_integer(int device, UnaryOp op, const Tensor& x, Tensor& out, float a, float b) {
  switch (op) {
    case UnaryOp::Neg: case UnaryOp::Abs: case UnaryOp::Sign: case UnaryOp::Square: case UnaryOp::AddScalar:
    case UnaryOp::MulScalar: case UnaryOp::RSubScalar: case UnaryOp::Clamp: {
      IntScalars s;
      // The CPU's (T)alpha, done on the host as there. Only where the op uses it: a clamp
      // bound may be ±inf, which no integer type holds.
      if (op == UnaryOp::AddScalar || op == UnaryOp::MulScalar || op == UnaryOp::RSubScalar)
        s.a = static_cast<int64_t>((T)a);
      s.da = a;
      s.db = b;
      return launch_unary<T, T>(device, op, x, out, a, b, s);
    }
    case UnaryOp::LogicalNot:
    case UnaryOp::IsNan: return launch_unary<T, bool>(device, op, x, out, a, b, {});
    default: fail("unary: this op needs a floating-point input, got ", dtype_name(x.dtype()));
  }
}

// ---- Unary derivatives (float32; as the CPU's) -------------------------------------------

__device__ __forceinline__ float unary_grad(UnaryOp op, float g, float x, float y, float a, float b) {
  switch (op) {
    case UnaryOp::Neg: return -g;
    case UnaryOp::Exp: return g * y;
    case UnaryOp::Log: return g / x;
    case UnaryOp::Sqrt: return g * 0.5f / y;
    case UnaryOp::Rsqrt: return -0.5f * g * y * y * y;
    case UnaryOp::Abs: return g * static_cast<float>((x > 0.0f) - (x < 0.0f));
    case UnaryOp::Relu: return x > 0.0f ? g : 0.0f;
    case UnaryOp::LeakyRelu: return x > 0.0f ? g : g * a;
    case UnaryOp::Sigmoid: return g * y * (1.0f - y);
    case UnaryOp::Tanh: return g * (1.0f - y * y);
    case UnaryOp::GeluErf: {
      float cdf = 0.5f * (1.0f + erff(x * kSqrt1_2));
      float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
      return g * (cdf + x * pdf);
    }
    case UnaryOp::GeluTanh: {
      float t = tanhf(gelu_tanh_inner(x));
      float dinner = kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * x * x);
      return g * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dinner);
    }
    case UnaryOp::Silu: {
      float s = sigmoid_f(x);
      return g * s * (1.0f + x * (1.0f - s));
    }
    case UnaryOp::Softplus: return x > 20.0f ? g : g * sigmoid_f(x);
    case UnaryOp::Erf: return g * kTwoOverSqrtPi * expf(-x * x);
    case UnaryOp::PowScalar: return a == 0.0f ? 0.0f : g * a * powf(x, a - 1.0f);
    case UnaryOp::Clamp: return (x >= a && x <= b) ? g : 0.0f;
    case UnaryOp::AddScalar: return g;
    case UnaryOp::MulScalar: return g * a;
    case UnaryOp::RSubScalar: return -g;
    case UnaryOp::Reciprocal: return -g * y * y;
    case UnaryOp::Square: return 2.0f * g * x;
    case UnaryOp::Sin: return g * cosf(x);
    case UnaryOp::Cos: return -g * sinf(x);
    case UnaryOp::Sign:
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round: return 0.0f;
    case UnaryOp::IsNan:
    case UnaryOp::LogicalNot: break;  // refused on the host
  }
  return 0.0f;
}

__global__ void unary_backward_flat_kernel(UnaryOp op, int64_t n, FlatStrides<4> st, float* out, const float* g,
                                           const float* x, const float* y, float a, float b, bool vec4) {
  if (vec4) {  // all contiguous and 16-byte aligned
    const int64_t n4 = n / 4;
    NL_GRID_STRIDE_LOOP(i, n4) {
      const float4 gv = load4(g, i), xv = load4(x, i), yv = load4(y, i);
      float4 o;
      o.x = unary_grad(op, gv.x, xv.x, yv.x, a, b);
      o.y = unary_grad(op, gv.y, xv.y, yv.y, a, b);
      o.z = unary_grad(op, gv.z, xv.z, yv.z, a, b);
      o.w = unary_grad(op, gv.w, xv.w, yv.w, a, b);
      store4(out, i, o);
    }
    NL_GRID_STRIDE_LOOP(t, n - n4 * 4) {
      const int64_t i = n4 * 4 + t;
      out[i] = unary_grad(op, g[i], x[i], y[i], a, b);
    }
  } else if (st.s[0] == 1 && st.s[1] == 1 && st.s[2] == 1 && st.s[3] == 1) {
    NL_GRID_STRIDE_LOOP(i, n) out[i] = unary_grad(op, g[i], x[i], y[i], a, b);
  } else {
    NL_GRID_STRIDE_LOOP(i, n) {
      out[i * st.s[0]] = unary_grad(op, g[i * st.s[1]], x[i * st.s[2]], y[i * st.s[3]], a, b);
    }
  }
}

template <class I>
__global__ void unary_backward_strided_kernel(UnaryOp op, int64_t n, Layout<4> L, float* out, const float* g,
                                              const float* x, const float* y, float a, float b) {
  NL_GRID_STRIDE_LOOP(i, n) {
    int64_t off[4];
    L.offsets<I>(i, off);
    out[off[0]] = unary_grad(op, g[off[1]], x[off[2]], y[off[3]], a, b);
  }
}

// ---- Binary formulas (as the CPU's) -------------------------------------------------------

template <class T>
__device__ __forceinline__ T binary_arith(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Add: return static_cast<T>(x + y);
    case BinaryOp::Sub: return static_cast<T>(x - y);
    case BinaryOp::Mul: return static_cast<T>(x * y);
    case BinaryOp::Div:
      if constexpr (std::is_floating_point_v<T>) return x / y;
      break;  // refused on the host
    case BinaryOp::Maximum:
      if constexpr (std::is_floating_point_v<T>)
        if (isnan(x) || isnan(y)) return x + y;  // NaN propagates, as in PyTorch
      return x > y ? x : y;
    case BinaryOp::Minimum:
      if constexpr (std::is_floating_point_v<T>)
        if (isnan(x) || isnan(y)) return x + y;
      return x < y ? x : y;
    case BinaryOp::Pow:
      if constexpr (std::is_same_v<T, float>) return powf(x, y);
      if constexpr (std::is_same_v<T, double>) return pow(x, y);
      break;  // refused on the host
    default: break;
  }
  return T(0);
}

template <class T>
__device__ __forceinline__ bool binary_compare(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Eq: return x == y;
    case BinaryOp::Ne: return x != y;
    case BinaryOp::Lt: return x < y;
    case BinaryOp::Le: return x <= y;
    case BinaryOp::Gt: return x > y;
    case BinaryOp::Ge: return x >= y;
    case BinaryOp::LogicalAnd: return x != T(0) && y != T(0);
    case BinaryOp::LogicalOr: return x != T(0) || y != T(0);
    default: break;
  }
  return false;
}

template <class T, class R>
__device__ __forceinline__ R binary_value(BinaryOp op, T x, T y) {
  if constexpr (std::is_same_v<R, bool> && !std::is_same_v<T, bool>) {
    return binary_compare(op, x, y);
  } else if constexpr (std::is_same_v<T, bool>) {
    return op >= BinaryOp::Eq ? binary_compare(op, x, y) : binary_arith(op, x, y);
  } else {
    return binary_arith(op, x, y);
  }
}

// ---- Binary kernels -----------------------------------------------------------------------

// Float32 arithmetic, flat layout, switch outside the loop (the common training case:
// contiguous tensors, or one side a broadcast scalar).
template <BinaryOp kOp>
__device__ __forceinline__ void binary_f32_flat_loop(int64_t n, const float* a, int64_t sa, const float* b,
                                                     int64_t sb, float* out, int64_t so, bool vec4) {
  if (vec4) {  // a and out contiguous and 16-byte aligned; b too, or a broadcast scalar
    const int64_t n4 = n / 4;
    if (sb == 0) {
      const float bv = *b;
      NL_GRID_STRIDE_LOOP(i, n4) {
        float4 v = load4(a, i);
        v.x = binary_arith(kOp, v.x, bv);
        v.y = binary_arith(kOp, v.y, bv);
        v.z = binary_arith(kOp, v.z, bv);
        v.w = binary_arith(kOp, v.w, bv);
        store4(out, i, v);
      }
    } else {
      NL_GRID_STRIDE_LOOP(i, n4) {
        float4 v = load4(a, i);
        const float4 w = load4(b, i);
        v.x = binary_arith(kOp, v.x, w.x);
        v.y = binary_arith(kOp, v.y, w.y);
        v.z = binary_arith(kOp, v.z, w.z);
        v.w = binary_arith(kOp, v.w, w.w);
        store4(out, i, v);
      }
    }
    NL_GRID_STRIDE_LOOP(t, n - n4 * 4) {
      const int64_t i = n4 * 4 + t;
      out[i] = binary_arith(kOp, a[i], b[i * sb]);
    }
  } else if (sa == 1 && sb == 1 && so == 1) {
    NL_GRID_STRIDE_LOOP(i, n) out[i] = binary_arith(kOp, a[i], b[i]);
  } else if (sa == 1 && sb == 0 && so == 1) {
    const float bv = *b;
    NL_GRID_STRIDE_LOOP(i, n) out[i] = binary_arith(kOp, a[i], bv);
  } else {
    NL_GRID_STRIDE_LOOP(i, n) out[i * so] = binary_arith(kOp, a[i * sa], b[i * sb]);
  }
}

#define NL_BINARY_CASE(op) \
  case BinaryOp::op: return binary_f32_flat_loop<BinaryOp::op>(n, a, sa, b, sb, out, so, vec4);

__global__ void binary_f32_flat_kernel(BinaryOp op, int64_t n, const float* a, int64_t sa, const float* b,
                                       int64_t sb, float* out, int64_t so, bool vec4) {
  switch (op) {
    NL_BINARY_CASE(Add) NL_BINARY_CASE(Sub) NL_BINARY_CASE(Mul) NL_BINARY_CASE(Div) NL_BINARY_CASE(Maximum)
    NL_BINARY_CASE(Minimum) NL_BINARY_CASE(Pow)
    default: return;
  }
}
#undef NL_BINARY_CASE

template <class T, class R>
__global__ void binary_flat_kernel(BinaryOp op, int64_t n, const T* a, int64_t sa, const T* b, int64_t sb, R* out,
                                   int64_t so) {
  NL_GRID_STRIDE_LOOP(i, n) out[i * so] = binary_value<T, R>(op, a[i * sa], b[i * sb]);
}

template <class T, class R, class I>
__global__ void binary_strided_kernel(BinaryOp op, int64_t n, Layout<3> L, const T* a, const T* b, R* out) {
  NL_GRID_STRIDE_LOOP(i, n) {
    int64_t off[3];
    L.offsets<I>(i, off);
    out[off[0]] = binary_value<T, R>(op, a[off[1]], b[off[2]]);
  }
}

template <class T, class R>
void launch_binary(int device, BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = out.numel();
  const Tensor* ops[3] = {&out, &a, &b};
  Layout<3> L = make_layout<3>(out.shape(), ops);
  const T* pa = device_ptr<const T>(a);
  const T* pb = device_ptr<const T>(b);
  R* po = device_ptr<R>(out);
  cudaStream_t stream = compute_stream(device);
  if (L.dim == 1) {
    const int64_t so = L.strides[0][0], sa = L.strides[1][0], sb = L.strides[2][0];
    if constexpr (std::is_same_v<T, float> && std::is_same_v<R, float>) {
      const bool vec4 = sa == 1 && so == 1 && (sb == 0 || (sb == 1 && aligned16(pb))) && aligned16(pa) &&
                        aligned16(po);
      binary_f32_flat_kernel<<<grid_for_vec(n, vec4), kThreads, 0, stream>>>(op, n, pa, sa, pb, sb, po, so, vec4);
    } else {
      binary_flat_kernel<T, R><<<grid_for(n), kThreads, 0, stream>>>(op, n, pa, sa, pb, sb, po, so);
    }
  } else if (small_index(n)) {
    binary_strided_kernel<T, R, uint32_t><<<grid_for(n), kThreads, 0, stream>>>(op, n, L, pa, pb, po);
  } else {
    binary_strided_kernel<T, R, int64_t><<<grid_for(n), kThreads, 0, stream>>>(op, n, L, pa, pb, po);
  }
  NL_CUDA_CHECK_LAUNCH("binary op");
}

template <class T>
void binary_typed(int device, BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  constexpr bool kFloating = std::is_floating_point_v<T>;
  if (op == BinaryOp::Div && !kFloating)
    fail("div: integer division is done in float32 (ops promote); got ", dtype_name(a.dtype()));
  if (op == BinaryOp::Pow && !kFloating) fail("pow: tensor exponents need float32 tensors");
  const bool to_bool = op >= BinaryOp::Eq;
  const DType want = to_bool ? DType::Bool : a.dtype();
  NL_CHECK(out.dtype() == want, "binary op: output must be ", dtype_name(want), ", got ", dtype_name(out.dtype()));
  if (to_bool) {
    launch_binary<T, bool>(device, op, a, b, out);
  } else {
    launch_binary<T, T>(device, op, a, b, out);
  }
}

// ---- where --------------------------------------------------------------------------------

// Moves bits only, so one kernel per element size serves every dtype.
template <class W, class I>
__global__ void where_kernel(int64_t n, Layout<4> L, W* out, const bool* cond, const W* a, const W* b) {
  NL_GRID_STRIDE_LOOP(i, n) {
    int64_t off[4];
    L.offsets<I>(i, off);
    out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]];
  }
}

template <class W>
void launch_where(int device, const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = out.numel();
  const Tensor* ops[4] = {&out, &cond, &a, &b};
  Layout<4> L = make_layout<4>(out.shape(), ops);
  cudaStream_t stream = compute_stream(device);
  if (small_index(n)) {
    where_kernel<W, uint32_t><<<grid_for(n), kThreads, 0, stream>>>(
        n, L, device_ptr<W>(out), device_ptr<const bool>(cond), device_ptr<const W>(a), device_ptr<const W>(b));
  } else {
    where_kernel<W, int64_t><<<grid_for(n), kThreads, 0, stream>>>(
        n, L, device_ptr<W>(out), device_ptr<const bool>(cond), device_ptr<const W>(a), device_ptr<const W>(b));
  }
  NL_CUDA_CHECK_LAUNCH("where");
}

}  // namespace

// ---- Backend entry points -----------------------------------------------------------------

void CudaBackend::unary(UnaryOp op, const Tensor& x, Tensor& out, float alpha, float beta) {
  if (x.numel() == 0) return;
  NL_CHECK(x.shape() == out.shape(), "unary: output shape ", out.shape().str(), " differs from input ",
           x.shape().str());
  const DType want = unary_to_bool_op(op) ? DType::Bool : x.dtype();
  NL_CHECK(out.dtype() == want, "unary: output must be ", dtype_name(want), ", got ", dtype_name(out.dtype()));
  DeviceGuard guard(index_);
  switch (x.dtype()) {
    case DType::Float32:
      if (unary_to_bool_op(op)) return launch_unary<float, bool>(index_, op, x, out, alpha, beta, {});
      return launch_unary<float, float>(index_, op, x, out, alpha, beta, {});
    case DType::Int64: return unary_integer<int64_t>(index_, op, x, out, alpha, beta);
    case DType::Int32: return unary_integer<int32_t>(index_, op, x, out, alpha, beta);
    case DType::UInt8: return unary_integer<uint8_t>(index_, op, x, out, alpha, beta);
    case DType::Bool: return unary_integer<bool>(index_, op, x, out, alpha, beta);
    default: fail("unary: dtype ", dtype_name(x.dtype()), " is not supported; convert to float32 first");
  }
}

void CudaBackend::unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& y_in, Tensor& out,
                                 float alpha, float beta) {
  NL_CHECK(grad.dtype() == DType::Float32 && x.dtype() == DType::Float32,
           "unary backward: gradients are float32 only, got ", dtype_name(grad.dtype()));
  if (out.numel() == 0) return;
  NL_CHECK(op != UnaryOp::IsNan && op != UnaryOp::LogicalNot, "unary backward: op has no gradient");
  const Tensor& y = y_in.defined() ? y_in : x;
  NL_CHECK(y.dtype() == DType::Float32 && out.dtype() == DType::Float32,
           "unary backward: gradients are float32 only, got ", dtype_name(y.dtype()), " and ",
           dtype_name(out.dtype()));
  DeviceGuard guard(index_);
  const int64_t n = out.numel();
  const Tensor* ops[4] = {&out, &grad, &x, &y};
  Layout<4> L = make_layout<4>(out.shape(), ops);
  float* po = device_ptr<float>(out);
  const float* pg = device_ptr<const float>(grad);
  const float* px = device_ptr<const float>(x);
  const float* py = device_ptr<const float>(y);
  cudaStream_t stream = compute_stream(index_);
  if (L.dim == 1) {
    const FlatStrides<4> st = flat_strides(L);
    const bool vec4 = st.s[0] == 1 && st.s[1] == 1 && st.s[2] == 1 && st.s[3] == 1 && aligned16(po) &&
                      aligned16(pg) && aligned16(px) && aligned16(py);
    unary_backward_flat_kernel<<<grid_for_vec(n, vec4), kThreads, 0, stream>>>(op, n, st, po, pg, px, py, alpha,
                                                                                beta, vec4);
  } else if (small_index(n)) {
    unary_backward_strided_kernel<uint32_t><<<grid_for(n), kThreads, 0, stream>>>(op, n, L, po, pg, px, py, alpha,
                                                                                   beta);
  } else {
    unary_backward_strided_kernel<int64_t><<<grid_for(n), kThreads, 0, stream>>>(op, n, L, po, pg, px, py, alpha,
                                                                                  beta);
  }
  NL_CUDA_CHECK_LAUNCH("unary backward");
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  NL_CHECK(a.dtype() == b.dtype(), "binary op: dtypes differ (", dtype_name(a.dtype()), ", ", dtype_name(b.dtype()),
           ")");
  if (out.numel() == 0) return;
  NL_CHECK(a.shape() == out.shape() && b.shape() == out.shape(), "binary op: inputs ", a.shape().str(), " and ",
           b.shape().str(), " are not broadcast to the output ", out.shape().str());
  DeviceGuard guard(index_);
  switch (a.dtype()) {
    case DType::Float32: return binary_typed<float>(index_, op, a, b, out);
    case DType::Float64: return binary_typed<double>(index_, op, a, b, out);
    case DType::Int64: return binary_typed<int64_t>(index_, op, a, b, out);
    case DType::Int32: return binary_typed<int32_t>(index_, op, a, b, out);
    case DType::UInt8: return binary_typed<uint8_t>(index_, op, a, b, out);
    case DType::Bool: return binary_typed<bool>(index_, op, a, b, out);
    default: fail("binary op: dtype ", dtype_name(a.dtype()), " is not supported; convert to float32 first");
  }
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  NL_CHECK(cond.dtype() == DType::Bool, "where: condition must be bool, got ", dtype_name(cond.dtype()));
  if (out.numel() == 0) return;
  NL_CHECK(a.dtype() == out.dtype() && b.dtype() == out.dtype(), "where: values must have the output's dtype ",
           dtype_name(out.dtype()), ", got ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  NL_CHECK(cond.shape() == out.shape() && a.shape() == out.shape() && b.shape() == out.shape(),
           "where: inputs are not broadcast to the output ", out.shape().str());
  DeviceGuard guard(index_);
  switch (out.element_size()) {
    case 1: return launch_where<uint8_t>(index_, cond, a, b, out);
    case 2: return launch_where<uint16_t>(index_, cond, a, b, out);
    case 4: return launch_where<uint32_t>(index_, cond, a, b, out);
    case 8: return launch_where<uint64_t>(index_, cond, a, b, out);
    default: fail("where: unexpected element size ", out.element_size());
  }
}

}  // namespace nl::cuda
