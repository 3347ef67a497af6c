// Shared cuDNN plumbing (see cudnn_common.h).
#include "engine/backends/cuda/cudnn_common.h"

#include <memory>
#include <string>
#include <vector>

#include "engine/backends/cuda/cuda_context.h"

namespace nl::cuda {

void raise_cudnn_error(cudnnStatus_t status, const char* op, const char* call) {
  const char* what = cudnnGetErrorString(status);
  std::string msg = std::string(op) + ": cuDNN error " + (what ? what : "(unknown)") + " (" + call + ")";
  if (status == CUDNN_STATUS_ALLOC_FAILED) throw OutOfMemoryError(msg);
  throw Error(msg);
}

namespace {

struct DeviceCudnn {
  std::mutex mutex;
  cudnnHandle_t handle = nullptr;
};

DeviceCudnn& device_cudnn(int index, const char* op) {
  static std::mutex table_mutex;
  static auto* table = new std::vector<DeviceCudnn*>();  // leaked: Note [cuDNN handles]
  std::lock_guard<std::mutex> lock(table_mutex);
  if (static_cast<int>(table->size()) <= index) table->resize(static_cast<size_t>(index) + 1, nullptr);
  DeviceCudnn*& slot = (*table)[static_cast<size_t>(index)];
  if (!slot) {
    auto state = std::make_unique<DeviceCudnn>();
    NL_CUDNN_CHECK(cudnnCreate(&state->handle), op);
    cudnnStatus_t status = cudnnSetStream(state->handle, compute_stream(index));
    if (status != CUDNN_STATUS_SUCCESS) {
      cudnnDestroy(state->handle);
      raise_cudnn_error(status, op, "cudnnSetStream");
    }
    slot = state.release();
  }
  return *slot;
}

}  // namespace

CudnnSession::CudnnSession(int index, const char* op) {
  DeviceCudnn& state = device_cudnn(index, op);
  lock_ = std::unique_lock<std::mutex>(state.mutex);
  handle_ = state.handle;
}

cudnnDataType_t cudnn_data_type(DType t, const char* op) {
  switch (t) {
    case DType::Float32: return CUDNN_DATA_FLOAT;
    case DType::Float64: return CUDNN_DATA_DOUBLE;
    case DType::Float16: return CUDNN_DATA_HALF;
    case DType::BFloat16: return CUDNN_DATA_BFLOAT16;
    default: break;
  }
  fail(op, ": ", dtype_name(t), " is not supported on CUDA (float32, float64, float16 and bfloat16 only)");
}

TensorDescriptor::TensorDescriptor() { NL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc_), "cuDNN"); }
TensorDescriptor::~TensorDescriptor() { cudnnDestroyTensorDescriptor(desc_); }
void TensorDescriptor::set_nchw(cudnnDataType_t type, int n, int c, int h, int w, const char* op) {
  NL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc_, CUDNN_TENSOR_NCHW, type, n, c, h, w), op);
}

FilterDescriptor::FilterDescriptor() { NL_CUDNN_CHECK(cudnnCreateFilterDescriptor(&desc_), "cuDNN"); }
FilterDescriptor::~FilterDescriptor() { cudnnDestroyFilterDescriptor(desc_); }
void FilterDescriptor::set_oihw(cudnnDataType_t type, int o, int i, int h, int w, const char* op) {
  NL_CUDNN_CHECK(cudnnSetFilter4dDescriptor(desc_, type, CUDNN_TENSOR_NCHW, o, i, h, w), op);
}

ConvolutionDescriptor::ConvolutionDescriptor() {
  NL_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&desc_), "cuDNN");
}
ConvolutionDescriptor::~ConvolutionDescriptor() { cudnnDestroyConvolutionDescriptor(desc_); }

}  // namespace nl::cuda
