// Backend registry: the CPU backend always; the CUDA backend (compiled in when nvcc was
// found) serves a device only when that device answers at run time.
#include "engine/backends/backend.h"

#include "engine/backends/cpu/cpu_backend.h"
#include "engine/backends/graph_capture.h"

#ifdef NETLOOM_HAVE_CUDA
namespace nl::cuda {
// engine/backends/cuda/cuda_backend.cpp: null when device `index` does not answer.
Backend* backend_for_index(int index);
std::string unavailable_reason(int index);
Allocator* pinned_allocator_or_null();
}  // namespace nl::cuda
#endif

namespace nl {
namespace {
Backend* (*g_cuda_backend)(int) = nullptr;

Backend* find_cuda_backend(int index) {
  if (g_cuda_backend) return g_cuda_backend(index);
#ifdef NETLOOM_HAVE_CUDA
  return cuda::backend_for_index(index);
#else
  return nullptr;
#endif
}
}  // namespace

void register_backend(DeviceType type, Backend* (*get)(int index)) {
  NL_CHECK(type == DeviceType::CUDA, "register_backend: only CUDA backends register at run time");
  g_cuda_backend = get;
}

bool backend_available(Device device) {
  if (device.is_cpu()) return true;
  return find_cuda_backend(device.index) != nullptr;
}

std::string device_unavailable_reason(Device device) {
  if (backend_available(device)) return {};
#ifdef NETLOOM_HAVE_CUDA
  return cuda::unavailable_reason(device.index);
#else
  return "this build of Netloom has no CUDA backend (nvcc was not found when it was built)";
#endif
}

Backend& backend_for(Device device) {
  if (device.is_cpu()) return cpu_backend();
  Backend* b = find_cuda_backend(device.index);
  NL_CHECK(b != nullptr, "device ", device.str(), " is not available: ", device_unavailable_reason(device));
  return *b;
}

void Backend::batch_norm_relu(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, bool, double, double,
                              Tensor&, Tensor&, Tensor&) {
  fail("batch_norm_relu: ", device().str(), " has no fused kernel (check fuses_batch_norm_relu())");
}

void Backend::batch_norm_relu_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                       const Tensor&, bool, Tensor&, Tensor&, Tensor&) {
  fail("batch_norm_relu_backward: ", device().str(), " has no fused kernel (check fuses_batch_norm_relu())");
}

void synchronize(Device device) { backend_for(device).synchronize(); }
DeviceMemoryStats memory_stats(Device device) { return backend_for(device).memory_stats(); }
void empty_cache(Device device) { backend_for(device).empty_cache(); }

std::unique_ptr<CapturedGraph> Backend::capture_graph(const std::function<void()>&) {
  fail("graph capture on ", device().str(), ": ", graph_capture_blocker());
}

std::string graph_capture_blocker(Device device) {
  if (device.is_cpu()) return "the CPU runs kernels as they are called; there is nothing to capture";
  if (!backend_available(device)) return device_unavailable_reason(device);
  return backend_for(device).graph_capture_blocker();
}

std::unique_ptr<CapturedGraph> capture_graph(Device device, const std::function<void()>& work) {
  const std::string blocker = graph_capture_blocker(device);
  NL_CHECK(blocker.empty(), "graph capture on ", device.str(), ": ", blocker);
  return backend_for(device).capture_graph(work);
}

bool is_capturing(Device device) {
  return !device.is_cpu() && backend_available(device) && backend_for(device).is_capturing();
}

Allocator* pinned_host_allocator() {
#ifdef NETLOOM_HAVE_CUDA
  if (Allocator* a = cuda::pinned_allocator_or_null()) return a;
#endif
  return cpu_allocator();
}

}  // namespace nl
