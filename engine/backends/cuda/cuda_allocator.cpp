// The CUDA caching allocator and the pinned host allocator (see cuda_allocator.h).
#include "engine/backends/cuda/cuda_allocator.h"

#include <cuda_runtime_api.h>

#include <array>
#include <iomanip>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_context.h"

namespace nl::cuda {
namespace {

constexpr int kMaxDevices = 64;

std::string mib(int64_t bytes) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1) << bytes / (1024.0 * 1024.0) << " MiB";
  return os.str();
}

class CachingAllocator final : public Allocator {
 public:
  explicit CachingAllocator(int index) : index_(index) {}

  void* allocate(size_t nbytes) override {
    const size_t size = round_allocation_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.allocations;
    // Best fit among cached blocks, accepted when at most 25 % larger than asked.
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= size + size / 4) {
      void* p = it->second;
      size_t block = it->first;
      free_.erase(it);
      ++stats_.cache_hits;
      in_use(p, block);
      return p;
    }
    void* p = driver_malloc(size, nbytes);
    in_use(p, size);
    return p;
  }

  void deallocate(void* ptr, size_t) override {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(ptr);
    if (it == live_.end()) return;  // not ours: never happens, but never crash at exit
    size_t block = it->second;
    live_.erase(it);
    stats_.allocated_bytes -= static_cast<int64_t>(block);
    free_.emplace(block, ptr);
  }

  Device device() const override { return Device::cuda(index_); }

  DeviceMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    DeviceMemoryStats s = stats_;
    size_t free_bytes = 0, total = 0;
    DeviceGuard g(index_);
    if (cudaMemGetInfo(&free_bytes, &total) == cudaSuccess) {
      s.device_free_bytes = static_cast<int64_t>(free_bytes);
      s.device_total_bytes = static_cast<int64_t>(total);
    } else {
      (void)cudaGetLastError();
    }
    return s;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cache();
  }

 private:
  void in_use(void* p, size_t block) {
    live_.emplace(p, block);
    stats_.allocated_bytes += static_cast<int64_t>(block);
    if (stats_.allocated_bytes > stats_.peak_allocated_bytes) stats_.peak_allocated_bytes = stats_.allocated_bytes;
  }

  // cudaFree synchronises the device; only called when memory is short or on request.
  void release_cache() {
    if (free_.empty()) return;
    DeviceGuard g(index_);
    for (auto& [size, p] : free_) {
      if (cudaFree(p) == cudaSuccess) stats_.reserved_bytes -= static_cast<int64_t>(size);
      else (void)cudaGetLastError();
    }
    free_.clear();
  }

  void* driver_malloc(size_t size, size_t asked) {
    DeviceGuard g(index_);
    void* p = nullptr;
    cudaError_t err = cudaMalloc(&p, size);
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      release_cache();
      err = cudaMalloc(&p, size);
    }
    if (err == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      ++stats_.out_of_memory_errors;
      size_t free_bytes = 0, total = 0;
      if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) (void)cudaGetLastError();
      std::ostringstream os;
      os << "cuda:" << index_ << " is out of memory: tried to allocate " << mib(static_cast<int64_t>(asked))
         << "; tensors hold " << mib(stats_.allocated_bytes) << ", the GPU has " << mib(static_cast<int64_t>(total))
         << " of which " << mib(static_cast<int64_t>(free_bytes))
         << " is free. Use a smaller batch or model, or free tensors you keep.";
      throw OutOfMemoryError(os.str());
    }
    if (err != cudaSuccess) raise_cuda_error(err, "cuda allocator", "cudaMalloc");
    ++stats_.driver_allocations;
    stats_.reserved_bytes += static_cast<int64_t>(size);
    return p;
  }

  int index_;
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;       // size → cached block
  std::unordered_map<void*, size_t> live_;  // block → its size class
  DeviceMemoryStats stats_;
};

CachingAllocator& allocator_of(int index) {
  NL_CHECK(index >= 0 && index < device_count(), "cuda:", index, " is not a device (", device_count(),
           " CUDA devices)");
  // Never destroyed: tensors held by static objects may be freed after main() returns.
  static auto* all = new std::array<CachingAllocator*, kMaxDevices>{};
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  if (!(*all)[index]) (*all)[index] = new CachingAllocator(index);
  return *(*all)[index];
}

// ---- Pinned host memory ----

class PinnedAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    const size_t size = round_allocation_size(nbytes);
    std::lock_guard<std::mutex> lock(mutex_);
    // Reuse a cached block whose queued copies have all finished.
    for (auto it = free_.lower_bound(size); it != free_.end() && it->first <= size + size / 4; ++it) {
      Block& b = it->second;
      if (!events_done(b)) continue;
      Block block = std::move(b);
      free_.erase(it);
      char* p = block.ptr;
      live_.emplace(p, std::move(block));
      return p;
    }
    void* p = nullptr;
    cudaError_t err = cudaHostAlloc(&p, size, cudaHostAllocPortable);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();
      std::ostringstream os;
      os << "pinned host memory: could not allocate " << mib(static_cast<int64_t>(nbytes)) << " ("
         << cudaGetErrorString(err) << ")";
      throw OutOfMemoryError(os.str());
    }
    Block b;
    b.ptr = static_cast<char*>(p);
    b.size = size;
    live_.emplace(b.ptr, std::move(b));
    return p;
  }

  void deallocate(void* ptr, size_t) override {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(static_cast<char*>(ptr));
    if (it == live_.end()) return;
    Block b = std::move(it->second);
    live_.erase(it);
    // Copies queued from this block may still be running: the block is reusable once an
    // event recorded now on each device that read it has passed.
    for (int d = 0; d < kMaxDevices; ++d) {
      if (!(b.devices & (uint64_t(1) << d))) continue;
      DeviceGuard g(d);
      cudaEvent_t e = nullptr;
      if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) == cudaSuccess &&
          cudaEventRecord(e, compute_stream(d)) == cudaSuccess) {
        b.events.push_back(e);
      } else {
        (void)cudaGetLastError();
        if (e) cudaEventDestroy(e);
        (void)cudaStreamSynchronize(compute_stream(d));  // fall back to waiting now
      }
    }
    b.devices = 0;
    free_.emplace(b.size, std::move(b));
  }

  Device device() const override { return Device::cpu(); }

  bool contains(const void* p, size_t nbytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    return find_live(p, nbytes) != nullptr;
  }

  void mark(const void* p, int index) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Block* b = find_live(p, 1)) b->devices |= uint64_t(1) << index;
  }

 private:
  struct Block {
    char* ptr = nullptr;
    size_t size = 0;
    uint64_t devices = 0;               // devices whose streams read it since it was handed out
    std::vector<cudaEvent_t> events;    // recorded at free time
  };

  Block* find_live(const void* p, size_t nbytes) {
    const char* c = static_cast<const char*>(p);
    auto it = live_.upper_bound(const_cast<char*>(c));
    if (it == live_.begin()) return nullptr;
    --it;
    Block& b = it->second;
    return c >= b.ptr && c + nbytes <= b.ptr + b.size ? &b : nullptr;
  }

  static bool events_done(Block& b) {
    while (!b.events.empty()) {
      cudaError_t q = cudaEventQuery(b.events.back());
      if (q == cudaErrorNotReady) {
        (void)cudaGetLastError();
        return false;
      }
      if (q != cudaSuccess) (void)cudaGetLastError();
      cudaEventDestroy(b.events.back());
      b.events.pop_back();
    }
    return true;
  }

  std::mutex mutex_;
  std::multimap<size_t, Block> free_;
  std::map<char*, Block> live_;  // ordered: lookups of pointers inside a block
};

PinnedAllocator& pinned() {
  static auto* a = new PinnedAllocator();  // never destroyed, like the device allocators
  return *a;
}

}  // namespace

size_t round_allocation_size(size_t nbytes) {
  if (nbytes <= 512) return 512;
  if (nbytes <= (size_t(1) << 20)) return (nbytes + 511) & ~size_t(511);
  size_t power = size_t(1) << 20;
  while (power * 2 <= nbytes) power *= 2;
  const size_t step = power / 8;
  return (nbytes + step - 1) / step * step;
}

Allocator* device_allocator(int index) { return &allocator_of(index); }
DeviceMemoryStats device_memory_stats(int index) { return allocator_of(index).stats(); }
void empty_device_cache(int index) { allocator_of(index).empty_cache(); }

Allocator* pinned_allocator() { return &pinned(); }
bool is_pinned(const void* p, size_t nbytes) { return device_count() > 0 && pinned().contains(p, nbytes); }
void mark_pinned_in_use(const void* p, int index) { pinned().mark(p, index); }

}  // namespace nl::cuda
