// CudaBackend's batch norm (float32) through cuDNN's legacy batch-norm API in spatial mode:
// x [N, C, *] is described as N x C x prod(rest) x 1, so one mean and variance per channel.
//
// Note [Batch norm on cuDNN]: the semantics are the CPU backend's (cpu/norm.cpp):
// - Training: batch mean and biased variance normalise; save_mean / save_invstd get the
//   batch mean and 1/sqrt(var + eps); running stats (when defined) become
//   (1 - momentum)·running + momentum·batch with the *unbiased* variance — cuDNN's
//   exponentialAverageFactor update, which applies Bessel's correction the same way.
// - Eval: running stats normalise, and save_mean / save_invstd are written from them
//   (channel_kernels.cu), since the backward reads them in both modes.
// - Backward: grad_weight = sum(g·x̂) and grad_bias = sum(g) in both modes. In training
//   with an input gradient, cudnnBatchNormalizationBackward does all three from the saved
//   statistics; in eval (μ and σ are constants, dx = w·σ⁻¹·g) or without an input
//   gradient, the kernels of channel_kernels.cu do the sums, so no dx is computed to be
//   thrown away.
// - Undefined weight / bias (affine = false) are passed to cuDNN as ones / zeros.
#include <cudnn.h>

#include <climits>
#include <string>

#include "engine/backends/cuda/channel_kernels.h"
#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_context.h"
#include "engine/backends/cuda/cudnn_common.h"
#include "engine/core/storage.h"

namespace nl::cuda {
namespace {

void* ptr(const Tensor& t) {
  return static_cast<char*>(t.storage()->data()) + t.offset() * static_cast<int64_t>(t.element_size());
}
void* ptr_or_null(const Tensor& t) { return t.defined() ? ptr(t) : nullptr; }

void check_float32(const Tensor& t, const char* op, const char* what) {
  if (!t.defined()) return;
  NL_CHECK(t.dtype() == DType::Float32, op, ": ", what, " must be float32, got ", dtype_name(t.dtype()));
}

// Descriptors of x (N x C x S x 1) and of the per-channel tensors (1 x C x 1 x 1).
struct BatchNormDescriptors {
  TensorDescriptor x, channel;
  BatchNormDescriptors(const Tensor& x_t, const char* op) {
    const int64_t n = x_t.size(0), c = x_t.size(1);
    const int64_t s = x_t.numel() / (n * c);
    NL_CHECK(x_t.numel() <= INT_MAX, op, ": input ", x_t.shape().str(), " has ", x_t.numel(),
             " elements, more than cuDNN's batch norm takes (2^31 - 1)");
    x.set_nchw(CUDNN_DATA_FLOAT, static_cast<int>(n), static_cast<int>(c), static_cast<int>(s), 1, op);
    channel.set_nchw(CUDNN_DATA_FLOAT, 1, static_cast<int>(c), 1, 1, op);
  }
};

// `t` when defined, else a [C] float32 tensor filled with `value` (affine = false).
Tensor or_constant(const Tensor& t, int64_t channels, float value, int device, const char* op) {
  if (t.defined()) return t;
  Tensor c = Tensor::empty(Shape{channels}, DType::Float32, Device::cuda(device));
  fill_float(c, value, device, op);
  return c;
}

// `t` when defined, else scratch of [C] float32 for cuDNN to write into.
Tensor or_scratch(const Tensor& t, int64_t channels, int device) {
  return t.defined() ? t : Tensor::empty(Shape{channels}, DType::Float32, Device::cuda(device));
}

}  // namespace

void CudaBackend::batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                             Tensor& running_var, bool training, double momentum, double eps, Tensor& out,
                             Tensor& save_mean, Tensor& save_invstd) {
  const char* op = "batch_norm";
  check_float32(x, op, "input");
  check_float32(weight, op, "weight");
  check_float32(bias, op, "bias");
  check_float32(running_mean, op, "running_mean");
  check_float32(running_var, op, "running_var");
  NL_CHECK(x.dim() >= 2, op, ": input must be [N, C, *] with at least 2 dimensions, got shape ", x.shape().str());
  const int64_t channels = x.size(1);
  if (channels == 0) return;
  const int64_t per_channel = x.numel() / channels;
  DeviceGuard guard(index_);

  if (!training) {
    NL_CHECK(running_mean.defined() && running_var.defined(), op,
             ": evaluation mode needs running_mean and running_var (or use training = true)");
    batch_norm_eval_stats(running_mean, running_var, eps, save_mean, save_invstd, index_);
    if (x.numel() == 0) return;
  } else {
    NL_CHECK(per_channel > 1, op, ": training needs more than one value per channel, got input shape ",
             x.shape().str());
  }
  NL_CHECK(eps >= CUDNN_BN_MIN_EPSILON, op, ": eps (", eps, ") is below cuDNN's minimum ", CUDNN_BN_MIN_EPSILON);

  BatchNormDescriptors desc(x, op);
  const Tensor scale = or_constant(weight, channels, 1.0f, index_, op);
  const Tensor shift = or_constant(bias, channels, 0.0f, index_, op);
  const float one = 1.0f, zero = 0.0f;
  CudnnSession session(index_, op);

  if (!training) {
    NL_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(
                       session.handle(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, desc.x.get(), ptr(x), desc.x.get(),
                       ptr(out), desc.channel.get(), ptr(scale), ptr(shift), ptr(running_mean), ptr(running_var),
                       eps),
                   op);
    return;
  }
  // cuDNN updates both running stats or neither; the CPU updates whichever is defined, so
  // a lone one is paired with scratch.
  Tensor rm, rv;
  if (running_mean.defined() || running_var.defined()) {
    rm = running_mean.defined() ? running_mean : or_constant(Tensor(), channels, 0.0f, index_, op);
    rv = running_var.defined() ? running_var : or_constant(Tensor(), channels, 1.0f, index_, op);
  }
  NL_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(
                     session.handle(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, desc.x.get(), ptr(x), desc.x.get(),
                     ptr(out), desc.channel.get(), ptr(scale), ptr(shift), momentum, ptr_or_null(rm),
                     ptr_or_null(rv), eps, ptr(save_mean), ptr(save_invstd)),
                 op);
}

void CudaBackend::batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                      const Tensor& save_mean, const Tensor& save_invstd, bool training, double eps,
                                      Tensor& grad_x, Tensor& grad_weight, Tensor& grad_bias) {
  const char* op = "batch_norm_backward";
  check_float32(grad_out, op, "grad_out");
  check_float32(x, op, "input");
  check_float32(weight, op, "weight");
  NL_CHECK(x.dim() >= 2, op, ": input must be [N, C, *] with at least 2 dimensions, got shape ", x.shape().str());
  const int64_t channels = x.size(1);
  if (channels == 0) return;
  DeviceGuard guard(index_);

  if (!training || !grad_x.defined() || x.numel() == 0) {
    // Note [Batch norm on cuDNN]: eval, or only parameter gradients wanted.
    batch_norm_param_grads(grad_out, x, save_mean, save_invstd, grad_weight, grad_bias, index_);
    // (In training this is reached with grad_x only when x is empty: nothing to write.)
    if (grad_x.defined() && !training) batch_norm_eval_backward_input(grad_out, weight, save_invstd, grad_x, index_);
    return;
  }

  BatchNormDescriptors desc(x, op);
  const Tensor scale = or_constant(weight, channels, 1.0f, index_, op);
  Tensor d_scale = or_scratch(grad_weight, channels, index_);
  Tensor d_bias = or_scratch(grad_bias, channels, index_);
  const float one = 1.0f, zero = 0.0f;
  // The forward's eps, as cuDNN's documentation asks ("same epsilon as forward pass"),
  // although with the saved statistics given it does not recompute them.
  CudnnSession session(index_, op);
  NL_CUDNN_CHECK(cudnnBatchNormalizationBackward(session.handle(), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero,
                                                 desc.x.get(), ptr(x), desc.x.get(), ptr(grad_out), desc.x.get(),
                                                 ptr(grad_x), desc.channel.get(), ptr(scale), ptr(d_scale),
                                                 ptr(d_bias), eps, ptr(save_mean), ptr(save_invstd)),
                 op);
}

}  // namespace nl::cuda
