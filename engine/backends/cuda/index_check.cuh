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
#include <string>
#include <utility>

#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_context.h"
#include "engine/backends/deferred_checks.h"
#include "engine/core/tensor.h"

namespace nl::cuda {


constexpr unsigned long long kNoBadIndex = ~0ull;

__device__ __forceinline__ void note_bad_index(unsigned long long* flag, int64_t position) {
  atomicMin(flag, static_cast<unsigned long long>(position));
}

// Writes the bad index's value next to its position (flag[1] = indices[flag[0]]), on the
// device, so a deferred check can report it after `indices` is gone.
static __global__ void record_bad_value_kernel(unsigned long long* flag, const int64_t* indices) {
  if (flag[0] != kNoBadIndex) flag[1] = static_cast<unsigned long long>(indices[flag[0]]);
}

class BadIndexProbe {
 public:
  BadIndexProbe(int device_index, cudaStream_t stream, const char* op)
      : device_(device_index),
        stream_(stream),
        op_(op),
        buffer_(Tensor::empty({2}, DType::Int64, Device::cuda(device_index))) {
    NL_CUDA_CHECK(cudaMemsetAsync(flag(), 0xff, sizeof(unsigned long long), stream_), op_);
  }
  unsigned long long* flag() const { return static_cast<unsigned long long*>(buffer_.storage()->data()); }

  // After the kernel that read `indices` was queued: throws `message(value, position)` for
  // the first index out of range. Waits for the device, unless checks are deferred
  // (engine/backends/deferred_checks.h: then the check runs when the trainer reads its
  // metrics back) or a graph is being captured (then nothing is reported, see above).
  template <class Message>
  void check(const int64_t* indices, Message message) const {
    if (is_capturing(device_)) return;
    record_bad_value_kernel<<<1, 1, 0, stream_>>>(flag(), indices);
    NL_CUDA_CHECK_LAUNCH(op_);
    if (deferred_checks_enabled()) {
      Tensor buffer = buffer_;
      const int device = device_;
      const char* op = op_;
      defer_check([buffer, device, op, message] {
        const auto [position, value] = read(buffer, device, op);
        if (position >= 0) fail(message(value, position), " (found when the step's results were read back)");
      });
      return;
    }
    const auto [position, value] = read(buffer_, device_, op_);
    if (position >= 0) fail(message(value, position));
  }

 private:
  // {position, value} of the first bad index, position -1 when none.
  static std::pair<int64_t, int64_t> read(const Tensor& buffer, int device, const char* op) {
    unsigned long long host[2] = {kNoBadIndex, 0};
    cudaStream_t stream = compute_stream(device);
    NL_CUDA_CHECK(cudaMemcpyAsync(host, buffer.storage()->data(), sizeof(host), cudaMemcpyDeviceToHost, stream), op);
    NL_CUDA_CHECK(cudaStreamSynchronize(stream), op);
    if (host[0] == kNoBadIndex) return {-1, 0};
    return {static_cast<int64_t>(host[0]), static_cast<int64_t>(host[1])};
  }

  int device_;
  cudaStream_t stream_;
  const char* op_;
  Tensor buffer_;
};

}  // namespace nl::cuda
