// The per-parameter update rules of SGD, Adam/AdamW and RMSprop, each written once as a
// fused loop over contiguous float32 CPU data (one pass over memory instead of the five
// or six tensor ops PyTorch's single-tensor code runs) and once from in-place tensor ops,
// the portable path for other devices. A device backend's own multi-tensor kernels
// (Backend::fused_updates, engine/optim/fused_updates.h) slot in as one more branch in each
// dispatcher; the optimiser classes never see which path ran.
//
// The formulas are PyTorch 1.13's `_single_tensor_*` functions (torch/optim/sgd.py,
// adam.py, adamw.py, rmsprop.py), including their order of operations, so results agree
// to float rounding. Callers (Optimizer::step) have already checked that param, grad and
// buffers are contiguous float32 tensors of one shape on one device, and run under
// NoGradGuard.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"

namespace nl::optim {

// Which implementation runs an update. Auto: the fused loop on the CPU, the device's fused
// kernels where its backend has them, tensor ops elsewhere. TensorOps: always tensor ops (tests check that both paths agree).
enum class UpdateKernel { Auto, TensorOps };

struct SgdHyper {
  double lr = 0, weight_decay = 0, momentum = 0, dampening = 0;
  bool nesterov = false, maximize = false;
};
// `momentum_buffer` is undefined before the first step with momentum; it is then created as
// a copy of the update direction (not momentum × 0 + direction), as PyTorch does.
void sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const SgdHyper& h, UpdateKernel kernel);

struct AdamHyper {
  double lr = 0, beta1 = 0, beta2 = 0, eps = 0, weight_decay = 0;
  bool amsgrad = false;
  bool decoupled_weight_decay = false;  // AdamW: shrink the parameter instead of adding L2 to the gradient
  bool maximize = false;
  int64_t step = 1;  // this update's step number, counted from 1, for bias correction
};
// `max_exp_avg_sq` is only read when amsgrad is set.
void adam_update(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                 const AdamHyper& h, UpdateKernel kernel);

struct RmspropHyper {
  double lr = 0, alpha = 0, eps = 0, weight_decay = 0, momentum = 0;
  bool centered = false, maximize = false;
};
// `grad_avg` is only read when centered, `momentum_buffer` only when momentum > 0.
void rmsprop_update(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg, Tensor& momentum_buffer,
                    const RmspropHyper& h, UpdateKernel kernel);

// Whole parameter groups (one hyper-parameter set): on one device with fused kernels (a GPU)
// one launch per 32 tensors, elsewhere the single-tensor forms in a loop. Vectors run in parallel (entry i
// of each belongs to params[i]); Adam takes each parameter's own step count.
void sgd_update_group(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                      std::vector<Tensor>& momentum_buffers, const SgdHyper& h, UpdateKernel kernel);
void adam_update_group(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
                       std::vector<Tensor>& exp_avg_sqs, std::vector<Tensor>& max_exp_avg_sqs,
                       const std::vector<int64_t>& steps, const AdamHyper& h, UpdateKernel kernel);
// Adam for a captured step (CUDA graphs): `device_steps` holds each parameter's step count
// on its CUDA device and is incremented there, so every replay corrects for its own step.
void adam_update_group_device_steps(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                                    std::vector<Tensor>& exp_avgs, std::vector<Tensor>& exp_avg_sqs,
                                    std::vector<Tensor>& max_exp_avg_sqs, Tensor& device_steps, const AdamHyper& h);
void rmsprop_update_group(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                          std::vector<Tensor>& square_avgs, std::vector<Tensor>& grad_avgs,
                          std::vector<Tensor>& momentum_buffers, const RmspropHyper& h, UpdateKernel kernel);

}  // namespace nl::optim
