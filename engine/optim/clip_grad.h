// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_: called between
// backward() and the optimiser step, they rescale or clamp the parameters' .grad in place.
//
//   loss.backward();
//   double norm = nl::optim::clip_grad_norm_(params, 1.0);   // the norm before clipping
//   opt.step();
#pragma once
#include <limits>
#include <vector>

#include "engine/core/tensor.h"

namespace nl::optim {

inline constexpr double kInfNorm = std::numeric_limits<double>::infinity();

// Total `norm_type`-norm of all gradients together (as if concatenated; parameters without
// a gradient are skipped), computed in double. When it exceeds max_norm every gradient is
// multiplied by max_norm / (total + 1e-6), PyTorch's coefficient; a non-finite total makes
// the gradients non-finite too, as in PyTorch, unless error_if_nonfinite asks for an error.
// norm_type: any p > 0, or kInfNorm for the largest absolute value. Returns the total.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace nl::optim
