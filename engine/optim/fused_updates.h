// The optimiser and gradient-clipping kernels a device backend may offer: multi-tensor
// launches that update or reduce a whole list of parameters at once (the CUDA backend's
// engine/backends/cuda/optimizer_updates.h). A backend offers them through
// Backend::fused_updates(); engine/optim/update_kernels.cpp and clip_grad.cpp call them for
// tensors on that backend's device and run portable tensor ops when it offers none, so
// optimiser code never names a device type.
//
//   if (optim::FusedUpdateKernels* k = backend_for(p.device()).fused_updates())
//     k->sgd(params, grads, momentum_buffers, hyper);
//
// Every tensor passed is float32, contiguous and on the backend's device, and the lists run
// in parallel (entry i of each belongs to params[i]); the callers check this.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/optim/update_kernels.h"

namespace nl::optim {

class FusedUpdateKernels {
 public:
  virtual ~FusedUpdateKernels() = default;

  // The rules of update_kernels.h over whole lists. An undefined momentum buffer (SGD with
  // momentum) is created as a copy of the update direction; Adam takes each parameter's own
  // step count from `steps` and does not read h.step.
  virtual void sgd(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                   std::vector<Tensor>& momentum_buffers, const SgdHyper& h) = 0;
  virtual void adam(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
                    std::vector<Tensor>& exp_avg_sqs, std::vector<Tensor>& max_exp_avg_sqs,
                    const std::vector<int64_t>& steps, const AdamHyper& h) = 0;
  // Adam with the step counts (Int64, one per parameter) in device memory, incremented there
  // before use, so a captured step replays with the next step's bias correction.
  virtual void adam_device_steps(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                                 std::vector<Tensor>& exp_avgs, std::vector<Tensor>& exp_avg_sqs,
                                 std::vector<Tensor>& max_exp_avg_sqs, Tensor& device_steps,
                                 const AdamHyper& h) = 0;
  virtual void rmsprop(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                       std::vector<Tensor>& square_avgs, std::vector<Tensor>& grad_avgs,
                       std::vector<Tensor>& momentum_buffers, const RmspropHyper& h) = 0;

  // Σ|x|^p over every element of every tensor (max |x|, NaN winning, when p is infinite),
  // reduced on the device and read back once.
  virtual double power_sum(const std::vector<Tensor>& tensors, double norm_type) = 0;
  // x *= (float)factor, and x = clamp(x, -limit, limit) with NaN kept, for every tensor.
  virtual void scale_(std::vector<Tensor>& tensors, double factor) = 0;
  virtual void clamp_abs_(std::vector<Tensor>& tensors, double limit) = 0;
};

}  // namespace nl::optim
