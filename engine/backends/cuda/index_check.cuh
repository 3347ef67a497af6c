// Range checks of index tensors on the device, for kernels that must refuse a bad index
// with the same message as the CPU backend ("embedding: index 7 at position 3 is out of
// range ..."). A kernel cannot throw, so the kernels that read indices skip any index out
// of range (never touching memory through it) and record the smallest bad position in an
// 8-byte flag with atomicMin; the host then reads the flag back once (the only stream
// synchronisation) and, when it is set, reads the offending value and throws. Because the
// smallest position wins, the message names the same element as the CPU's serial check.
// The outputs such a call leaves behind are discarded by the throwing op.
//
// While a CUDA graph is being captured the host cannot wait for the device (a wait would
// invalidate the capture), so the readback is skipped and a bad index goes unreported in
// captured steps: the kernels still never use it as an address, they skip it (its output
// row or its scatter is left out).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backends/cuda/cuda_check.h"
#include "engine/core/tensor.h"

namespace nl::cuda {

// Whether this thread is capturing a CUDA graph for device `index` (defined in
// cuda_graph.cpp; declared here as in cuda_context.h on main, which this branch predates).
bool is_capturing(int index);

constexpr unsigned long long kNoBadIndex = ~0ull;

__device__ __forceinline__ void note_bad_index(unsigned long long* flag, int64_t position) {
  atomicMin(flag, static_cast<unsigned long long>(position));
}

class BadIndexProbe {
 public:
  BadIndexProbe(int device_index, cudaStream_t stream, const char* op)
      : device_(device_index),
        stream_(stream),
        op_(op),
        buffer_(Tensor::empty({1}, DType::Int64, Device::cuda(device_index))) {
    NL_CUDA_CHECK(cudaMemsetAsync(flag(), 0xff, sizeof(unsigned long long), stream_), op_);
  }
  unsigned long long* flag() const { return static_cast<unsigned long long*>(buffer_.storage()->data()); }

  // Waits for the stream; the first bad position, or -1 when every index was in range
  // (or when a graph is being captured, see above).
  int64_t first_bad() const {
    if (is_capturing(device_)) return -1;
    unsigned long long host = kNoBadIndex;
    NL_CUDA_CHECK(cudaMemcpyAsync(&host, flag(), sizeof(host), cudaMemcpyDeviceToHost, stream_), op_);
    NL_CUDA_CHECK(cudaStreamSynchronize(stream_), op_);
    return host == kNoBadIndex ? -1 : static_cast<int64_t>(host);
  }

  // The value at `position` of a device array of indices (for the error message).
  int64_t value_at(const int64_t* indices, int64_t position) const {
    int64_t host = 0;
    NL_CUDA_CHECK(cudaMemcpyAsync(&host, indices + position, sizeof(host), cudaMemcpyDeviceToHost, stream_), op_);
    NL_CUDA_CHECK(cudaStreamSynchronize(stream_), op_);
    return host;
  }

 private:
  int device_;
  cudaStream_t stream_;
  const char* op_;
  Tensor buffer_;
};

}  // namespace nl::cuda
