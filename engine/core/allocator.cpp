// The 64-byte aligned CPU allocator and the device → allocator lookup.
#include "engine/core/allocator.h"

#include <cstdlib>

#include "engine/backends/backend.h"
#include "engine/core/error.h"

namespace nl {
namespace {

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    size_t rounded = (nbytes + 63) & ~size_t(63);
    void* p = std::aligned_alloc(64, rounded);
    NL_CHECK(p != nullptr, "out of memory: could not allocate ", nbytes, " bytes on the CPU");
    return p;
  }
  void deallocate(void* ptr, size_t) override { std::free(ptr); }
  Device device() const override { return Device::cpu(); }
};

}  // namespace

Allocator* cpu_allocator() {
  static CpuAllocator alloc;
  return &alloc;
}

Allocator* allocator_for(Device device) {
  if (device.is_cpu()) return cpu_allocator();
  return backend_for(device).allocator();
}

}  // namespace nl
