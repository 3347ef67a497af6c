// Turns CUDA runtime errors into nl::Error exceptions that name the op and, for memory,
// the size asked for; never exit() or abort. Host code only.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

#include "engine/core/error.h"

namespace nl::cuda {

// Throws OutOfMemoryError for cudaErrorMemoryAllocation, else nl::Error, with
// "<op>: <CUDA's message> (<call>)". Clears the sticky "last error" first so that a caught
// error does not poison the next launch.
[[noreturn]] void raise_cuda_error(cudaError_t err, const char* op, const char* call);

}  // namespace nl::cuda

// Checks a CUDA runtime call; `op` names the engine op for the message.
#define NL_CUDA_CHECK(call, op)                                                   \
  do {                                                                            \
    cudaError_t nl_cuda_err_ = (call);                                            \
    if (nl_cuda_err_ != cudaSuccess) ::nl::cuda::raise_cuda_error(nl_cuda_err_, (op), #call); \
  } while (0)

// After a <<<...>>> launch: a bad configuration or a missing kernel image shows up here.
#define NL_CUDA_CHECK_LAUNCH(op) NL_CUDA_CHECK(cudaGetLastError(), (op))
