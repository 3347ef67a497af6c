// PLACEHOLDER until the conv kernels land (helper branch replaces this file).
#include "engine/backends/cpu/cpu_backend.h"
namespace nl {
void CpuBackend::conv2d(const Tensor&, const Tensor&, const Tensor&, Tensor&, const Conv2dParams&) { fail("conv2d: not built yet"); }
void CpuBackend::conv2d_backward_input(const Tensor&, const Tensor&, Tensor&, const Conv2dParams&) { fail("conv2d: not built yet"); }
void CpuBackend::conv2d_backward_weight(const Tensor&, const Tensor&, Tensor&, const Conv2dParams&) { fail("conv2d: not built yet"); }
}
