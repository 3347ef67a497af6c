// Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay), with
// optional AMSGrad, as torch.optim.Adam / torch.optim.AdamW (PyTorch 1.13):
//   g = grad (+ weight_decay · param for Adam);  AdamW first does param ·= 1 − lr · weight_decay
//   m = beta1 · m + (1 − beta1) · g;   v = beta2 · v + (1 − beta2) · g²   (v_max = max(v_max, v))
//   param −= lr / (1 − beta1^t) · m / (sqrt(v or v_max) / sqrt(1 − beta2^t) + eps)
//
//   nl::optim::AdamW opt(params, {.lr = 3e-4, .weight_decay = 0.05});
#pragma once
#include <vector>

#include "engine/optim/optimizer.h"

namespace nl::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;
};

// AdamW's options differ from Adam's only in the default weight decay (PyTorch's 1e-2).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
};

class Adam final : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  void add_param_group(std::vector<Tensor> params, const AdamOptions& options);
  // The bias corrections (1 - beta^step) change every step: a captured step reads the step
  // counts from the device (prepare_replay puts them there), so it replays on CUDA only.
  std::string replay_blocker() const override;
  void prepare_replay() override;

 protected:
  void check_hyper_parameters(const ParamGroup& group, size_t index) const override;
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_group(const ParamGroup& group, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const std::vector<ParamState*>& states) override;

 private:
  std::map<size_t, Tensor> device_steps_;  // per group, for captured steps (prepare_replay)
};

class AdamW final : public Optimizer {
 public:
  explicit AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
  void add_param_group(std::vector<Tensor> params, const AdamWOptions& options);
  // The bias corrections (1 - beta^step) change every step: a captured step reads the step
  // counts from the device (prepare_replay puts them there), so it replays on CUDA only.
  std::string replay_blocker() const override;
  void prepare_replay() override;

 protected:
  void check_hyper_parameters(const ParamGroup& group, size_t index) const override;
  void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) override;
  void update_group(const ParamGroup& group, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                    const std::vector<ParamState*>& states) override;

 private:
  std::map<size_t, Tensor> device_steps_;  // per group, for captured steps (prepare_replay)
};

}  // namespace nl::optim
