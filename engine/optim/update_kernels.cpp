// Fused CPU loops and tensor-op versions of the optimiser update rules (see the header);
// on devices whose backend offers them, its multi-tensor kernels (Backend::fused_updates).
//
// Note [Float arithmetic in the fused loops]: PyTorch evaluates each step in float32 with
// its Python scalars (1 - beta1, lr / bias_correction1, …) computed in double and rounded to
// float when they meet a float tensor. The loops below do the same, one float operation per
// PyTorch op, in PyTorch's order, so the two agree to a few ulps per step rather than
// drifting apart the way a double-precision update would.
#include "engine/optim/update_kernels.h"

#include <cmath>
#include <type_traits>

#include "engine/backends/cpu/strided_loop.h"
#include "engine/ops/elementwise.h"
#include "engine/backends/backend.h"
#include "engine/optim/fused_updates.h"

namespace nl::optim {
namespace {

bool use_fused_cpu_loop(const Tensor& param, UpdateKernel kernel) {
  return kernel == UpdateKernel::Auto && param.device().is_cpu();
}

// The device's own multi-tensor kernels (Backend::fused_updates; on CUDA devices
// engine/backends/cuda/optimizer_updates.h: the same formulas in the same float order as the
// loops below), when every parameter is on one non-CPU device that offers them and the fused
// path is wanted; null otherwise, and tensor ops run.
FusedUpdateKernels* device_kernels(const std::vector<Tensor>& params, UpdateKernel kernel) {
  if (params.empty() || kernel != UpdateKernel::Auto || params[0].device().is_cpu()) return nullptr;
  for (const Tensor& p : params)
    if (p.device() != params[0].device()) return nullptr;
  return backend_for(params[0].device()).fused_updates();
}

// Runs a loop instantiated for the given flags over [0, n), split across threads when n is
// large. Each element is updated independently, so results do not depend on the thread count.
//
// The flags become template arguments (every combination gets its own branch-free loop, as
// an `if` inside a loop stops GCC's vectoriser), and each loop copies its pointers and
// scalars into restrict-qualified locals first: read through a lambda's captures instead,
// they might alias the stores, and the loop would stay scalar. Adam's and RMSprop's loops
// also need -fno-math-errno to vectorise (otherwise sqrt may set errno, a branch per
// element); without it they still make one pass over memory, element by element.
template <template <bool, bool, bool> class Loop, class Args>
void run_loop(int64_t n, bool a, bool b, bool c, const Args& args) {
  auto go = [&](auto A, auto B, auto C) {
    cpu::parallel_for(n, cpu::kParallelThreshold, [&](int64_t begin, int64_t end) {
      Loop<decltype(A)::value, decltype(B)::value, decltype(C)::value>::run(args, begin, end);
    });
  };
  auto third = [&](auto A, auto B) { c ? go(A, B, std::true_type{}) : go(A, B, std::false_type{}); };
  auto second = [&](auto A) { b ? third(A, std::true_type{}) : third(A, std::false_type{}); };
  a ? second(std::true_type{}) : second(std::false_type{});
}

// ---- SGD ----------------------------------------------------------------------------------

struct SgdArgs {
  float* p;
  const float* g;
  float* buf;
  float sign, weight_decay, momentum, keep, neg_lr;  // sign: -1 to maximize (× ±1 is exact)
  bool nesterov;
};

template <bool Decay, bool Momentum, bool FirstStep>
struct SgdLoop {
  static void run(const SgdArgs& a, int64_t begin, int64_t end) {
    float* __restrict p = a.p;
    const float* __restrict g = a.g;
    float* __restrict buf = a.buf;
    const float sign = a.sign, wd = a.weight_decay, mom = a.momentum, keep = a.keep, neg_lr = a.neg_lr;
    const bool nesterov = a.nesterov;
    for (int64_t i = begin; i < end; ++i) {
      const float pi = p[i];
      float d = sign * g[i];
      if constexpr (Decay) d = d + wd * pi;
      if constexpr (Momentum) {
        float b;
        if constexpr (FirstStep) b = d;
        else b = buf[i] * mom + keep * d;
        buf[i] = b;
        d = nesterov ? d + mom * b : b;
      }
      p[i] = pi + neg_lr * d;
    }
  }
};

void sgd_fused(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& h) {
  const bool momentum = h.momentum != 0, first = momentum && !momentum_buffer.defined();
  if (first) momentum_buffer = Tensor::empty(param.shape(), param.dtype(), param.device());
  SgdArgs a{.p = param.data<float>(),
            .g = grad.data<float>(),
            .buf = momentum ? momentum_buffer.data<float>() : nullptr,
            .sign = h.maximize ? -1.0f : 1.0f,
            .weight_decay = (float)h.weight_decay,
            .momentum = (float)h.momentum,
            .keep = (float)(1 - h.dampening),
            .neg_lr = (float)-h.lr,
            .nesterov = h.nesterov};
  run_loop<SgdLoop>(param.numel(), h.weight_decay != 0, momentum, first, a);
}

void sgd_tensor_ops(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& h) {
  Tensor d = h.maximize ? neg(grad) : grad;
  if (h.weight_decay != 0) d = add(d, mul(param, h.weight_decay));
  if (h.momentum != 0) {
    if (!momentum_buffer.defined()) {
      momentum_buffer = d.clone();
    } else {
      mul_(momentum_buffer, h.momentum);
      add_(momentum_buffer, d, 1 - h.dampening);
    }
    d = h.nesterov ? add(d, mul(momentum_buffer, h.momentum)) : momentum_buffer;
  }
  add_(param, d, -h.lr);
}

// ---- Adam / AdamW -------------------------------------------------------------------------

struct AdamScalars {
  float shrink;       // AdamW: 1 - lr * weight_decay
  float step_size;    // lr / bias_correction1
  float bc2_sqrt;     // sqrt(bias_correction2)
};

AdamScalars adam_scalars(const AdamHyper& h) {
  double bc1 = 1 - std::pow(h.beta1, (double)h.step);
  double bc2 = 1 - std::pow(h.beta2, (double)h.step);
  return {(float)(1 - h.lr * h.weight_decay), (float)(h.lr / bc1), (float)std::sqrt(bc2)};
}

struct AdamArgs {
  float* p;
  const float* g;
  float *m, *v, *vmax;
  float sign, beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, eps;
  AdamScalars s;
};

template <bool L2Decay, bool DecoupledDecay, bool Amsgrad>
struct AdamLoop {
  static void run(const AdamArgs& a, int64_t begin, int64_t end) {
    float* __restrict p = a.p;
    const float* __restrict g = a.g;
    float* __restrict m = a.m;
    float* __restrict v = a.v;
    float* __restrict vmax = a.vmax;
    const float sign = a.sign, b1 = a.beta1, b2 = a.beta2, c1 = a.one_minus_beta1, c2 = a.one_minus_beta2;
    const float wd = a.weight_decay, eps = a.eps, shrink = a.s.shrink, bc2_sqrt = a.s.bc2_sqrt;
    const float neg_step = -a.s.step_size;
    for (int64_t i = begin; i < end; ++i) {
      float pi = p[i];
      float gi = sign * g[i];
      if constexpr (DecoupledDecay) pi = pi * shrink;
      if constexpr (L2Decay) gi = gi + wd * pi;
      const float mi = m[i] * b1 + c1 * gi;
      const float vi = v[i] * b2 + c2 * gi * gi;
      m[i] = mi;
      v[i] = vi;
      float second = vi;
      if constexpr (Amsgrad) {
        // torch.maximum: NaN in either operand gives NaN (std::fmax would drop it).
        const float old = vmax[i];
        second = (old > vi || old != old) ? old : vi;
        vmax[i] = second;
      }
      const float denom = std::sqrt(second) / bc2_sqrt + eps;
      p[i] = pi + neg_step * (mi / denom);
    }
  }
};

void adam_fused(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                const AdamHyper& h) {
  AdamArgs a{.p = param.data<float>(),
             .g = grad.data<float>(),
             .m = exp_avg.data<float>(),
             .v = exp_avg_sq.data<float>(),
             .vmax = h.amsgrad ? max_exp_avg_sq.data<float>() : nullptr,
             .sign = h.maximize ? -1.0f : 1.0f,
             .beta1 = (float)h.beta1,
             .beta2 = (float)h.beta2,
             .one_minus_beta1 = (float)(1 - h.beta1),
             .one_minus_beta2 = (float)(1 - h.beta2),
             .weight_decay = (float)h.weight_decay,
             .eps = (float)h.eps,
             .s = adam_scalars(h)};
  const bool decay = h.weight_decay != 0;
  run_loop<AdamLoop>(param.numel(), decay && !h.decoupled_weight_decay, decay && h.decoupled_weight_decay, h.amsgrad,
                     a);
}

void adam_tensor_ops(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                     const AdamHyper& h) {
  const AdamScalars s = adam_scalars(h);
  Tensor g = h.maximize ? neg(grad) : grad;
  if (h.decoupled_weight_decay && h.weight_decay != 0) mul_(param, 1 - h.lr * h.weight_decay);
  if (!h.decoupled_weight_decay && h.weight_decay != 0) g = add(g, mul(param, h.weight_decay));
  mul_(exp_avg, h.beta1);
  add_(exp_avg, g, 1 - h.beta1);
  mul_(exp_avg_sq, h.beta2);
  add_(exp_avg_sq, mul(g, g), 1 - h.beta2);
  Tensor second = exp_avg_sq;
  if (h.amsgrad) {
    copy_(max_exp_avg_sq, maximum(max_exp_avg_sq, exp_avg_sq));
    second = max_exp_avg_sq;
  }
  Tensor denom = add(div(sqrt(second), (double)s.bc2_sqrt), h.eps);
  add_(param, div(exp_avg, denom), -(double)s.step_size);
}

// ---- RMSprop ------------------------------------------------------------------------------

struct RmspropArgs {
  float* p;
  const float* g;
  float *square_avg, *grad_avg, *buf;
  float sign, alpha, one_minus_alpha, weight_decay, eps, momentum, neg_lr;
};

template <bool Decay, bool Centered, bool Momentum>
struct RmspropLoop {
  static void run(const RmspropArgs& a, int64_t begin, int64_t end) {
    float* __restrict p = a.p;
    const float* __restrict g = a.g;
    float* __restrict sq = a.square_avg;
    float* __restrict ga = a.grad_avg;
    float* __restrict buf = a.buf;
    const float sign = a.sign, alpha = a.alpha, keep = a.one_minus_alpha, wd = a.weight_decay, eps = a.eps;
    const float mom = a.momentum, neg_lr = a.neg_lr;
    for (int64_t i = begin; i < end; ++i) {
      const float pi = p[i];
      float gi = sign * g[i];
      if constexpr (Decay) gi = gi + wd * pi;
      const float si = sq[i] * alpha + keep * gi * gi;
      sq[i] = si;
      float avg;
      if constexpr (Centered) {
        const float gai = ga[i] * alpha + keep * gi;
        ga[i] = gai;
        avg = std::sqrt(si + -1.0f * gai * gai);
      } else {
        avg = std::sqrt(si);
      }
      avg = avg + eps;
      if constexpr (Momentum) {
        const float b = buf[i] * mom + gi / avg;
        buf[i] = b;
        p[i] = pi + neg_lr * b;
      } else {
        p[i] = pi + neg_lr * (gi / avg);
      }
    }
  }
};

void rmsprop_fused(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg, Tensor& momentum_buffer,
                   const RmspropHyper& h) {
  RmspropArgs a{.p = param.data<float>(),
                .g = grad.data<float>(),
                .square_avg = square_avg.data<float>(),
                .grad_avg = h.centered ? grad_avg.data<float>() : nullptr,
                .buf = h.momentum > 0 ? momentum_buffer.data<float>() : nullptr,
                .sign = h.maximize ? -1.0f : 1.0f,
                .alpha = (float)h.alpha,
                .one_minus_alpha = (float)(1 - h.alpha),
                .weight_decay = (float)h.weight_decay,
                .eps = (float)h.eps,
                .momentum = (float)h.momentum,
                .neg_lr = (float)-h.lr};
  run_loop<RmspropLoop>(param.numel(), h.weight_decay != 0, h.centered, h.momentum > 0, a);
}

void rmsprop_tensor_ops(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg,
                        Tensor& momentum_buffer, const RmspropHyper& h) {
  Tensor g = h.maximize ? neg(grad) : grad;
  if (h.weight_decay != 0) g = add(g, mul(param, h.weight_decay));
  mul_(square_avg, h.alpha);
  add_(square_avg, mul(g, g), 1 - h.alpha);
  Tensor avg;
  if (h.centered) {
    mul_(grad_avg, h.alpha);
    add_(grad_avg, g, 1 - h.alpha);
    avg = sqrt(sub(square_avg, mul(grad_avg, grad_avg)));
  } else {
    avg = sqrt(square_avg);
  }
  avg = add(avg, h.eps);
  if (h.momentum > 0) {
    mul_(momentum_buffer, h.momentum);
    add_(momentum_buffer, div(g, avg));
    add_(param, momentum_buffer, -h.lr);
  } else {
    add_(param, div(g, avg), -h.lr);
  }
}

}  // namespace

void sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& h, UpdateKernel kernel) {
  if (use_fused_cpu_loop(param, kernel)) return sgd_fused(param, grad, momentum_buffer, h);
  std::vector<Tensor> params{param};
  if (FusedUpdateKernels* k = device_kernels(params, kernel)) {
    std::vector<Tensor> bufs{momentum_buffer};
    k->sgd(params, {grad}, bufs, h);
    momentum_buffer = bufs[0];  // created on the first step with momentum
    return;
  }
  sgd_tensor_ops(param, grad, momentum_buffer, h);
}

void adam_update(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                 const AdamHyper& h, UpdateKernel kernel) {
  if (use_fused_cpu_loop(param, kernel)) return adam_fused(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, h);
  std::vector<Tensor> params{param};
  if (FusedUpdateKernels* k = device_kernels(params, kernel)) {
    std::vector<Tensor> m{exp_avg}, v{exp_avg_sq}, vmax{max_exp_avg_sq};
    return k->adam(params, {grad}, m, v, vmax, {h.step}, h);
  }
  adam_tensor_ops(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, h);
}

void rmsprop_update(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg, Tensor& momentum_buffer,
                    const RmspropHyper& h, UpdateKernel kernel) {
  if (use_fused_cpu_loop(param, kernel)) return rmsprop_fused(param, grad, square_avg, grad_avg, momentum_buffer, h);
  std::vector<Tensor> params{param};
  if (FusedUpdateKernels* k = device_kernels(params, kernel)) {
    std::vector<Tensor> sq{square_avg}, ga{grad_avg}, buf{momentum_buffer};
    return k->rmsprop(params, {grad}, sq, ga, buf, h);
  }
  rmsprop_tensor_ops(param, grad, square_avg, grad_avg, momentum_buffer, h);
}

// ---- Whole groups --------------------------------------------------------------------
// On a device with multi-tensor kernels a group is one launch per 32 tensors (Note
// [Multi-tensor launches] in engine/backends/cuda/optimizer_updates.h).

void sgd_update_group(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                      std::vector<Tensor>& momentum_buffers, const SgdHyper& h, UpdateKernel kernel) {
  if (FusedUpdateKernels* k = device_kernels(params, kernel)) return k->sgd(params, grads, momentum_buffers, h);
  for (size_t i = 0; i < params.size(); ++i) sgd_update(params[i], grads[i], momentum_buffers[i], h, kernel);
}

void adam_update_group(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
                       std::vector<Tensor>& exp_avg_sqs, std::vector<Tensor>& max_exp_avg_sqs,
                       const std::vector<int64_t>& steps, const AdamHyper& h, UpdateKernel kernel) {
  if (FusedUpdateKernels* k = device_kernels(params, kernel))
    return k->adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, h);
  for (size_t i = 0; i < params.size(); ++i) {
    AdamHyper hi = h;
    hi.step = steps[i];
    adam_update(params[i], grads[i], exp_avgs[i], exp_avg_sqs[i], max_exp_avg_sqs[i], hi, kernel);
  }
}

void adam_update_group_device_steps(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                                    std::vector<Tensor>& exp_avgs, std::vector<Tensor>& exp_avg_sqs,
                                    std::vector<Tensor>& max_exp_avg_sqs, Tensor& device_steps, const AdamHyper& h) {
  if (FusedUpdateKernels* k = device_kernels(params, UpdateKernel::Auto))
    return k->adam_device_steps(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, device_steps, h);
  fail(h.decoupled_weight_decay ? "AdamW" : "Adam",
       ": step counts on the device need all parameters of a group on one device with fused optimiser kernels (a GPU)");
}

void rmsprop_update_group(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                          std::vector<Tensor>& square_avgs, std::vector<Tensor>& grad_avgs,
                          std::vector<Tensor>& momentum_buffers, const RmspropHyper& h, UpdateKernel kernel) {
  if (FusedUpdateKernels* k = device_kernels(params, kernel))
    return k->rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffers, h);
  for (size_t i = 0; i < params.size(); ++i)
    rmsprop_update(params[i], grads[i], square_avgs[i], grad_avgs[i], momentum_buffers[i], h, kernel);
}

}  // namespace nl::optim
