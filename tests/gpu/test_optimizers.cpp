// GPU tests of the optimisers and gradient clipping (engine/optim on CUDA tensors, the
// fused kernels of engine/backends/cuda/optimizer_updates.cu): the same parameters and
// gradients on the CPU and on cuda:0, ten steps of each optimiser configuration, then the
// parameters and every state buffer compared; the multi-tensor entry points against
// per-parameter CPU updates; clip_grad_norm_ / clip_grad_value_ against the CPU, edge
// values included; and the errors of the kernels' own checks.
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/ops/ops.h"
#include "engine/optim/optim.h"
#include "tests/gpu/gpu_testing.h"
// The multi-tensor entry points exist only in CUDA builds, and this file is compiled in
// every build (it exits 77 without a device): the cases calling them need the define.
#ifdef NETLOOM_HAVE_CUDA
#include "engine/backends/cuda/optimizer_updates.h"
#endif

using namespace nl;
using namespace nl::optim;
using nl::gpu_test::compare;
using nl::gpu_test::random_input;

namespace {

const Device kCuda = Device::cuda(0);
constexpr int kSteps = 10;
constexpr double kTol = 1e-5;  // the brief's bound; the kernels aim at equal bits

// Shapes covering one element, an empty tensor, odd sizes, and a tensor spanning several
// blocks of the kernels (8192 elements each) with a partial last block.
const std::vector<Shape> kShapes = {{37, 29}, {1}, {0, 3}, {3, 7001}, {64}, {5, 1, 9}};

// The same leaves on both devices.
struct Twin {
  std::vector<Tensor> cpu, gpu;
};

Twin make_params(const std::vector<Shape>& shapes, uint64_t seed) {
  Twin t;
  for (size_t k = 0; k < shapes.size(); ++k) {
    Tensor c = random_input(shapes[k], seed + k, false, -2, 2);
    Tensor g = c.to(kCuda);
    c.requires_grad_(true);
    g.requires_grad_(true);
    t.cpu.push_back(c);
    t.gpu.push_back(g);
  }
  return t;
}

// Gradients for `step`: reproducible, different every step, some parameters skipped on
// some steps (no gradient: parameter and state must stay as they are).
void feed_gradients(Twin& t, int step, double scale = 1.0) {
  for (size_t k = 0; k < t.cpu.size(); ++k) {
    if (k == 4 && step % 3 == 1) {
      t.cpu[k].zero_grad();
      t.gpu[k].zero_grad();
      continue;
    }
    Tensor g = mul(random_input(t.cpu[k].shape(), 1000 + 31 * step + k, false), scale);
    t.cpu[k].set_grad(g.clone());
    t.gpu[k].set_grad(g.to(kCuda));
  }
}

void expect_close(const Tensor& gpu, const Tensor& cpu, const std::string& what, double rtol = kTol,
                  double atol = kTol) {
  NL_GPU_CHECK(gpu.defined() == cpu.defined(), what, ": defined on one device only");
  if (!cpu.defined()) return;
  NL_GPU_CHECK(gpu.device() == kCuda, what, ": on ", gpu.device().str());
  std::string msg = compare(gpu, cpu, rtol, atol);
  NL_GPU_CHECK(msg.empty(), what, ": ", msg);
}

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;

// Runs kSteps steps of the optimiser from `make` on both devices and compares parameters
// and state after every step.
void check_optimizer(const std::string& name, const MakeOptimizer& make,
                     UpdateKernel gpu_kernel = UpdateKernel::Auto) {
  Twin t = make_params(kShapes, 7);
  std::vector<Tensor> start;
  for (const Tensor& p : t.gpu) start.push_back(p.detach().clone());
  auto cpu_opt = make(t.cpu);
  auto gpu_opt = make(t.gpu);
  gpu_opt->set_update_kernel(gpu_kernel);
  for (int step = 0; step < kSteps; ++step) {
    feed_gradients(t, step);
    cpu_opt->step();
    gpu_opt->step();
    for (size_t k = 0; k < t.cpu.size(); ++k) {
      const std::string what = name + " step " + std::to_string(step + 1) + " parameter " + std::to_string(k);
      expect_close(t.gpu[k], t.cpu[k], what);
      const ParamState* sc = cpu_opt->state_of(t.cpu[k]);
      const ParamState* sg = gpu_opt->state_of(t.gpu[k]);
      NL_GPU_CHECK((sc == nullptr) == (sg == nullptr), what, ": state exists on one device only");
      if (!sc) continue;
      NL_GPU_CHECK(sc->step == sg->step, what, ": step count ", sg->step, " vs ", sc->step);
      NL_GPU_CHECK(sc->buffers.size() == sg->buffers.size(), what, ": ", sg->buffers.size(), " buffers vs ",
                   sc->buffers.size());
      for (const auto& [buffer, value] : sc->buffers) {
        auto it = sg->buffers.find(buffer);
        NL_GPU_CHECK(it != sg->buffers.end(), what, ": no buffer '", buffer, "' on CUDA");
        expect_close(it->second, value, what + " buffer " + buffer);
      }
    }
  }
  // The run really moved the parameters (a no-op kernel on both sides would pass the rest).
  bool moved = false;
  for (size_t k = 0; k < t.gpu.size(); ++k)
    if (t.gpu[k].numel() > 0 && !compare(t.gpu[k], start[k], 0, 1e-6).empty()) moved = true;
  NL_GPU_CHECK(moved, name, ": no parameter changed in ", kSteps, " steps");
}

const std::vector<std::pair<std::string, MakeOptimizer>>& configs() {
  static const std::vector<std::pair<std::string, MakeOptimizer>> c = {
      {"sgd_plain", [](auto p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.05}); }},
      {"sgd_momentum_dampening",
       [](auto p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.01, .momentum = 0.9, .dampening = 0.1}); }},
      {"sgd_nesterov",
       [](auto p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.01, .momentum = 0.9, .nesterov = true}); }},
      {"sgd_weight_decay", [](auto p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.02, .weight_decay = 0.05}); }},
      {"sgd_nesterov_wd_maximize",
       [](auto p) {
         return std::make_unique<SGD>(
             p, SGDOptions{.lr = 0.01, .momentum = 0.8, .weight_decay = 0.01, .nesterov = true, .maximize = true});
       }},
      {"adam", [](auto p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 0.01}); }},
      {"adam_amsgrad_wd",
       [](auto p) {
         return std::make_unique<Adam>(
             p, AdamOptions{.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99, .weight_decay = 0.1, .amsgrad = true});
       }},
      {"adam_maximize", [](auto p) { return std::make_unique<Adam>(p, AdamOptions{.lr = 0.01, .maximize = true}); }},
      {"adamw", [](auto p) { return std::make_unique<AdamW>(p, AdamWOptions{.lr = 0.01, .weight_decay = 0.1}); }},
      {"adamw_amsgrad",
       [](auto p) {
         return std::make_unique<AdamW>(p, AdamWOptions{.lr = 0.01, .weight_decay = 0.05, .amsgrad = true});
       }},
      {"adamw_amsgrad_maximize",
       [](auto p) {
         return std::make_unique<AdamW>(p, AdamWOptions{.lr = 0.01, .eps = 0.1, .amsgrad = true, .maximize = true});
       }},
      {"rmsprop", [](auto p) { return std::make_unique<RMSprop>(p, RMSpropOptions{.lr = 0.01}); }},
      {"rmsprop_centered",
       [](auto p) { return std::make_unique<RMSprop>(p, RMSpropOptions{.lr = 0.01, .alpha = 0.9, .centered = true}); }},
      {"rmsprop_momentum",
       [](auto p) { return std::make_unique<RMSprop>(p, RMSpropOptions{.lr = 0.01, .momentum = 0.9}); }},
      {"rmsprop_centered_momentum_wd_maximize",
       [](auto p) {
         return std::make_unique<RMSprop>(p, RMSpropOptions{.lr = 0.01,
                                                            .alpha = 0.9,
                                                            .eps = 0.01,
                                                            .weight_decay = 0.05,
                                                            .momentum = 0.8,
                                                            .centered = true,
                                                            .maximize = true});
       }},
  };
  return c;
}

}  // namespace

// ---- Optimisers through their classes -------------------------------------------------------

NL_GPU_TEST(optimizers_match_cpu_over_ten_steps) {
  for (const auto& [name, make] : configs()) check_optimizer(name, make);
}

// The portable tensor-op path on CUDA (the elementwise kernels) agrees too.
NL_GPU_TEST(optimizers_tensor_op_path_matches_cpu) {
  for (const auto& [name, make] : configs()) check_optimizer(name + " (tensor ops)", make, UpdateKernel::TensorOps);
}

// Two parameter groups with different hyper-parameters, and a momentum switched on mid-run
// (the buffer appears then, with PyTorch's first-step rule).
NL_GPU_TEST(sgd_groups_and_late_momentum) {
  Twin t = make_params(kShapes, 11);
  auto make = [](std::vector<Tensor> p) {
    std::vector<Tensor> a(p.begin(), p.begin() + 3), b(p.begin() + 3, p.end());
    auto opt = std::make_unique<SGD>(a, SGDOptions{.lr = 0.03});
    opt->add_param_group(b, SGDOptions{.lr = 0.01, .momentum = 0.5, .dampening = 0.3, .weight_decay = 0.2});
    return opt;
  };
  auto cpu_opt = make(t.cpu), gpu_opt = make(t.gpu);
  for (int step = 0; step < kSteps; ++step) {
    if (step == 4) {
      cpu_opt->param_groups()[0].momentum = 0.9;
      gpu_opt->param_groups()[0].momentum = 0.9;
    }
    feed_gradients(t, step);
    cpu_opt->step();
    gpu_opt->step();
  }
  for (size_t k = 0; k < t.cpu.size(); ++k) expect_close(t.gpu[k], t.cpu[k], "parameter " + std::to_string(k));
  for (size_t k = 0; k < 3; ++k) {
    const ParamState* s = gpu_opt->state_of(t.gpu[k]);
    NL_GPU_CHECK(s && s->buffers.count("momentum_buffer"), "parameter ", k, " has no momentum buffer after step 5");
    expect_close(s->buffers.at("momentum_buffer"), cpu_opt->state_of(t.cpu[k])->buffers.at("momentum_buffer"),
                 "momentum buffer " + std::to_string(k));
  }
}

// A CUDA optimiser's state survives state_dict → load_state_dict and continues bit-for-bit
// like the CPU optimiser.
NL_GPU_TEST(adam_state_dict_round_trip_on_cuda) {
  Twin t = make_params(kShapes, 21);
  auto cpu_opt = std::make_unique<Adam>(t.cpu, AdamOptions{.lr = 0.01, .amsgrad = true});
  auto gpu_opt = std::make_unique<Adam>(t.gpu, AdamOptions{.lr = 0.01, .amsgrad = true});
  for (int step = 0; step < 3; ++step) {
    feed_gradients(t, step);
    cpu_opt->step();
    gpu_opt->step();
  }
  auto resumed = std::make_unique<Adam>(t.gpu, AdamOptions{.lr = 0.01, .amsgrad = true});
  resumed->load_state_dict(gpu_opt->state_dict());
  for (int step = 3; step < kSteps; ++step) {
    feed_gradients(t, step);
    cpu_opt->step();
    resumed->step();
  }
  for (size_t k = 0; k < t.cpu.size(); ++k) expect_close(t.gpu[k], t.cpu[k], "parameter " + std::to_string(k));
}

// ---- Multi-tensor entry points --------------------------------------------------------------

#ifndef NETLOOM_HAVE_CUDA
// A CUDA device answered, so the engine has its CUDA backend, but this file was compiled
// without NETLOOM_HAVE_CUDA: the cases below would be silently missing. Say so instead.
NL_GPU_TEST(multi_tensor_cases_compiled_in) {
  NL_GPU_CHECK(false, "tests/gpu/test_optimizers.cpp was built without NETLOOM_HAVE_CUDA; define it for the GPU ",
               "tests in CUDA builds (tests/gpu/CMakeLists.txt) so the multi-tensor and operand-check cases run");
}
#else

namespace {

// 41 parameters (more than one launch of 32), sizes from 0 to past one block.
std::vector<Shape> many_shapes() {
  std::vector<Shape> s;
  for (int k = 0; k < 41; ++k) s.push_back({(int64_t)((k * 977) % 9001)});
  s[7] = {8192};
  s[8] = {8193};
  return s;
}

std::vector<Tensor> gpu_copies(const std::vector<Tensor>& v) {
  std::vector<Tensor> out;
  for (const Tensor& t : v) out.push_back(t.defined() ? t.to(kCuda) : Tensor());
  return out;
}

std::vector<Tensor> cpu_tensors(const std::vector<Shape>& shapes, uint64_t seed, double lo, double hi) {
  std::vector<Tensor> out;
  for (size_t k = 0; k < shapes.size(); ++k) out.push_back(random_input(shapes[k], seed + k, false, lo, hi));
  return out;
}

void expect_all_close(const std::vector<Tensor>& gpu, const std::vector<Tensor>& cpu, const std::string& what) {
  for (size_t k = 0; k < cpu.size(); ++k) expect_close(gpu[k], cpu[k], what + " " + std::to_string(k));
}

}  // namespace

NL_GPU_TEST(multi_tensor_sgd_matches_per_parameter_cpu) {
  NL_GPU_REAL_DEVICE_ONLY("calls the CUDA optimiser kernels directly");
  const auto shapes = many_shapes();
  std::vector<Tensor> p = cpu_tensors(shapes, 1, -1, 1), bufs(shapes.size());
  std::vector<Tensor> gp = gpu_copies(p), gbufs(shapes.size());
  const SgdHyper h{.lr = 0.01, .weight_decay = 0.01, .momentum = 0.9, .dampening = 0, .nesterov = true};
  for (int step = 0; step < 3; ++step) {
    std::vector<Tensor> g = cpu_tensors(shapes, 100 * (step + 1), -1, 1), gg = gpu_copies(g);
    for (size_t k = 0; k < p.size(); ++k) sgd_update(p[k], g[k], bufs[k], h, UpdateKernel::Auto);
    cuda::fused_sgd_multi(gp, gg, gbufs, h);
    expect_all_close(gp, p, "sgd parameter");
    expect_all_close(gbufs, bufs, "sgd momentum buffer");
  }
}

NL_GPU_TEST(multi_tensor_adam_matches_per_parameter_cpu) {
  NL_GPU_REAL_DEVICE_ONLY("calls the CUDA optimiser kernels directly");
  const auto shapes = many_shapes();
  std::vector<Tensor> p = cpu_tensors(shapes, 2, -1, 1), m, v, vmax;
  for (const Shape& s : shapes) {
    m.push_back(zeros(s));
    v.push_back(zeros(s));
    vmax.push_back(zeros(s));
  }
  std::vector<Tensor> gp = gpu_copies(p), gm = gpu_copies(m), gv = gpu_copies(v), gvmax = gpu_copies(vmax);
  AdamHyper h{.lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.02, .amsgrad = true,
              .decoupled_weight_decay = true};
  // Parameters at different step counts, so each tensor's own bias correction is used.
  std::vector<int64_t> steps(shapes.size());
  for (size_t k = 0; k < steps.size(); ++k) steps[k] = 1 + (int64_t)(k % 4);
  for (int round = 0; round < 3; ++round) {
    std::vector<Tensor> g = cpu_tensors(shapes, 200 * (round + 1), -1, 1), gg = gpu_copies(g);
    for (size_t k = 0; k < p.size(); ++k) {
      AdamHyper hk = h;
      hk.step = steps[k];
      adam_update(p[k], g[k], m[k], v[k], vmax[k], hk, UpdateKernel::Auto);
    }
    cuda::fused_adam_multi(gp, gg, gm, gv, gvmax, steps, h);
    expect_all_close(gp, p, "adam parameter");
    expect_all_close(gm, m, "adam exp_avg");
    expect_all_close(gv, v, "adam exp_avg_sq");
    expect_all_close(gvmax, vmax, "adam max_exp_avg_sq");
    for (int64_t& s : steps) ++s;
  }
}

NL_GPU_TEST(multi_tensor_rmsprop_matches_per_parameter_cpu) {
  NL_GPU_REAL_DEVICE_ONLY("calls the CUDA optimiser kernels directly");
  const auto shapes = many_shapes();
  std::vector<Tensor> p = cpu_tensors(shapes, 3, -1, 1), sq, ga, buf;
  for (const Shape& s : shapes) {
    sq.push_back(zeros(s));
    ga.push_back(zeros(s));
    buf.push_back(zeros(s));
  }
  std::vector<Tensor> gp = gpu_copies(p), gsq = gpu_copies(sq), gga = gpu_copies(ga), gbuf = gpu_copies(buf);
  const RmspropHyper h{.lr = 0.01, .alpha = 0.9, .eps = 1e-3, .weight_decay = 0.01, .momentum = 0.5,
                       .centered = true};
  for (int step = 0; step < 3; ++step) {
    std::vector<Tensor> g = cpu_tensors(shapes, 300 * (step + 1), -1, 1), gg = gpu_copies(g);
    for (size_t k = 0; k < p.size(); ++k) rmsprop_update(p[k], g[k], sq[k], ga[k], buf[k], h, UpdateKernel::Auto);
    cuda::fused_rmsprop_multi(gp, gg, gsq, gga, gbuf, h);
    expect_all_close(gp, p, "rmsprop parameter");
    expect_all_close(gsq, sq, "rmsprop square_avg");
    expect_all_close(gga, ga, "rmsprop grad_avg");
    expect_all_close(gbuf, buf, "rmsprop momentum buffer");
  }
}

// NaN and inf in gradients travel through the updates as on the CPU (amsgrad's maximum keeps NaN).
#endif  // NETLOOM_HAVE_CUDA

NL_GPU_TEST(updates_propagate_nan_and_inf_like_cpu) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  Tensor g = tensor({1.0f, nan, inf, -inf, 0.5f, -0.0f}, {6});
  for (int rule = 0; rule < 3; ++rule) {
    Tensor p = tensor({0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f}, {6});
    Tensor gp = p.to(kCuda), gg = g.to(kCuda);
    if (rule == 0) {
      Tensor b, gb;
      const SgdHyper h{.lr = 0.1, .momentum = 0.9};
      sgd_update(p, g, b, h, UpdateKernel::Auto);
      sgd_update(gp, gg, gb, h, UpdateKernel::Auto);
      expect_close(gb, b, "sgd buffer with NaN/inf");
    } else if (rule == 1) {
      Tensor m = zeros({6}), v = zeros({6}), vmax = zeros({6});
      Tensor gm = m.to(kCuda), gv = v.to(kCuda), gvmax = vmax.to(kCuda);
      const AdamHyper h{.lr = 0.1, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .amsgrad = true, .step = 1};
      adam_update(p, g, m, v, vmax, h, UpdateKernel::Auto);
      adam_update(gp, gg, gm, gv, gvmax, h, UpdateKernel::Auto);
      expect_close(gvmax, vmax, "adam max_exp_avg_sq with NaN/inf");
    } else {
      Tensor sq = zeros({6}), none, gsq = sq.to(kCuda), gnone;
      const RmspropHyper h{.lr = 0.1, .alpha = 0.9, .eps = 1e-8};
      rmsprop_update(p, g, sq, none, none, h, UpdateKernel::Auto);
      rmsprop_update(gp, gg, gsq, gnone, gnone, h, UpdateKernel::Auto);
      expect_close(gsq, sq, "rmsprop square_avg with NaN/inf");
    }
    expect_close(gp, p, "parameters after a NaN/inf gradient, rule " + std::to_string(rule));
  }
}

#ifdef NETLOOM_HAVE_CUDA
NL_GPU_TEST(fused_updates_refuse_bad_operands) {
  auto expect_error = [](const std::function<void()>& fn, const std::string& needle) {
    std::string message;
    try {
      fn();
    } catch (const Error& e) {
      message = e.what();
    }
    NL_GPU_CHECK(!message.empty(), "expected an nl::Error mentioning '", needle, "'");
    NL_GPU_CHECK(message.find(needle) != std::string::npos, "error '", message, "' does not mention '", needle, "'");
  };
  const SgdHyper h{.lr = 0.1, .momentum = 0.9};
  expect_error(
      [&] {
        Tensor p = zeros({4}, {.device = kCuda}), g = zeros({4}), b;
        cuda::fused_sgd(p, g, b, h);
      },
      "gradient of parameter 0 is on cpu");
  expect_error(
      [&] {
        Tensor p = zeros({4}, {.dtype = DType::Float64, .device = kCuda}), g = zeros_like(p), b;
        cuda::fused_sgd(p, g, b, h);
      },
      "float32");
  expect_error(
      [&] {
        Tensor p = zeros({4}, {.device = kCuda}), g = zeros({5}, {.device = kCuda}), b;
        cuda::fused_sgd(p, g, b, h);
      },
      "has shape");
  expect_error(
      [&] {
        Tensor p = zeros({4, 3}, {.device = kCuda}), g = zeros({3, 4}, {.device = kCuda}).t(), b;
        cuda::fused_sgd(p, g, b, h);
      },
      "not contiguous");
  // A step that throws changes nothing: no momentum buffer was created for parameter 0.
  std::vector<Tensor> params{zeros({4}, {.device = kCuda}), zeros({4}, {.device = kCuda})};
  std::vector<Tensor> grads{ones({4}, {.device = kCuda}), ones({4})}, bufs(2);
  expect_error([&] { cuda::fused_sgd_multi(params, grads, bufs, h); }, "gradient of parameter 1");
  NL_GPU_CHECK(!bufs[0].defined(), "a failed step created a momentum buffer");
  NL_GPU_CHECK(compare(params[0], zeros({4}), 0, 0).empty(), "a failed step changed parameter 0");
  expect_error(
      [&] {
        Tensor p = zeros({4}, {.device = kCuda}), g = ones_like(p), m = zeros_like(p), v = zeros_like(p), none;
        cuda::fused_adam(p, g, m, v, none, AdamHyper{.lr = 0.1, .beta1 = 0.9, .beta2 = 0.99, .step = 0});
      },
      "steps count from 1");
}
#endif  // NETLOOM_HAVE_CUDA

// ---- Gradient clipping ----------------------------------------------------------------------

namespace {

// Parameters with gradients on both devices: many tensors (more than one launch), one large
// (several blocks), one without a gradient, one empty, one with a non-contiguous gradient.
Twin clip_fixture(uint64_t seed, double scale) {
  std::vector<Shape> shapes;
  for (int k = 0; k < 36; ++k) shapes.push_back({(int64_t)(1 + (k * 331) % 700)});
  shapes.push_back({300, 1001});
  shapes.push_back({0});
  shapes.push_back({17, 5});
  shapes.push_back({9, 13});
  Twin t = make_params(shapes, seed);
  for (size_t k = 0; k < shapes.size(); ++k) {
    if (k == 3) continue;  // no gradient: skipped
    if (k == shapes.size() - 1) {
      // A transposed view on both devices: the tensor-op path on the CPU, a float32
      // contiguous copy joining the multi-tensor reduction on CUDA.
      Tensor base = random_input({13, 9}, seed + 99, false);
      t.cpu[k].set_grad(base.clone().t());
      t.gpu[k].set_grad(base.to(kCuda).t());
      continue;
    }
    Tensor g = mul(random_input(shapes[k], seed * 7 + k, false), scale);
    t.cpu[k].set_grad(g.clone());
    t.gpu[k].set_grad(g.to(kCuda));
  }
  return t;
}

void expect_grads_close(const Twin& t, const std::string& what, double rtol, double atol) {
  for (size_t k = 0; k < t.cpu.size(); ++k)
    expect_close(t.gpu[k].grad(), t.cpu[k].grad(), what + " gradient " + std::to_string(k), rtol, atol);
}

void expect_total_close(double gpu, double cpu, const std::string& what) {
  const bool same_special = (std::isnan(gpu) && std::isnan(cpu)) || (std::isinf(gpu) && gpu == cpu);
  NL_GPU_CHECK(same_special || std::fabs(gpu - cpu) <= 1e-9 * std::fabs(cpu) + 1e-12, what, ": total norm ", gpu,
               " on CUDA, ", cpu, " on the CPU");
}

}  // namespace

NL_GPU_TEST(clip_grad_norm_matches_cpu) {
  const double inf = kInfNorm;
  for (double norm_type : {2.0, 1.0, 3.5, 0.5, inf}) {
    for (double max_norm : {0.5, 1e9}) {  // clipping, then no clipping
      Twin t = clip_fixture(5, 1.0);
      const std::string what = "norm_type " + std::to_string(norm_type) + " max_norm " + std::to_string(max_norm);
      NL_GPU_CHECK(!t.gpu.back().grad().is_contiguous(), "the fixture's last gradient should be a view");
      double total_cpu = clip_grad_norm_(t.cpu, max_norm, norm_type);
      double total_gpu = clip_grad_norm_(t.gpu, max_norm, norm_type);
      expect_total_close(total_gpu, total_cpu, what);
      NL_GPU_CHECK(total_cpu > 0.5, what, ": the fixture's norm should exceed max_norm 0.5");
      expect_grads_close(t, what, 1e-6, 1e-7);
      NL_GPU_CHECK(!t.gpu[3].grad().defined(), what, ": a parameter without gradient got one");
    }
  }
}

// The clipped gradients really are scaled to max_norm (the CUDA scaling kernel ran).
NL_GPU_TEST(clip_grad_norm_scales_cuda_gradients_to_max_norm) {
  Twin t = clip_fixture(9, 3.0);
  const double total = clip_grad_norm_(t.gpu, 2.0);
  NL_GPU_CHECK(total > 2.0, "the fixture's norm should exceed 2");
  double sq = 0;
  for (const Tensor& p : t.gpu)
    if (p.grad().defined() && p.grad().numel() > 0) sq += sum(square(p.grad())).item();
  NL_GPU_CHECK(std::fabs(std::sqrt(sq) - 2.0) < 1e-5, "norm after clipping is ", std::sqrt(sq), ", expected 2");
  const double again = clip_grad_norm_(t.gpu, 1e9);
  NL_GPU_CHECK(std::fabs(again - 2.0) < 1e-5, "the norm on a second call is ", again, ", expected 2");
}

NL_GPU_TEST(clip_grad_norm_nonfinite_like_cpu) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), finf = std::numeric_limits<float>::infinity();
  for (float bad : {nan, finf}) {
    for (double norm_type : {2.0, 1.0, kInfNorm}) {
      Twin t = clip_fixture(13, 1.0);
      Tensor g = t.cpu[36].grad().clone();
      Tensor slot = g.view({-1}).narrow(0, 12345, 1);  // in the large gradient's second block
      copy_(slot, tensor({bad}, {1}));
      t.cpu[36].set_grad(g);
      t.gpu[36].set_grad(g.to(kCuda));
      const std::string what = std::string(std::isnan(bad) ? "NaN" : "inf") + " norm_type " + std::to_string(norm_type);
      double total_cpu = clip_grad_norm_(t.cpu, 1.0, norm_type);
      double total_gpu = clip_grad_norm_(t.gpu, 1.0, norm_type);
      expect_total_close(total_gpu, total_cpu, what);
      NL_GPU_CHECK(!std::isfinite(total_gpu), what, ": total should not be finite, got ", total_gpu);
      expect_grads_close(t, what, 1e-6, 1e-7);
      bool threw = false;
      try {
        clip_grad_norm_(t.gpu, 1.0, norm_type, /*error_if_nonfinite=*/true);
      } catch (const Error& e) {
        threw = std::string(e.what()).find("error_if_nonfinite") != std::string::npos;
      }
      NL_GPU_CHECK(threw, what, ": error_if_nonfinite did not raise the expected error");
    }
  }
}

NL_GPU_TEST(clip_grad_norm_of_no_gradients_is_zero) {
  Tensor p = zeros({3}, {.device = kCuda, .requires_grad = true});
  NL_GPU_CHECK(clip_grad_norm_({p}, 1.0) == 0.0, "no gradients: the norm is 0");
  p.set_grad(zeros({3}, {.device = kCuda}));
  NL_GPU_CHECK(clip_grad_norm_({p}, 1.0) == 0.0, "zero gradients: the norm is 0");
  Tensor e = zeros({0}, {.device = kCuda, .requires_grad = true});
  e.set_grad(zeros({0}, {.device = kCuda}));
  NL_GPU_CHECK(clip_grad_norm_({e}, 1.0, kInfNorm) == 0.0, "an empty gradient: the norm is 0");
}

NL_GPU_TEST(clip_grad_value_matches_cpu) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for (double clip : {0.25, 0.0, 1e300}) {
    Twin t = clip_fixture(17, 2.0);
    // Parameter 0 swapped for one whose gradient holds the edge values.
    Tensor edge = tensor({nan, inf, -inf, 0.25f, -0.25f, 0.2500001f, -3.0f, 0.0f}, {8});
    std::vector<Tensor> cpu = t.cpu, gpu = t.gpu;
    cpu[0] = zeros({8}, {.requires_grad = true});
    gpu[0] = zeros({8}, {.device = kCuda, .requires_grad = true});
    cpu[0].set_grad(edge.clone());
    gpu[0].set_grad(edge.to(kCuda));
    clip_grad_value_(cpu, clip);
    clip_grad_value_(gpu, clip);
    const std::string what = "clip_value " + std::to_string(clip);
    for (size_t k = 0; k < cpu.size(); ++k)
      expect_close(gpu[k].grad(), cpu[k].grad(), what + " gradient " + std::to_string(k), 0, 0);
  }
}
