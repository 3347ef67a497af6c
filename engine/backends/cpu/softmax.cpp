// PLACEHOLDER until the softmax/cross-entropy kernels land (helper branch replaces this file).
#include "engine/backends/cpu/cpu_backend.h"
namespace nl {
void CpuBackend::softmax(const Tensor&, int, bool, Tensor&) { fail("softmax: not built yet"); }
void CpuBackend::softmax_backward(const Tensor&, const Tensor&, int, bool, Tensor&) { fail("softmax: not built yet"); }
void CpuBackend::cross_entropy(const Tensor&, const Tensor&, int64_t, double, Tensor&, Tensor&) { fail("cross_entropy: not built yet"); }
void CpuBackend::cross_entropy_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int64_t, double, Tensor&) { fail("cross_entropy: not built yet"); }
}
