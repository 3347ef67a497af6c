// PLACEHOLDER until the indexing kernels land (helper branch replaces this file).
#include "engine/backends/cpu/cpu_backend.h"
namespace nl {
void CpuBackend::embedding(const Tensor&, const Tensor&, Tensor&) { fail("embedding: not built yet"); }
void CpuBackend::embedding_backward(const Tensor&, const Tensor&, Tensor&) { fail("embedding: not built yet"); }
void CpuBackend::gather(const Tensor&, int, const Tensor&, Tensor&) { fail("gather: not built yet"); }
void CpuBackend::scatter_add(const Tensor&, int, const Tensor&, Tensor&) { fail("scatter_add: not built yet"); }
}
