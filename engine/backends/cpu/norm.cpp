// PLACEHOLDER until the norm kernels land (helper branch replaces this file).
#include "engine/backends/cpu/cpu_backend.h"
namespace nl {
void CpuBackend::batch_norm(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, bool, double, double, Tensor&, Tensor&, Tensor&) { fail("norm: not built yet"); }
void CpuBackend::batch_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, bool, Tensor&, Tensor&, Tensor&) { fail("norm: not built yet"); }
void CpuBackend::layer_norm(const Tensor&, const Tensor&, const Tensor&, int64_t, double, Tensor&, Tensor&, Tensor&) { fail("norm: not built yet"); }
void CpuBackend::layer_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, int64_t, Tensor&, Tensor&, Tensor&) { fail("norm: not built yet"); }
}
