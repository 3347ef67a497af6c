// Cross-entropy on logits, fused with log-softmax: [N, C, d1, ...] logits are laid out as
// rows of C classes, the backend computes per-row losses, and the reduction is applied here.
// The backward rule hands the backend one scale per row (the incoming gradient divided by
// the reduction's count) instead of going through a chain of reduction nodes.
#include "engine/ops/loss.h"

#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/op_utils.h"
#include "engine/ops/reduce.h"

namespace nl {

Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction, int64_t ignore_index,
                     double label_smoothing) {
  detail::check_defined("cross_entropy", logits, "logits");
  detail::check_defined("cross_entropy", target, "target");
  NL_CHECK(logits.dtype() == DType::Float32, "cross_entropy: logits must be float32, got ",
           dtype_name(logits.dtype()));
  NL_CHECK(target.dtype() == DType::Int64, "cross_entropy: target must be int64 class indices, got ",
           dtype_name(target.dtype()));
  NL_CHECK(logits.dim() >= 2, "cross_entropy: logits must be [N, C] or [N, C, d1, ...], got shape ",
           logits.shape().str());
  Shape expected_target = logits.shape();
  expected_target.erase(1);
  NL_CHECK(target.shape() == expected_target, "cross_entropy: target shape ", target.shape().str(),
           " does not match logits shape ", logits.shape().str(), " (expected ", expected_target.str(), ")");
  NL_CHECK(target.device() == logits.device(), "cross_entropy: target is on ", target.device().str(),
           " but logits are on ", logits.device().str());
  NL_CHECK(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy: label_smoothing must be in [0, 1], got ",
           label_smoothing);
  const int64_t classes = logits.size(1);
  NL_CHECK(classes > 0, "cross_entropy: logits have no classes (shape ", logits.shape().str(), ")");

  const bool grad = needs_grad({&logits});
  const Device device = logits.device();
  Backend& be = backend_for(device);
  NoGradGuard no_grad;

  // Classes last: [N, d1, ..., C] flattened to rows. `back` undoes the permutation.
  std::vector<int64_t> to_rows{0}, back{0, logits.dim() - 1};
  for (int d = 2; d < logits.dim(); ++d) to_rows.push_back(d);
  to_rows.push_back(1);
  for (int d = 1; d < logits.dim() - 1; ++d) back.push_back(d);
  Tensor rows_view = logits.dim() == 2 ? logits : logits.permute(to_rows);
  const Shape permuted_shape = rows_view.shape();
  const int64_t n = target.numel();
  Tensor flat = rows_view.reshape({n, classes}).contiguous();
  Tensor flat_target = target.reshape({n}).contiguous();

  Tensor losses = Tensor::empty({n}, DType::Float32, device);
  Tensor lse = Tensor::empty({n}, DType::Float32, device);
  be.cross_entropy(flat, flat_target, ignore_index, label_smoothing, losses, lse);

  // Mean divides by the targets that count; with all of them ignored that is 0/0 = NaN, as in PyTorch.
  // On a GPU the count stays a device tensor: reading it would make the host wait every step.
  int64_t counted = n;
  Tensor counted_on_device;
  if (reduction == Reduction::Mean) {
    if (device.is_cpu()) {
      counted = 0;
      for (int64_t t : flat_target.to_vector<int64_t>()) counted += t != ignore_index;
    } else {
      NoGradGuard ng;
      counted_on_device = sum(ne(flat_target, scalar_tensor(static_cast<double>(ignore_index),
                                                            {.dtype = DType::Int64, .device = device})))
                              .to(DType::Float32);
    }
  }
  Tensor out;
  switch (reduction) {
    case Reduction::None: out = losses.reshape(target.shape()); break;
    case Reduction::Sum: out = sum(losses); break;
    case Reduction::Mean:
      out = counted_on_device.defined() ? div(sum(losses), counted_on_device)
                                        : div(sum(losses), static_cast<double>(counted));
      break;
  }

  if (grad) {
    const int dims = logits.dim();
    record("cross_entropy", out, {&logits},
           [flat, flat_target, lse, reduction, counted, counted_on_device, ignore_index, label_smoothing, permuted_shape, back, dims,
            device](const Tensor& g) {
             const int64_t n = flat.size(0);
             Tensor scale;
             switch (reduction) {
               case Reduction::None: scale = g.reshape({n}).contiguous(); break;
               case Reduction::Sum: scale = g.reshape({1}).expand({n}).contiguous(); break;
               case Reduction::Mean:
                 scale = (counted_on_device.defined() ? div(g, counted_on_device) : div(g, static_cast<double>(counted)))
                             .reshape({1})
                             .expand({n})
                             .contiguous();
                 break;
             }
             Tensor grad_rows = Tensor::empty(flat.shape(), DType::Float32, device);
             backend_for(device).cross_entropy_backward(flat, flat_target, lse, scale, ignore_index, label_smoothing,
                                                        grad_rows);
             Tensor gl = dims == 2 ? grad_rows : grad_rows.reshape(permuted_shape).permute(back);
             return std::vector<Tensor>{gl};
           });
  }
  return out;
}

}  // namespace nl
