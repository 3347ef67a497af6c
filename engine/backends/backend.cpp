// Backend registry: the CPU backend always; others register when their device answers.
#include "engine/backends/backend.h"

#include "engine/backends/cpu/cpu_backend.h"

namespace nl {
namespace {
Backend* (*g_cuda_backend)(int) = nullptr;
}

void register_backend(DeviceType type, Backend* (*get)(int index)) {
  NL_CHECK(type == DeviceType::CUDA, "register_backend: only CUDA backends register at run time");
  g_cuda_backend = get;
}

bool backend_available(Device device) {
  if (device.is_cpu()) return true;
  return g_cuda_backend && g_cuda_backend(device.index) != nullptr;
}

Backend& backend_for(Device device) {
  if (device.is_cpu()) return cpu_backend();
  Backend* b = g_cuda_backend ? g_cuda_backend(device.index) : nullptr;
  NL_CHECK(b != nullptr, "device ", device.str(), " is not available: ",
#ifdef NETLOOM_HAVE_CUDA
           "no CUDA device answered"
#else
           "this build of Netloom has no CUDA backend"
#endif
  );
  return *b;
}

}  // namespace nl
