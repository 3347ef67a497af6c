// The CUDA caching allocator (device memory) and the pinned host allocator.
//
// Device memory: a thin cache around plain cudaMalloc, as PyTorch's c10 allocator but
// simpler. Sizes round up to size classes (512 B steps below 1 MiB, then eight steps per
// power of two, so at most 12.5 % is wasted); a freed block goes to its device's free list
// and the next request of a close size (at most 25 % larger) takes it without a driver
// call or a synchronisation. Every kernel of a device runs on its one compute stream, so a
// block freed by the host can be handed out again at once: work queued later on the same
// stream runs after the work that used it (stream order). When cudaMalloc refuses, the
// cache is returned to the driver and the request tried once more; if that fails too an
// OutOfMemoryError names the size and what is in use, and the process goes on (a smaller
// run succeeds). No managed memory anywhere.
//
// Pinned host memory (cudaHostAlloc) for batches: host → device copies from it run
// asynchronously. A freed pinned block is reused only after the copies queued from it
// have finished (an event recorded on the compute stream at free time).
#pragma once
#include <cstddef>

#include "engine/backends/backend.h"
#include "engine/core/allocator.h"

namespace nl::cuda {

Allocator* device_allocator(int index);
DeviceMemoryStats device_memory_stats(int index);
void empty_device_cache(int index);

// CUDA graph capture: allocations of the calling thread come from (and go back to) a pool
// private to the graph from begin_graph_pool() to end_graph_pool(); the pool's memory is
// never handed to other tensors until release_graph_pool() (when the graph is destroyed).
int begin_graph_pool(int index);
void end_graph_pool(int index);
void release_graph_pool(int index, int pool);

// Size class of a request (exposed for tests).
size_t round_allocation_size(size_t nbytes);

Allocator* pinned_allocator();
// True when [p, p + nbytes) lies inside a live pinned block.
bool is_pinned(const void* p, size_t nbytes);
// The pinned block holding `p` is read by work queued on device `index`'s compute stream:
// it must not be reused before that work has finished.
void mark_pinned_in_use(const void* p, int index);

}  // namespace nl::cuda
