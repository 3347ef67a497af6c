// Fused optimiser updates and gradient-clipping helpers on CUDA devices: each rule (SGD,
// Adam/AdamW, RMSprop) is one kernel making one pass over memory, with the formulas and
// the order of float operations of the CPU loops in engine/optim/update_kernels.cpp, so a
// step on cuda:0 gives the same bits as the same step on the CPU. Plain header: no CUDA
// types, callable from any C++ file of a CUDA build (NETLOOM_HAVE_CUDA).
//
//   // one parameter (what engine/optim/update_kernels.cpp calls):
//   nl::cuda::fused_sgd(param, grad, momentum_buffer, hyper);
//   // a whole parameter group in one launch per 32 tensors:
//   nl::cuda::fused_sgd_multi(params, grads, momentum_buffers, hyper);
//
// Note [Multi-tensor launches]: every function takes lists of tensors (the single-tensor
// forms are lists of one). The tensors are packed, up to 32 per launch, into a kernel
// argument holding their pointers and sizes; each block updates one fixed-size chunk of one
// tensor. A parameter group of small tensors thus costs one launch instead of one per
// parameter, as PyTorch's foreach/fused optimisers do. Results do not depend on how the
// tensors are packed: every element is updated independently.
//
// The tensors of an optimiser update must be float32, contiguous, on one CUDA device, and
// param/grad/buffers of one parameter the same shape (Optimizer::step has checked this;
// violations throw nl::Error before anything changes).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/optim/update_kernels.h"

namespace nl::cuda {

// ---- Optimiser rules ----------------------------------------------------------------------

// SGD (PyTorch 1.13's _single_tensor_sgd). An undefined momentum buffer (with momentum != 0)
// is allocated here and set to a copy of the update direction, PyTorch's first-step rule.
void fused_sgd(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const optim::SgdHyper& h);
void fused_sgd_multi(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                     std::vector<Tensor>& momentum_buffers, const optim::SgdHyper& h);

// Adam / AdamW (h.decoupled_weight_decay) with bias correction for h.step; max_exp_avg_sq is
// only read when h.amsgrad. The multi form takes each parameter's own step count (parameters
// of a group can have taken different numbers of steps); h.step is not read there.
void fused_adam(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                const optim::AdamHyper& h);
void fused_adam_multi(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
                      std::vector<Tensor>& exp_avg_sqs, std::vector<Tensor>& max_exp_avg_sqs,
                      const std::vector<int64_t>& steps, const optim::AdamHyper& h);

// Adam with the step counts in device memory, for steps captured in a CUDA graph: one
// Int64 count per parameter in `device_steps` (the count before this step), incremented on
// the device before the update reads it, so each replay uses the next step's bias
// correction. h.step is not read.
void fused_adam_multi_device_steps(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                                   std::vector<Tensor>& exp_avgs, std::vector<Tensor>& exp_avg_sqs,
                                   std::vector<Tensor>& max_exp_avg_sqs, Tensor& device_steps,
                                   const optim::AdamHyper& h);
// RMSprop: grad_avg is only read when h.centered, momentum_buffer only when h.momentum > 0.
void fused_rmsprop(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg, Tensor& momentum_buffer,
                   const optim::RmspropHyper& h);
void fused_rmsprop_multi(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                         std::vector<Tensor>& square_avgs, std::vector<Tensor>& grad_avgs,
                         std::vector<Tensor>& momentum_buffers, const optim::RmspropHyper& h);

// ---- Gradient clipping --------------------------------------------------------------------

// Σ|x|^p over all elements of all `tensors` (p = norm_type), or max |x| (NaN wins) when
// norm_type is infinite: per-block partial sums in double, combined on the device in a
// fixed order (deterministic), then ONE scalar copied back. The caller takes the p-th root.
// Tensors must be float32 and contiguous, on CUDA devices (one read back per device);
// empty tensors add nothing, and an empty list gives 0.
double power_sum(const std::vector<Tensor>& tensors, double norm_type);

// x *= (float)factor for every element (as mul_(x, factor)), one launch per 32 tensors of
// a device. Same tensor requirements as power_sum.
void scale_(std::vector<Tensor>& tensors, double factor);
// x = clamp(x, -(float)limit, (float)limit); NaN stays NaN (as torch.clamp_).
void clamp_abs_(std::vector<Tensor>& tensors, double limit);

}  // namespace nl::cuda
