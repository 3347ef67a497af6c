// Loss functions built from ops (see losses.h).
#include "engine/nn/losses.h"

#include "engine/core/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/indexing.h"
#include "engine/ops/reduce.h"

namespace nl::nn::functional {
namespace {

Tensor reduce(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
  }
  fail("loss: unknown reduction");
}

void check_same_shape(const char* loss, const Tensor& input, const Tensor& target) {
  NL_CHECK(input.shape() == target.shape(), loss, ": input ", input.shape().str(), " and target ",
           target.shape().str(), " must have the same shape");
}

}  // namespace

Tensor nll_loss(const Tensor& log_probs, const Tensor& target, const Tensor& weight, Reduction reduction,
                int64_t ignore_index) {
  NL_CHECK(log_probs.dim() >= 2, "nll_loss: log_probs must be [N, C, ...], got ", log_probs.shape().str());
  NL_CHECK(target.dtype() == DType::Int64, "nll_loss: target must be int64, got ", dtype_name(target.dtype()));
  Shape expected = log_probs.shape();
  expected.erase(1);
  NL_CHECK(target.shape() == expected, "nll_loss: target ", target.shape().str(), " does not match log_probs ",
           log_probs.shape().str(), " (expected ", expected.str(), ")");
  Tensor kept = ne(target, full_like(target, (double)ignore_index));
  // Ignored targets may hold any value (-100): point them at class 0, then mask them out.
  Tensor safe_target = where(kept, target, zeros_like(target));
  Tensor picked = gather(log_probs, 1, safe_target.unsqueeze(1)).squeeze(1);
  Tensor w = kept.to(log_probs.dtype());
  if (weight.defined()) {
    NL_CHECK(weight.dim() == 1 && weight.size(0) == log_probs.size(1), "nll_loss: weight must be [",
             log_probs.size(1), "], got ", weight.shape().str());
    w = w * index_select(weight, 0, safe_target.flatten()).reshape(target.shape());
  }
  Tensor loss = neg(picked) * w;
  if (reduction == Reduction::Mean) return sum(loss) / sum(w);
  return reduce(loss, reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_shape("mse_loss", input, target);
  return reduce(square(input - target), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  check_same_shape("l1_loss", input, target);
  return reduce(abs(input - target), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
  check_same_shape("smooth_l1_loss", input, target);
  NL_CHECK(beta >= 0, "smooth_l1_loss: beta must be >= 0, got ", beta);
  if (beta == 0) return l1_loss(input, target, reduction);
  Tensor d = abs(input - target);
  return reduce(where(lt(d, full_like(d, beta)), square(d) * (0.5 / beta), d - 0.5 * beta), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
  check_same_shape("huber_loss", input, target);
  NL_CHECK(delta > 0, "huber_loss: delta must be > 0, got ", delta);
  Tensor d = abs(input - target);
  return reduce(where(lt(d, full_like(d, delta)), square(d) * 0.5, (d - 0.5 * delta) * delta), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& y, const Tensor& weight, Reduction reduction,
                                        const Tensor& pos_weight) {
  check_same_shape("binary_cross_entropy_with_logits", x, y);
  Tensor log_weight = pos_weight.defined() ? (pos_weight - 1.0) * y + 1.0 : Tensor();
  Tensor softplus_neg = softplus(neg(x));  // -log σ(x)
  Tensor loss = (1.0 - y) * x + (log_weight.defined() ? log_weight * softplus_neg : softplus_neg);
  if (weight.defined()) loss = loss * weight;
  return reduce(loss, reduction);
}

}  // namespace nl::nn::functional
