// The CUDA backend's registration (one CudaBackend per device that answers), its
// allocator and host ↔ device copies. The kernels are in the family files beside it.
#include "engine/backends/cuda/cuda_backend.h"

#include <array>
#include <mutex>

#include "engine/backends/cuda/cuda_allocator.h"
#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_context.h"
#include "engine/core/storage.h"

namespace nl::cuda {
namespace {

constexpr int kMaxDevices = 64;

// Device pointer of a tensor's first element.
char* element_ptr(const Tensor& t) {
  return static_cast<char*>(t.storage()->data()) + t.offset() * static_cast<int64_t>(t.element_size());
}

}  // namespace

// Called by engine/backends/backend.cpp.
Backend* backend_for_index(int index) {
  if (index < 0 || index >= device_count()) return nullptr;
  static auto* backends = new std::array<CudaBackend*, kMaxDevices>{};  // never destroyed
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (!(*backends)[index]) (*backends)[index] = new CudaBackend(index);
  return (*backends)[index];
}

std::string unavailable_reason(int index) {
  if (device_count() == 0) return no_device_reason();
  return "cuda:" + std::to_string(index) + " is not a device (" + std::to_string(device_count()) +
         " CUDA device" + (device_count() == 1 ? "" : "s") + ": cuda:0 to cuda:" + std::to_string(device_count() - 1) +
         ")";
}

Allocator* pinned_allocator_or_null() { return device_count() > 0 ? pinned_allocator() : nullptr; }

Allocator* CudaBackend::allocator() { return device_allocator(index_); }

std::string CudaBackend::description() const {
  const cudaDeviceProp& p = device_properties(index_);
  const double gib = static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
  return std::string(p.name) + ", " + std::to_string(static_cast<int>(gib + 0.5)) + " GiB";
}

void CudaBackend::synchronize() { cuda::synchronize(index_, "synchronize"); }

DeviceMemoryStats CudaBackend::memory_stats() { return device_memory_stats(index_); }

void CudaBackend::empty_cache() {
  // Blocks cached by the allocator may still be used by queued kernels: wait for them.
  cuda::synchronize(index_, "empty_cache");
  empty_device_cache(index_);
}

void CudaBackend::copy_to_host(const Tensor& t, void* host) {
  NL_CHECK(t.is_contiguous(), "copy_to_host: the tensor must be contiguous");
  const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
  if (bytes == 0) return;
  DeviceGuard g(index_);
  cudaStream_t s = compute_stream(index_);
  NL_CUDA_CHECK(cudaMemcpyAsync(host, element_ptr(t), bytes, cudaMemcpyDeviceToHost, s), "copy to the host");
  // The caller reads the bytes next: this is where the host waits for the device.
  NL_CUDA_CHECK(cudaStreamSynchronize(s), "copy to the host");
}

void CudaBackend::copy_from_host(const void* host, Tensor& t) {
  NL_CHECK(t.is_contiguous(), "copy_from_host: the tensor must be contiguous");
  const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
  if (bytes == 0) return;
  // A captured copy would re-read this host memory on every replay, long after its owner
  // let it go: a graph takes its inputs from device tensors filled before each replay.
  NL_CHECK(!cuda::is_capturing(index_), "copy to the device: a captured CUDA graph cannot read host memory");
  DeviceGuard g(index_);
  cudaStream_t s = compute_stream(index_);
  if (is_pinned(host, bytes)) {
    // Asynchronous; the pinned block is not reused before this copy has run.
    mark_pinned_in_use(host, index_);
    NL_CUDA_CHECK(cudaMemcpyAsync(element_ptr(t), host, bytes, cudaMemcpyHostToDevice, s), "copy to the device");
    return;
  }
  // Pageable memory: the caller may free it as soon as we return. cudaMemcpyAsync from
  // pageable memory returns once the bytes are staged, but only "might" be synchronous
  // by the documentation, so wait for this one copy to be safe.
  NL_CUDA_CHECK(cudaMemcpyAsync(element_ptr(t), host, bytes, cudaMemcpyHostToDevice, s), "copy to the device");
  NL_CUDA_CHECK(cudaStreamSynchronize(s), "copy to the device");
}

}  // namespace nl::cuda
