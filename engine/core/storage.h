// Storage: a block of bytes on one device, owned through the allocator that made it.
// Several tensors (views) may share one Storage.
#pragma once
#include <cstddef>
#include <memory>

#include "engine/core/allocator.h"

namespace nl {

class Storage {
 public:
  Storage(size_t nbytes, Allocator* allocator)
      : nbytes_(nbytes), allocator_(allocator), data_(nbytes ? allocator->allocate(nbytes) : nullptr) {}
  // Wraps memory owned elsewhere (e.g. a memory-mapped file); `keep_alive` owns it.
  Storage(void* data, size_t nbytes, Device device, std::shared_ptr<void> keep_alive)
      : nbytes_(nbytes), allocator_(nullptr), data_(data), device_(device), keep_alive_(std::move(keep_alive)) {}
  ~Storage() {
    if (allocator_ && data_) allocator_->deallocate(data_, nbytes_);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return allocator_ ? allocator_->device() : device_; }

 private:
  size_t nbytes_;
  Allocator* allocator_;
  void* data_;
  Device device_{};
  std::shared_ptr<void> keep_alive_;
};

}  // namespace nl
