// Shared cuDNN plumbing of the CUDA backend (used by cudnn_conv.cpp and
// cudnn_batch_norm.cpp only): one handle per device bound to its compute stream, errors
// turned into nl::Error, and RAII owners of the legacy descriptors. Host code only.
#pragma once
#include <cudnn.h>

#include <mutex>

#include "engine/core/dtype.h"
#include "engine/core/error.h"

namespace nl::cuda {

// Throws OutOfMemoryError for CUDNN_STATUS_ALLOC_FAILED, else nl::Error
// "<op>: cuDNN error <name> (<call>)".
[[noreturn]] void raise_cudnn_error(cudnnStatus_t status, const char* op, const char* call);

#define NL_CUDNN_CHECK(call, op)                                                               \
  do {                                                                                         \
    cudnnStatus_t nl_cudnn_status_ = (call);                                                   \
    if (nl_cudnn_status_ != CUDNN_STATUS_SUCCESS) ::nl::cuda::raise_cudnn_error(nl_cudnn_status_, (op), #call); \
  } while (0)

// Note [cuDNN handles]: a cuDNN handle may not be used by two host threads at once, so each
// device has one handle (created on first use, bound to compute_stream(index), never
// destroyed: see Note [Leaked handles] in cublas_matmul.cpp) and a mutex that a session
// holds while it queues work. The GPU runs everything on the one stream anyway; only the
// host-side enqueueing is serialised.
class CudnnSession {
 public:
  CudnnSession(int index, const char* op);
  cudnnHandle_t handle() const { return handle_; }

 private:
  std::unique_lock<std::mutex> lock_;
  cudnnHandle_t handle_ = nullptr;
};

// cuDNN's data type for a floating dtype; `op` names the op in the error for the rest.
cudnnDataType_t cudnn_data_type(DType t, const char* op);

class TensorDescriptor {
 public:
  TensorDescriptor();
  ~TensorDescriptor();
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
  // Contiguous NCHW of `type`; every size must fit an int (checked by the caller).
  void set_nchw(cudnnDataType_t type, int n, int c, int h, int w, const char* op);
  cudnnTensorDescriptor_t get() const { return desc_; }

 private:
  cudnnTensorDescriptor_t desc_ = nullptr;
};

class FilterDescriptor {
 public:
  FilterDescriptor();
  ~FilterDescriptor();
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
  void set_oihw(cudnnDataType_t type, int o, int i, int h, int w, const char* op);
  cudnnFilterDescriptor_t get() const { return desc_; }

 private:
  cudnnFilterDescriptor_t desc_ = nullptr;
};

class ConvolutionDescriptor {
 public:
  ConvolutionDescriptor();
  ~ConvolutionDescriptor();
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
  cudnnConvolutionDescriptor_t get() const { return desc_; }

 private:
  cudnnConvolutionDescriptor_t desc_ = nullptr;
};

}  // namespace nl::cuda
