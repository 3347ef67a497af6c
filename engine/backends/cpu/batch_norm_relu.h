// Batch norm followed by ReLU as one kernel on the CPU: the forward pass writes relu(y)
// directly, and the backward pass masks the incoming gradient while it reads it, with y
// recomputed from x. Two passes over the activations fewer per layer pair than batch norm
// then ReLU (engine/ops/norm.h: batch_norm_relu). Same arguments as the Backend's
// batch_norm kernels; the backward pass also takes the bias (it shifts the mask).
#pragma once
#include "engine/core/tensor.h"

namespace nl::cpu {

void batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                     Tensor& running_var, bool training, double momentum, double eps, Tensor& out, Tensor& save_mean,
                     Tensor& save_invstd);
void batch_norm_relu_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const Tensor& save_mean, const Tensor& save_invstd, bool training, Tensor& grad_x,
                              Tensor& grad_weight, Tensor& grad_bias);

}  // namespace nl::cpu
