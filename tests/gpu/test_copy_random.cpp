// GPU tests of the memory and random kernels (engine/backends/cuda/copy_fill.cu and
// random.cu): dtype conversions between every pair, strided copies, fill/zeros/ones/full,
// arange, host round trips and item() — all compared exactly with the CPU — and the
// distribution, reproducibility and edge cases of rand/randn/uniform and dropout masks
// (whose numbers differ from the CPU's by design: a counter-based generator).
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
const std::vector<DType> kAllDTypes = {DType::Float32, DType::Float64, DType::Int64, DType::Int32,
                                       DType::UInt8,   DType::Bool,    DType::Float16, DType::BFloat16};

Tensor f64(const std::vector<double>& v) {
  return from_buffer(v.data(), v.size() * sizeof(double), Shape{static_cast<int64_t>(v.size())}, DType::Float64);
}

// `actual` (any device) must equal `expected` exactly (NaN matching NaN).
void expect_equal(const std::string& what, const Tensor& actual, const Tensor& expected) {
  NL_GPU_CHECK(actual.dtype() == expected.dtype(), what, ": dtype ", dtype_name(actual.dtype()), " vs ",
               dtype_name(expected.dtype()));
  std::string msg = gpu_test::compare(actual, expected, 0, 0);
  if (!msg.empty()) throw Failure(what + ": " + msg);
}

// Both devices must refuse `fn` with the same nl::Error message.
bool is_int(DType dt) { return dt == DType::Int64 || dt == DType::Int32 || dt == DType::UInt8; }

// ---- Conversions ---------------------------------------------------------------------------

// Every (source, destination) dtype pair, from values each conversion defines (C++ leaves
// out-of-range float → integer casts undefined, so those are not compared).
NL_GPU_TEST(to_dtype_all_pairs) {
  const std::vector<double> unsigned_values = {0, 0.25, 0.5, 1, 1.5, 2.5, 3.7, 7.9, 100.4, 200, 255, 0.1, 1.0 / 3};
  const std::vector<double> signed_values = {-3.7, -2.5, -1, -0.5, -0.1, 0, 1, 65504, -1e5 / 3, 40000.5};
  const std::vector<double> special_values = {kNaN, kInf, -kInf, -0.0, 1e-30, 3e38, 1e-45, 70000};
  for (DType from : kAllDTypes) {
    for (DType to : kAllDTypes) {
      const std::string what = std::string(dtype_name(from)) + " → " + dtype_name(to);
      auto check = [&](const std::string& set, const std::vector<double>& values) {
        Tensor src = f64(values).to(from);  // built on the CPU
        expect_equal(what + " (" + set + ")", src.to(kCuda).to(to), src.to(to));
        // Strided source and destination: a transposed copy that converts.
        Tensor grid = src.reshape({1, -1}).expand({3, -1});
        expect_equal(what + " (" + set + ", expanded and transposed)", grid.to(kCuda).t().to(to), grid.t().to(to));
      };
      check("unsigned", unsigned_values);
      if (from != DType::UInt8 && to != DType::UInt8) check("signed", signed_values);
      if (!is_int(to) && !is_int(from)) check("special", special_values);
    }
  }
  // Integers beyond float precision (int64 → float rounds once, not through double).
  Tensor big = tensor(std::vector<int64_t>{(1LL << 53) + 1, (1LL << 40) + 3, -(1LL << 62) - 12345, 16777217,
                                           -16777219, 2147483647LL, -2147483648LL},
                      {7});
  for (DType to : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16, DType::Bool, DType::Int64}) {
    expect_equal(std::string("large int64 → ") + dtype_name(to), big.to(kCuda).to(to), big.to(to));
  }
  expect_equal("int64 → int32 (wraps)", big.to(kCuda).to(DType::Int32), big.to(DType::Int32));
  expect_equal("int64 → uint8 (wraps)", big.to(kCuda).to(DType::UInt8), big.to(DType::UInt8));
}

// to(dtype) is differentiable between float types; its backward is a copy back.
NL_GPU_TEST(to_dtype_gradients) {
  for (DType dt : {DType::Float64, DType::Float16, DType::BFloat16}) {
    check_parity(std::string("float32 → ") + dtype_name(dt) + " → float32", {random_input({17, 33}, 5, true)},
                 [dt](auto& v) { return v[0].t().to(dt).to(DType::Float32); }, Tolerance{0, 0, 0, 0});
  }
}

// ---- Strided copies ----------------------------------------------------------------------

NL_GPU_TEST(strided_copies_every_element_size) {
  uint64_t seed = 10;
  for (DType dt : kAllDTypes) {
    const std::string n = dtype_name(dt);
    // abs: a negative float → uint8 cast is undefined behaviour in C++.
    auto make = [&](const Shape& s) { return mul(abs(random_input(s, ++seed, false, -1, 1)), 50.0).to(dt); };
    std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> views = {
        {"transpose", [](const Tensor& x) { return x.transpose(0, 1); }},
        {"narrow dim 0", [](const Tensor& x) { return x.narrow(0, 3, 20); }},
        {"narrow dim 1", [](const Tensor& x) { return x.narrow(1, 5, 17); }},
        {"slice step 3", [](const Tensor& x) { return x.slice(1, 1, 37, 3); }},
        {"select", [](const Tensor& x) { return x.select(1, 4); }},
        {"transposed narrow", [](const Tensor& x) { return x.t().narrow(0, 2, 30); }},
        {"expand", [](const Tensor& x) { return x.narrow(0, 0, 1).expand({9, -1}); }},
        {"unsqueeze expand", [](const Tensor& x) { return x.unsqueeze(1).expand({-1, 4, -1}); }},
        {"one element", [](const Tensor& x) { return x.narrow(0, 7, 1).narrow(1, 8, 1); }},
        {"size 0", [](const Tensor& x) { return x.narrow(1, 3, 0); }},
    };
    Tensor x = make({29, 37});
    Tensor xg = x.to(kCuda);
    for (auto& [name, view] : views) {
      expect_equal(n + " " + name + ".contiguous()", view(xg).contiguous(), view(x).contiguous());
      expect_equal(n + " " + name + ".clone()", view(xg).clone(), view(x).clone());
    }
    Tensor y = make({2, 3, 4, 5});
    expect_equal(n + " permute 4-D", y.to(kCuda).permute({3, 1, 0, 2}).contiguous(),
                 y.permute({3, 1, 0, 2}).contiguous());
    Tensor big = make({1025, 513});
    expect_equal(n + " large transpose", big.to(kCuda).t().contiguous(), big.t().contiguous());
    // Batched transposes (the tiled kernel's third dim), partial tiles on both sides.
    Tensor batch = make({5, 37, 45});
    expect_equal(n + " batched transpose", batch.to(kCuda).transpose(1, 2).contiguous(),
                 batch.transpose(1, 2).contiguous());
    expect_equal(n + " transpose of a narrowed batch", batch.to(kCuda).narrow(2, 3, 40).transpose(1, 2).contiguous(),
                 batch.narrow(2, 3, 40).transpose(1, 2).contiguous());
    expect_equal(n + " transpose with a broadcast", x.to(kCuda).select(1, 2).unsqueeze(1).expand({29, 20}).t().contiguous(),
                 x.select(1, 2).unsqueeze(1).expand({29, 20}).t().contiguous());
  }
}

// copy_ into views (a strided destination), with broadcasting and a dtype change.
NL_GPU_TEST(copy_into_views) {
  auto run = [](Device d) {
    Tensor dst = zeros({6, 8}, {.device = d});
    Tensor src = random_input({8, 3}, 3, false).to(d);
    Tensor view = dst.narrow(1, 2, 3);  // [6, 3], strided
    copy_(view, src.narrow(0, 1, 6));
    Tensor tv = dst.t().narrow(0, 6, 2);  // [2, 6], strided
    copy_(tv, random_input({6}, 4, false).to(d));  // broadcast along dim 0
    Tensor ints = zeros({4, 5}, {.dtype = DType::Int64, .device = d});
    Tensor iv = ints.slice(1, 0, 5, 2);
    copy_(iv, mul(random_input({4, 3}, 5, false), 100.0).to(d));  // float32 → int64, strided
    Tensor wide = zeros({50, 64}, {.device = d});
    Tensor wv = wide.narrow(1, 10, 40);  // [50, 40], rows 64 apart
    copy_(wv, random_input({40, 50}, 7, false).to(d).t());  // transposed source, strided destination
    Tensor halves = zeros({3, 4}, {.dtype = DType::Float16, .device = d});
    Tensor hv = halves.t();
    copy_(hv, random_input({4, 3}, 6, false).to(d));
    return std::vector<Tensor>{dst, ints, halves, wide};
  };
  auto cpu = run(Device::cpu());
  auto gpu = run(kCuda);
  for (size_t i = 0; i < cpu.size(); ++i) expect_equal("copy_ result " + std::to_string(i), gpu[i], cpu[i]);
}

// ---- fill, zeros, ones, full ---------------------------------------------------------------

NL_GPU_TEST(fill_every_dtype_and_layout) {
  // Zeros and repeated bytes take cudaMemsetAsync; the others a kernel.
  const std::vector<double> values = {0, 1, -1, 2.5, 255, 7, 16843009 /* 0x01010101 */, 1e10, kNaN, -kInf, -0.0};
  for (DType dt : kAllDTypes) {
    for (double v : values) {
      if (is_int(dt) && (!std::isfinite(v) || v == 1e10)) continue;  // undefined casts in C++
      if (dt == DType::UInt8 && v < 0) continue;
      if (dt == DType::UInt8 && v > 255) continue;
      const std::string what = std::string("full ") + dtype_name(dt) + " " + std::to_string(v);
      TensorOptions o{.dtype = dt};
      TensorOptions og{.dtype = dt, .device = kCuda};
      expect_equal(what, full({37, 3}, v, og), full({37, 3}, v, o));
      expect_equal(what + " scalar", full({}, v, og), full({}, v, o));
      expect_equal(what + " large", full({300007}, v, og), full({300007}, v, o));
      // fill_ into views: the rest of the tensor must be untouched.
      auto run = [&](Device d) {
        Tensor t = full({9, 10}, 3, {.dtype = dt, .device = d});
        Tensor a = t.narrow(1, 2, 5);
        fill_(a, v);
        Tensor b = t.t().slice(0, 0, 10, 4);
        fill_(b, v);
        Tensor c = t.narrow(0, 8, 1);
        fill_(c, v);  // contiguous view with an offset
        return t;
      };
      expect_equal(what + " into views", run(kCuda), run(Device::cpu()));
    }
    expect_equal(std::string("zeros ") + dtype_name(dt), zeros({5, 7}, {.dtype = dt, .device = kCuda}),
                 zeros({5, 7}, {.dtype = dt}));
    expect_equal(std::string("ones ") + dtype_name(dt), ones({5, 7}, {.dtype = dt, .device = kCuda}),
                 ones({5, 7}, {.dtype = dt}));
    expect_equal(std::string("size 0 ") + dtype_name(dt), full({0, 3}, 2, {.dtype = dt, .device = kCuda}),
                 full({0, 3}, 2, {.dtype = dt}));
    Tensor like = ones({4}, {.dtype = dt, .device = kCuda});
    NL_GPU_CHECK(zeros_like(like).device() == kCuda && zeros_like(like).dtype() == dt);
    expect_equal(std::string("full_like ") + dtype_name(dt), full_like(like, 1), ones({4}, {.dtype = dt}));
  }
}

// ---- arange ------------------------------------------------------------------------------

NL_GPU_TEST(arange_matches_cpu) {
  struct Case {
    double start, end, step;
  };
  const std::vector<Case> cases = {{0, 10, 1}, {0.5, 3.2, 0.3}, {5, -5, -0.7}, {-3, 3, 0.1},
                                   {0, 1, 1},  {0, 1000003, 1}, {1e6, 1e6 + 50, 0.37}, {2, 2, 1}};
  for (DType dt : kAllDTypes) {
    for (const Case& c : cases) {
      if (dt == DType::UInt8 && (c.start < 0 || c.end < 0 || c.end > 255 || c.start > 255)) continue;
      const std::string what = std::string("arange ") + dtype_name(dt) + " " + std::to_string(c.start) + ", " +
                               std::to_string(c.end) + ", " + std::to_string(c.step);
      expect_equal(what, arange(c.start, c.end, c.step, {.dtype = dt, .device = kCuda}),
                   arange(c.start, c.end, c.step, {.dtype = dt}));
    }
  }
  expect_equal("arange(n)", arange(int64_t{777}, {.dtype = DType::Int64, .device = kCuda}), arange(int64_t{777}));
}

// ---- Host round trips and item() ------------------------------------------------------------

NL_GPU_TEST(device_round_trips_and_item) {
  uint64_t seed = 50;
  for (DType dt : kAllDTypes) {
    const std::string n = dtype_name(dt);
    Tensor x = mul(abs(random_input({33, 17}, ++seed, false)), 100.0).to(dt);
    Tensor g = x.to(kCuda);
    NL_GPU_CHECK(g.device() == kCuda && g.dtype() == dt, n);
    expect_equal(n + " cpu → cuda → cpu", g.to(Device::cpu()), x);
    expect_equal(n + " transposed → cuda", x.t().to(kCuda), x.t().contiguous());
    expect_equal(n + " cuda transposed → cpu", g.t().to(Device::cpu()), x.t().contiguous());
    expect_equal(n + " narrowed (offset) → cpu", g.narrow(0, 5, 3).to(Device::cpu()), x.narrow(0, 5, 3).contiguous());
    // item() of one element of a larger device tensor (non-zero storage offset).
    const double want = x.select(0, 7).select(0, 9).item();
    const double got = g.select(0, 7).select(0, 9).item();
    NL_GPU_CHECK(got == want, n, " item: ", got, " vs ", want);
  }
  NL_GPU_CHECK(full({}, 3.5, {.device = kCuda}).item() == 3.5);
  NL_GPU_CHECK(full({1, 1}, -2, {.dtype = DType::Int32, .device = kCuda}).item() == -2);
  NL_GPU_CHECK(full({}, 1, {.dtype = DType::Bool, .device = kCuda}).item() == 1.0);
  const int64_t big = (int64_t{1} << 40) + 3;
  NL_GPU_CHECK(tensor(std::vector<int64_t>{big}, {1}).to(kCuda).item() == static_cast<double>(big));
  NL_GPU_CHECK(std::isnan(full({}, kNaN, {.device = kCuda}).item()));
  same_error("item of two elements", [](Device d) { (void)zeros({2}, {.device = d}).item(); });
  // A zero-element round trip.
  Tensor e = zeros({0, 4}, {.device = kCuda});
  const Shape empty_shape{0, 4};
  NL_GPU_CHECK(e.to(Device::cpu()).numel() == 0 && e.to(Device::cpu()).shape() == empty_shape);
}

NL_GPU_TEST(copy_errors_match_the_cpu) {
  same_error("copy of different shapes", [](Device d) {
    Tensor a = zeros({2, 3}, {.device = d});
    Tensor b = Tensor::empty({3, 2}, DType::Float32, d);
    backend_for(d).copy(a, b);
  });
  same_error("copy_ that does not broadcast", [](Device d) {
    Tensor a = zeros({2, 3}, {.device = d});
    copy_(a, zeros({4}, {.device = d}));
  });
  same_error("uniform into a non-contiguous tensor", [](Device d) {
    Tensor a = zeros({4, 3}, {.device = d});
    Tensor t = a.t();
    Generator gen(1);
    backend_for(d).uniform(t, 0, 1, gen);
  });
  same_error("normal into a non-contiguous tensor", [](Device d) {
    Tensor a = zeros({4, 3}, {.device = d});
    Tensor t = a.t();
    Generator gen(1);
    backend_for(d).normal(t, 0, 1, gen);
  });
  same_error("dropout mask of float64", [](Device d) {
    Tensor m = Tensor::empty({4}, DType::Float64, d);
    Generator gen(1);
    backend_for(d).dropout_mask(m, 0.5, gen);
  });
  same_error("dropout of float64", [](Device d) {
    Generator gen(1);
    dropout(zeros({4}, {.dtype = DType::Float64, .device = d}), 0.5, true, &gen);
  });
  same_error("dropout probability", [](Device d) { dropout(zeros({4}, {.device = d}), 1.5, true); });
  same_error("randn of int64", [](Device d) { randn({3}, {.dtype = DType::Int64, .device = d}); });
  same_error("uniform low > high", [](Device d) { uniform({3}, 2, 1, {.device = d}); });
}

// ---- Random numbers ------------------------------------------------------------------------

struct Stats {
  double mean = 0, var = 0, min = 0, max = 0;
  int64_t n = 0, nonfinite = 0;
};

Stats stats_of(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  Stats s;
  s.n = static_cast<int64_t>(v.size());
  s.min = kInf;
  s.max = -kInf;
  double sum = 0;
  for (double x : v) {
    if (!std::isfinite(x)) ++s.nonfinite;
    sum += x;
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean = sum / static_cast<double>(s.n);
  double sq = 0;
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.var = sq / static_cast<double>(s.n - 1);
  return s;
}

// |lag-1 autocorrelation| of a row-major sequence.
double lag1_correlation(const std::vector<double>& v) {
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    den += (v[i] - mean) * (v[i] - mean);
    if (i + 1 < v.size()) num += (v[i] - mean) * (v[i + 1] - mean);
  }
  return std::fabs(num / den);
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  double ma = 0, mb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ma += a[i];
    mb += b[i];
  }
  ma /= static_cast<double>(a.size());
  mb /= static_cast<double>(b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  return std::fabs(sab / std::sqrt(saa * sbb));
}

constexpr int64_t kN = (1 << 20) + 3;  // odd, so the last Philox group is partial

NL_GPU_TEST(rand_uniform_distribution) {
  for (DType dt : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}) {
    const std::string n = dtype_name(dt);
    const bool half = dt == DType::Float16 || dt == DType::BFloat16;
    Generator gen(1234);
    Tensor t = rand({kN}, {.dtype = dt, .device = kCuda}, &gen);
    NL_GPU_CHECK(t.device() == kCuda && t.dtype() == dt && t.numel() == kN, n);
    Stats s = stats_of(t);
    // Mean 1/2 (sd of the estimate 2.8e-4), variance 1/12 (sd 7e-5); half types round.
    NL_GPU_CHECK(s.nonfinite == 0, n);
    NL_GPU_CHECK(s.min >= 0.0 && s.max <= 1.0, n, " range [", s.min, ", ", s.max, "]");
    if (!half) NL_GPU_CHECK(s.max < 1.0, n, " max ", s.max);
    NL_GPU_CHECK(std::fabs(s.mean - 0.5) < 2e-3, n, " mean ", s.mean);
    NL_GPU_CHECK(std::fabs(s.var - 1.0 / 12) < (half ? 2e-3 : 6e-4), n, " variance ", s.var);
    // 16 equal bins, each within 6 sd of n/16 (float32/float64 only: half types bunch).
    if (!half) {
      std::vector<double> v = t.to_vector<double>();
      std::vector<int64_t> bins(16, 0);
      for (double x : v) ++bins[std::min<int64_t>(15, static_cast<int64_t>(x * 16))];
      const double expect = static_cast<double>(kN) / 16, sd = std::sqrt(expect * 15.0 / 16);
      for (int b = 0; b < 16; ++b)
        NL_GPU_CHECK(std::fabs(bins[b] - expect) < 6 * sd, n, " bin ", b, ": ", bins[b], " vs ", expect);
      NL_GPU_CHECK(lag1_correlation(v) < 5.0 / std::sqrt(static_cast<double>(kN)), n, " lag-1 correlation");
    }
  }
  // uniform(low, high): range and mean.
  Generator gen(99);
  Tensor u = uniform({kN}, -3, 5, {.device = kCuda}, &gen);
  Stats s = stats_of(u);
  NL_GPU_CHECK(s.min >= -3 && s.max < 5, "uniform(-3, 5) range [", s.min, ", ", s.max, "]");
  NL_GPU_CHECK(std::fabs(s.mean - 1.0) < 0.02, "uniform(-3, 5) mean ", s.mean);
  NL_GPU_CHECK(std::fabs(s.var - 64.0 / 12) < 0.05, "uniform(-3, 5) variance ", s.var);
  // A degenerate range gives the constant.
  Tensor c = uniform({1000}, 2, 2, {.device = kCuda}, &gen);
  NL_GPU_CHECK(stats_of(c).min == 2 && stats_of(c).max == 2, "uniform(2, 2)");
  // Small and empty tensors.
  NL_GPU_CHECK(rand({}, {.device = kCuda}, &gen).numel() == 1);
  NL_GPU_CHECK(rand({0, 5}, {.device = kCuda}, &gen).numel() == 0);
  Stats tiny = stats_of(rand({7}, {.device = kCuda}, &gen));
  NL_GPU_CHECK(tiny.min >= 0 && tiny.max < 1, "rand 7 elements");
}

NL_GPU_TEST(randn_normal_distribution) {
  for (DType dt : {DType::Float32, DType::Float64, DType::Float16, DType::BFloat16}) {
    const std::string n = dtype_name(dt);
    const bool half = dt == DType::Float16 || dt == DType::BFloat16;
    Generator gen(4321);
    Tensor t = randn({kN}, {.dtype = dt, .device = kCuda}, &gen);
    Stats s = stats_of(t);
    NL_GPU_CHECK(s.nonfinite == 0, n, ": ", s.nonfinite, " non-finite values");
    // Mean 0 (sd of the estimate 1e-3), variance 1 (sd 1.4e-3).
    NL_GPU_CHECK(std::fabs(s.mean) < 5e-3, n, " mean ", s.mean);
    NL_GPU_CHECK(std::fabs(s.var - 1.0) < (half ? 1.5e-2 : 8e-3), n, " variance ", s.var);
    NL_GPU_CHECK(s.min < -4 && s.max > 4 && s.min > -7 && s.max < 7, n, " range [", s.min, ", ", s.max, "]");
    std::vector<double> v = t.to_vector<double>();
    int64_t within1 = 0, beyond3 = 0;
    double m3 = 0, m4 = 0;
    for (double x : v) {
      within1 += std::fabs(x) < 1.0;
      beyond3 += std::fabs(x) > 3.0;
      m3 += x * x * x;
      m4 += x * x * x * x;
    }
    const double nn = static_cast<double>(kN);
    NL_GPU_CHECK(std::fabs(within1 / nn - 0.682689) < (half ? 6e-3 : 3e-3), n, " P(|z| < 1) = ", within1 / nn);
    NL_GPU_CHECK(std::fabs(beyond3 / nn - 0.0026998) < 4e-4, n, " P(|z| > 3) = ", beyond3 / nn);
    NL_GPU_CHECK(std::fabs(m3 / nn) < 0.02, n, " skewness ", m3 / nn);
    NL_GPU_CHECK(std::fabs(m4 / nn - 3.0) < 0.06, n, " kurtosis ", m4 / nn);
    if (!half) {
      NL_GPU_CHECK(lag1_correlation(v) < 5.0 / std::sqrt(nn), n, " lag-1 correlation");
      // The two values of each Box–Muller pair are independent too.
      std::vector<double> even, odd;
      for (size_t i = 0; i + 1 < v.size(); i += 2) {
        even.push_back(v[i]);
        odd.push_back(v[i + 1]);
      }
      NL_GPU_CHECK(correlation(even, odd) < 5.0 / std::sqrt(nn / 2), n, " pair correlation");
      std::vector<double> sq_even, sq_odd;
      for (size_t i = 0; i < even.size(); ++i) {
        sq_even.push_back(even[i] * even[i]);
        sq_odd.push_back(odd[i] * odd[i]);
      }
      NL_GPU_CHECK(correlation(sq_even, sq_odd) < 5.0 / std::sqrt(nn / 2), n, " pair correlation of squares");
    }
  }
}

NL_GPU_TEST(random_reproducibility) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    const std::string n = dtype_name(dt);
    TensorOptions o{.dtype = dt, .device = kCuda};
    Generator a(7), b(7), c(8);
    Tensor a1 = rand({1001}, o, &a), b1 = rand({1001}, o, &b), c1 = rand({1001}, o, &c);
    expect_equal(n + " rand: same seed, same tensor", a1, b1);
    NL_GPU_CHECK(!gpu_test::compare(a1, c1, 0, 0).empty(), n, " rand: different seeds gave the same tensor");
    Tensor a2 = rand({1001}, o, &a);
    NL_GPU_CHECK(!gpu_test::compare(a1, a2, 0, 0).empty(), n, " rand: a second call repeated the first");
    NL_GPU_CHECK(correlation(a1.to_vector<double>(), a2.to_vector<double>()) < 0.15, n, " consecutive calls correlate");
    Tensor b2 = rand({1001}, o, &b);
    expect_equal(n + " rand: the second calls agree", a2, b2);
    Tensor an = randn({513}, o, &a), bn = randn({513}, o, &b);
    expect_equal(n + " randn: same seed, same tensor", an, bn);
    // The generator advances: the host state after a draw differs from a fresh one.
    Generator fresh(7);
    NL_GPU_CHECK(a.state() != fresh.state(), n, " the generator did not advance");
  }
  // Values depend on the element index only (counter-based), not on the size of the draw.
  Generator p(11), q(11);
  Tensor small = rand({10}, {.device = kCuda}, &p);
  Tensor large = rand({100000}, {.device = kCuda}, &q);
  expect_equal("prefix of a larger draw", large.narrow(0, 0, 10), small);
  // The process-wide default generator.
  manual_seed(2024);
  Tensor d1 = randn({100}, {.device = kCuda});
  manual_seed(2024);
  Tensor d2 = randn({100}, {.device = kCuda});
  expect_equal("default generator after manual_seed", d1, d2);
  // Saving and restoring the generator state replays the same numbers.
  Generator r(5);
  (void)rand({3}, {.device = kCuda}, &r);
  const std::string saved = r.state();
  Tensor r1 = randn({77}, {.device = kCuda}, &r);
  r.set_state(saved);
  Tensor r2 = randn({77}, {.device = kCuda}, &r);
  expect_equal("restored generator state", r1, r2);
}

NL_GPU_TEST(dropout_mask_statistics) {
  for (double p : {0.1, 0.5, 0.9, 0.999}) {
    const std::string n = "p = " + std::to_string(p);
    Generator gen(77);
    Tensor x = ones({kN}, {.device = kCuda});
    Tensor y = dropout(x, p, true, &gen);
    NL_GPU_CHECK(y.device() == kCuda && y.dtype() == DType::Float32, n);
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    std::vector<float> v = y.to_vector<float>();
    int64_t kept = 0;
    for (float m : v) {
      NL_GPU_CHECK(m == 0.0f || m == scale, n, ": value ", m, " is neither 0 nor ", scale);
      kept += m != 0.0f;
    }
    const double nn = static_cast<double>(kN), q = 1.0 - p;
    const double sd = std::sqrt(nn * p * q);
    NL_GPU_CHECK(std::fabs(kept - nn * q) < 6 * sd + 1, n, ": kept ", kept, " of ", kN, ", expected ", nn * q);
    // Inverted dropout keeps the expectation: mean of the output ≈ 1.
    const double mean_sd = std::sqrt(p / q / nn);
    NL_GPU_CHECK(std::fabs(stats_of(y).mean - 1.0) < 6 * mean_sd + 1e-6, n, ": mean ", stats_of(y).mean);
    // Reproducible from the seed, different on the next call.
    Generator again(77);
    expect_equal(n + " same seed", dropout(x, p, true, &again), y);
    Tensor y2 = dropout(x, p, true, &gen);
    if (p < 0.99) NL_GPU_CHECK(!gpu_test::compare(y2, y, 0, 0).empty(), n, ": second mask repeated the first");
  }
  // p = 0 and eval mode return the input; p = 1 zeros everything.
  Tensor x = random_input({100}, 3, false).to(kCuda);
  NL_GPU_CHECK(dropout(x, 0.0, true).same(x), "p = 0 should return the input");
  NL_GPU_CHECK(dropout(x, 0.5, false).same(x), "eval mode should return the input");
  expect_equal("p = 1", dropout(x, 1.0, true), zeros({100}));
  // The kernel itself at p = 1: every element dropped, no inf or NaN.
  Tensor m = Tensor::empty({1001}, DType::Float32, kCuda);
  Generator g1(1);
  backend_for(kCuda).dropout_mask(m, 1.0, g1);
  expect_equal("mask at p = 1", m, zeros({1001}));
  // Odd sizes and a misaligned view of the mask's storage are written in full, no further.
  for (int64_t size : {1, 2, 3, 5, 7, 4099}) {
    Tensor big = full({size + 2}, -1, {.device = kCuda});
    Tensor mid = big.narrow(0, 1, size);  // 4-byte offset: not 16-byte aligned
    Generator g2(2);
    backend_for(kCuda).dropout_mask(mid, 0.5, g2);
    std::vector<float> v = big.to_vector<float>();
    NL_GPU_CHECK(v.front() == -1.0f && v.back() == -1.0f, "size ", size, ": wrote outside the mask");
    for (int64_t i = 1; i <= size; ++i)
      NL_GPU_CHECK(v[i] == 0.0f || v[i] == 2.0f, "size ", size, ": element ", i, " is ", v[i]);
  }
  // Gradient: d(x * mask)/dx = mask.
  Generator g3(9);
  Tensor w = ones({4097}, {.device = kCuda});
  w.requires_grad_(true);
  Tensor out = dropout(w, 0.3, true, &g3);
  sum(out).backward();
  expect_equal("dropout gradient is the mask", w.grad(), out.detach());
}

}  // namespace
}  // namespace nl
