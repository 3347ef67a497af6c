// Allocators hand out raw device memory. Storage owns bytes through one of these;
// caching (for CUDA) is a wrapper around a plain allocator, as in PyTorch's c10.
#pragma once
#include <cstddef>

#include "engine/core/device.h"

namespace nl {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) = 0;
  virtual Device device() const = 0;
};

// 64-byte aligned host memory (cache line and AVX-512 friendly). Never returns null:
// throws nl::Error naming the size when the system refuses.
Allocator* cpu_allocator();

// Allocator for a device; throws when that device's backend is not available.
Allocator* allocator_for(Device device);

}  // namespace nl
