// CPU elementwise kernels: unary ops and their derivatives, binary ops, where.
// Each op is a small functor instantiated into a loop with unit-stride and broadcast fast
// paths, so the compiler can vectorise the common cases.
#include <cmath>

#include "engine/backends/cpu/cpu_backend.h"
#include "engine/backends/cpu/dispatch.h"
#include "engine/backends/cpu/strided_loop.h"

namespace nl {
namespace {

constexpr float kSqrt1_2 = 0.70710678118654752440f;
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;
constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kTwoOverSqrtPi = 1.12837916709551257390f;

// out (contiguous) = f(x)
template <class T, class R, class F>
void unary_loop(const Tensor& x, Tensor& out, F f) {
  auto L = cpu::make_layout<2>(out.shape(), {&out.strides(), &x.strides()});
  R* o = out.data<R>();
  const T* px = x.data<T>();
  cpu::for_each_run<2>(L, [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
    R* op = o + off[0];
    const T* xp = px + off[1];
    if (st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) op[i] = f(xp[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) op[i] = f(xp[i * st[1]]);
    }
  });
}

// out (contiguous) = f(g, x, y)
template <class F>
void ternary_loop_f32(const Tensor& g, const Tensor& x, const Tensor& y, Tensor& out, F f) {
  auto L = cpu::make_layout<4>(out.shape(), {&out.strides(), &g.strides(), &x.strides(), &y.strides()});
  float* o = out.data<float>();
  const float* pg = g.data<float>();
  const float* px = x.data<float>();
  const float* py = y.data<float>();
  cpu::for_each_run<4>(L, [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
    float* op = o + off[0];
    const float *gp = pg + off[1], *xp = px + off[2], *yp = py + off[3];
    if (st[1] == 1 && st[2] == 1 && st[3] == 1) {
      for (int64_t i = 0; i < n; ++i) op[i] = f(gp[i], xp[i], yp[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) op[i] = f(gp[i * st[1]], xp[i * st[2]], yp[i * st[3]]);
    }
  });
}

template <class T, class R, class F>
void binary_loop(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  auto L = cpu::make_layout<3>(out.shape(), {&out.strides(), &a.strides(), &b.strides()});
  R* o = out.data<R>();
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  cpu::for_each_run<3>(L, [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
    R* op = o + off[0];
    const T* ap = pa + off[1];
    const T* bp = pb + off[2];
    if (st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) op[i] = f(ap[i], bp[i]);
    } else if (st[1] == 1 && st[2] == 0) {
      const T bv = *bp;
      for (int64_t i = 0; i < n; ++i) op[i] = f(ap[i], bv);
    } else if (st[1] == 0 && st[2] == 1) {
      const T av = *ap;
      for (int64_t i = 0; i < n; ++i) op[i] = f(av, bp[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) op[i] = f(ap[i * st[1]], bp[i * st[2]]);
    }
  });
}

float gelu_tanh_inner(float x) { return kSqrt2OverPi * (x + 0.044715f * x * x * x); }
float sigmoidf(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float softplusf(float x) { return x > 20.0f ? x : std::log1p(std::exp(x)); }  // PyTorch's threshold

void unary_f32(UnaryOp op, const Tensor& x, Tensor& out, float a, float b) {
  switch (op) {
    case UnaryOp::Neg: return unary_loop<float, float>(x, out, [](float v) { return -v; });
    case UnaryOp::Exp: return unary_loop<float, float>(x, out, [](float v) { return std::exp(v); });
    case UnaryOp::Log: return unary_loop<float, float>(x, out, [](float v) { return std::log(v); });
    case UnaryOp::Sqrt: return unary_loop<float, float>(x, out, [](float v) { return std::sqrt(v); });
    case UnaryOp::Rsqrt: return unary_loop<float, float>(x, out, [](float v) { return 1.0f / std::sqrt(v); });
    case UnaryOp::Abs: return unary_loop<float, float>(x, out, [](float v) { return std::fabs(v); });
    case UnaryOp::Relu: return unary_loop<float, float>(x, out, [](float v) { return v > 0.0f ? v : 0.0f; });
    case UnaryOp::LeakyRelu: return unary_loop<float, float>(x, out, [a](float v) { return v > 0.0f ? v : v * a; });
    case UnaryOp::Sigmoid: return unary_loop<float, float>(x, out, [](float v) { return sigmoidf(v); });
    case UnaryOp::Tanh: return unary_loop<float, float>(x, out, [](float v) { return std::tanh(v); });
    case UnaryOp::GeluErf:
      return unary_loop<float, float>(x, out, [](float v) { return 0.5f * v * (1.0f + std::erf(v * kSqrt1_2)); });
    case UnaryOp::GeluTanh:
      return unary_loop<float, float>(x, out,
                                      [](float v) { return 0.5f * v * (1.0f + std::tanh(gelu_tanh_inner(v))); });
    case UnaryOp::Silu: return unary_loop<float, float>(x, out, [](float v) { return v * sigmoidf(v); });
    case UnaryOp::Softplus: return unary_loop<float, float>(x, out, [](float v) { return softplusf(v); });
    case UnaryOp::Erf: return unary_loop<float, float>(x, out, [](float v) { return std::erf(v); });
    case UnaryOp::PowScalar:
      if (a == 2.0f) return unary_loop<float, float>(x, out, [](float v) { return v * v; });
      if (a == 0.5f) return unary_loop<float, float>(x, out, [](float v) { return std::sqrt(v); });
      return unary_loop<float, float>(x, out, [a](float v) { return std::pow(v, a); });
    case UnaryOp::Clamp:
      return unary_loop<float, float>(x, out, [a, b](float v) { return std::isnan(v) ? v : std::min(std::max(v, a), b); });
    case UnaryOp::AddScalar: return unary_loop<float, float>(x, out, [a](float v) { return v + a; });
    case UnaryOp::MulScalar: return unary_loop<float, float>(x, out, [a](float v) { return v * a; });
    case UnaryOp::RSubScalar: return unary_loop<float, float>(x, out, [a](float v) { return a - v; });
    case UnaryOp::Reciprocal: return unary_loop<float, float>(x, out, [](float v) { return 1.0f / v; });
    case UnaryOp::Square: return unary_loop<float, float>(x, out, [](float v) { return v * v; });
    case UnaryOp::Sign:
      return unary_loop<float, float>(x, out, [](float v) { return float((v > 0.0f) - (v < 0.0f)); });
    case UnaryOp::Sin: return unary_loop<float, float>(x, out, [](float v) { return std::sin(v); });
    case UnaryOp::Cos: return unary_loop<float, float>(x, out, [](float v) { return std::cos(v); });
    case UnaryOp::Floor: return unary_loop<float, float>(x, out, [](float v) { return std::floor(v); });
    case UnaryOp::Ceil: return unary_loop<float, float>(x, out, [](float v) { return std::ceil(v); });
    case UnaryOp::Round: return unary_loop<float, float>(x, out, [](float v) { return std::nearbyint(v); });
    case UnaryOp::IsNan: return unary_loop<float, bool>(x, out, [](float v) { return std::isnan(v); });
    case UnaryOp::LogicalNot: return unary_loop<float, bool>(x, out, [](float v) { return v == 0.0f; });
  }
  fail("unary: unknown op");
}

template <class T>
void unary_integer(UnaryOp op, const Tensor& x, Tensor& out, float a, float b) {
  switch (op) {
    case UnaryOp::Neg: return unary_loop<T, T>(x, out, [](T v) { return T(-v); });
    case UnaryOp::Abs: return unary_loop<T, T>(x, out, [](T v) { return T(v < 0 ? -v : v); });
    case UnaryOp::Sign: return unary_loop<T, T>(x, out, [](T v) { return T((v > 0) - (v < 0)); });
    case UnaryOp::Square: return unary_loop<T, T>(x, out, [](T v) { return T(v * v); });
    case UnaryOp::AddScalar: return unary_loop<T, T>(x, out, [a](T v) { return T(v + (T)a); });
    case UnaryOp::MulScalar: return unary_loop<T, T>(x, out, [a](T v) { return T(v * (T)a); });
    case UnaryOp::RSubScalar: return unary_loop<T, T>(x, out, [a](T v) { return T((T)a - v); });
    case UnaryOp::Clamp:
      return unary_loop<T, T>(x, out, [a, b](T v) {
        double d = std::min(std::max((double)v, (double)a), (double)b);
        return (T)d;
      });
    case UnaryOp::LogicalNot: return unary_loop<T, bool>(x, out, [](T v) { return v == 0; });
    case UnaryOp::IsNan: return unary_loop<T, bool>(x, out, [](T) { return false; });
    default: fail("unary: this op needs a floating-point input, got ", dtype_name(x.dtype()));
  }
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, Tensor& out, float alpha, float beta) {
  if (x.numel() == 0) return;
  switch (x.dtype()) {
    case DType::Float32: return unary_f32(op, x, out, alpha, beta);
    case DType::Int64: return unary_integer<int64_t>(op, x, out, alpha, beta);
    case DType::Int32: return unary_integer<int32_t>(op, x, out, alpha, beta);
    case DType::UInt8: return unary_integer<uint8_t>(op, x, out, alpha, beta);
    case DType::Bool: return unary_integer<bool>(op, x, out, alpha, beta);
    default: fail("unary: dtype ", dtype_name(x.dtype()), " is not supported; convert to float32 first");
  }
}

void CpuBackend::unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& y_in, Tensor& out,
                                float a, float b) {
  NL_CHECK(grad.dtype() == DType::Float32 && x.dtype() == DType::Float32,
           "unary backward: gradients are float32 only, got ", dtype_name(grad.dtype()));
  if (out.numel() == 0) return;
  const Tensor& y = y_in.defined() ? y_in : x;
  auto run = [&](auto f) { ternary_loop_f32(grad, x, y, out, f); };
  switch (op) {
    case UnaryOp::Neg: return run([](float g, float, float) { return -g; });
    case UnaryOp::Exp: return run([](float g, float, float y) { return g * y; });
    case UnaryOp::Log: return run([](float g, float x, float) { return g / x; });
    case UnaryOp::Sqrt: return run([](float g, float, float y) { return g * 0.5f / y; });
    case UnaryOp::Rsqrt: return run([](float g, float, float y) { return -0.5f * g * y * y * y; });
    case UnaryOp::Abs: return run([](float g, float x, float) { return g * float((x > 0.0f) - (x < 0.0f)); });
    case UnaryOp::Relu: return run([](float g, float x, float) { return x > 0.0f ? g : 0.0f; });
    case UnaryOp::LeakyRelu: return run([a](float g, float x, float) { return x > 0.0f ? g : g * a; });
    case UnaryOp::Sigmoid: return run([](float g, float, float y) { return g * y * (1.0f - y); });
    case UnaryOp::Tanh: return run([](float g, float, float y) { return g * (1.0f - y * y); });
    case UnaryOp::GeluErf:
      return run([](float g, float x, float) {
        float cdf = 0.5f * (1.0f + std::erf(x * kSqrt1_2));
        float pdf = kInvSqrt2Pi * std::exp(-0.5f * x * x);
        return g * (cdf + x * pdf);
      });
    case UnaryOp::GeluTanh:
      return run([](float g, float x, float) {
        float t = std::tanh(gelu_tanh_inner(x));
        float dinner = kSqrt2OverPi * (1.0f + 3.0f * 0.044715f * x * x);
        return g * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dinner);
      });
    case UnaryOp::Silu:
      return run([](float g, float x, float) {
        float s = sigmoidf(x);
        return g * s * (1.0f + x * (1.0f - s));
      });
    case UnaryOp::Softplus: return run([](float g, float x, float) { return x > 20.0f ? g : g * sigmoidf(x); });
    case UnaryOp::Erf: return run([](float g, float x, float) { return g * kTwoOverSqrtPi * std::exp(-x * x); });
    case UnaryOp::PowScalar:
      return run([a](float g, float x, float) { return a == 0.0f ? 0.0f : g * a * std::pow(x, a - 1.0f); });
    case UnaryOp::Clamp: return run([a, b](float g, float x, float) { return (x >= a && x <= b) ? g : 0.0f; });
    case UnaryOp::AddScalar: return run([](float g, float, float) { return g; });
    case UnaryOp::MulScalar: return run([a](float g, float, float) { return g * a; });
    case UnaryOp::RSubScalar: return run([](float g, float, float) { return -g; });
    case UnaryOp::Reciprocal: return run([](float g, float, float y) { return -g * y * y; });
    case UnaryOp::Square: return run([](float g, float x, float) { return 2.0f * g * x; });
    case UnaryOp::Sin: return run([](float g, float x, float) { return g * std::cos(x); });
    case UnaryOp::Cos: return run([](float g, float x, float) { return -g * std::sin(x); });
    case UnaryOp::Sign:
    case UnaryOp::Floor:
    case UnaryOp::Ceil:
    case UnaryOp::Round: return run([](float, float, float) { return 0.0f; });
    case UnaryOp::IsNan:
    case UnaryOp::LogicalNot: fail("unary backward: op has no gradient");
  }
}

namespace {

template <class T>
void binary_typed(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  switch (op) {
    case BinaryOp::Add: return binary_loop<T, T>(a, b, out, [](T x, T y) { return T(x + y); });
    case BinaryOp::Sub: return binary_loop<T, T>(a, b, out, [](T x, T y) { return T(x - y); });
    case BinaryOp::Mul: return binary_loop<T, T>(a, b, out, [](T x, T y) { return T(x * y); });
    case BinaryOp::Div:
      if constexpr (std::is_floating_point_v<T>) {
        return binary_loop<T, T>(a, b, out, [](T x, T y) { return x / y; });
      } else {
        fail("div: integer division is done in float32 (ops promote); got ", dtype_name(a.dtype()));
      }
    case BinaryOp::Maximum:
      return binary_loop<T, T>(a, b, out, [](T x, T y) {
        if constexpr (std::is_floating_point_v<T>)
          if (std::isnan(x) || std::isnan(y)) return x + y;  // NaN propagates, as in PyTorch
        return x > y ? x : y;
      });
    case BinaryOp::Minimum:
      return binary_loop<T, T>(a, b, out, [](T x, T y) {
        if constexpr (std::is_floating_point_v<T>)
          if (std::isnan(x) || std::isnan(y)) return x + y;
        return x < y ? x : y;
      });
    case BinaryOp::Pow:
      if constexpr (std::is_floating_point_v<T>) {
        return binary_loop<T, T>(a, b, out, [](T x, T y) { return std::pow(x, y); });
      } else {
        fail("pow: tensor exponents need float32 tensors");
      }
    case BinaryOp::Eq: return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x == y; });
    case BinaryOp::Ne: return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x != y; });
    case BinaryOp::Lt: return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x < y; });
    case BinaryOp::Le: return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x <= y; });
    case BinaryOp::Gt: return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x > y; });
    case BinaryOp::Ge: return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x >= y; });
    case BinaryOp::LogicalAnd: return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x != T(0) && y != T(0); });
    case BinaryOp::LogicalOr: return binary_loop<T, bool>(a, b, out, [](T x, T y) { return x != T(0) || y != T(0); });
  }
}

}  // namespace

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  NL_CHECK(a.dtype() == b.dtype(), "binary op: dtypes differ (", dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), ")");
  if (out.numel() == 0) return;
  switch (a.dtype()) {
    case DType::Float32: return binary_typed<float>(op, a, b, out);
    case DType::Float64: return binary_typed<double>(op, a, b, out);
    case DType::Int64: return binary_typed<int64_t>(op, a, b, out);
    case DType::Int32: return binary_typed<int32_t>(op, a, b, out);
    case DType::UInt8: return binary_typed<uint8_t>(op, a, b, out);
    case DType::Bool: return binary_typed<bool>(op, a, b, out);
    default: fail("binary op: dtype ", dtype_name(a.dtype()), " is not supported; convert to float32 first");
  }
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) {
  NL_CHECK(cond.dtype() == DType::Bool, "where: condition must be bool, got ", dtype_name(cond.dtype()));
  if (out.numel() == 0) return;
  cpu::dispatch_all(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    auto L = cpu::make_layout<4>(out.shape(), {&out.strides(), &cond.strides(), &a.strides(), &b.strides()});
    T* o = out.data<T>();
    const bool* pc = cond.data<bool>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    cpu::for_each_run<4>(L, [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
      for (int64_t i = 0; i < n; ++i)
        o[off[0] + i * st[0]] = pc[off[1] + i * st[1]] ? pa[off[2] + i * st[2]] : pb[off[3] + i * st[3]];
    });
  });
}

}  // namespace nl
