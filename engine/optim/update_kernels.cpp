// Fused CPU loops and tensor-op versions of the optimiser update rules (see the header).
//
// Note [Float arithmetic in the fused loops]: PyTorch evaluates each step in float32 with
// its Python scalars (1 - beta1, lr / bias_correction1, …) computed in double and rounded to
// float when they meet a float tensor. The loops below do the same, one float operation per
// PyTorch op, in PyTorch's order, so the two agree to a few ulps per step rather than
// drifting apart the way a double-precision update would.
#include "engine/optim/update_kernels.h"

#include <cmath>

#include "engine/backends/cpu/strided_loop.h"
#include "engine/ops/elementwise.h"

namespace nl::optim {
namespace {

bool use_fused_cpu_loop(const Tensor& param, UpdateKernel kernel) {
  return kernel == UpdateKernel::Auto && param.device().is_cpu();
}

// Runs body(begin, end) over [0, n), split across threads when n is large. Each element is
// updated independently, so results do not depend on the thread count.
template <class Body>
void for_range(int64_t n, Body&& body) {
  cpu::parallel_for(n, cpu::kParallelThreshold, body);
}

// ---- SGD ----------------------------------------------------------------------------------

void sgd_fused(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& h) {
  const bool first = h.momentum != 0 && !momentum_buffer.defined();
  if (first) momentum_buffer = Tensor::empty(param.shape(), param.dtype(), param.device());
  float* p = param.data<float>();
  const float* g = grad.data<float>();
  float* buf = h.momentum != 0 ? momentum_buffer.data<float>() : nullptr;
  const float wd = (float)h.weight_decay, mom = (float)h.momentum, keep = (float)(1 - h.dampening);
  const float neg_lr = (float)-h.lr;
  const bool nesterov = h.nesterov, maximize = h.maximize, decay = h.weight_decay != 0;
  for_range(param.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float d = maximize ? -g[i] : g[i];
      if (decay) d = d + wd * p[i];
      if (buf) {
        float b = first ? d : buf[i] * mom + keep * d;
        buf[i] = b;
        d = nesterov ? d + mom * b : b;
      }
      p[i] = p[i] + neg_lr * d;
    }
  });
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

void adam_fused(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                const AdamHyper& h) {
  const AdamScalars s = adam_scalars(h);
  float* p = param.data<float>();
  const float* g = grad.data<float>();
  float* m = exp_avg.data<float>();
  float* v = exp_avg_sq.data<float>();
  float* vmax = h.amsgrad ? max_exp_avg_sq.data<float>() : nullptr;
  const float b1 = (float)h.beta1, b2 = (float)h.beta2, c1 = (float)(1 - h.beta1), c2 = (float)(1 - h.beta2);
  const float wd = (float)h.weight_decay, eps = (float)h.eps, neg_step = -s.step_size;
  const bool l2 = !h.decoupled_weight_decay && h.weight_decay != 0;
  const bool decoupled = h.decoupled_weight_decay && h.weight_decay != 0;
  const bool maximize = h.maximize;
  for_range(param.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float gi = maximize ? -g[i] : g[i];
      if (decoupled) p[i] = p[i] * s.shrink;
      if (l2) gi = gi + wd * p[i];
      m[i] = m[i] * b1 + c1 * gi;
      v[i] = v[i] * b2 + c2 * gi * gi;
      float second = v[i];
      if (vmax) {
        // torch.maximum: NaN in either operand gives NaN (std::fmax would drop it).
        vmax[i] = (vmax[i] > v[i] || vmax[i] != vmax[i]) ? vmax[i] : v[i];
        second = vmax[i];
      }
      float denom = std::sqrt(second) / s.bc2_sqrt + eps;
      p[i] = p[i] + neg_step * (m[i] / denom);
    }
  });
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

void rmsprop_fused(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg, Tensor& momentum_buffer,
                   const RmspropHyper& h) {
  float* p = param.data<float>();
  const float* g = grad.data<float>();
  float* sq = square_avg.data<float>();
  float* ga = h.centered ? grad_avg.data<float>() : nullptr;
  float* buf = h.momentum > 0 ? momentum_buffer.data<float>() : nullptr;
  const float alpha = (float)h.alpha, keep = (float)(1 - h.alpha), wd = (float)h.weight_decay;
  const float eps = (float)h.eps, mom = (float)h.momentum, neg_lr = (float)-h.lr;
  const bool maximize = h.maximize, decay = h.weight_decay != 0;
  for_range(param.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float gi = maximize ? -g[i] : g[i];
      if (decay) gi = gi + wd * p[i];
      sq[i] = sq[i] * alpha + keep * gi * gi;
      float avg;
      if (ga) {
        ga[i] = ga[i] * alpha + keep * gi;
        avg = std::sqrt(sq[i] + -1.0f * ga[i] * ga[i]);
      } else {
        avg = std::sqrt(sq[i]);
      }
      avg = avg + eps;
      if (buf) {
        buf[i] = buf[i] * mom + gi / avg;
        p[i] = p[i] + neg_lr * buf[i];
      } else {
        p[i] = p[i] + neg_lr * (gi / avg);
      }
    }
  });
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
  if (use_fused_cpu_loop(param, kernel)) sgd_fused(param, grad, momentum_buffer, h);
  else sgd_tensor_ops(param, grad, momentum_buffer, h);
}

void adam_update(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                 const AdamHyper& h, UpdateKernel kernel) {
  if (use_fused_cpu_loop(param, kernel)) adam_fused(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, h);
  else adam_tensor_ops(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, h);
}

void rmsprop_update(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg, Tensor& momentum_buffer,
                    const RmspropHyper& h, UpdateKernel kernel) {
  if (use_fused_cpu_loop(param, kernel)) rmsprop_fused(param, grad, square_avg, grad_avg, momentum_buffer, h);
  else rmsprop_tensor_ops(param, grad, square_avg, grad_avg, momentum_buffer, h);
}

}  // namespace nl::optim
