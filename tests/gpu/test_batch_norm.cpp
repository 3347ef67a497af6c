// GPU tests of the cuDNN batch-norm kernels against the CPU backend: training and eval,
// forward and backward, with and without affine parameters, every subset of gradients,
// BatchNorm1d/2d modules whose running statistics must match the CPU's after several
// steps, edge values and errors.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "engine/backends/backend.h"
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

const Device kCuda = Device::cuda(0);
// Normalised outputs are O(1); gradients sum over a channel's N·S values.
const Tolerance kBn{1e-4, 1e-4, 1e-3, 1e-3};

// Shapes [N, C, *] of BatchNorm1d ([N, C], [N, C, L]) and BatchNorm2d, including odd sizes,
// one channel, 1x1 planes and channels long enough for the multi-block reductions.
const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s = {
      {8, 5}, {4, 3, 7}, {2, 3, 5, 5}, {3, 1, 2, 2}, {2, 4, 1, 1}, {5, 7, 9, 11}, {16, 3, 40, 40}, {64, 130},
  };
  return s;
}

NL_GPU_TEST(batch_norm_training_parity) {
  uint64_t seed = 1;
  for (const Shape& shape : shapes()) {
    const int64_t c = shape[1];
    for (double eps : {1e-5, 0.5}) {
      // eps = 0.5 shows that the backward uses the forward's saved 1/sqrt(var + eps).
      const std::string name = "batch_norm train " + shape.str() + " eps " + std::to_string(eps);
      check_parity(name, {random_input(shape, seed), random_input({c}, seed + 1, true, 0.5, 1.5),
                          random_input({c}, seed + 2)},
                   [eps](const std::vector<Tensor>& in) {
                     return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, eps);
                   },
                   kBn);
      seed += 3;
    }
  }
}

NL_GPU_TEST(batch_norm_eval_parity) {
  uint64_t seed = 100;
  for (const Shape& shape : shapes()) {
    const int64_t c = shape[1];
    check_parity("batch_norm eval " + shape.str(),
                 {random_input(shape, seed), random_input({c}, seed + 1, true, 0.5, 1.5), random_input({c}, seed + 2),
                  random_input({c}, seed + 3, false, -0.5, 0.5), random_input({c}, seed + 4, false, 0.25, 2.0)},
                 [](const std::vector<Tensor>& in) {
                   return batch_norm(in[0], in[1], in[2], in[3], in[4], false, 0.1, 1e-5);
                 },
                 kBn);
    seed += 5;
  }
}

NL_GPU_TEST(batch_norm_without_affine) {
  uint64_t seed = 200;
  for (const Shape& shape : {Shape{6, 4}, Shape{3, 5, 6, 7}, Shape{8, 3, 33, 33}}) {
    const int64_t c = shape[1];
    check_parity("batch_norm train, no affine " + shape.str(), {random_input(shape, seed)},
                 [](const std::vector<Tensor>& in) {
                   return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
                 },
                 kBn);
    check_parity("batch_norm eval, no affine " + shape.str(),
                 {random_input(shape, seed + 1), random_input({c}, seed + 2, false), random_input({c}, seed + 3, false, 0.5, 2)},
                 [](const std::vector<Tensor>& in) {
                   return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], false, 0.1, 1e-3);
                 },
                 kBn);
    seed += 4;
  }
}

// Every subset of wanted gradients goes down its own path (cuDNN's backward with scratch
// outputs, or the parameter-gradient reduction alone).
NL_GPU_TEST(batch_norm_gradient_subsets) {
  const Shape shape{4, 6, 9, 7};
  auto fn_train = [](const std::vector<Tensor>& in) {
    return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5);
  };
  auto fn_eval = [](const std::vector<Tensor>& in) {
    return batch_norm(in[0], in[1], in[2], in[3], in[4], false, 0.1, 1e-5);
  };
  for (int mask = 1; mask < 8; ++mask) {
    const bool gx = mask & 1, gw = mask & 2, gb = mask & 4;
    const std::string which = std::string(gx ? "x" : "") + (gw ? "w" : "") + (gb ? "b" : "");
    std::vector<Tensor> in = {random_input(shape, 300 + mask, gx), random_input({6}, 310 + mask, gw, 0.5, 1.5),
                              random_input({6}, 320 + mask, gb), random_input({6}, 330, false),
                              random_input({6}, 340, false, 0.5, 2)};
    check_parity("batch_norm train, gradients of " + which, in, fn_train, kBn);
    check_parity("batch_norm eval, gradients of " + which, in, fn_eval, kBn);
  }
}

// Data on a large common offset: the variance must not cancel away.
NL_GPU_TEST(batch_norm_offset_data) {
  check_parity("batch_norm train, data around 10", {random_input({8, 4, 12, 12}, 400, true, 9, 11),
                                                    random_input({4}, 401), random_input({4}, 402)},
               [](const std::vector<Tensor>& in) {
                 return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5);
               },
               {1e-3, 1e-3, 1e-2, 1e-2});
}

NL_GPU_TEST(batch_norm_edge_values) {
  // A NaN poisons its whole channel in training (batch statistics) and only itself in eval.
  Tensor x = random_input({4, 3, 5, 5}, 500, false);
  {
    std::vector<float> v = x.to_vector<float>();
    v[3] = std::numeric_limits<float>::quiet_NaN();
    x = tensor(v, x.shape());
  }
  check_parity("batch_norm train with a NaN", {x},
               [](const std::vector<Tensor>& in) {
                 return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5);
               });
  check_parity("batch_norm eval with a NaN", {x, random_input({3}, 501, false), random_input({3}, 502, false, 0.5, 2)},
               [](const std::vector<Tensor>& in) {
                 return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], false, 0.1, 1e-5);
               });
  // A constant channel has zero variance: the output is 0 (·weight + bias), not NaN.
  Tensor flat = full({6, 2, 3, 3}, 2.5);
  flat.requires_grad_(true);
  check_parity("batch_norm train, constant input", {flat, random_input({2}, 503), random_input({2}, 504)},
               [](const std::vector<Tensor>& in) {
                 return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true, 0.1, 1e-5);
               },
               kBn);
  // Eval on an empty batch: an empty output, and zero parameter gradients.
  check_parity("batch_norm eval, empty batch",
               {random_input({0, 3, 4, 4}, 505), random_input({3}, 506), random_input({3}, 507),
                random_input({3}, 508, false), random_input({3}, 509, false, 0.5, 2)},
               [](const std::vector<Tensor>& in) {
                 return batch_norm(in[0], in[1], in[2], in[3], in[4], false, 0.1, 1e-5);
               });
}

NL_GPU_TEST(batch_norm_errors) {
  // One value per channel cannot be normalised in training: the same error on both devices.
  for (Device d : {Device::cpu(), kCuda}) {
    Tensor x = random_input({1, 4}, 600, false).to(d);
    std::string e = error_of([&] { batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5); });
    NL_GPU_CHECK(contains(e, "training needs more than one value per channel"), d.str(), " said: ", e);
    e = error_of([&] { batch_norm(x.to(DType::Float64), Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 1e-5); });
    NL_GPU_CHECK(contains(e, "batch_norm: input must be float32"), d.str(), " said: ", e);
    e = error_of([&] { batch_norm(random_input({2, 4}, 601, false).to(d), Tensor(), Tensor(), Tensor(), Tensor(), false, 0.1, 1e-5); });
    NL_GPU_CHECK(contains(e, "evaluation mode needs running_mean"), d.str(), " said: ", e);
  }
  if (gpu_test::emulated()) return;  // the rest is about the CUDA kernel itself
  // The kernel refuses what the op would have refused, with the same words.
  Tensor x = zeros({1, 4}, {.device = kCuda});
  Tensor out = zeros({1, 4}, {.device = kCuda}), sm = zeros({4}, {.device = kCuda}), si = zeros({4}, {.device = kCuda});
  Tensor none;
  std::string e = error_of([&] { backend_for(kCuda).batch_norm(x, none, none, none, none, true, 0.1, 1e-5, out, sm, si); });
  NL_GPU_CHECK(contains(e, "training needs more than one value per channel"), "got: ", e);
  Tensor x64 = zeros({2, 4}, {.dtype = DType::Float64, .device = kCuda});
  e = error_of([&] { backend_for(kCuda).batch_norm(x64, none, none, none, none, true, 0.1, 1e-5, out, sm, si); });
  NL_GPU_CHECK(contains(e, "must be float32"), "got: ", e);
}

// Two identical modules, one on each device, trained side by side: outputs, gradients and
// running statistics agree after every step, and eval mode uses those statistics.
template <class BN>
void run_module_steps(const std::string& name, const Shape& shape, const nn::BatchNormOptions& opts, uint64_t seed) {
  const int64_t c = shape[1];
  BN cpu_bn(c, opts), gpu_bn(c, opts);
  if (opts.affine) {
    // Non-trivial affine parameters, the same on both.
    NoGradGuard no_grad;
    Tensor w = random_input({c}, seed, false, 0.5, 1.5), b = random_input({c}, seed + 1, false);
    cpu_bn.load_state_dict({{"weight", w}, {"bias", b}}, false);
    gpu_bn.load_state_dict({{"weight", w}, {"bias", b}}, false);
  }
  gpu_bn.to(kCuda);
  for (int step = 0; step < 5; ++step) {
    const std::string what = name + " step " + std::to_string(step);
    Tensor x = random_input(shape, seed + 10 + step, false, -1.0 + step, 2.0 + step);
    Tensor xc = x.detach().clone().requires_grad_(true), xg = x.to(kCuda).requires_grad_(true);
    Tensor yc = cpu_bn.forward(xc), yg = gpu_bn.forward(xg);
    expect_close(what + " output", yg, yc, 1e-4, 1e-4);
    Tensor g = random_input(shape, seed + 20 + step, false);
    yc.backward(g);
    yg.backward(g.to(kCuda));
    expect_close(what + " grad x", xg.grad(), xc.grad(), 1e-3, 1e-3);
    if (opts.affine) {
      expect_close(what + " grad weight", gpu_bn.weight.grad(), cpu_bn.weight.grad(), 1e-3, 1e-3);
      expect_close(what + " grad bias", gpu_bn.bias.grad(), cpu_bn.bias.grad(), 1e-3, 1e-3);
    }
    if (opts.track_running_stats) {
      // (Biased instead of unbiased variance would be off by n/(n-1): 4e-3 for 252 values.)
      expect_close(what + " running_mean", gpu_bn.running_mean, cpu_bn.running_mean, 1e-4, 1e-5);
      expect_close(what + " running_var", gpu_bn.running_var, cpu_bn.running_var, 1e-4, 1e-5);
      NL_GPU_CHECK(gpu_bn.num_batches_tracked.item() == cpu_bn.num_batches_tracked.item(), what,
                   ": num_batches_tracked");
    }
  }
  cpu_bn.eval();
  gpu_bn.eval();
  Tensor x = random_input(shape, seed + 30, false, -2, 3);
  Tensor xc = x.detach().clone().requires_grad_(true), xg = x.to(kCuda).requires_grad_(true);
  Tensor yc = cpu_bn.forward(xc), yg = gpu_bn.forward(xg);
  expect_close(name + " eval output", yg, yc, 1e-4, 1e-4);
  Tensor g = random_input(shape, seed + 31, false);
  yc.backward(g);
  yg.backward(g.to(kCuda));
  expect_close(name + " eval grad x", xg.grad(), xc.grad(), 1e-3, 1e-3);
  if (opts.track_running_stats) {
    expect_close(name + " running_mean unchanged in eval", gpu_bn.running_mean, cpu_bn.running_mean, 1e-4, 1e-5);
    expect_close(name + " running_var unchanged in eval", gpu_bn.running_var, cpu_bn.running_var, 1e-4, 1e-5);
  }
}

NL_GPU_TEST(batch_norm_modules_running_stats) {
  nn::BatchNormOptions plain;
  run_module_steps<nn::BatchNorm2d>("BatchNorm2d", {4, 6, 7, 9}, plain, 700);
  run_module_steps<nn::BatchNorm2d>("BatchNorm2d large", {8, 16, 32, 32}, plain, 710);
  run_module_steps<nn::BatchNorm1d>("BatchNorm1d [N, C]", {10, 12}, plain, 720);
  run_module_steps<nn::BatchNorm1d>("BatchNorm1d [N, C, L]", {3, 5, 17}, plain, 730);

  nn::BatchNormOptions cumulative;
  cumulative.momentum = std::nullopt;  // 1 / num_batches_tracked
  run_module_steps<nn::BatchNorm2d>("BatchNorm2d cumulative average", {4, 3, 5, 5}, cumulative, 740);

  nn::BatchNormOptions no_affine;
  no_affine.affine = false;
  run_module_steps<nn::BatchNorm2d>("BatchNorm2d affine=false", {4, 3, 6, 6}, no_affine, 750);

  nn::BatchNormOptions no_stats;
  no_stats.track_running_stats = false;  // batch statistics in eval too
  run_module_steps<nn::BatchNorm1d>("BatchNorm1d without running stats", {6, 4}, no_stats, 760);

  nn::BatchNormOptions momentum;
  momentum.momentum = 0.7;
  momentum.eps = 1e-3;
  run_module_steps<nn::BatchNorm2d>("BatchNorm2d momentum 0.7 eps 1e-3", {2, 5, 4, 3}, momentum, 770);
}

}  // namespace
