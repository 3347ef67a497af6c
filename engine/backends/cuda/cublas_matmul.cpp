// CudaBackend::matmul through cuBLAS (cublasGemmStridedBatchedEx). The one place that holds
// cuBLAS state: a handle per device, created on first use, bound to the device's compute
// stream and given a workspace from the caching allocator.
//
// Note [Row-major GEMM on cuBLAS]: cuBLAS is column-major. A row-major [R, C] slice with
// row stride ld is, to cuBLAS, the column-major [C, R] matrix (its transpose) with the same
// ld. So the row-major product out = a·b (out [M, N]) is handed over as the column-major
// product outᵀ = bᵀ·aᵀ: m = N, n = M, k = K, cuBLAS's first operand is b, its second is a,
// and out is written with ldc = N. An operand that is itself a transposed view (unit stride
// along its rows) is column-major already, so it goes over with CUBLAS_OP_T instead of
// being copied — the same rule as the CPU's sgemm path (cpu/matmul.cpp). Broadcast batches
// (stride 0) are passed as a batch stride of 0. Only slices that are neither row- nor
// column-major (e.g. a strided slice of columns) are copied, and for a broadcast operand
// only its one slice.
#include <cublas_v2.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/autograd/node.h"
#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_context.h"
#include "engine/core/math_settings.h"
#include "engine/core/storage.h"

namespace nl::cuda {
namespace {

[[noreturn]] void raise_cublas_error(cublasStatus_t status, const char* op, const char* call) {
  const char* what = cublasGetStatusString(status);
  if (status == CUBLAS_STATUS_ALLOC_FAILED)
    throw OutOfMemoryError(std::string(op) + ": cuBLAS could not allocate memory (" + call + ")");
  fail(op, ": cuBLAS error ", what ? what : "(unknown)", " (", call, ")");
}

#define NL_CUBLAS_CHECK(call, op)                                                          \
  do {                                                                                     \
    cublasStatus_t nl_cublas_status_ = (call);                                             \
    if (nl_cublas_status_ != CUBLAS_STATUS_SUCCESS) raise_cublas_error(nl_cublas_status_, (op), #call); \
  } while (0)

// cuBLAS's workspace: Hopper's kernels want up to 32 MiB (PyTorch uses the same), older
// GPUs far less; a fixed workspace keeps cuBLAS from allocating behind the allocator's back.
constexpr int64_t kWorkspaceBytes = 32LL << 20;

struct DeviceBlas {
  cublasHandle_t handle = nullptr;
  Tensor workspace;  // device bytes from the caching allocator, alive as long as the handle
};

// Note [Leaked handles]: the handles live until the process ends and are never destroyed:
// cublasDestroy in a static destructor would run after the CUDA runtime (or the caching
// allocator) may already be torn down. The driver reclaims everything at exit.
DeviceBlas& device_blas(int index) {
  static std::mutex mutex;
  static auto* table = new std::vector<DeviceBlas*>();
  std::lock_guard<std::mutex> lock(mutex);
  if (static_cast<int>(table->size()) <= index) table->resize(static_cast<size_t>(index) + 1, nullptr);
  DeviceBlas*& slot = (*table)[static_cast<size_t>(index)];
  if (!slot) {
    auto blas = std::make_unique<DeviceBlas>();
    NL_CUBLAS_CHECK(cublasCreate(&blas->handle), "matmul");
    try {
      NL_CUBLAS_CHECK(cublasSetStream(blas->handle, compute_stream(index)), "matmul");
      // Reductions accumulate in the compute type (float for the half types), never in the
      // 16-bit output type: results stay within rounding of the CPU's float GEMM.
      NL_CUBLAS_CHECK(cublasSetMathMode(blas->handle, static_cast<cublasMath_t>(
                                                          CUBLAS_DEFAULT_MATH |
                                                          CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)),
                      "matmul");
      blas->workspace = Tensor::empty(Shape{kWorkspaceBytes}, DType::UInt8, Device::cuda(index));
      NL_CUBLAS_CHECK(cublasSetWorkspace(blas->handle, blas->workspace.storage()->data(),
                                         static_cast<size_t>(kWorkspaceBytes)),
                      "matmul");
    } catch (...) {
      cublasDestroy(blas->handle);
      throw;
    }
    slot = blas.release();
  }
  return *slot;
}

char* device_bytes(const Tensor& t) {
  return static_cast<char*>(t.storage()->data()) + t.offset() * static_cast<int64_t>(t.element_size());
}

// How one [B, R, C] operand is handed to cuBLAS (see Note [Row-major GEMM on cuBLAS]).
struct GemmOperand {
  Tensor t;  // `x` itself, or a contiguous copy
  cublasOperation_t op = CUBLAS_OP_N;
  int64_t ld = 0;
  int64_t batch_stride = 0;
};

GemmOperand as_gemm_operand(const Tensor& x) {
  const int64_t rows = x.shape()[1], cols = x.shape()[2];
  const int64_t s0 = x.strides()[0], s1 = x.strides()[1], s2 = x.strides()[2];
  GemmOperand g;
  // Row-major slice: unit column stride and a row stride that fits the row.
  if ((s2 == 1 || cols == 1) && (s1 >= std::max<int64_t>(cols, 1) || rows == 1)) {
    g.t = x;
    g.op = CUBLAS_OP_N;
    g.ld = std::max<int64_t>({s1, cols, 1});
    g.batch_stride = x.shape()[0] == 1 ? 0 : s0;
    return g;
  }
  // Column-major slice (a transposed view): cuBLAS transposes it for free.
  if ((s1 == 1 || rows == 1) && (s2 >= std::max<int64_t>(rows, 1) || cols == 1)) {
    g.t = x;
    g.op = CUBLAS_OP_T;
    g.ld = std::max<int64_t>({s2, rows, 1});
    g.batch_stride = x.shape()[0] == 1 ? 0 : s0;
    return g;
  }
  // Neither: copy. A batch broadcast by stride 0 is one slice, copied once.
  NoGradGuard no_grad;
  const bool broadcast = x.shape()[0] == 1 || s0 == 0;
  g.t = (broadcast ? x.narrow(0, 0, 1) : x).contiguous();
  g.op = CUBLAS_OP_N;
  g.ld = std::max<int64_t>(cols, 1);
  g.batch_stride = broadcast ? 0 : rows * cols;
  return g;
}

struct GemmTypes {
  cudaDataType_t data;
  cublasComputeType_t compute;
};

GemmTypes gemm_types(DType t) {
  switch (t) {
    case DType::Float32:
      // Note [TF32] in engine/core/math_settings.h.
      return {CUDA_R_32F, allow_tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F};
    case DType::Float64: return {CUDA_R_64F, CUBLAS_COMPUTE_64F};
    case DType::BFloat16: return {CUDA_R_16BF, CUBLAS_COMPUTE_32F};
    case DType::Float16: return {CUDA_R_16F, CUBLAS_COMPUTE_32F};
    default: break;
  }
  fail("matmul: ", dtype_name(t), " is not supported on CUDA (float32, float64, float16 and bfloat16 only)");
}

void check_int(int64_t v, const char* what) {
  NL_CHECK(v <= INT_MAX, "matmul: ", what, " (", v, ") exceeds cuBLAS's 32-bit limit of ", INT_MAX);
}

}  // namespace

void CudaBackend::matmul(const Tensor& a, const Tensor& b, Tensor& out, bool accumulate) {
  NL_CHECK(a.dtype() == b.dtype() && a.dtype() == out.dtype(), "matmul: operands must share one dtype, got ",
           dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), " and output ", dtype_name(out.dtype()));
  const GemmTypes types = gemm_types(a.dtype());
  NL_CHECK(a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && out.is_contiguous(), "matmul kernel: bad operands");
  const int64_t B = out.shape()[0], M = out.shape()[1], N = out.shape()[2], K = a.shape()[2];
  NL_CHECK(a.shape()[0] == B && b.shape()[0] == B && a.shape()[1] == M && b.shape()[1] == K && b.shape()[2] == N,
           "matmul kernel: operand shapes ", a.shape().str(), " and ", b.shape().str(), " do not give ",
           out.shape().str());
  if (M == 0 || N == 0 || B == 0) return;
  DeviceGuard guard(index_);
  cudaStream_t stream = compute_stream(index_);
  if (K == 0) {
    // An empty sum: zeros, or out unchanged when accumulating.
    if (!accumulate)
      NL_CUDA_CHECK(cudaMemsetAsync(device_bytes(out), 0, static_cast<size_t>(out.numel()) * out.element_size(),
                                    stream),
                    "matmul");
    return;
  }
  GemmOperand ga = as_gemm_operand(a), gb = as_gemm_operand(b);
  DeviceBlas& blas = device_blas(index_);

  // alpha/beta are in the compute type's scalar type: double for 64F, float otherwise.
  const double alpha_d = 1.0, beta_d = accumulate ? 1.0 : 0.0;
  const float alpha_f = 1.0f, beta_f = accumulate ? 1.0f : 0.0f;
  const bool dbl = types.compute == CUBLAS_COMPUTE_64F;
  const void* alpha = dbl ? static_cast<const void*>(&alpha_d) : static_cast<const void*>(&alpha_f);
  const void* beta = dbl ? static_cast<const void*>(&beta_d) : static_cast<const void*>(&beta_f);
  const int64_t esize = static_cast<int64_t>(out.element_size());

  // With `a` one row-major block over the batch and `b` broadcast, fold the batch into M:
  // one large GEMM instead of B small ones (the common linear-layer case).
  int64_t rows = M, batches = B;
  if (B > 1 && ga.op == CUBLAS_OP_N && ga.ld == K && ga.batch_stride == M * K && gb.batch_stride == 0) {
    rows = B * M;
    batches = 1;
  }
  check_int(rows, "rows of the product");
  check_int(N, "columns of the product");
  check_int(K, "inner dimension");
  check_int(ga.ld, "leading dimension of the first operand");
  check_int(gb.ld, "leading dimension of the second operand");

  char* pa = device_bytes(ga.t);
  char* pb = device_bytes(gb.t);
  char* po = device_bytes(out);
  // cuBLAS takes at most 65535 batches per call on some versions and GPUs: chunk.
  constexpr int64_t kMaxBatch = 65535;
  for (int64_t first = 0; first < batches; first += kMaxBatch) {
    const int64_t count = std::min(kMaxBatch, batches - first);
    NL_CUBLAS_CHECK(cublasGemmStridedBatchedEx(
                        blas.handle, gb.op, ga.op, static_cast<int>(N), static_cast<int>(rows), static_cast<int>(K),
                        alpha, pb + first * gb.batch_stride * esize, types.data, static_cast<int>(gb.ld),
                        gb.batch_stride, pa + first * ga.batch_stride * esize, types.data, static_cast<int>(ga.ld),
                        ga.batch_stride, beta, po + first * M * N * esize, types.data, static_cast<int>(N), M * N,
                        static_cast<int>(count), types.compute, CUBLAS_GEMM_DEFAULT),
                    "matmul");
  }
}

}  // namespace nl::cuda
