// Loss functions (nl::nn::functional) composed from differentiable ops, so their gradients
// come from autograd. Semantics and argument order follow torch.nn.functional; each takes
// a Reduction (none / mean / sum). cross_entropy itself is the fused op in engine/ops/loss.h.
#pragma once
#include "engine/core/tensor.h"
#include "engine/ops/loss.h"

namespace nl::nn::functional {

using nl::cross_entropy;
using nl::Reduction;

// log_probs [N, C] or [N, C, d...], target int64 [N] or [N, d...]. weight: optional [C]
// per-class weights. Mean divides by the summed weights of the targets not ignored.
Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight = Tensor(),
                Reduction reduction = Reduction::Mean, int64_t ignore_index = -100);
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
// 0.5 d² / beta where |d| < beta, else |d| - 0.5 beta; beta = 0 is l1_loss.
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                      double beta = 1.0);
// 0.5 d² where |d| < delta, else delta (|d| - 0.5 delta).
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                  double delta = 1.0);
// -[pos_weight y log σ(x) + (1 - y) log(1 - σ(x))], computed as (1 - y) x + lw softplus(-x)
// with lw = 1 + (pos_weight - 1) y, which never takes the log of a rounded-off 0.
// weight: optional elementwise weight (broadcast); pos_weight: optional, broadcast over the
// last (class) dimension.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                                        Reduction reduction = Reduction::Mean, const Tensor& pos_weight = Tensor());

}  // namespace nl::nn::functional
