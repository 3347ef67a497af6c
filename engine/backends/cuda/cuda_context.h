// Per-device state of the CUDA backend: the one compute stream every kernel, copy and
// library call of that device runs on (so the order of ops is the order of the program
// and nothing waits on the host), and the device's properties. Host code only.
#pragma once
#include <cuda_runtime_api.h>

#include <new>
#include <string>

namespace nl::cuda {

// Number of CUDA devices that answer; 0 when there is no driver or no device. Never throws.
int device_count();
// Why no device answered (the driver's message), for skip reasons and error messages.
std::string no_device_reason();

// Makes `index` the current device for this thread until the guard ends.
class DeviceGuard {
 public:
  explicit DeviceGuard(int index);
  // For destructors and cleanup paths: a device that cannot be selected (a lost context) is
  // left as it is; the CUDA calls that follow fail and report it.
  DeviceGuard(int index, std::nothrow_t) noexcept;
  ~DeviceGuard();
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int previous_ = -1;
};

// The compute stream of device `index` (created on first use, non-blocking w.r.t. the
// legacy default stream).
cudaStream_t compute_stream(int index);
const cudaDeviceProp& device_properties(int index);

// True while this thread captures a CUDA graph for device `index` (cuda_graph.cpp).
bool is_capturing(int index);

// Waits for everything queued on device `index`'s compute stream; throws on a pending
// asynchronous error (naming `why`).
void synchronize(int index, const char* why);

}  // namespace nl::cuda
