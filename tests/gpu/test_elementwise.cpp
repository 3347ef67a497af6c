// GPU parity tests of the elementwise kernels (engine/backends/cuda/elementwise.cu): every
// unary op forward and backward, every binary op with broadcasting and strided views,
// where, in-place updates, the dtypes the ops allow, edge values, and the backend's error
// cases, each compared with the CPU backend.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/ops/ops.h"
#include "tests/gpu/gpu_testing.h"

namespace nl {
namespace {

using gpu_test::check_parity;
using gpu_test::same_error;
using gpu_test::Failure;
using gpu_test::random_input;
using gpu_test::Tolerance;

const Device kCuda = Device::cuda(0);
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Tensor f32(const std::vector<double>& v) {
  std::vector<float> f(v.begin(), v.end());
  return tensor(f, Shape{static_cast<int64_t>(f.size())});
}

// Integer-valued tensor of `dtype` (from random values in [lo, hi), floored).
Tensor int_input(const Shape& shape, uint64_t seed, DType dtype, double lo, double hi) {
  return floor(random_input(shape, seed, false, lo, hi)).to(dtype);
}

// Both devices must refuse `fn` with the same nl::Error message.
// ---- Unary ops -----------------------------------------------------------------------------

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> fn;
  double lo = -3, hi = 3;  // input range (log, sqrt, ... need positive inputs)
};

std::vector<UnaryCase> unary_cases() {
  const double inf = kInf;
  return {
      {"neg", [](const Tensor& x) { return neg(x); }},
      {"exp", [](const Tensor& x) { return exp(x); }},
      {"log", [](const Tensor& x) { return log(x); }, 0.05, 4},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, 0.05, 4},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, 0.05, 4},
      {"abs", [](const Tensor& x) { return abs(x); }},
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.1); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, -8, 8},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"gelu_erf", [](const Tensor& x) { return gelu(x); }, -5, 5},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApproximation::Tanh); }, -5, 5},
      {"silu", [](const Tensor& x) { return silu(x); }, -6, 6},
      {"softplus", [](const Tensor& x) { return softplus(x); }, -30, 30},  // crosses the threshold 20
      {"erf", [](const Tensor& x) { return erf(x); }},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, 0.2, 3},
      {"square", [](const Tensor& x) { return square(x); }},
      {"sin", [](const Tensor& x) { return sin(x); }, -7, 7},
      {"cos", [](const Tensor& x) { return cos(x); }, -7, 7},
      {"sign", [](const Tensor& x) { return sign(x); }},
      {"floor", [](const Tensor& x) { return floor(x); }, -5, 5},
      {"ceil", [](const Tensor& x) { return ceil(x); }, -5, 5},
      {"round", [](const Tensor& x) { return round(x); }, -5, 5},
      {"pow2", [](const Tensor& x) { return pow(x, 2.0); }},
      {"pow0.5", [](const Tensor& x) { return pow(x, 0.5); }, 0.05, 4},
      {"pow3", [](const Tensor& x) { return pow(x, 3.0); }},
      {"pow-1.5", [](const Tensor& x) { return pow(x, -1.5); }, 0.1, 3},
      {"pow0", [](const Tensor& x) { return pow(x, 0.0); }},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.3, 0.4); }, -1, 1},
      {"clamp_hi_only", [inf](const Tensor& x) { return clamp(x, -inf, 0.0); }},
      {"clamp_lo_only", [inf](const Tensor& x) { return clamp(x, 0.5, inf); }},
      {"add_scalar", [](const Tensor& x) { return add(x, 1.5); }},
      {"sub_scalar", [](const Tensor& x) { return sub(x, 0.75); }},
      {"mul_scalar", [](const Tensor& x) { return mul(x, -2.5); }},
      {"div_scalar", [](const Tensor& x) { return div(x, 4.0); }},
      {"rsub_scalar", [](const Tensor& x) { return rsub(x, 2.0); }},
  };
}

// One op over several layouts: contiguous (odd sizes, one large enough for many blocks),
// transposed, narrowed, broadcast (stride 0), scalar, size 1 and size 0.
NL_GPU_TEST(unary_ops_forward_and_backward_all_layouts) {
  uint64_t seed = 1;
  for (const UnaryCase& c : unary_cases()) {
    const std::string n = c.name;
    auto in = [&](const Shape& s) { return random_input(s, ++seed, true, c.lo, c.hi); };
    check_parity(n + " contiguous [37, 129]", {in({37, 129})}, [&](auto& v) { return c.fn(v[0]); });
    check_parity(n + " contiguous [300007]", {in({300007})}, [&](auto& v) { return c.fn(v[0]); });
    check_parity(n + " transposed", {in({129, 37})}, [&](auto& v) { return c.fn(v[0].transpose(0, 1)); });
    check_parity(n + " narrowed 3-D", {in({4, 9, 8})}, [&](auto& v) { return c.fn(v[0].narrow(2, 1, 5)); });
    check_parity(n + " strided slice", {in({50})}, [&](auto& v) { return c.fn(v[0].slice(0, 1, 50, 3)); });
    check_parity(n + " broadcast", {in({1, 129})}, [&](auto& v) { return c.fn(v[0].expand({37, 129})); });
    check_parity(n + " scalar", {in({})}, [&](auto& v) { return c.fn(v[0]); });
    check_parity(n + " size 1 dims", {in({1, 1, 3})}, [&](auto& v) { return c.fn(v[0]); });
    check_parity(n + " size 0", {in({3, 0, 5})}, [&](auto& v) { return c.fn(v[0]); });
  }
}

// NaN, ±inf, ±0 and values around the ops' thresholds through every unary op (forward).
NL_GPU_TEST(unary_ops_edge_values) {
  Tensor x = f32({kNaN, kInf, -kInf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 19.99, 20.0, 20.01, 88.0, -88.0,
                  1e-30, -1e-30, 1e30, -1e30, 3.0, 100.0});
  for (const UnaryCase& c : unary_cases()) {
    check_parity(std::string(c.name) + " edge values", {x}, [&](auto& v) { return c.fn(v[0]); });
  }
  check_parity("isnan", {x}, [](auto& v) { return isnan(v[0]); });
  check_parity("logical_not", {x}, [](auto& v) { return logical_not(v[0]); });
  check_parity("clamp NaN passes", {x}, [](auto& v) { return clamp(v[0], -1.0, 1.0); });
}

NL_GPU_TEST(round_is_half_to_even) {
  Tensor x = f32({0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 0.49999997, 4.5000005});
  check_parity("round ties", {x}, [](auto& v) { return round(v[0]); }, Tolerance{0, 0, 0, 0});
  std::vector<float> got = round(x.to(kCuda)).to_vector<float>();
  const std::vector<float> want = {0, 2, 2, 4, -0, -2, -2, 0, 5};
  for (size_t i = 0; i < want.size(); ++i) NL_GPU_CHECK(got[i] == want[i], "element ", i, ": ", got[i]);
}

// Integer and bool inputs: the ops that keep their dtype, the bool-valued ones, and
// float-only ops (which the ops layer runs in float32).
NL_GPU_TEST(unary_integer_dtypes) {
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops = {
      {"neg", [](const Tensor& x) { return neg(x); }},
      {"abs", [](const Tensor& x) { return abs(x); }},
      {"sign", [](const Tensor& x) { return sign(x); }},
      {"square", [](const Tensor& x) { return square(x); }},
      {"add 3", [](const Tensor& x) { return add(x, 3.0); }},
      {"sub 1", [](const Tensor& x) { return sub(x, 1.0); }},  // uint8 wraps, as on the CPU
      {"mul 3", [](const Tensor& x) { return mul(x, 3.0); }},
      {"mul 0.5", [](const Tensor& x) { return mul(x, 0.5); }},  // (T)0.5 == 0
      {"rsub 10", [](const Tensor& x) { return rsub(x, 10.0); }},
      {"clamp", [](const Tensor& x) { return clamp(x, -2.0, 3.0); }},
      {"clamp fractional", [](const Tensor& x) { return clamp(x, 0.5, 4.5); }},
      {"logical_not", [](const Tensor& x) { return logical_not(x); }},
      {"isnan", [](const Tensor& x) { return isnan(x); }},
      {"exp (promoted)", [](const Tensor& x) { return exp(x); }},
      {"sqrt (promoted)", [](const Tensor& x) { return sqrt(abs(x)); }},
      {"div scalar (promoted)", [](const Tensor& x) { return div(x, 4.0); }},
  };
  const std::vector<std::pair<DType, std::pair<double, double>>> dtypes = {
      {DType::Int64, {-9, 9}}, {DType::Int32, {-9, 9}}, {DType::UInt8, {0, 12}}, {DType::Bool, {0, 2}}};
  uint64_t seed = 100;
  for (auto [dt, range] : dtypes) {
    for (auto& [name, fn] : ops) {
      const std::string what = std::string(name) + " " + dtype_name(dt);
      Tensor x = int_input({37, 41}, ++seed, dt, range.first, range.second);
      // Exact for integer results; float32 results (promoted ops) within an ulp or so.
      const Tolerance tol{1e-6, 1e-7, 0, 0};
      check_parity(what, {x}, [&](auto& v) { return fn(v[0]); }, tol);
      check_parity(what + " transposed", {x}, [&](auto& v) { return fn(v[0].transpose(0, 1)); }, tol);
      check_parity(what + " broadcast", {int_input({1, 7}, ++seed, dt, range.first, range.second)},
                   [&](auto& v) { return fn(v[0].expand({5, 7})); }, tol);
    }
  }
}

// ---- Binary ops ----------------------------------------------------------------------------

struct BinaryCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> fn;
  bool differentiable;
  double a_lo = -2, a_hi = 2, b_lo = -2, b_hi = 2;
};

std::vector<BinaryCase> binary_cases() {
  return {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, true},
      {"sub", [](const Tensor& a, const Tensor& b) { return sub(a, b); }, true},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, true},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, true, -2, 2, 0.5, 2},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }, true},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }, true},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }, true, 0.2, 2, -2, 2},
      {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); }, false},
      {"ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); }, false},
      {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); }, false},
      {"le", [](const Tensor& a, const Tensor& b) { return le(a, b); }, false},
      {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); }, false},
      {"ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); }, false},
      {"logical_and", [](const Tensor& a, const Tensor& b) { return logical_and(a, b); }, false},
      {"logical_or", [](const Tensor& a, const Tensor& b) { return logical_or(a, b); }, false},
  };
}

struct ShapePair {
  Shape a, b;
};

const std::vector<ShapePair>& broadcast_shapes_to_test() {
  static const std::vector<ShapePair> pairs = {
      {{37, 129}, {37, 129}}, {{4, 1, 5}, {3, 1}}, {{}, {7, 9}},       {{7, 9}, {}},
      {{2, 3, 4}, {4}},       {{5, 1}, {1, 6}},    {{3, 0, 2}, {2}},    {{1}, {1}},
      {{300007}, {300007}},   {{64, 1, 33}, {1, 17, 33}},
  };
  return pairs;
}

NL_GPU_TEST(binary_ops_float32_broadcast_and_views) {
  uint64_t seed = 1000;
  for (const BinaryCase& c : binary_cases()) {
    const std::string n = c.name;
    const bool g = c.differentiable;
    auto in_a = [&](const Shape& s) { return random_input(s, ++seed, g, c.a_lo, c.a_hi); };
    auto in_b = [&](const Shape& s) { return random_input(s, ++seed, g, c.b_lo, c.b_hi); };
    for (const ShapePair& p : broadcast_shapes_to_test()) {
      check_parity(n + " " + p.a.str() + " with " + p.b.str(), {in_a(p.a), in_b(p.b)},
                   [&](auto& v) { return c.fn(v[0], v[1]); });
    }
    check_parity(n + " transposed a", {in_a({129, 37}), in_b({37, 129})},
                 [&](auto& v) { return c.fn(v[0].transpose(0, 1), v[1]); });
    check_parity(n + " both transposed", {in_a({129, 37}), in_b({129, 37})},
                 [&](auto& v) { return c.fn(v[0].t(), v[1].t()); });
    check_parity(n + " permuted 3-D with broadcast", {in_a({5, 6, 7}), in_b({6, 1, 1})},
                 [&](auto& v) { return c.fn(v[0].permute({1, 2, 0}), v[1]); });
    check_parity(n + " narrowed with expanded", {in_a({9, 40}), in_b({9, 1})},
                 [&](auto& v) { return c.fn(v[0].narrow(1, 3, 31), v[1].expand({9, 31})); });
    check_parity(n + " scalar with transposed", {in_a({}), in_b({65, 33})},
                 [&](auto& v) { return c.fn(v[0], v[1].t()); });
  }
}

// Integer-valued float inputs: ties for comparisons and for the maximum/minimum gradient
// (split evenly on ties).
NL_GPU_TEST(binary_ops_ties) {
  uint64_t seed = 2000;
  for (const BinaryCase& c : binary_cases()) {
    if (std::string(c.name) == "pow" || std::string(c.name) == "div") continue;
    auto in = [&](const Shape& s) {
      Tensor t = floor(random_input(s, ++seed, false, -2, 2));
      if (c.differentiable) t.requires_grad_(true);
      return t;
    };
    check_parity(std::string(c.name) + " with ties", {in({31, 17}), in({31, 17})},
                 [&](auto& v) { return c.fn(v[0], v[1]); });
    check_parity(std::string(c.name) + " with ties, broadcast", {in({31, 17}), in({17})},
                 [&](auto& v) { return c.fn(v[0], v[1]); });
  }
}

NL_GPU_TEST(binary_ops_edge_values) {
  Tensor a = f32({kNaN, 1, kInf, -kInf, 0.0, -0.0, 2, kNaN, -2, -8, 0.0, 0.0, 1, kInf, 3});
  Tensor b = f32({1, kNaN, kInf, 1, 0.0, 0.0, -kInf, kNaN, 0.5, 1.0 / 3, -1, 0.0, 0.0, -kInf, -0.0});
  for (const BinaryCase& c : binary_cases()) {
    check_parity(std::string(c.name) + " edge values", {a, b}, [&](auto& v) { return c.fn(v[0], v[1]); });
    check_parity(std::string(c.name) + " edge values, swapped", {b, a}, [&](auto& v) { return c.fn(v[0], v[1]); });
  }
}

// Every dtype the binary kernel takes (float64, int64, int32, uint8, bool), with broadcast
// and transposed inputs; div and pow on integers run in float32 (the ops promote).
NL_GPU_TEST(binary_ops_all_dtypes) {
  const std::vector<std::pair<DType, std::pair<double, double>>> dtypes = {{DType::Float64, {-5, 5}},
                                                                           {DType::Int64, {-9, 9}},
                                                                           {DType::Int32, {-9, 9}},
                                                                           {DType::UInt8, {0, 15}},
                                                                           {DType::Bool, {0, 2}}};
  uint64_t seed = 3000;
  for (auto [dt, r] : dtypes) {
    for (const BinaryCase& c : binary_cases()) {
      const std::string what = std::string(c.name) + " " + dtype_name(dt);
      // Exponents stay small and bases positive so integer powers are exact on both devices.
      const double blo = std::string(c.name) == "pow" ? 0 : r.first, bhi = std::string(c.name) == "pow" ? 4 : r.second;
      const double alo = std::string(c.name) == "pow" ? std::max(0.0, r.first) : r.first;
      Tensor a = int_input({23, 19}, ++seed, dt, alo, r.second);
      Tensor b = int_input({23, 19}, ++seed, dt, blo, bhi);
      Tensor bb = int_input({19}, ++seed, dt, blo, bhi);
      Tensor at = int_input({19, 23}, ++seed, dt, alo, r.second);
      Tolerance exact{1e-6, 0, 1e-6, 0};
      check_parity(what, {a, b}, [&](auto& v) { return c.fn(v[0], v[1]); }, exact);
      check_parity(what + " broadcast", {a, bb}, [&](auto& v) { return c.fn(v[0], v[1]); }, exact);
      check_parity(what + " transposed", {at, b}, [&](auto& v) { return c.fn(v[0].t(), v[1]); }, exact);
    }
  }
  // Float64 with gradients (through to(), whose backward is a copy back to float32). Only
  // add and mul: the other rules use unary ops (neg, mul by a scalar), which the ops layer
  // runs in float32 only.
  for (const BinaryCase& c : binary_cases()) {
    if (std::string(c.name) != "add" && std::string(c.name) != "mul") continue;
    check_parity(std::string(c.name) + " float64 with gradients",
                 {random_input({13, 7}, ++seed, true, c.a_lo, c.a_hi), random_input({7}, ++seed, true, c.b_lo, c.b_hi)},
                 [&](auto& v) { return c.fn(v[0].to(DType::Float64), v[1].to(DType::Float64)); });
  }
}

// Operands of different dtypes: the ops promote, the kernels see one dtype.
NL_GPU_TEST(binary_ops_mixed_dtypes) {
  Tensor i64 = int_input({6, 5}, 1, DType::Int64, -9, 9);
  Tensor i32 = int_input({5}, 2, DType::Int32, -9, 9);
  Tensor u8 = int_input({6, 5}, 3, DType::UInt8, 0, 9);
  Tensor u8_big = int_input({6, 5}, 7, DType::UInt8, 0, 30);
  Tensor bl = int_input({6, 1}, 4, DType::Bool, 0, 2);
  Tensor f = random_input({6, 5}, 5, true);
  Tensor f64 = random_input({5}, 6, false).to(DType::Float64);
  Tolerance t{1e-6, 1e-7, 1e-5, 1e-6};
  check_parity("int64 + float32", {i64, f}, [](auto& v) { return add(v[0], v[1]); }, t);
  check_parity("float32 * int32", {f, i32}, [](auto& v) { return mul(v[0], v[1]); }, t);
  check_parity("uint8 * int32", {u8, i32}, [](auto& v) { return mul(v[0], v[1]); }, t);
  check_parity("uint8 - uint8 wraps", {u8, u8_big}, [](auto& v) { return sub(v[0], v[1]); }, t);
  check_parity("bool + int64", {bl, i64}, [](auto& v) { return add(v[0], v[1]); }, t);
  check_parity("bool + bool", {bl, bl}, [](auto& v) { return add(v[0], v[1].t().expand({6, 6})); }, t);
  check_parity("int64 / int32 (float32)", {i64, i32}, [](auto& v) { return div(v[0], v[1]); }, t);
  check_parity("int32 pow int64 (float32)", {i32, i64}, [](auto& v) { return pow(abs(v[0]), abs(v[1])); }, t);
  check_parity("maximum int32, float64", {i32, f64}, [](auto& v) { return maximum(v[0], v[1]); }, t);
  check_parity("lt int64, float32", {i64, f}, [](auto& v) { return lt(v[0], v[1]); }, t);
  check_parity("eq uint8, int64", {u8, i64}, [](auto& v) { return eq(v[0], v[1]); }, t);
  check_parity("logical_and float32, int64", {f, i64}, [](auto& v) { return logical_and(v[0], v[1]); }, t);
  check_parity("logical_or uint8, bool", {u8, bl}, [](auto& v) { return logical_or(v[0], v[1]); }, t);
}

// add_/mul_ write their output over the first input on contiguous tensors (aliasing);
// a non-contiguous target goes through a copy.
NL_GPU_TEST(inplace_updates) {
  auto run = [](Device d) {
    NoGradGuard ng;
    Tensor x = random_input({33, 65}, 7, false).to(d);
    Tensor y = random_input({65}, 8, false).to(d);
    add_(x, y, -0.5);
    mul_(x, 3.0);
    mul_(x, y);
    Tensor z = random_input({65, 33}, 9, false).to(d);
    Tensor zt = z.t();  // non-contiguous self
    add_(zt, y, 2.0);
    mul_(zt, 0.25);
    Tensor w = zeros({4, 6}, {.device = d});
    Tensor view = w.narrow(1, 1, 3);
    fill_(view, 2.0);
    add_(view, ones({3}, {.device = d}));
    return std::vector<Tensor>{x, z, w};
  };
  auto cpu = run(Device::cpu());
  auto gpu = run(kCuda);
  for (size_t i = 0; i < cpu.size(); ++i) {
    std::string msg = gpu_test::compare(gpu[i], cpu[i], 1e-5, 1e-6);
    NL_GPU_CHECK(msg.empty(), "result ", i, ": ", msg);
  }
}

// ---- where -------------------------------------------------------------------------------

NL_GPU_TEST(where_all_dtypes_and_broadcasts) {
  Tensor cond_src = random_input({4, 1, 9}, 11, false);
  Tensor a = random_input({4, 6, 9}, 12, true);
  Tensor b = random_input({6, 1}, 13, true);
  check_parity("where float32 broadcast", {cond_src, a, b},
               [](auto& v) { return where(gt(v[0], 0.0), v[1], v[2]); });
  check_parity("where float32 transposed", {cond_src, random_input({9, 6}, 14, true), random_input({}, 15, true)},
               [](auto& v) { return where(lt(v[0], 0.1), v[1].t(), v[2]); });
  check_parity("where size 0", {random_input({0, 3}, 16, false), random_input({0, 3}, 17, true),
                                random_input({3}, 18, true)},
               [](auto& v) { return where(gt(v[0], 0.0), v[1], v[2]); });
  check_parity("where large", {random_input({300007}, 19, false), random_input({300007}, 20, true),
                               random_input({1}, 21, true)},
               [](auto& v) { return where(gt(v[0], 0.0), v[1], v[2]); });
  // Every element size (1, 2, 4, 8 bytes).
  for (DType dt : {DType::Float64, DType::Float16, DType::BFloat16, DType::Int64, DType::Int32, DType::UInt8,
                   DType::Bool}) {
    check_parity(std::string("where ") + dtype_name(dt), {cond_src, a.detach(), random_input({9, 6}, 22, false)},
                 [dt](auto& v) {
                   // abs: a negative float → uint8 cast is undefined behaviour in C++
                   return where(gt(v[0], 0.0), mul(abs(v[1]), 10.0).to(dt), mul(abs(v[2]), 10.0).t().to(dt));
                 },
                 Tolerance{0, 0, 0, 0});
  }
  // A condition of another dtype is converted to bool by the op; NaN passes through.
  Tensor x = f32({kNaN, 1, 0, -2, kInf});
  check_parity("where float condition and NaN values", {x, x}, [](auto& v) { return where(v[0], v[1], neg(v[1])); });
}

// ---- Errors ------------------------------------------------------------------------------

NL_GPU_TEST(elementwise_errors_match_the_cpu) {
  auto empty_on = [](Device d, DType dt, const Shape& s = {3}) { return Tensor::empty(s, dt, d); };
  same_error("unary float64", [&](Device d) {
    Tensor x = zeros({3}, {.dtype = DType::Float64, .device = d});
    Tensor out = empty_on(d, DType::Float64);
    backend_for(d).unary(UnaryOp::Exp, x, out, 0, 0);
  });
  same_error("unary float16", [&](Device d) {
    Tensor x = zeros({3}, {.dtype = DType::Float16, .device = d});
    Tensor out = empty_on(d, DType::Float16);
    backend_for(d).unary(UnaryOp::Neg, x, out, 0, 0);
  });
  same_error("unary float-only op on int64", [&](Device d) {
    Tensor x = zeros({3}, {.dtype = DType::Int64, .device = d});
    Tensor out = empty_on(d, DType::Int64);
    backend_for(d).unary(UnaryOp::Exp, x, out, 0, 0);
  });
  same_error("unary backward float64", [&](Device d) {
    Tensor g = zeros({3}, {.dtype = DType::Float64, .device = d});
    Tensor out = empty_on(d, DType::Float64);
    backend_for(d).unary_backward(UnaryOp::Exp, g, g, Tensor(), out, 0, 0);
  });
  same_error("unary backward of isnan", [&](Device d) {
    Tensor g = zeros({3}, {.device = d});
    Tensor out = empty_on(d, DType::Float32);
    backend_for(d).unary_backward(UnaryOp::IsNan, g, g, Tensor(), out, 0, 0);
  });
  same_error("binary dtypes differ", [&](Device d) {
    Tensor a = zeros({3}, {.device = d});
    Tensor b = zeros({3}, {.dtype = DType::Int64, .device = d});
    Tensor out = empty_on(d, DType::Float32);
    backend_for(d).binary(BinaryOp::Add, a, b, out);
  });
  same_error("binary float16", [&](Device d) {
    Tensor a = zeros({3}, {.dtype = DType::Float16, .device = d});
    Tensor out = empty_on(d, DType::Float16);
    backend_for(d).binary(BinaryOp::Mul, a, a, out);
  });
  same_error("integer division in the kernel", [&](Device d) {
    Tensor a = ones({3}, {.dtype = DType::Int64, .device = d});
    Tensor out = empty_on(d, DType::Int64);
    backend_for(d).binary(BinaryOp::Div, a, a, out);
  });
  same_error("integer pow in the kernel", [&](Device d) {
    Tensor a = ones({3}, {.dtype = DType::Int32, .device = d});
    Tensor out = empty_on(d, DType::Int32);
    backend_for(d).binary(BinaryOp::Pow, a, a, out);
  });
  same_error("where with a float condition", [&](Device d) {
    Tensor c = zeros({3}, {.device = d});
    Tensor out = empty_on(d, DType::Float32);
    backend_for(d).where(c, c, c, out);
  });
  same_error("ops: exp of float64", [](Device d) { exp(zeros({2}, {.dtype = DType::Float64, .device = d})); });
  same_error("ops: shapes that do not broadcast", [](Device d) { add(zeros({2, 3}, {.device = d}), zeros({4}, {.device = d})); });
  same_error("ops: clamp bounds", [](Device d) { clamp(zeros({2}, {.device = d}), 1.0, 0.0); });
  same_error("ops: add_ that would broadcast self", [](Device d) {
    NoGradGuard ng;
    Tensor s = zeros({3}, {.device = d});
    add_(s, zeros({2, 3}, {.device = d}));
  });
}

}  // namespace
}  // namespace nl
