// GPU parity tests of the reduction kernels (engine/backends/cuda/reduce.cu) and of softmax,
// log-softmax and cross-entropy (engine/backends/cuda/softmax_loss.cu): every op through the
// ops-level functions, forward and backward, on shapes that reach each kernel layout (rows,
// columns, split passes, long rows), strided and broadcast inputs, every dtype the CPU
// takes, edge values (NaN, inf, ties), empty and size-1 dims, and the error cases, each
// compared with the CPU backend; a few exact expectations besides, so a shared mistake
// of both backends still fails.
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/nn/losses.h"
#include "engine/ops/ops.h"
#include "tests/gpu/gpu_testing.h"

namespace nl {
namespace {

using gpu_test::check_parity;
using gpu_test::same_error;
using gpu_test::compare;
using gpu_test::Failure;
using gpu_test::random_input;
using gpu_test::Tolerance;

const Device kCuda = Device::cuda(0);
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor values(const std::vector<float>& v, const Shape& shape) { return tensor(v, shape); }

// Both devices must refuse `fn` with the same nl::Error message.
void expect_equal(const std::string& what, const Tensor& actual, const Tensor& expected, double rtol = 0,
                  double atol = 0) {
  const std::string msg = compare(actual, expected, rtol, atol);
  if (!msg.empty()) throw Failure(what + ": " + msg);
}

// Sums of many terms: inputs in [0, 1) so no sum cancels to near zero, where float
// rounding (GPU) against double (CPU) would exceed a relative tolerance.
Tensor positive_input(const Shape& shape, uint64_t seed, bool requires_grad = true) {
  return random_input(shape, seed, requires_grad, 0, 1);
}

// ---- Backend-level reduce (covers Prod, which has no op, and every dtype) ----

// Runs the backend's reduce on `view(base.to(device))`.
Tensor backend_reduce(ReduceOp op, const Tensor& base, const std::function<Tensor(const Tensor&)>& view,
                      const std::vector<bool>& mask, Device device) {
  Tensor x = view(base.to(device));
  Shape keep = x.shape();
  for (int i = 0; i < x.dim(); ++i)
    if (mask[i]) keep[i] = 1;
  const bool arg = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
  Tensor out = Tensor::empty(keep, arg ? DType::Int64 : x.dtype(), device);
  backend_for(device).reduce(op, x, mask, out);
  return out;
}

const char* reduce_name(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return "sum";
    case ReduceOp::Mean: return "mean";
    case ReduceOp::Max: return "max";
    case ReduceOp::Min: return "min";
    case ReduceOp::Prod: return "prod";
    case ReduceOp::ArgMax: return "argmax";
    case ReduceOp::ArgMin: return "argmin";
  }
  return "?";
}

void backend_parity(const std::string& what, ReduceOp op, const Tensor& base,
                    const std::function<Tensor(const Tensor&)>& view, const std::vector<bool>& mask,
                    double rtol = 1e-5, double atol = 1e-5) {
  Tensor cpu = backend_reduce(op, base, view, mask, Device::cpu());
  Tensor gpu = backend_reduce(op, base, view, mask, kCuda);
  if (gpu.dtype() != cpu.dtype()) throw Failure(what + ": dtype differs");
  expect_equal(what + " " + reduce_name(op), gpu, cpu, rtol, atol);
}

const auto kSame = [](const Tensor& t) { return t; };

NL_GPU_TEST(reduce_backend_every_op_and_dtype) {
  const std::vector<ReduceOp> ops = {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max,   ReduceOp::Min,
                                     ReduceOp::Prod, ReduceOp::ArgMax, ReduceOp::ArgMin};
  // Values in [0.5, 1.5) keep products of up to ~40 terms well inside float range.
  const Tensor base = random_input({6, 7, 40}, 11, false, 0.5, 1.5);
  const std::vector<std::vector<bool>> masks = {
      {false, false, true}, {true, false, false}, {false, true, false}, {true, false, true}, {true, true, true},
      {false, false, false}};
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int64}) {
    // Integers in [-20, 20): sums and products (in int64, cast back) wrap the same way.
    const Tensor x = dt == DType::Float32 || dt == DType::Float64
                         ? base.to(dt)
                         : floor(random_input({6, 7, 40}, 12, false, -20, 20)).to(dt);
    for (ReduceOp op : ops)
      for (const auto& mask : masks) {
        const bool arg = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
        int reduced = 0;
        for (bool m : mask) reduced += m;
        if (arg && reduced != 1) continue;  // argmax/argmin reduce one dim
        std::string what = std::string(dtype_name(dt)) + " mask";
        for (bool m : mask) what += m ? "1" : "0";
        backend_parity(what, op, x, kSame, mask, 1e-5, 1e-5);
        // The same through a transposed view (strided rows and columns).
        std::vector<bool> tmask = {mask[2], mask[1], mask[0]};
        backend_parity(what + " transposed", op, x, [](const Tensor& t) { return t.transpose(0, 2); }, tmask, 1e-5,
                       1e-5);
      }
  }
}

NL_GPU_TEST(reduce_backend_prod_and_int_edge_values) {
  // Products of floats accumulate in double on both backends: 1e30 * 1e30 * 1e-30 stays finite.
  const Tensor big = values({1e30f, 1e30f, 1e-30f, 2.f}, {1, 4});
  backend_parity("prod of large floats", ReduceOp::Prod, big, kSame, {false, true}, 1e-6, 0);
  // int32 sums past 2^31 accumulate in int64 and wrap when cast back, as on the CPU.
  const Tensor ints = full({3, 1000}, 3e6, {.dtype = DType::Int32});
  backend_parity("int32 sum overflow", ReduceOp::Sum, ints, kSame, {false, true}, 0, 0);
  backend_parity("int32 mean", ReduceOp::Mean, ints, kSame, {false, true}, 0, 0);
  // Integer max/min start from the type's extremes.
  const Tensor extremes = tensor(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -5,
                                                      std::numeric_limits<int64_t>::max(), 7},
                                 {2, 2});
  for (ReduceOp op : {ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax, ReduceOp::ArgMin})
    for (int d = 0; d < 2; ++d) backend_parity("int64 extremes", op, extremes, kSame, {d == 0, d == 1}, 0, 0);
}

NL_GPU_TEST(reduce_backend_half_types) {
  NL_GPU_REAL_DEVICE_ONLY("calls the CUDA reduction kernels with half types directly");
  // The CUDA backend also reduces float16/bfloat16 (accumulating in float); compare with
  // the CPU reducing the same values widened to float32.
  const Tensor x = random_input({37, 300}, 21, false);
  for (DType dt : {DType::Float16, DType::BFloat16}) {
    const Tensor h = x.to(dt);
    const Tensor wide = h.to(DType::Float32);
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min, ReduceOp::ArgMax,
                        ReduceOp::ArgMin})
      for (int d = 0; d < 2; ++d) {
        const std::vector<bool> mask = {d == 0, d == 1};
        Tensor gpu = backend_reduce(op, h, kSame, mask, kCuda);
        Tensor cpu = backend_reduce(op, wide, kSame, mask, Device::cpu());
        const bool arg = op == ReduceOp::ArgMax || op == ReduceOp::ArgMin;
        NL_GPU_CHECK(gpu.dtype() == (arg ? DType::Int64 : dt), dtype_name(gpu.dtype()));
        // The half result is the float32 result rounded once (2^-8 relative for bfloat16).
        expect_equal(std::string(dtype_name(dt)) + " " + reduce_name(op) + " dim " + std::to_string(d),
                     gpu.to(cpu.dtype()), cpu, arg ? 0 : 1e-2, arg ? 0 : 1e-2);
      }
  }
}

// ---- sum / mean through the ops ----

NL_GPU_TEST(sum_mean_shapes_and_dims) {
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
    bool keepdim;
  };
  const std::vector<Case> cases = {
      {{7}, {0}, false},          {{7}, {}, false},           {{3, 5}, {0}, false},     {{3, 5}, {1}, true},
      {{33, 65}, {0, 1}, false},  {{33, 65}, {1}, false},     {{33, 65}, {0}, true},    {{4, 5, 6}, {0, 2}, false},
      {{4, 5, 6}, {1}, true},     {{4, 5, 6}, {-1}, false},   {{4, 5, 6}, {}, false},   {{1, 7, 1}, {0}, false},
      {{1, 7, 1}, {1}, true},     {{1, 1}, {}, false},        {{2, 3, 4, 5, 6}, {1, 3}, false},
      {{5, 31}, {1}, false},      {{9, 3}, {1}, false},       {{300, 2}, {1}, false},   {{2, 3000, 2}, {1}, false},
  };
  for (const Case& c : cases) {
    const std::string what = "shape " + c.shape.str() + " dims " + std::to_string(c.dims.size());
    check_parity("sum " + what, {positive_input(c.shape, 1)},
                 [&](const std::vector<Tensor>& in) { return sum(in[0], c.dims, c.keepdim); });
    check_parity("mean " + what, {positive_input(c.shape, 2)},
                 [&](const std::vector<Tensor>& in) { return mean(in[0], c.dims, c.keepdim); });
  }
  check_parity("sum of a scalar", {random_input({}, 3)}, [](const std::vector<Tensor>& in) { return sum(in[0]); });
}

NL_GPU_TEST(sum_mean_large_layouts) {
  const Tolerance tol{.rtol = 1e-4, .atol = 1e-4};
  // Full reduction to a scalar (split over many blocks, then the partials).
  check_parity("sum all of 1e6", {positive_input({1000, 1000}, 4)},
               [](const std::vector<Tensor>& in) { return sum(in[0]); }, tol);
  check_parity("mean all of 2^20+3", {positive_input({(1 << 20) + 3}, 5)},
               [](const std::vector<Tensor>& in) { return mean(in[0]); }, tol);
  // Few long rows (rows kernel with a split), long rows with a whole block each.
  check_parity("sum rows 3 x 200000", {positive_input({3, 200000}, 6)},
               [](const std::vector<Tensor>& in) { return sum(in[0], {1}); }, tol);
  check_parity("sum rows 64 x 5000", {positive_input({64, 5000}, 7)},
               [](const std::vector<Tensor>& in) { return sum(in[0], {1}); }, tol);
  // Columns: bias-gradient shape, narrow and wide, with and without a split.
  check_parity("sum cols 200000 x 3", {positive_input({200000, 3}, 8)},
               [](const std::vector<Tensor>& in) { return sum(in[0], {0}); }, tol);
  check_parity("sum cols 50000 x 64", {positive_input({50000, 64}, 9)},
               [](const std::vector<Tensor>& in) { return sum(in[0], {0}); }, tol);
  check_parity("sum cols 256 x 4097", {positive_input({256, 4097}, 10)},
               [](const std::vector<Tensor>& in) { return sum(in[0], {0}); }, tol);
  check_parity("mean N,H,W of NCHW", {positive_input({16, 24, 17, 19}, 11)},
               [](const std::vector<Tensor>& in) { return mean(in[0], {0, 2, 3}); }, tol);
  check_parity("sum C of NCHW", {positive_input({8, 300, 9, 9}, 12)},
               [](const std::vector<Tensor>& in) { return sum(in[0], {1}); }, tol);
}

NL_GPU_TEST(sum_mean_strided_and_broadcast_inputs) {
  check_parity("sum of a transpose, dim 0", {random_input({64, 48}, 13)},
               [](const std::vector<Tensor>& in) { return sum(in[0].t(), {0}); });
  check_parity("sum of a transpose, dim 1", {random_input({64, 48}, 14)},
               [](const std::vector<Tensor>& in) { return sum(in[0].t(), {1}); });
  check_parity("mean of a permuted 4-D view", {random_input({5, 6, 7, 8}, 15)},
               [](const std::vector<Tensor>& in) { return mean(in[0].permute({2, 0, 3, 1}), {0, 2}); });
  check_parity("sum of a stepped slice", {random_input({40, 30}, 16)},
               [](const std::vector<Tensor>& in) { return sum(in[0].slice(0, 1, 40, 3).slice(1, 0, 30, 2), {1}); });
  check_parity("sum of a broadcast (stride 0) view", {random_input({1, 50}, 17)},
               [](const std::vector<Tensor>& in) { return sum(in[0].expand({300, 50}), {0}); });
  check_parity("mean over a broadcast dim and a real one", {random_input({7, 1, 9}, 18)},
               [](const std::vector<Tensor>& in) { return mean(in[0].expand({7, 11, 9}), {1, 2}); });
  check_parity("sum of a narrowed column block", {random_input({100, 80}, 19)},
               [](const std::vector<Tensor>& in) { return sum(in[0].narrow(1, 3, 41), {0}); });
}

NL_GPU_TEST(sum_mean_empty_dims) {
  // Sum over an empty dim is 0, the mean NaN; an empty kept dim gives an empty result.
  check_parity("sum [0, 5] dim 0", {random_input({0, 5}, 20)},
               [](const std::vector<Tensor>& in) { return sum(in[0], {0}); });
  check_parity("mean [0, 5] dim 0", {random_input({0, 5}, 21)},
               [](const std::vector<Tensor>& in) { return mean(in[0], {0}); });
  check_parity("sum [0, 5] dim 1", {random_input({0, 5}, 22)},
               [](const std::vector<Tensor>& in) { return sum(in[0], {1}); });
  check_parity("sum of nothing", {random_input({3, 0, 2}, 23)},
               [](const std::vector<Tensor>& in) { return sum(in[0]); });
  Tensor s = sum(zeros({0, 5}, {.device = kCuda}), {0});
  expect_equal("sum over an empty dim", s, zeros({5}));
  Tensor m = mean(zeros({0, 5}, {.device = kCuda}), {0});
  for (double v : m.to_vector<double>()) NL_GPU_CHECK(std::isnan(v), "mean of nothing: ", v);
}

NL_GPU_TEST(sum_integer_and_low_precision_dtypes) {
  const Tensor ints = floor(random_input({13, 70}, 24, false, -50, 50));
  for (DType dt : {DType::Int32, DType::Int64, DType::UInt8, DType::Bool}) {
    const Tensor x = dt == DType::UInt8 ? abs(ints).to(dt) : ints.to(dt);
    check_parity(std::string("sum of ") + dtype_name(dt), {x},
                 [](const std::vector<Tensor>& in) { return sum(in[0], {1}); }, {.rtol = 0, .atol = 0});
    check_parity(std::string("sum all of ") + dtype_name(dt), {x},
                 [](const std::vector<Tensor>& in) { return sum(in[0]); }, {.rtol = 0, .atol = 0});
  }
  // Half inputs are summed as float32 by the op.
  check_parity("sum of float16", {random_input({20, 50}, 25, false).to(DType::Float16)},
               [](const std::vector<Tensor>& in) { return sum(in[0], {0}); });
  // (No gradient: the harness weights the output with a float32 tensor, and mul takes
  // float32 only.)
  check_parity("mean of float64", {random_input({20, 50}, 26, false).to(DType::Float64)},
               [](const std::vector<Tensor>& in) { return mean(in[0], {1}); }, {.rtol = 1e-12, .atol = 1e-12});
  check_parity("mean of int64 (as float32)", {ints.to(DType::Int64)},
               [](const std::vector<Tensor>& in) { return mean(in[0], {0}); });
}

NL_GPU_TEST(sum_exact_values) {
  Tensor x = values({1, 2, 3, 4, 5, 6}, {2, 3}).to(kCuda);
  expect_equal("sum dim 0", sum(x, {0}), values({5, 7, 9}, {3}));
  expect_equal("sum dim 1", sum(x, {1}), values({6, 15}, {2}));
  expect_equal("mean all", mean(x), scalar_tensor(3.5));
}

// ---- amax / amin / argmax / argmin ----

NL_GPU_TEST(amax_amin_shapes_ties_and_gradients) {
  for (const Shape& shape : std::vector<Shape>{{17}, {6, 33}, {300, 5}, {3, 4097}, {4, 5, 6}}) {
    for (int d = -1; d < shape.size(); ++d) {
      std::vector<int64_t> dims;
      if (d >= 0) dims.push_back(d);
      check_parity("amax " + shape.str() + " dim " + std::to_string(d), {random_input(shape, 30 + d)},
                   [&](const std::vector<Tensor>& in) { return amax(in[0], dims); });
      check_parity("amin " + shape.str() + " dim " + std::to_string(d), {random_input(shape, 40 + d)},
                   [&](const std::vector<Tensor>& in) { return amin(in[0], dims, true); });
    }
  }
  // Ties share the gradient evenly (values rounded to a few levels give many ties).
  const Tensor tied = round(mul(random_input({12, 40}, 50, false), 2.0));
  Tensor t = tied.clone();
  t.requires_grad_(true);
  check_parity("amax with ties", {t}, [](const std::vector<Tensor>& in) { return amax(in[0], {1}); });
  check_parity("amin with ties over a transpose", {t},
               [](const std::vector<Tensor>& in) { return amin(in[0].t(), {1}); });
  check_parity("amax of int64", {floor(random_input({9, 30}, 51, false, -100, 100)).to(DType::Int64)},
               [](const std::vector<Tensor>& in) { return amax(in[0], {0}); }, {.rtol = 0, .atol = 0});
  check_parity("amin of int32", {floor(random_input({9, 30}, 52, false, -100, 100)).to(DType::Int32)},
               [](const std::vector<Tensor>& in) { return amin(in[0], {1}); }, {.rtol = 0, .atol = 0});
}

NL_GPU_TEST(amax_amin_nan_and_inf) {
  // A NaN anywhere in the reduced set makes max and min NaN; infinities are ordinary values.
  const Tensor x = values({1, kNaN, 3, -kInf, kInf, 2, -kInf, -kInf, 0, 5, kNaN, kNaN}, {4, 3});
  for (int d = 0; d < 2; ++d) {
    check_parity("amax nan/inf dim " + std::to_string(d), {x},
                 [d](const std::vector<Tensor>& in) { return amax(in[0], {d}); });
    check_parity("amin nan/inf dim " + std::to_string(d), {x},
                 [d](const std::vector<Tensor>& in) { return amin(in[0], {d}); });
  }
  Tensor m = amax(x.to(kCuda), {1}).to(Device::cpu());
  const auto v = m.to_vector<float>();
  NL_GPU_CHECK(std::isnan(v[0]) && v[1] == kInf && v[2] == 0.f && std::isnan(v[3]), v[0], " ", v[1], " ", v[2],
               " ", v[3]);
  // A NaN far into a long row (reached by one thread of many, then the split pass).
  std::vector<float> long_row(100000, 1.f);
  long_row[77777] = kNaN;
  Tensor lr = values(long_row, {1, 100000}).to(kCuda);
  NL_GPU_CHECK(std::isnan(amax(lr).item()), "amax of a long row with one NaN");
  NL_GPU_CHECK(std::isnan(amin(lr, {1}).item()), "amin of a long row with one NaN");
  NL_GPU_CHECK(argmax(lr, 1).item() == 77777, "argmax of a long row with one NaN: ", argmax(lr, 1).item());
}

NL_GPU_TEST(argmax_argmin_ties_nan_and_layouts) {
  // First index of the extreme value wins; the first NaN beats everything.
  Tensor x = values({1, 3, 3, 2, /**/ kNaN, 5, kNaN, 9, /**/ -kInf, -kInf, -kInf, -kInf, /**/ 4, 4, 4, 4}, {4, 4})
                 .to(kCuda);
  const auto amx = argmax(x, 1).to_vector<int64_t>();
  const auto amn = argmin(x, 1).to_vector<int64_t>();
  NL_GPU_CHECK(amx == (std::vector<int64_t>{1, 0, 0, 0}), amx[0], amx[1], amx[2], amx[3]);
  NL_GPU_CHECK(amn == (std::vector<int64_t>{0, 0, 0, 0}), amn[0], amn[1], amn[2], amn[3]);
  check_parity("argmax ties/nan", {x.to(Device::cpu())}, [](const std::vector<Tensor>& in) { return argmax(in[0], 1); },
               {.rtol = 0, .atol = 0});
  check_parity("argmin ties/nan dim 0", {x.to(Device::cpu())},
               [](const std::vector<Tensor>& in) { return argmin(in[0], 0, true); }, {.rtol = 0, .atol = 0});
  // Ties across threads and blocks: a long row of equal values with a later equal maximum.
  std::vector<float> flat(50000, 0.f);
  flat[123] = 7.f;
  flat[40000] = 7.f;
  Tensor f = values(flat, {1, 50000}).to(kCuda);
  NL_GPU_CHECK(argmax(f, 1).item() == 123, "argmax long tie: ", argmax(f, 1).item());
  NL_GPU_CHECK(argmin(f, 1).item() == 0, "argmin long tie: ", argmin(f, 1).item());
  // Every dim of a 3-D tensor, a strided view, integer dtypes, rounded values (ties).
  const Tensor r = round(mul(random_input({7, 300, 9}, 60, false), 3.0));
  for (int d = 0; d < 3; ++d) {
    check_parity("argmax 3-D dim " + std::to_string(d), {r},
                 [d](const std::vector<Tensor>& in) { return argmax(in[0], d); }, {.rtol = 0, .atol = 0});
    check_parity("argmin 3-D dim " + std::to_string(d), {r},
                 [d](const std::vector<Tensor>& in) { return argmin(in[0], d, true); }, {.rtol = 0, .atol = 0});
  }
  check_parity("argmax of a permuted view", {r},
               [](const std::vector<Tensor>& in) { return argmax(in[0].permute({2, 0, 1}), 2); },
               {.rtol = 0, .atol = 0});
  check_parity("argmax of int32", {r.to(DType::Int32)}, [](const std::vector<Tensor>& in) { return argmax(in[0], 1); },
               {.rtol = 0, .atol = 0});
  check_parity("argmin of int64", {r.to(DType::Int64)}, [](const std::vector<Tensor>& in) { return argmin(in[0], 0); },
               {.rtol = 0, .atol = 0});
  check_parity("argmax of size-1 dim", {r}, [](const std::vector<Tensor>& in) { return argmax(in[0].narrow(1, 5, 1), 1); },
               {.rtol = 0, .atol = 0});
  check_parity("argmax of a scalar", {random_input({}, 61, false)},
               [](const std::vector<Tensor>& in) { return argmax(in[0], 0); }, {.rtol = 0, .atol = 0});
}

NL_GPU_TEST(var_std_logsumexp) {
  check_parity("var dim 1", {random_input({20, 300}, 70)}, [](const std::vector<Tensor>& in) { return var(in[0], {1}); });
  check_parity("std all", {random_input({20, 300}, 71)}, [](const std::vector<Tensor>& in) { return stddev(in[0]); });
  check_parity("logsumexp dim 0", {random_input({50, 30}, 72, true, -20, 20)},
               [](const std::vector<Tensor>& in) { return logsumexp(in[0], {0}); });
}

NL_GPU_TEST(reduce_errors) {
  same_error("amax over an empty dim", [](Device d) { amax(zeros({0, 3}, {.device = d}), {0}); });
  same_error("amin over every dim of an empty tensor", [](Device d) { amin(zeros({2, 0}, {.device = d})); });
  same_error("argmax over an empty dim", [](Device d) { argmax(zeros({0, 3}, {.device = d}), 0); });
  same_error("amax of bool", [](Device d) { amax(zeros({4}, {.dtype = DType::Bool, .device = d})); });
  same_error("argmin of uint8", [](Device d) { argmin(zeros({4}, {.dtype = DType::UInt8, .device = d}), 0); });
  same_error("sum with a repeated dim", [](Device d) { sum(zeros({4, 2}, {.device = d}), {1, 1}); });
  same_error("backend mask of the wrong rank", [](Device d) {
    Tensor x = zeros({4, 2}, {.device = d});
    Tensor out = Tensor::empty({1, 1}, DType::Float32, d);
    backend_for(d).reduce(ReduceOp::Sum, x, {true}, out);
  });
}

// ---- softmax / log-softmax ----

NL_GPU_TEST(softmax_last_dim_lengths) {
  // Lengths around the warp (32), the register limit (1024) and the 512-thread rows (8192).
  for (int64_t n : {1, 5, 32, 33, 100, 1000, 1024, 1025, 5000, 8192, 20000}) {
    const int64_t rows = n > 5000 ? 3 : 37;
    for (bool log : {false, true}) {
      const std::string what = std::string(log ? "log_softmax" : "softmax") + " n " + std::to_string(n);
      check_parity(what, {random_input({rows, n}, 80 + n, true, -5, 5)}, [log](const std::vector<Tensor>& in) {
        return log ? log_softmax(in[0], -1) : softmax(in[0], -1);
      });
    }
  }
  // Many short rows (several rows per block, grid-stride loop).
  check_parity("softmax 100000 x 7", {random_input({100000, 7}, 90)},
               [](const std::vector<Tensor>& in) { return softmax(in[0], 1); });
}

NL_GPU_TEST(softmax_other_dims) {
  struct Case {
    Shape shape;
    int dim;
  };
  for (const Case& c : std::vector<Case>{{{4, 37, 5}, 1},
                                         {{4, 37, 5}, 0},
                                         {{1000, 7}, 0},
                                         {{3, 2000, 3}, 1},
                                         {{2, 10, 300}, 1},
                                         {{2, 3, 4, 5}, 2},
                                         {{6, 1, 4}, 1},
                                         {{33, 65}, 0}}) {
    for (bool log : {false, true}) {
      const std::string what =
          std::string(log ? "log_softmax " : "softmax ") + c.shape.str() + " dim " + std::to_string(c.dim);
      check_parity(what, {random_input(c.shape, 100 + c.dim, true, -4, 4)}, [&c, log](const std::vector<Tensor>& in) {
        return log ? log_softmax(in[0], c.dim) : softmax(in[0], c.dim);
      });
    }
  }
  // A strided input is made contiguous by the op; its gradient flows back through the view.
  check_parity("softmax of a transpose", {random_input({30, 50}, 110)},
               [](const std::vector<Tensor>& in) { return softmax(in[0].t(), 1); });
}

NL_GPU_TEST(softmax_extreme_values) {
  // Large logits (stable by the max shift), masked (-inf) entries, an all -inf row (NaN),
  // a NaN entry (row NaN) and a +inf entry (NaN row, as the CPU).
  const std::vector<float> v = {1000, 1001, 1002, 999,  //
                                0,    -kInf, 3,   -kInf,  //
                                -kInf, -kInf, -kInf, -kInf,  //
                                1,    kNaN, 2,    3,  //
                                1,    kInf, 2,    3,  //
                                -1e30f, 1e30f, 0, 0};
  const Tensor x = values(v, {6, 4});
  for (bool log : {false, true}) {
    check_parity(log ? "log_softmax extremes" : "softmax extremes", {x}, [log](const std::vector<Tensor>& in) {
      return log ? log_softmax(in[0], 1) : softmax(in[0], 1);
    });
    check_parity(log ? "log_softmax extremes dim 0" : "softmax extremes dim 0", {x},
                 [log](const std::vector<Tensor>& in) { return log ? log_softmax(in[0], 0) : softmax(in[0], 0); });
  }
  // Exact expectations: a masked entry has probability 0, the rest renormalise.
  Tensor p = softmax(x.to(kCuda), 1).to(Device::cpu());
  const auto pv = p.to_vector<float>();
  NL_GPU_CHECK(pv[5] == 0.f && pv[7] == 0.f, pv[5], " ", pv[7]);
  NL_GPU_CHECK(std::fabs(pv[4] + pv[6] - 1.f) < 1e-6f, pv[4] + pv[6]);
  NL_GPU_CHECK(std::isnan(pv[8]) && std::isnan(pv[12]), pv[8], " ", pv[12]);
  Tensor lp = log_softmax(x.to(kCuda), 1).to(Device::cpu());
  NL_GPU_CHECK(std::fabs(lp.to_vector<float>()[2] - (-0.440190f)) < 1e-5f, lp.to_vector<float>()[2]);
}

NL_GPU_TEST(softmax_gradients_with_large_rows) {
  // Backward of both kernels through a downstream op that weights every output.
  check_parity("softmax backward n 3000", {random_input({5, 3000}, 120, true, -3, 3)},
               [](const std::vector<Tensor>& in) { return mul(softmax(in[0], 1), 3.0); });
  check_parity("log_softmax backward dim 0 of [5000, 3]", {random_input({5000, 3}, 121, true, -3, 3)},
               [](const std::vector<Tensor>& in) { return log_softmax(in[0], 0); });
}

NL_GPU_TEST(softmax_empty_and_errors) {
  check_parity("softmax [0, 5]", {random_input({0, 5}, 130)},
               [](const std::vector<Tensor>& in) { return softmax(in[0], 1); });
  check_parity("log_softmax [4, 0]", {random_input({4, 0}, 131)},
               [](const std::vector<Tensor>& in) { return log_softmax(in[0], 1); });
  same_error("softmax of float64", [](Device d) { softmax(zeros({3, 4}, {.dtype = DType::Float64, .device = d}), 1); });
  same_error("softmax dim out of range", [](Device d) { softmax(zeros({3, 4}, {.device = d}), 2); });
}

// ---- cross-entropy ----

Tensor class_targets(const Shape& shape, int64_t classes, uint64_t seed) {
  return floor(random_input(shape, seed, false, 0, static_cast<double>(classes))).to(DType::Int64);
}

// Targets with every `every`-th one set to ignore_index.
Tensor with_ignored(const Tensor& t, int every, int64_t ignore_index) {
  auto v = t.to_vector<int64_t>();
  for (size_t i = 0; i < v.size(); i += every) v[i] = ignore_index;
  return tensor(v, t.shape());
}

NL_GPU_TEST(cross_entropy_reductions_and_class_counts) {
  for (int64_t c : {2, 10, 1000, 1024, 1025, 5000}) {
    const int64_t n = c > 1024 ? 9 : 64;
    const Tensor logits = random_input({n, c}, 140 + c, true, -4, 4);
    const Tensor target = class_targets({n}, c, 150 + c);
    for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
      const std::string what = "cross_entropy C " + std::to_string(c) + " reduction " + std::to_string(int(r));
      check_parity(what, {logits, target},
                   [r](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], r); });
    }
  }
}

NL_GPU_TEST(cross_entropy_ignore_index_and_label_smoothing) {
  const Tensor logits = random_input({50, 17}, 160, true, -3, 3);
  const Tensor target = class_targets({50}, 17, 161);
  for (int64_t ignore : {-100, 3}) {
    const Tensor t = with_ignored(target, 4, ignore);
    for (double eps : {0.0, 0.1, 1.0})
      for (Reduction r : {Reduction::None, Reduction::Mean, Reduction::Sum}) {
        const std::string what = "cross_entropy ignore " + std::to_string(ignore) + " eps " + std::to_string(eps) +
                                 " reduction " + std::to_string(int(r));
        check_parity(what, {logits, t}, [=](const std::vector<Tensor>& in) {
          return nn::functional::cross_entropy(in[0], in[1], r, ignore, eps);
        });
      }
  }
  // Every target ignored: the mean is 0/0 = NaN on both, the sum 0.
  const Tensor all_ignored = full({6}, -100, {.dtype = DType::Int64});
  check_parity("cross_entropy all ignored, mean", {random_input({6, 4}, 162), all_ignored},
               [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1]); });
  check_parity("cross_entropy all ignored, sum", {random_input({6, 4}, 163), all_ignored},
               [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], Reduction::Sum); });
}

NL_GPU_TEST(cross_entropy_spatial_and_values) {
  // [N, C, H, W] logits with [N, H, W] targets (the op permutes classes last).
  check_parity("cross_entropy [4, 5, 6, 7]", {random_input({4, 5, 6, 7}, 170), class_targets({4, 6, 7}, 5, 171)},
               [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], Reduction::Mean, -100, 0.2); });
  // Large logits stay finite; exact value of a two-class case.
  check_parity("cross_entropy large logits", {values({1000, -1000, 0, 2000, 5, 5}, {3, 2}),
                                              tensor(std::vector<int64_t>{1, 0, 0}, {3})},
               [](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], Reduction::None); });
  Tensor l = cross_entropy(values({0, 0}, {1, 2}).to(kCuda), tensor(std::vector<int64_t>{1}, {1}).to(kCuda));
  NL_GPU_CHECK(std::fabs(l.item() - std::log(2.0)) < 1e-6, l.item());
  // Confident predictions: a loss near 0 keeps its precision (log Σ summed in double, as
  // on the CPU): log(1 + 2e^-20) = 4.1223e-9, not 0.
  Tensor small = cross_entropy(values({20, 0, 0}, {1, 3}).to(kCuda), tensor(std::vector<int64_t>{0}, {1}).to(kCuda));
  NL_GPU_CHECK(std::fabs(small.item() - std::log1p(2 * std::exp(-20.0))) < 1e-12, small.item());
}

NL_GPU_TEST(cross_entropy_errors) {
  // Out-of-range targets are refused with the CPU's message, naming the first bad one.
  same_error("target too large", [](Device d) {
    cross_entropy(zeros({4, 3}, {.device = d}), tensor(std::vector<int64_t>{0, 3, 5, 1}, {4}).to(d));
  });
  same_error("negative target", [](Device d) {
    cross_entropy(zeros({4, 3}, {.device = d}), tensor(std::vector<int64_t>{0, 1, 2, -1}, {4}).to(d));
  });
  same_error("bad target among many", [](Device d) {
    std::vector<int64_t> t(100000, 1);
    t[70001] = 99;
    t[90000] = -7;
    cross_entropy(zeros({100000, 4}, {.device = d}), tensor(t, {100000}).to(d));
  });
  same_error("backward with a bad target", [](Device d) {
    Tensor logits = zeros({2, 3}, {.device = d});
    Tensor target = tensor(std::vector<int64_t>{0, 7}, {2}).to(d);
    Tensor lse = zeros({2}, {.device = d}), scale = ones({2}, {.device = d});
    Tensor g = Tensor::empty({2, 3}, DType::Float32, d);
    backend_for(d).cross_entropy_backward(logits, target, lse, scale, -100, 0.0, g);
  });
  same_error("float64 logits", [](Device d) {
    cross_entropy(zeros({2, 3}, {.dtype = DType::Float64, .device = d}), zeros({2}, {.dtype = DType::Int64, .device = d}));
  });
  same_error("label smoothing out of range", [](Device d) {
    cross_entropy(zeros({2, 3}, {.device = d}), zeros({2}, {.dtype = DType::Int64, .device = d}), Reduction::Mean,
                  -100, 1.5);
  });
}

}  // namespace
}  // namespace nl
