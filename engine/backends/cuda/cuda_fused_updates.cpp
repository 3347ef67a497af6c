// CudaBackend::fused_updates(): the multi-tensor optimiser and clipping kernels of
// optimizer_updates.h behind the engine's optim::FusedUpdateKernels interface, so that
// engine/optim/ reaches them through the Backend without naming CUDA.
#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/optimizer_updates.h"
#include "engine/optim/fused_updates.h"

namespace nl::cuda {
namespace {

class CudaFusedUpdates final : public optim::FusedUpdateKernels {
 public:
  void sgd(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& momentum_buffers,
           const optim::SgdHyper& h) override {
    fused_sgd_multi(params, grads, momentum_buffers, h);
  }
  void adam(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
            std::vector<Tensor>& exp_avg_sqs, std::vector<Tensor>& max_exp_avg_sqs, const std::vector<int64_t>& steps,
            const optim::AdamHyper& h) override {
    fused_adam_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, h);
  }
  void adam_device_steps(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
                         std::vector<Tensor>& exp_avg_sqs, std::vector<Tensor>& max_exp_avg_sqs, Tensor& device_steps,
                         const optim::AdamHyper& h) override {
    fused_adam_multi_device_steps(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, device_steps, h);
  }
  void rmsprop(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& square_avgs,
               std::vector<Tensor>& grad_avgs, std::vector<Tensor>& momentum_buffers,
               const optim::RmspropHyper& h) override {
    fused_rmsprop_multi(params, grads, square_avgs, grad_avgs, momentum_buffers, h);
  }
  double power_sum(const std::vector<Tensor>& tensors, double norm_type) override {
    return cuda::power_sum(tensors, norm_type);
  }
  void scale_(std::vector<Tensor>& tensors, double factor) override { cuda::scale_(tensors, factor); }
  void clamp_abs_(std::vector<Tensor>& tensors, double limit) override { cuda::clamp_abs_(tensors, limit); }
};

}  // namespace

// One instance serves every device: the kernels run on the device of the tensors passed.
optim::FusedUpdateKernels* CudaBackend::fused_updates() {
  static CudaFusedUpdates kernels;
  return &kernels;
}

}  // namespace nl::cuda
