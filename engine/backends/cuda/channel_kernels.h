// Small per-channel kernels around the cuDNN calls, for what cuDNN does not do the way the
// CPU backend does: the conv bias add (any floating dtype, float math), and the pieces of
// batch norm outside cuDNN's training path (eval statistics, eval input gradient,
// parameter gradients without an input gradient). Tensors are contiguous and on
// cuda:`device`; every launch goes on compute_stream(device). Implemented in
// channel_kernels.cu.
#pragma once
#include "engine/core/tensor.h"

namespace nl::cuda {

// out [N, C, *] += bias [C] broadcast over N and the trailing dims; out and bias share a
// floating dtype; the sum is formed in float (double for float64).
void add_channel_bias(const Tensor& bias, Tensor& out, int device, const char* op);

// Fills a float32 tensor with `value`.
void fill_float(Tensor& t, float value, int device, const char* op);

// Eval-mode batch norm statistics (float32 [C]): save_mean = running_mean,
// save_invstd = 1 / sqrt(running_var + eps), computed in double as on the CPU.
void batch_norm_eval_stats(const Tensor& running_mean, const Tensor& running_var, double eps, Tensor& save_mean,
                           Tensor& save_invstd, int device);

// Parameter gradients of batch norm (float32): per channel c of x [N, C, *],
// grad_weight[c] = sum(g · (x - mean[c])) · invstd[c] and grad_bias[c] = sum(g), each
// written only when defined. Sums are kept in double.
void batch_norm_param_grads(const Tensor& grad_out, const Tensor& x, const Tensor& save_mean,
                            const Tensor& save_invstd, Tensor& grad_weight, Tensor& grad_bias, int device);

// Input gradient of eval-mode batch norm (statistics are constants):
// grad_x = weight[c] · invstd[c] · grad_out (weight 1 when undefined).
void batch_norm_eval_backward_input(const Tensor& grad_out, const Tensor& weight, const Tensor& save_invstd,
                                    Tensor& grad_x, int device);

}  // namespace nl::cuda
