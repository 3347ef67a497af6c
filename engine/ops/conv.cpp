// The conv2d op: checks its arguments (naming the one that is wrong), runs the backend's
// kernel, and records the backward rule (input, weight and bias gradients).
#include "engine/ops/conv.h"

#include <string>

#include "engine/autograd/node.h"
#include "engine/core/autocast.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace nl {
namespace {

std::string pair_str(const int64_t (&v)[2]) { return "[" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + "]"; }

// The CPU kernels are float32 only; cuDNN runs every floating type, one dtype for all.
void check_dtype(const Tensor& t, const Tensor& x, const char* what) {
  if (!x.device().is_cuda()) {
    NL_CHECK(t.dtype() == DType::Float32, "conv2d: ", what, " must be float32, got ", dtype_name(t.dtype()));
    return;
  }
  NL_CHECK(is_floating(t.dtype()), "conv2d: ", what, " must be floating (float32, float64, float16 or bfloat16), got ",
           dtype_name(t.dtype()));
  NL_CHECK(t.dtype() == x.dtype(), "conv2d: ", what, " is ", dtype_name(t.dtype()), " but the input is ",
           dtype_name(x.dtype()));
}

// Checks everything conv2d needs of a 4-D input and returns the output shape.
Shape conv2d_output_shape(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p) {
  NL_CHECK(weight.defined(), "conv2d: weight is undefined");
  NL_CHECK(weight.dim() == 4, "conv2d: weight must be 4-D [out_channels, in_channels/groups, kH, kW], got ",
           weight.shape());
  check_dtype(x, x, "input");
  check_dtype(weight, x, "weight");
  NL_CHECK(weight.device() == x.device(), "conv2d: input is on ", x.device().str(), " but weight is on ",
           weight.device().str());

  NL_CHECK(p.groups >= 1, "conv2d: groups must be at least 1, got ", p.groups);
  NL_CHECK(p.stride[0] >= 1 && p.stride[1] >= 1, "conv2d: stride must be at least 1, got ", pair_str(p.stride));
  NL_CHECK(p.padding[0] >= 0 && p.padding[1] >= 0, "conv2d: padding must be non-negative, got ",
           pair_str(p.padding));
  NL_CHECK(p.dilation[0] >= 1 && p.dilation[1] >= 1, "conv2d: dilation must be at least 1, got ",
           pair_str(p.dilation));

  const int64_t channels = x.size(1), out_channels = weight.size(0);
  NL_CHECK(channels > 0, "conv2d: input ", x.shape(), " has no channels");
  NL_CHECK(out_channels > 0, "conv2d: weight ", weight.shape(), " has no output channels");
  NL_CHECK(weight.size(2) > 0 && weight.size(3) > 0, "conv2d: weight ", weight.shape(), " has an empty kernel");
  NL_CHECK(channels % p.groups == 0, "conv2d: input channels (", channels, " in input ", x.shape(),
           ") are not divisible by groups (", p.groups, ")");
  NL_CHECK(out_channels % p.groups == 0, "conv2d: output channels (", out_channels, " in weight ", weight.shape(),
           ") are not divisible by groups (", p.groups, ")");
  NL_CHECK(weight.size(1) * p.groups == channels, "conv2d: weight ", weight.shape(), " expects ", weight.size(1),
           " input channels per group (", weight.size(1) * p.groups, " in total with groups = ", p.groups,
           ") but input ", x.shape(), " has ", channels, " channels");

  if (bias.defined()) {
    check_dtype(bias, x, "bias");
    NL_CHECK(bias.device() == x.device(), "conv2d: input is on ", x.device().str(), " but bias is on ",
             bias.device().str());
    NL_CHECK(bias.dim() == 1 && bias.size(0) == out_channels, "conv2d: bias must be 1-D with one value per output "
             "channel (", out_channels, "), got ", bias.shape());
  }

  Shape out{x.size(0), out_channels, 0, 0};
  for (int d = 0; d < 2; ++d) {
    const int64_t padded = x.size(2 + d) + 2 * p.padding[d];
    const int64_t dilated_kernel = p.dilation[d] * (weight.size(2 + d) - 1) + 1;
    NL_CHECK(padded >= dilated_kernel, "conv2d: output size would be <= 0: input ", x.shape(), " padded by ",
             pair_str(p.padding), " is smaller in ", d == 0 ? "height" : "width", " (", padded,
             ") than the kernel ", weight.size(2), "x", weight.size(3), " dilated by ", pair_str(p.dilation), " (",
             dilated_kernel, ")");
    out[2 + d] = (padded - dilated_kernel) / p.stride[d] + 1;
  }
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p) {
  NL_CHECK(x.defined(), "conv2d: input is undefined");
  // An unbatched [C, H, W] input runs as a batch of one; the views carry the gradient.
  if (x.dim() == 3) return conv2d(x.unsqueeze(0), weight, bias, p).squeeze(0);
  NL_CHECK(x.dim() == 4, "conv2d: input must be 4-D [N, C, H, W] or 3-D [C, H, W], got ", x.shape());
  const Shape out_shape = conv2d_output_shape(x, weight, bias, p);
  // Note [Autocast] (engine/core/autocast.h): the convolution in bf16, the result cast back
  // to float32 and the bias added there, so the bias and its gradient stay float32.
  if (x.dtype() == DType::Float32 && autocast_enabled(x.device())) {
    Tensor y = conv2d(x.to(DType::BFloat16), weight.to(DType::BFloat16), Tensor(), p).to(DType::Float32);
    return bias.defined() ? add(y, bias.reshape({1, bias.size(0), 1, 1})) : y;
  }

  // The kernels take contiguous inputs. The copies are made outside autograd: the node
  // below is recorded against the caller's tensors, whose shapes the gradients share.
  Tensor xc, wc, bc;
  {
    NoGradGuard no_grad;
    xc = x.contiguous().detach();
    wc = weight.contiguous().detach();
    if (bias.defined()) bc = bias.contiguous().detach();
  }
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  backend_for(x.device()).conv2d(xc, wc, bc, out, p);

  if (needs_grad({&x, &weight, &bias})) {
    const bool x_grad = x.requires_grad(), w_grad = weight.requires_grad();
    const bool b_grad = bias.defined() && bias.requires_grad();
    // Save only what the needed gradients read: grad_x needs the weight, grad_w the input.
    Tensor saved_x = w_grad ? xc : Tensor(), saved_w = x_grad ? wc : Tensor();
    const Shape x_shape = xc.shape(), w_shape = wc.shape();
    record("conv2d", out, {&x, &weight, &bias},
           [saved_x, saved_w, x_shape, w_shape, p, x_grad, w_grad, b_grad](const Tensor& g) -> std::vector<Tensor> {
             const Tensor gc = g.contiguous();
             Backend& backend = backend_for(gc.device());
             Tensor grad_x, grad_w, grad_b;
             if (x_grad) {
               grad_x = Tensor::empty(x_shape, gc.dtype(), gc.device());
               backend.conv2d_backward_input(gc, saved_w, grad_x, p);
             }
             if (w_grad) {
               grad_w = Tensor::empty(w_shape, gc.dtype(), gc.device());
               backend.conv2d_backward_weight(gc, saved_x, grad_w, p);
             }
             if (b_grad) grad_b = sum(gc, {0, 2, 3}).to(gc.dtype());  // sum of a half type is float32
             return {grad_x, grad_w, grad_b};
           });
  }
  return out;
}

}  // namespace nl
