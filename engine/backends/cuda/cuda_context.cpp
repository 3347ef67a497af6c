// Per-device streams and properties, device discovery, and the device guard.
#include "engine/backends/cuda/cuda_context.h"

#include <dlfcn.h>

#include <array>
#include <mutex>

#include "engine/backends/cuda/cuda_check.h"
#include "engine/core/error.h"

namespace nl::cuda {
namespace {

constexpr int kMaxDevices = 64;

struct Discovery {
  int count = 0;
  std::string reason;
};

const Discovery& discovery() {
  static const Discovery d = [] {
    Discovery out;
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      // Without a driver at all the runtime says "driver version is insufficient", which
      // misleads: say that no driver is installed.
      void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
      if (!driver) driver = dlopen("libcuda.so.1", RTLD_LAZY);
      if (!driver && err == cudaErrorInsufficientDriver)
        out.reason = "no CUDA device answered: no NVIDIA driver is installed (libcuda.so.1 not found)";
      else
        out.reason = std::string("no CUDA device answered: ") + cudaGetErrorString(err);
      if (driver) dlclose(driver);
      return out;
    }
    if (n == 0) {
      out.reason = "no CUDA device answered: the driver reports 0 devices";
      return out;
    }
    out.count = n < kMaxDevices ? n : kMaxDevices;
    return out;
  }();
  return d;
}

struct DeviceState {
  std::once_flag once;
  cudaStream_t stream = nullptr;
  cudaDeviceProp props{};
};

std::array<DeviceState, kMaxDevices>& states() {
  static auto* s = new std::array<DeviceState, kMaxDevices>();  // never destroyed: kernels may run at exit
  return *s;
}

DeviceState& state(int index) {
  NL_CHECK(index >= 0 && index < device_count(), "cuda:", index, " is not a device (", device_count(),
           " CUDA devices)");
  DeviceState& s = states()[index];
  std::call_once(s.once, [&] {
    DeviceGuard g(index);
    NL_CUDA_CHECK(cudaGetDeviceProperties(&s.props, index), "cuda: device properties");
    NL_CUDA_CHECK(cudaStreamCreateWithFlags(&s.stream, cudaStreamNonBlocking), "cuda: creating the compute stream");
  });
  return s;
}

}  // namespace

int device_count() { return discovery().count; }

std::string no_device_reason() { return discovery().reason; }

DeviceGuard::DeviceGuard(int index) {
  if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
  if (previous_ != index) NL_CUDA_CHECK(cudaSetDevice(index), "cuda: selecting the device");
}

DeviceGuard::DeviceGuard(int index, std::nothrow_t) noexcept {
  if (cudaGetDevice(&previous_) != cudaSuccess) previous_ = -1;
  if (previous_ != index && cudaSetDevice(index) != cudaSuccess) (void)cudaGetLastError();
}

DeviceGuard::~DeviceGuard() {
  int now = -1;
  if (previous_ >= 0 && cudaGetDevice(&now) == cudaSuccess && now != previous_) (void)cudaSetDevice(previous_);
}

cudaStream_t compute_stream(int index) { return state(index).stream; }

const cudaDeviceProp& device_properties(int index) { return state(index).props; }

void synchronize(int index, const char* why) {
  DeviceGuard g(index);
  NL_CUDA_CHECK(cudaStreamSynchronize(compute_stream(index)), why);
}

}  // namespace nl::cuda
