// PLACEHOLDER until the pool kernels land (helper branch replaces this file).
#include "engine/backends/cpu/cpu_backend.h"
namespace nl {
void CpuBackend::max_pool2d(const Tensor&, Tensor&, Tensor&, const Pool2dParams&) { fail("pool: not built yet"); }
void CpuBackend::max_pool2d_backward(const Tensor&, const Tensor&, Tensor&) { fail("pool: not built yet"); }
void CpuBackend::avg_pool2d(const Tensor&, Tensor&, const Pool2dParams&) { fail("pool: not built yet"); }
void CpuBackend::avg_pool2d_backward(const Tensor&, Tensor&, const Pool2dParams&) { fail("pool: not built yet"); }
}
