// CUDA runtime errors → nl::Error / nl::OutOfMemoryError with the op's name.
#include "engine/backends/cuda/cuda_check.h"

#include <sstream>

namespace nl::cuda {

void raise_cuda_error(cudaError_t err, const char* op, const char* call) {
  // Reading the last error resets it, unless the error is sticky (the context is lost;
  // then every later call fails too, and the message says so).
  (void)cudaGetLastError();
  std::ostringstream os;
  os << op << ": CUDA error " << static_cast<int>(err) << " (" << cudaGetErrorName(err) << ": "
     << cudaGetErrorString(err) << ") in " << call;
  if (err == cudaErrorMemoryAllocation) throw OutOfMemoryError(os.str());
  if (err == cudaErrorIllegalAddress || err == cudaErrorLaunchFailure || err == cudaErrorAssert)
    os << "; the CUDA context is now unusable, restart Netloom to use the GPU again";
  throw Error(os.str());
}

}  // namespace nl::cuda
