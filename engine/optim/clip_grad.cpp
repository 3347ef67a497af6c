// Gradient clipping: norms accumulated in double by a CPU loop, by a device backend's
// multi-tensor kernels (Backend::fused_updates; on CUDA devices
// engine/backends/cuda/optimizer_updates.h: all gradients of a device reduced on that
// device, one scalar read back), or by tensor ops otherwise; then in-place scaling or
// clamping of each gradient.
#include "engine/optim/clip_grad.h"

#include <algorithm>
#include <cmath>

#include "engine/autograd/node.h"
#include "engine/backends/cpu/strided_loop.h"
#include "engine/core/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/backends/backend.h"
#include "engine/optim/fused_updates.h"

namespace nl::optim {
namespace {

bool fused_cpu(const Tensor& g) { return g.device().is_cpu() && g.dtype() == DType::Float32 && g.is_contiguous(); }

// The multi-tensor kernels of a gradient's device, or null (CPU, or a backend without them).
FusedUpdateKernels* device_kernels(const Tensor& g) {
  return g.device().is_cpu() ? nullptr : backend_for(g.device()).fused_updates();
}

// Gradients grouped by device, for one multi-tensor call per device.
struct DeviceBatch {
  FusedUpdateKernels* kernels;
  Device device;
  std::vector<Tensor> tensors;
};
void add_to_batch(std::vector<DeviceBatch>& batches, FusedUpdateKernels* k, const Tensor& g) {
  for (DeviceBatch& b : batches)
    if (b.device == g.device()) return b.tensors.push_back(g);
  batches.push_back(DeviceBatch{k, g.device(), {g}});
}
bool fused_layout(const Tensor& g) { return g.dtype() == DType::Float32 && g.is_contiguous(); }

// Elements per partial sum: fixed (not per thread), so the total does not depend on how
// many threads ran.
constexpr int64_t kChunk = 1 << 15;

// Σ|g|^p over a contiguous float32 CPU tensor, or max |g| when p is infinite.
double cpu_power_sum(const Tensor& g, double p) {
  const float* x = g.data<float>();
  const int64_t n = g.numel();
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(chunks, 0.0);
  cpu::parallel_for(chunks, 2, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t lo = c * kChunk, hi = std::min(n, lo + kChunk);
      double acc = 0;
      if (std::isinf(p)) {
        for (int64_t i = lo; i < hi; ++i) {
          double a = std::fabs((double)x[i]);
          acc = (a > acc || a != a) ? a : acc;  // NaN wins, as torch.max
        }
      } else if (p == 2) {
        for (int64_t i = lo; i < hi; ++i) acc += (double)x[i] * (double)x[i];
      } else if (p == 1) {
        for (int64_t i = lo; i < hi; ++i) acc += std::fabs((double)x[i]);
      } else {
        for (int64_t i = lo; i < hi; ++i) acc += std::pow(std::fabs((double)x[i]), p);
      }
      partial[c] = acc;
    }
  });
  double total = 0;
  for (double v : partial) total = std::isinf(p) ? ((v > total || v != v) ? v : total) : total + v;
  return total;
}

// The same quantity through tensor ops, for gradients on other devices or in other layouts.
double tensor_power_sum(const Tensor& g, double p) {
  if (g.numel() == 0) return 0.0;  // amax has no identity to give for an empty tensor
  Tensor a = abs(g.to(DType::Float32));
  if (std::isinf(p)) return amax(a).item();
  if (p == 2) return sum(square(a)).item();
  if (p == 1) return sum(a).item();
  return sum(pow(a, p)).item();
}

std::vector<Tensor> gradients_of(const std::vector<Tensor>& params) {
  std::vector<Tensor> grads;
  for (const Tensor& p : params) {
    NL_CHECK(p.defined(), "clip_grad: parameter list holds an undefined tensor");
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  return grads;
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  NL_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be > 0 or infinity, got ", norm_type);
  NL_CHECK(std::isfinite(max_norm) && max_norm >= 0, "clip_grad_norm_: max_norm must be a finite number >= 0, got ",
           max_norm);
  NoGradGuard no_grad;
  std::vector<Tensor> grads = gradients_of(params);
  if (grads.empty()) return 0.0;

  const bool inf_norm = std::isinf(norm_type);
  double acc = 0;
  auto combine = [&](double part) { acc = inf_norm ? ((part > acc || part != part) ? part : acc) : acc + part; };
  // Gradients on a device with multi-tensor kernels are reduced together there: reading back
  // one value per parameter would wait on the device once per parameter. Other dtypes and
  // layouts join them as float32 contiguous copies (as tensor_power_sum converts them).
  std::vector<DeviceBatch> on_devices;
  for (const Tensor& g : grads) {
    if (fused_cpu(g)) combine(cpu_power_sum(g, norm_type));
    else if (FusedUpdateKernels* k = device_kernels(g))
      add_to_batch(on_devices, k, fused_layout(g) ? g : g.to(DType::Float32).contiguous());
    else combine(tensor_power_sum(g, norm_type));
  }
  for (const DeviceBatch& b : on_devices) combine(b.kernels->power_sum(b.tensors, norm_type));
  const double total = inf_norm ? acc : (norm_type == 2 ? std::sqrt(acc) : std::pow(acc, 1.0 / norm_type));
  NL_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total ", norm_type,
           "-norm of the gradients is ", total, "; refusing to clip (error_if_nonfinite)");

  const double coef = max_norm / (total + 1e-6);
  if (!(coef >= 1.0)) {  // also when NaN: PyTorch multiplies by NaN then
    std::vector<DeviceBatch> on_devices;
    for (Tensor& g : grads) {
      FusedUpdateKernels* k = fused_layout(g) ? device_kernels(g) : nullptr;
      if (k) add_to_batch(on_devices, k, g);
      else mul_(g, coef);
    }
    for (DeviceBatch& b : on_devices) b.kernels->scale_(b.tensors, coef);  // one launch per 32 gradients
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  NL_CHECK(clip_value >= 0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  NoGradGuard no_grad;
  std::vector<DeviceBatch> on_devices;
  for (Tensor& g : gradients_of(params)) {
    if (fused_cpu(g)) {
      float* x = g.data<float>();
      const float hi = (float)clip_value, lo = -hi;  // beyond float range: inf, no clamping
      cpu::parallel_for(g.numel(), cpu::kParallelThreshold, [&](int64_t begin, int64_t end) {
        // NaN stays NaN, as torch.clamp_.
        for (int64_t i = begin; i < end; ++i) x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
      });
    } else if (FusedUpdateKernels* k = fused_layout(g) ? device_kernels(g) : nullptr) {
      add_to_batch(on_devices, k, g);
    } else {
      copy_(g, clamp(g, -clip_value, clip_value));
    }
  }
  for (DeviceBatch& b : on_devices) b.kernels->clamp_abs_(b.tensors, clip_value);  // as the CPU loop compares
}

}  // namespace nl::optim
