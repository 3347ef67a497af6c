// GPU tests of the cuBLAS matmul and cuDNN conv2d kernels against the CPU backend: shapes
// (transposed, strided, broadcast, odd, empty), the accumulate flag, linear layers, every
// conv parameter forward and backward, TF32 on (loose) and off (tight), float64 / float16 /
// bfloat16 against the CPU's float32 on the same rounded inputs, bf16 autocast, and errors.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/core/autocast.h"
#include "engine/core/generator.h"
#include "engine/core/math_settings.h"
#include "engine/nn/nn.h"
#include "engine/ops/ops.h"
#include "tests/gpu/gpu_testing.h"

using namespace nl;
using nl::gpu_test::check_parity;
using nl::gpu_test::compare;
using nl::gpu_test::random_input;
using nl::gpu_test::Tolerance;
using nl::gpu_test::contains;
using nl::gpu_test::error_of;
using nl::gpu_test::expect_close;

namespace {

using gpu_test::Tf32Scope;

const Device kCuda = Device::cuda(0);

// float32 with TF32 off: only summation order differs from the CPU.
const Tolerance kTight{1e-4, 1e-4, 2e-4, 2e-4};
// TF32 inputs carry a 10-bit mantissa: relative errors around 1e-3 per product.
const Tolerance kTf32{1e-2, 2e-2, 1e-2, 5e-2};

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

// `t` rounded to `dtype` and back: the exact values a half-precision run starts from.
Tensor rounded(const Tensor& t, DType dtype) { return t.detach().to(dtype).to(DType::Float32); }

Tensor op_matmul(const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }

// ---- matmul ------------------------------------------------------------------------------

NL_GPU_TEST(matmul_shapes) {
  Tf32Scope tf32(false);
  struct Case {
    Shape a, b;
  };
  const std::vector<Case> cases = {
      {{7, 5}, {5, 3}},           {{1, 1}, {1, 1}},          {{5}, {5}},
      {{5}, {5, 3}},              {{7, 5}, {5}},             {{4, 7, 5}, {4, 5, 3}},
      {{2, 1, 7, 5}, {3, 5, 6}},  {{4, 7, 5}, {5, 3}},       {{7, 5}, {4, 5, 3}},
      {{129, 257}, {257, 65}},    {{3, 33, 1}, {3, 1, 17}},  {{1, 300}, {300, 1}},
      {{2, 3, 64, 96}, {2, 3, 96, 40}},
      {{0, 3}, {3, 4}},           {{3, 0}, {0, 4}},          {{2, 0, 5}, {2, 5, 3}},
      {{3, 4}, {4, 0}},
  };
  uint64_t seed = 1;
  for (const Case& c : cases) {
    check_parity("matmul " + c.a.str() + " @ " + c.b.str(), {random_input(c.a, seed), random_input(c.b, seed + 1)},
                 op_matmul, kTight);
    seed += 2;
  }
}

NL_GPU_TEST(matmul_transposed_strided_broadcast) {
  Tf32Scope tf32(false);
  struct Case {
    const char* name;
    Shape a, b;
    gpu_test::OpFn fn;
  };
  const std::vector<Case> cases = {
      {"a.t() @ b", {5, 7}, {5, 3}, [](const std::vector<Tensor>& in) { return matmul(in[0].t(), in[1]); }},
      {"a @ b.t()", {7, 5}, {3, 5}, [](const std::vector<Tensor>& in) { return matmul(in[0], in[1].t()); }},
      {"a.t() @ b.t()", {5, 7}, {3, 5}, [](const std::vector<Tensor>& in) { return matmul(in[0].t(), in[1].t()); }},
      {"batched transposes", {4, 5, 7}, {4, 3, 5},
       [](const std::vector<Tensor>& in) { return matmul(in[0].transpose(1, 2), in[1].transpose(1, 2)); }},
      {"strided column slice (copied)", {7, 10}, {5, 3},
       [](const std::vector<Tensor>& in) { return matmul(in[0].slice(1, 0, 10, 2), in[1]); }},
      {"row-major with a wider row stride", {7, 9}, {5, 3},
       [](const std::vector<Tensor>& in) { return matmul(in[0].narrow(1, 0, 5), in[1]); }},
      {"column-major with a wider stride", {9, 7}, {5, 3},
       [](const std::vector<Tensor>& in) { return matmul(in[0].narrow(0, 0, 5).t(), in[1]); }},
      {"batch broadcast by expand", {1, 7, 5}, {4, 5, 3},
       [](const std::vector<Tensor>& in) { return matmul(in[0].expand({4, 7, 5}), in[1]); }},
      {"broadcast transposed weight", {4, 7, 5}, {1, 3, 5},
       [](const std::vector<Tensor>& in) { return matmul(in[0], in[1].transpose(1, 2)); }},
      {"strided batch (every other)", {6, 7, 5}, {3, 5, 4},
       [](const std::vector<Tensor>& in) { return matmul(in[0].slice(0, 0, 6, 2), in[1]); }},
      {"strided slice (copied) of a non-broadcast batch", {3, 5, 8}, {7, 5},
       [](const std::vector<Tensor>& in) { return matmul(in[1], in[0].slice(2, 0, 8, 2)); }},
      {"strided slice (copied once) broadcast over the batch", {4, 7, 5}, {1, 5, 6},
       [](const std::vector<Tensor>& in) { return matmul(in[0], in[1].slice(2, 0, 6, 2)); }},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    check_parity(std::string("matmul ") + c.name, {random_input(c.a, seed), random_input(c.b, seed + 1)}, c.fn,
                 kTight);
    seed += 2;
  }
}

// No op passes accumulate = true today, so the kernel's flag is checked on the backends.
NL_GPU_TEST(matmul_accumulate_kernel) {
  Tf32Scope tf32(false);
  Backend& cpu = backend_for(Device::cpu());
  Backend& gpu = backend_for(kCuda);
  struct Case {
    const char* name;
    Tensor a, b;  // [B, M, K], [B, K, N] views
  };
  Tensor a = random_input({3, 7, 5}, 1, false), b = random_input({3, 5, 4}, 2, false);
  Tensor at = random_input({3, 5, 7}, 3, false), b1 = random_input({1, 5, 4}, 4, false);
  Tensor a0 = random_input({3, 7, 0}, 5, false), b0 = random_input({3, 0, 4}, 6, false);
  const std::vector<Case> cases = {
      {"plain", a, b},
      {"transposed a", at.transpose(1, 2), b},
      {"broadcast b", a, b1.expand({3, 5, 4})},
      {"K = 0 keeps out", a0, b0},
  };
  for (const Case& c : cases) {
    Tensor init = random_input({3, 7, 4}, 9, false);
    Tensor out_cpu = init.clone();
    cpu.matmul(c.a, c.b, out_cpu, true);
    Tensor out_gpu = init.to(kCuda);
    Tensor ag = c.a.contiguous().to(kCuda), bg = c.b.contiguous().to(kCuda);
    // Rebuild the same view geometry on the device.
    if (std::string(c.name) == "transposed a") ag = at.to(kCuda).transpose(1, 2);
    if (std::string(c.name) == "broadcast b") bg = b1.to(kCuda).expand({3, 5, 4});
    gpu.matmul(ag, bg, out_gpu, true);
    expect_close(std::string("matmul accumulate, ") + c.name, out_gpu, out_cpu, 1e-4, 1e-4);
    // And without accumulate the old contents are ignored.
    Tensor fresh = init.to(kCuda);
    gpu.matmul(ag, bg, fresh, false);
    Tensor ref = init.clone();
    cpu.matmul(c.a, c.b, ref, false);
    expect_close(std::string("matmul overwrite, ") + c.name, fresh, ref, 1e-4, 1e-4);
  }
}

NL_GPU_TEST(matmul_tf32_switch) {
  NL_GPU_REAL_DEVICE_ONLY("cuBLAS's TF32 tensor-core maths");
  Tensor a = random_input({512, 512}, 11, false), b = random_input({512, 512}, 12, false);
  Tensor ref = matmul(a, b);
  Tensor ag = a.to(kCuda), bg = b.to(kCuda);
  {
    Tf32Scope tf32(false);
    Tensor out = matmul(ag, bg);
    expect_close("matmul 512^3, TF32 off", out, ref, 1e-4, 1e-4);
    NL_GPU_CHECK(max_abs_diff(out, ref) < 1e-4, "TF32 off must be float32-exact up to summation order");
  }
  {
    Tf32Scope tf32(true);
    Tensor out = matmul(ag, bg);
    expect_close("matmul 512^3, TF32 on", out, ref, 1e-2, 5e-2);
    // Random float32 inputs are not TF32 numbers: tensor-core rounding must show.
    NL_GPU_CHECK(max_abs_diff(out, ref) > 1e-4, "TF32 on had no effect (max diff ", max_abs_diff(out, ref), ")");
  }
  NL_GPU_CHECK(allow_tf32(), "TF32 is on by default and restored by the scope");
}

NL_GPU_TEST(matmul_tf32_on_parity) {
  Tf32Scope tf32(true);
  check_parity("matmul TF32 [4, 96, 200] @ [200, 72]", {random_input({4, 96, 200}, 21), random_input({200, 72}, 22)},
               op_matmul, kTf32);
  check_parity("matmul TF32 transposed", {random_input({3, 64, 40}, 23), random_input({3, 48, 64}, 24)},
               [](const std::vector<Tensor>& in) { return matmul(in[0].transpose(1, 2), in[1].transpose(1, 2)); },
               kTf32);
}

// float64, float16 and bfloat16 on CUDA against the CPU's float32 product of the same
// (rounded) values; gradients likewise.
NL_GPU_TEST(matmul_dtypes) {
  Tf32Scope tf32(false);
  struct Case {
    DType dtype;
    double tol;  // relative to the output's magnitude
  };
  for (const Case& c : {Case{DType::Float64, 1e-5}, Case{DType::BFloat16, 1.5e-2}, Case{DType::Float16, 3e-3}}) {
    const std::string name = std::string("matmul ") + dtype_name(c.dtype);
    Tensor a = rounded(random_input({3, 37, 70}, 31, false), c.dtype).requires_grad_(true);
    Tensor b = rounded(random_input({70, 45}, 32, false), c.dtype).requires_grad_(true);
    Tensor g = rounded(random_input({3, 37, 45}, 33, false), c.dtype);
    Tensor ref = matmul(a, b);
    ref.backward(g);

    Tensor ag = a.detach().to(c.dtype).to(kCuda).requires_grad_(true);
    Tensor bg = b.detach().to(c.dtype).to(kCuda).requires_grad_(true);
    Tensor out = matmul(ag, bg);
    NL_GPU_CHECK(out.dtype() == c.dtype, name, ": output is ", dtype_name(out.dtype()));
    out.backward(g.to(c.dtype).to(kCuda));
    NL_GPU_CHECK(ag.grad().defined() && ag.grad().dtype() == c.dtype, name, ": gradient dtype");
    expect_close(name + " forward", out.to(DType::Float32), ref, c.tol, c.tol * max_abs(ref));
    expect_close(name + " grad a", ag.grad().to(DType::Float32), a.grad(), c.tol, c.tol * max_abs(a.grad()));
    expect_close(name + " grad b", bg.grad().to(DType::Float32), b.grad(), c.tol, c.tol * max_abs(b.grad()));
  }
}

NL_GPU_TEST(matmul_errors) {
  Tensor i64 = arange(6, {.dtype = DType::Int64}).reshape({2, 3});
  std::string e = error_of([&] { matmul(i64.to(kCuda), i64.t().contiguous().to(kCuda)); });
  NL_GPU_CHECK(contains(e, "matmul") && contains(e, "floating") && contains(e, "int64"), "got: ", e);

  Tensor f = random_input({2, 3}, 1, false), h = random_input({3, 2}, 2, false).to(DType::BFloat16);
  e = error_of([&] { matmul(f.to(kCuda), h.to(kCuda)); });
  NL_GPU_CHECK(contains(e, "share one floating dtype") && contains(e, "bfloat16"), "got: ", e);

  e = error_of([&] { matmul(f.to(DType::BFloat16), h); });
  NL_GPU_CHECK(contains(e, "matmul: inputs must be float32"), "the CPU is float32 only; got: ", e);

  e = error_of([&] { matmul(random_input({2, 3}, 3, false).to(kCuda), random_input({4, 5}, 4, false).to(kCuda)); });
  NL_GPU_CHECK(contains(e, "inner dimensions differ"), "got: ", e);

  Tensor x = random_input({2, 3}, 5, false).to(kCuda);
  e = error_of([&] { matmul(x, random_input({3, 2}, 6, false)); });
  NL_GPU_CHECK(contains(e, "different devices"), "got: ", e);

  if (gpu_test::emulated()) return;  // the rest is about the CUDA kernel itself
  // The kernel itself refuses integer types with a clear message.
  Tensor ia = zeros({1, 2, 2}, {.dtype = DType::Int64, .device = kCuda});
  Tensor io = zeros({1, 2, 2}, {.dtype = DType::Int64, .device = kCuda});
  e = error_of([&] { backend_for(kCuda).matmul(ia, ia, io, false); });
  NL_GPU_CHECK(contains(e, "int64 is not supported on CUDA"), "got: ", e);
}

NL_GPU_TEST(linear_layers) {
  Tf32Scope tf32(false);
  auto op_linear = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  check_parity("linear [5, 13] -> 7", {random_input({5, 13}, 1), random_input({7, 13}, 2), random_input({7}, 3)},
               op_linear, kTight);
  check_parity("linear [2, 3, 13] -> 7", {random_input({2, 3, 13}, 4), random_input({7, 13}, 5), random_input({7}, 6)},
               op_linear, kTight);
  check_parity("linear [13] -> 7", {random_input({13}, 7), random_input({7, 13}, 8), random_input({7}, 9)}, op_linear,
               kTight);
  check_parity("linear without bias [33, 130] -> 65", {random_input({33, 130}, 10), random_input({65, 130}, 11)},
               [](const std::vector<Tensor>& in) { return linear(in[0], in[1], Tensor()); }, kTight);

  // The nn::Linear module moved to the device gives the CPU module's output and gradients.
  Generator g1(42), g2(42);
  nn::Linear cpu_layer(24, 10, true, &g1), gpu_layer(24, 10, true, &g2);
  gpu_layer.to(kCuda);
  Tensor x = random_input({6, 24}, 12, false);
  Tensor y_cpu = cpu_layer.forward(x), y_gpu = gpu_layer.forward(x.to(kCuda));
  expect_close("nn::Linear forward", y_gpu, y_cpu, 1e-4, 1e-4);
  sum(square(y_cpu)).backward();
  sum(square(y_gpu)).backward();
  expect_close("nn::Linear weight grad", gpu_layer.weight.grad(), cpu_layer.weight.grad(), 2e-4, 2e-4);
  expect_close("nn::Linear bias grad", gpu_layer.bias.grad(), cpu_layer.bias.grad(), 2e-4, 2e-4);
}

// ---- conv2d ------------------------------------------------------------------------------

struct ConvCase {
  const char* name;
  Shape x, w;
  Conv2dParams p;
  bool bias;
};

Conv2dParams params(int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh = 1, int64_t dw = 1, int64_t groups = 1) {
  Conv2dParams p;
  p.stride[0] = sh, p.stride[1] = sw;
  p.padding[0] = ph, p.padding[1] = pw;
  p.dilation[0] = dh, p.dilation[1] = dw;
  p.groups = groups;
  return p;
}

std::vector<ConvCase> conv_cases() {
  return {
      {"3x3 pad 1", {2, 3, 8, 8}, {4, 3, 3, 3}, params(1, 1, 1, 1), true},
      {"3x3 no bias", {2, 3, 8, 8}, {4, 3, 3, 3}, params(1, 1, 1, 1), false},
      {"stride 2", {2, 3, 9, 9}, {5, 3, 3, 3}, params(2, 2, 1, 1), true},
      {"dilation 2", {1, 4, 11, 10}, {6, 4, 3, 3}, params(1, 1, 2, 2, 2, 2), true},
      {"groups 2", {2, 4, 7, 7}, {6, 2, 3, 3}, params(1, 1, 0, 0, 1, 1, 2), true},
      {"depthwise", {2, 6, 10, 10}, {6, 1, 3, 3}, params(1, 1, 1, 1, 1, 1, 6), true},
      {"depthwise x2 5x5", {2, 3, 8, 8}, {6, 1, 5, 5}, params(1, 1, 2, 2, 1, 1, 3), false},
      {"pointwise", {3, 16, 5, 7}, {8, 16, 1, 1}, params(1, 1, 0, 0), true},
      {"3x1 kernel, stride (2, 1), padding (1, 0)", {2, 3, 12, 9}, {4, 3, 3, 1}, params(2, 1, 1, 0), true},
      {"everything", {2, 6, 13, 11}, {9, 2, 3, 3}, params(2, 3, 2, 1, 2, 1, 3), true},
      {"kernel as large as the input", {2, 3, 5, 5}, {4, 3, 5, 5}, params(1, 1, 0, 0), true},
      {"1x1 image", {1, 5, 1, 1}, {3, 5, 1, 1}, params(1, 1, 0, 0), true},
      {"padding larger than the kernel", {1, 2, 3, 3}, {2, 2, 2, 2}, params(1, 1, 3, 3), true},
      {"large (multi-block)", {4, 32, 32, 32}, {64, 32, 3, 3}, params(1, 1, 1, 1), true},
      {"empty batch", {0, 3, 8, 8}, {4, 3, 3, 3}, params(1, 1, 1, 1), true},
  };
}

gpu_test::OpFn conv_fn(const ConvCase& c) {
  const Conv2dParams p = c.p;
  const bool bias = c.bias;
  return [p, bias](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], bias ? in[2] : Tensor(), p); };
}

std::vector<Tensor> conv_inputs(const ConvCase& c, uint64_t seed) {
  std::vector<Tensor> in = {random_input(c.x, seed), random_input(c.w, seed + 1)};
  if (c.bias) in.push_back(random_input({c.w[0]}, seed + 2));
  return in;
}

NL_GPU_TEST(conv2d_parity_tf32_off) {
  Tf32Scope tf32(false);
  uint64_t seed = 200;
  for (const ConvCase& c : conv_cases()) {
    check_parity(std::string("conv2d ") + c.name, conv_inputs(c, seed), conv_fn(c), kTight);
    seed += 3;
  }
  // An unbatched [C, H, W] input, and one that does not need every gradient.
  check_parity("conv2d unbatched", {random_input({3, 8, 8}, 300), random_input({4, 3, 3, 3}, 301)},
               [](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), params(1, 1, 1, 1)); },
               kTight);
  check_parity("conv2d weight grad only",
               {random_input({2, 3, 8, 8}, 302, false), random_input({4, 3, 3, 3}, 303), random_input({4}, 304, false)},
               conv_fn(conv_cases()[0]), kTight);
  check_parity("conv2d input grad only",
               {random_input({2, 3, 8, 8}, 305), random_input({4, 3, 3, 3}, 306, false), random_input({4}, 307)},
               conv_fn(conv_cases()[0]), kTight);
}

NL_GPU_TEST(conv2d_parity_tf32_on) {
  Tf32Scope tf32(true);
  uint64_t seed = 400;
  for (const ConvCase& c : conv_cases()) {
    check_parity(std::string("conv2d TF32 ") + c.name, conv_inputs(c, seed), conv_fn(c), kTf32);
    seed += 3;
  }
}

// The same convolution run twice (the second from the algorithm cache), and after the TF32
// setting changed (a separate cache entry), gives the same answer.
NL_GPU_TEST(conv2d_algorithm_cache) {
  Tensor x = random_input({3, 8, 20, 20}, 500, false).to(kCuda), w = random_input({16, 8, 3, 3}, 501, false).to(kCuda);
  Tensor first, second, fp32;
  {
    Tf32Scope tf32(false);
    first = conv2d(x, w, Tensor(), params(1, 1, 1, 1));
    second = conv2d(x, w, Tensor(), params(1, 1, 1, 1));
  }
  {
    Tf32Scope tf32(true);
    fp32 = conv2d(x, w, Tensor(), params(1, 1, 1, 1));
  }
  expect_close("conv2d cached algorithm", second, first, 1e-5, 1e-5);
  expect_close("conv2d TF32 after FMA", fp32, first, 1e-2, 2e-2);
  Tensor ref = conv2d(x.to(Device::cpu()), w.to(Device::cpu()), Tensor(), params(1, 1, 1, 1));
  expect_close("conv2d vs CPU", first, ref, 1e-4, 1e-4);
}

NL_GPU_TEST(conv2d_module) {
  Tf32Scope tf32(false);
  nn::Conv2dOptions opts;
  opts.stride = {2, 2};
  opts.padding = {1, 1};
  opts.groups = 2;
  Generator g1(7), g2(7);
  opts.gen = &g1;
  nn::Conv2d cpu_conv(4, 6, 3, opts);
  opts.gen = &g2;
  nn::Conv2d gpu_conv(4, 6, 3, opts);
  gpu_conv.to(kCuda);
  Tensor x = random_input({3, 4, 15, 15}, 600, false);
  Tensor y_cpu = cpu_conv.forward(x), y_gpu = gpu_conv.forward(x.to(kCuda));
  expect_close("nn::Conv2d forward", y_gpu, y_cpu, 1e-4, 1e-4);
  sum(square(y_cpu)).backward();
  sum(square(y_gpu)).backward();
  expect_close("nn::Conv2d weight grad", gpu_conv.weight.grad(), cpu_conv.weight.grad(), 2e-4, 2e-4);
  expect_close("nn::Conv2d bias grad", gpu_conv.bias.grad(), cpu_conv.bias.grad(), 2e-4, 2e-4);
}

NL_GPU_TEST(conv2d_dtypes) {
  Tf32Scope tf32(false);
  struct Case {
    DType dtype;
    double tol;
  };
  const ConvCase shapes[] = {
      {"groups, stride, dilation", {2, 6, 13, 11}, {9, 2, 3, 3}, params(2, 1, 2, 1, 2, 1, 3), true},
      {"3x3 pad 1", {4, 16, 16, 16}, {32, 16, 3, 3}, params(1, 1, 1, 1), true},
  };
  for (const Case& c : {Case{DType::Float64, 1e-5}, Case{DType::BFloat16, 2e-2}, Case{DType::Float16, 4e-3}}) {
    for (const ConvCase& s : shapes) {
      const std::string name = std::string("conv2d ") + dtype_name(c.dtype) + " " + s.name;
      Tensor x = rounded(random_input(s.x, 700, false), c.dtype).requires_grad_(true);
      Tensor w = rounded(random_input(s.w, 701, false), c.dtype).requires_grad_(true);
      Tensor b = rounded(random_input({s.w[0]}, 702, false), c.dtype).requires_grad_(true);
      Tensor ref = conv2d(x, w, b, s.p);
      Tensor g = rounded(random_input(ref.shape(), 703, false), c.dtype);
      ref.backward(g);

      Tensor xg = x.detach().to(c.dtype).to(kCuda).requires_grad_(true);
      Tensor wg = w.detach().to(c.dtype).to(kCuda).requires_grad_(true);
      Tensor bg = b.detach().to(c.dtype).to(kCuda).requires_grad_(true);
      Tensor out = conv2d(xg, wg, bg, s.p);
      NL_GPU_CHECK(out.dtype() == c.dtype, name, ": output is ", dtype_name(out.dtype()));
      out.backward(g.to(c.dtype).to(kCuda));
      for (const Tensor* t : {&xg, &wg, &bg})
        NL_GPU_CHECK(t->grad().defined() && t->grad().dtype() == c.dtype, name, ": a gradient has the wrong dtype");
      expect_close(name + " forward", out.to(DType::Float32), ref, c.tol, c.tol * max_abs(ref));
      expect_close(name + " grad x", xg.grad().to(DType::Float32), x.grad(), c.tol, c.tol * max_abs(x.grad()));
      expect_close(name + " grad w", wg.grad().to(DType::Float32), w.grad(), c.tol, c.tol * max_abs(w.grad()));
      expect_close(name + " grad b", bg.grad().to(DType::Float32), b.grad(), c.tol, c.tol * max_abs(b.grad()));
    }
  }
}

NL_GPU_TEST(conv2d_errors) {
  Tensor x = random_input({1, 2, 5, 5}, 1, false), w = random_input({3, 2, 3, 3}, 2, false);
  std::string e = error_of([&] { conv2d(x.to(DType::Int64).to(kCuda), w.to(kCuda), Tensor()); });
  NL_GPU_CHECK(contains(e, "conv2d: input must be floating") && contains(e, "int64"), "got: ", e);
  e = error_of([&] { conv2d(x.to(kCuda), w.to(DType::BFloat16).to(kCuda), Tensor()); });
  NL_GPU_CHECK(contains(e, "conv2d: weight is bfloat16 but the input is float32"), "got: ", e);
  e = error_of([&] { conv2d(x.to(DType::BFloat16), w.to(DType::BFloat16), Tensor()); });
  NL_GPU_CHECK(contains(e, "conv2d: input must be float32"), "the CPU is float32 only; got: ", e);
  Conv2dParams g2 = params(1, 1, 0, 0, 1, 1, 2);
  e = error_of([&] { conv2d(random_input({1, 3, 5, 5}, 3, false).to(kCuda), random_input({4, 1, 3, 3}, 4, false).to(kCuda), Tensor(), g2); });
  NL_GPU_CHECK(contains(e, "not divisible by groups"), "got: ", e);
  e = error_of([&] { conv2d(x.to(kCuda), w, Tensor()); });
  NL_GPU_CHECK(contains(e, "conv2d: input is on cuda:0 but weight is on cpu"), "got: ", e);
  if (gpu_test::emulated()) return;  // the rest is about the CUDA kernel itself
  // The kernel refuses integer tensors itself.
  Tensor xi = zeros({1, 2, 5, 5}, {.dtype = DType::Int64, .device = kCuda});
  Tensor wi = zeros({3, 2, 3, 3}, {.dtype = DType::Int64, .device = kCuda});
  Tensor oi = zeros({1, 3, 3, 3}, {.dtype = DType::Int64, .device = kCuda});
  e = error_of([&] { backend_for(kCuda).conv2d(xi, wi, Tensor(), oi, Conv2dParams{}); });
  NL_GPU_CHECK(contains(e, "int64 is not supported on CUDA"), "got: ", e);
}

// ---- autocast ----------------------------------------------------------------------------

std::shared_ptr<nn::Sequential> make_mlp(uint64_t seed) {
  Generator gen(seed);
  auto mlp = std::make_shared<nn::Sequential>();
  mlp->push_back(std::make_shared<nn::Linear>(16, 64, true, &gen));
  // Tanh, not ReLU: bf16 rounding could flip a ReLU's mask for inputs near 0 and move a
  // gradient by a whole term, beyond any fair tolerance.
  mlp->push_back(std::make_shared<nn::Tanh>());
  mlp->push_back(std::make_shared<nn::Linear>(64, 8, true, &gen));
  return mlp;
}

NL_GPU_TEST(autocast_mlp) {
  Tf32Scope tf32(false);
  auto ref = make_mlp(5), amp = make_mlp(5);
  ref->to(kCuda);
  amp->to(kCuda);
  Tensor x = random_input({32, 16}, 800, false).to(kCuda);
  Tensor w = random_input({32, 8}, 801, false).to(kCuda);

  Tensor y_ref = ref->forward(x);
  sum(mul(y_ref, w)).backward();
  Tensor y_amp;
  {
    AutocastGuard autocast(true);
    NL_GPU_CHECK(autocast_enabled(kCuda) && !autocast_enabled(Device::cpu()), "autocast is for CUDA devices only");
    y_amp = amp->forward(x);
    sum(mul(y_amp, w)).backward();
  }
  NL_GPU_CHECK(!autocast_enabled(kCuda), "the guard restores the previous state");
  NL_GPU_CHECK(y_amp.dtype() == DType::Float32, "autocast returns float32, got ", dtype_name(y_amp.dtype()));
  const double scale = max_abs(y_ref);
  expect_close("autocast MLP output", y_amp, y_ref, 2e-2, 2e-2 * scale);
  NL_GPU_CHECK(max_abs_diff(y_amp, y_ref) > 0, "autocast changed nothing: the layers did not run in bf16");

  auto p_ref = ref->named_parameters(), p_amp = amp->named_parameters();
  for (size_t i = 0; i < p_amp.size(); ++i) {
    const std::string& name = p_amp[i].first;
    const Tensor& p = p_amp[i].second;
    NL_GPU_CHECK(p.dtype() == DType::Float32, name, ": the master weight must stay float32");
    NL_GPU_CHECK(p.grad().defined(), name, ": no gradient under autocast");
    NL_GPU_CHECK(p.grad().dtype() == DType::Float32, name, ": gradient is ", dtype_name(p.grad().dtype()));
    NL_GPU_CHECK(p.grad().device() == kCuda, name, ": gradient on ", p.grad().device().str());
    const Tensor& gr = p_ref[i].second.grad();
    expect_close("autocast MLP grad " + name, p.grad(), gr, 3e-2, 3e-2 * max_abs(gr));
  }

  // Nested guards: autocast off inside on gives the float32 result again.
  {
    AutocastGuard on(true);
    AutocastGuard off(false);
    NoGradGuard no_grad;
    expect_close("autocast off inside on", ref->forward(x), y_ref, 1e-5, 1e-5);
  }
  // On the CPU the guard is a no-op: bit-identical results.
  {
    Tensor xc = x.to(Device::cpu());
    auto cpu_mlp = make_mlp(5);
    NoGradGuard no_grad;
    Tensor plain = cpu_mlp->forward(xc);
    AutocastGuard autocast(true);
    Tensor cast = cpu_mlp->forward(xc);
    NL_GPU_CHECK(cast.dtype() == DType::Float32 && max_abs_diff(cast, plain) == 0, "autocast must not touch the CPU");
  }
}

NL_GPU_TEST(autocast_conv) {
  Tf32Scope tf32(false);
  Tensor x = random_input({2, 8, 12, 12}, 900, false).to(kCuda);
  Tensor w_ref = random_input({16, 8, 3, 3}, 901).to(kCuda).detach().requires_grad_(true);
  Tensor b_ref = random_input({16}, 902).to(kCuda).detach().requires_grad_(true);
  Tensor w_amp = w_ref.detach().clone().requires_grad_(true), b_amp = b_ref.detach().clone().requires_grad_(true);
  Tensor g = random_input({2, 16, 12, 12}, 903, false).to(kCuda);
  Tensor y_ref = conv2d(x, w_ref, b_ref, params(1, 1, 1, 1));
  y_ref.backward(g);
  Tensor y_amp;
  {
    AutocastGuard autocast(true);
    y_amp = conv2d(x, w_amp, b_amp, params(1, 1, 1, 1));
  }
  y_amp.backward(g);
  NL_GPU_CHECK(y_amp.dtype() == DType::Float32, "autocast conv returns float32");
  expect_close("autocast conv output", y_amp, y_ref, 2e-2, 2e-2 * max_abs(y_ref));
  NL_GPU_CHECK(max_abs_diff(y_amp, y_ref) > 0, "autocast conv changed nothing");
  NL_GPU_CHECK(w_amp.grad().dtype() == DType::Float32 && b_amp.grad().dtype() == DType::Float32,
               "autocast conv gradients must be float32");
  expect_close("autocast conv grad w", w_amp.grad(), w_ref.grad(), 3e-2, 3e-2 * max_abs(w_ref.grad()));
  // The bias is added in float32 after the cast back: its gradient is the exact float sum.
  expect_close("autocast conv grad b", b_amp.grad(), b_ref.grad(), 1e-5, 1e-4);
  // float64 inputs are left alone under autocast.
  {
    AutocastGuard autocast(true);
    Tensor y64 = conv2d(x.to(DType::Float64), w_ref.detach().to(DType::Float64), Tensor(), params(1, 1, 1, 1));
    NL_GPU_CHECK(y64.dtype() == DType::Float64, "float64 must not autocast");
  }
}

}  // namespace
