// The CUDA caching allocator and the pinned host allocator (see cuda_allocator.h).
#include "engine/backends/cuda/cuda_allocator.h"

#include <cuda_runtime_api.h>

#include <array>
#include <iomanip>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
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
    const int pool = capturing_pool_ > 0 && std::this_thread::get_id() == capturing_thread_ ? capturing_pool_ : 0;
    // While capturing, the graph's own freed blocks first (reused in the same order on
    // every replay), then the shared cache; either way the block joins the graph's pool.
    if (pool) {
      if (void* p = take_cached(pools_[pool].free, size)) {
        in_use(p, size_of_taken_, pool);
        return p;
      }
    }
    if (void* p = take_cached(free_, size)) {
      in_use(p, size_of_taken_, pool);
      return p;
    }
    void* p = driver_malloc(size, nbytes);
    in_use(p, size, pool);
    return p;
  }

  void deallocate(void* ptr, size_t) override {
    if (!ptr) return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(ptr);
    if (it == live_.end()) return;  // not ours: never happens, but never crash at exit
    const Live block = it->second;
    live_.erase(it);
    stats_.allocated_bytes -= static_cast<int64_t>(block.size);
    // A block of a live graph stays with it: a replay will write it again. So does a
    // shared block freed while a graph is captured (the graph may read it on replay).
    int pool_id = block.pool;
    if (pool_id == 0 && capturing_pool_ != 0 && std::this_thread::get_id() == capturing_thread_)
      pool_id = capturing_pool_;
    auto pool = pool_id ? pools_.find(pool_id) : pools_.end();
    if (pool != pools_.end()) pool->second.free.emplace(block.size, ptr);
    else free_.emplace(block.size, ptr);
  }

  // Allocations of the calling thread go to a new private pool until end_pool().
  int begin_pool() {
    std::lock_guard<std::mutex> lock(mutex_);
    NL_CHECK(capturing_pool_ == 0, "cuda:", index_, ": a graph capture is already in progress");
    capturing_pool_ = next_pool_++;
    capturing_thread_ = std::this_thread::get_id();
    pools_[capturing_pool_];
    return capturing_pool_;
  }

  void end_pool() {
    std::lock_guard<std::mutex> lock(mutex_);
    capturing_pool_ = 0;
  }

  // The graph is gone: its cached blocks return to the shared cache, and blocks still held
  // by tensors go there when those are freed.
  void release_pool(int pool) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pools_.find(pool);
    if (it == pools_.end()) return;
    for (auto& [size, p] : it->second.free) free_.emplace(size, p);
    pools_.erase(it);
  }

  Device device() const override { return Device::cuda(index_); }

  DeviceMemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    DeviceMemoryStats s = stats_;
    size_t free_bytes = 0, total = 0;
    DeviceGuard g(index_, std::nothrow);
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
  // Best fit among `cache`, accepted when at most 25 % larger than asked; null when none.
  void* take_cached(std::multimap<size_t, void*>& cache, size_t size) {
    auto it = cache.lower_bound(size);
    if (it == cache.end() || it->first > size + size / 4) return nullptr;
    void* p = it->second;
    size_of_taken_ = it->first;
    cache.erase(it);
    ++stats_.cache_hits;
    return p;
  }

  void in_use(void* p, size_t block, int pool) {
    live_.emplace(p, Live{block, pool});
    stats_.allocated_bytes += static_cast<int64_t>(block);
    if (stats_.allocated_bytes > stats_.peak_allocated_bytes) stats_.peak_allocated_bytes = stats_.allocated_bytes;
  }

  // cudaFree synchronises the device; only called when memory is short or on request.
  void release_cache() {
    // Never while a graph is captured: cudaFree may wait for the device, which ends the
    // capture. An allocation that fails then throws, and the trainer runs the step eagerly.
    if (free_.empty() || capturing_pool_ != 0) return;
    DeviceGuard g(index_, std::nothrow);
    // Queued kernels may still use cached blocks: wait for them rather than rely on
    // cudaFree waiting (the documentation says it "may").
    if (cudaStreamSynchronize(compute_stream(index_)) != cudaSuccess) {
      (void)cudaGetLastError();
      return;
    }
    for (auto it = free_.begin(); it != free_.end();) {
      if (cudaFree(it->second) == cudaSuccess) {
        stats_.reserved_bytes -= static_cast<int64_t>(it->first);
        it = free_.erase(it);
      } else {
        (void)cudaGetLastError();
        ++it;  // kept: still ours, still counted
      }
    }
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
  struct Live {
    size_t size;  // size class
    int pool;     // 0: shared; else the graph pool it belongs to
  };
  struct Pool {
    std::multimap<size_t, void*> free;
  };
  std::multimap<size_t, void*> free_;     // size → cached block (shared)
  std::unordered_map<void*, Live> live_;  // blocks held by tensors
  std::unordered_map<int, Pool> pools_;   // private pools of live graphs
  int capturing_pool_ = 0, next_pool_ = 1;
  std::thread::id capturing_thread_;
  size_t size_of_taken_ = 0;              // size class of the block take_cached returned
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
      DeviceGuard g(d, std::nothrow);  // called from destructors: never throws
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
      if (q != cudaSuccess) {
        // Not ready, or not queryable (recorded during a capture): not reusable yet.
        (void)cudaGetLastError();
        return false;
      }
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
int begin_graph_pool(int index) { return allocator_of(index).begin_pool(); }
void end_graph_pool(int index) { allocator_of(index).end_pool(); }
void release_graph_pool(int index, int pool) { allocator_of(index).release_pool(pool); }

Allocator* pinned_allocator() { return &pinned(); }
bool is_pinned(const void* p, size_t nbytes) { return device_count() > 0 && pinned().contains(p, nbytes); }
void mark_pinned_in_use(const void* p, int index) { pinned().mark(p, index); }

}  // namespace nl::cuda
