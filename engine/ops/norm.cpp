// Batch normalisation and layer normalisation: argument checks, output allocation, the
// backend's fused forward kernel, and a backward rule that calls the fused backward kernel.
#include "engine/ops/norm.h"

#include "engine/ops/elementwise.h"
#include "engine/ops/op_utils.h"

namespace nl {
namespace {

// A per-channel (or per-feature) parameter: undefined, or Float32 of `shape` on `device`.
void check_param(const char* op, const char* what, const Tensor& t, const Shape& shape, Device device) {
  if (!t.defined()) return;
  NL_CHECK(t.dtype() == DType::Float32, op, ": ", what, " must be float32, got ", dtype_name(t.dtype()));
  NL_CHECK(t.shape() == shape, op, ": ", what, " has shape ", t.shape().str(), " but ", shape.str(),
           " was expected");
  NL_CHECK(t.device() == device, op, ": ", what, " is on ", t.device().str(), " but the input is on ",
           device.str());
}

Tensor contiguous_or_undefined(const Tensor& t) { return t.defined() ? t.contiguous() : Tensor(); }

bool wants_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }

// Batch norm, followed by ReLU when `relu` (fused into one kernel on the CPU).
Tensor batch_norm_impl(const Tensor& x_in, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, bool training, double momentum, double eps, bool relu) {
  detail::check_defined("batch_norm", x_in, "input");
  NL_CHECK(x_in.dtype() == DType::Float32, "batch_norm: input must be float32, got ", dtype_name(x_in.dtype()));
  NL_CHECK(x_in.dim() >= 2, "batch_norm: input must be [N, C, *] with at least 2 dimensions, got shape ",
           x_in.shape().str());
  const int64_t channels = x_in.size(1);
  const Shape channel_shape{channels};
  const Device device = x_in.device();
  check_param("batch_norm", "weight", weight, channel_shape, device);
  check_param("batch_norm", "bias", bias, channel_shape, device);
  check_param("batch_norm", "running_mean", running_mean, channel_shape, device);
  check_param("batch_norm", "running_var", running_var, channel_shape, device);
  NL_CHECK(running_mean.defined() == running_var.defined(),
           "batch_norm: running_mean and running_var must be given together");
  NL_CHECK(training || running_mean.defined(),
           "batch_norm: evaluation mode needs running_mean and running_var (or use training = true)");
  NL_CHECK(eps >= 0, "batch_norm: eps must be non-negative, got ", eps);
  const int64_t per_channel = channels ? x_in.numel() / channels : 0;
  NL_CHECK(!training || per_channel > 1, "batch_norm: training needs more than one value per channel, got input shape ",
           x_in.shape().str());

  const bool grad = needs_grad({&x_in, &weight, &bias});
  const bool grad_x = x_in.requires_grad(), grad_w = wants_grad(weight), grad_b = wants_grad(bias);
  NoGradGuard no_grad;  // the preparation copies below are not part of the graph
  Tensor x = x_in.contiguous();
  Tensor w = contiguous_or_undefined(weight);
  Tensor b = contiguous_or_undefined(bias);
  // The kernel updates running stats in place; a strided one is updated through a copy.
  Tensor rm = contiguous_or_undefined(running_mean);
  Tensor rv = contiguous_or_undefined(running_var);

  Backend& be = backend_for(device);
  Tensor out = Tensor::empty(x.shape(), DType::Float32, device);
  Tensor save_mean = Tensor::empty(channel_shape, DType::Float32, device);
  Tensor save_invstd = Tensor::empty(channel_shape, DType::Float32, device);
  if (relu) be.batch_norm_relu(x, w, b, rm, rv, training, momentum, eps, out, save_mean, save_invstd);
  else be.batch_norm(x, w, b, rm, rv, training, momentum, eps, out, save_mean, save_invstd);
  if (training && rm.defined()) {
    if (!rm.same(running_mean)) be.copy(rm, running_mean);
    if (!rv.same(running_var)) be.copy(rv, running_var);
  }

  if (grad) {
    record(relu ? "batch_norm_relu" : "batch_norm", out, {&x_in, &weight, &bias},
           [x, w, b, save_mean, save_invstd, training, eps, grad_x, grad_w, grad_b, device, relu](const Tensor& g) {
             Backend& be = backend_for(device);
             Tensor gx = grad_x ? Tensor::empty(x.shape(), DType::Float32, device) : Tensor();
             Tensor gw = grad_w ? Tensor::empty(save_mean.shape(), DType::Float32, device) : Tensor();
             Tensor gb = grad_b ? Tensor::empty(save_mean.shape(), DType::Float32, device) : Tensor();
             if (relu)
               be.batch_norm_relu_backward(g.contiguous(), x, w, b, save_mean, save_invstd, training, gx, gw, gb);
             else
               be.batch_norm_backward(g.contiguous(), x, w, save_mean, save_invstd, training, eps, gx, gw, gb);
             return std::vector<Tensor>{gx, gw, gb};
           });
  }
  return out;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean, Tensor running_var,
                  bool training, double momentum, double eps) {
  return batch_norm_impl(x, weight, bias, std::move(running_mean), std::move(running_var), training, momentum, eps,
                         false);
}

Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, bool training, double momentum, double eps) {
  // One kernel where the backend has it (the CPU); elsewhere the two ops.
  if (!x.defined() || !backend_for(x.device()).fuses_batch_norm_relu())
    return relu(batch_norm(x, weight, bias, std::move(running_mean), std::move(running_var), training, momentum, eps));
  return batch_norm_impl(x, weight, bias, std::move(running_mean), std::move(running_var), training, momentum, eps,
                         true);
}

Tensor layer_norm(const Tensor& x_in, const std::vector<int64_t>& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  detail::check_defined("layer_norm", x_in, "input");
  NL_CHECK(x_in.dtype() == DType::Float32, "layer_norm: input must be float32, got ", dtype_name(x_in.dtype()));
  const Shape norm_shape(normalized_shape);
  const int k = norm_shape.size();
  NL_CHECK(k >= 1, "layer_norm: normalized_shape must name at least one dimension");
  bool trailing = k <= x_in.dim();
  for (int i = 0; trailing && i < k; ++i) trailing = x_in.size(x_in.dim() - k + i) == norm_shape[i];
  NL_CHECK(trailing, "layer_norm: normalized_shape ", norm_shape.str(), " does not match the trailing dimensions of ",
           "input shape ", x_in.shape().str());
  const Device device = x_in.device();
  check_param("layer_norm", "weight", weight, norm_shape, device);
  check_param("layer_norm", "bias", bias, norm_shape, device);
  NL_CHECK(eps >= 0, "layer_norm: eps must be non-negative, got ", eps);
  const int64_t normalized_numel = norm_shape.numel();
  const int64_t rows = normalized_numel ? x_in.numel() / normalized_numel : 0;

  const bool grad = needs_grad({&x_in, &weight, &bias});
  const bool grad_x = x_in.requires_grad(), grad_w = wants_grad(weight), grad_b = wants_grad(bias);
  NoGradGuard no_grad;
  Tensor x = x_in.contiguous();
  Tensor w = contiguous_or_undefined(weight);
  Tensor b = contiguous_or_undefined(bias);

  Backend& be = backend_for(device);
  Tensor out = Tensor::empty(x.shape(), DType::Float32, device);
  Tensor mean = Tensor::empty({rows}, DType::Float32, device);
  Tensor rstd = Tensor::empty({rows}, DType::Float32, device);
  be.layer_norm(x, w, b, normalized_numel, eps, out, mean, rstd);

  if (grad) {
    record("layer_norm", out, {&x_in, &weight, &bias},
           [x, w, mean, rstd, norm_shape, grad_x, grad_w, grad_b, device](const Tensor& g) {
             Backend& be = backend_for(device);
             const int64_t normalized_numel = norm_shape.numel();
             Tensor gx = grad_x ? Tensor::empty(x.shape(), DType::Float32, device) : Tensor();
             Tensor gw = grad_w ? Tensor::empty(norm_shape, DType::Float32, device) : Tensor();
             Tensor gb = grad_b ? Tensor::empty(norm_shape, DType::Float32, device) : Tensor();
             be.layer_norm_backward(g.contiguous(), x, w, mean, rstd, normalized_numel, gx, gw, gb);
             return std::vector<Tensor>{gx, gw, gb};
           });
  }
  return out;
}

}  // namespace nl
