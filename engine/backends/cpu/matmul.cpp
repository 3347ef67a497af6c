// CPU batched matrix product through OpenBLAS cblas_sgemm. Transposed operands are passed
// to sgemm as CblasTrans with their own leading dimension instead of being copied.
#include <cblas.h>

#include "engine/backends/cpu/cpu_backend.h"

namespace nl {
namespace {

// How one batch slice of a [B, R, C] operand is handed to sgemm.
struct GemmOperand {
  Tensor t;  // possibly a contiguous copy
  CBLAS_TRANSPOSE trans = CblasNoTrans;
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
    g.trans = CblasNoTrans;
    g.ld = std::max<int64_t>({s1, cols, 1});
    g.batch_stride = s0;
    return g;
  }
  // Column-major slice (a transposed view): sgemm transposes it for free.
  if ((s1 == 1 || rows == 1) && (s2 >= std::max<int64_t>(rows, 1) || cols == 1)) {
    g.t = x;
    g.trans = CblasTrans;
    g.ld = std::max<int64_t>({s2, rows, 1});
    g.batch_stride = s0;
    return g;
  }
  g.t = x.contiguous();
  g.trans = CblasNoTrans;
  g.ld = std::max<int64_t>(cols, 1);
  g.batch_stride = x.shape()[0] == 1 ? 0 : rows * cols;
  return g;
}

}  // namespace

void CpuBackend::matmul(const Tensor& a, const Tensor& b, Tensor& out, bool accumulate) {
  NL_CHECK(a.dtype() == DType::Float32 && b.dtype() == DType::Float32 && out.dtype() == DType::Float32,
           "matmul: float32 only on the CPU, got ", dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  NL_CHECK(a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && out.is_contiguous(), "matmul kernel: bad operands");
  const int64_t B = out.shape()[0], M = out.shape()[1], N = out.shape()[2], K = a.shape()[2];
  if (M == 0 || N == 0 || B == 0) return;
  float* po = out.data<float>();
  if (K == 0) {
    if (!accumulate) std::fill(po, po + out.numel(), 0.0f);
    return;
  }
  GemmOperand ga = as_gemm_operand(a), gb = as_gemm_operand(b);
  const float* pa = ga.t.data<float>();
  const float* pb = gb.t.data<float>();
  const float beta = accumulate ? 1.0f : 0.0f;

  // When the batch has no stride on both operands (broadcast weights) and out is one
  // block, fold the batch into M: one large sgemm runs faster than B small ones.
  if (B > 1 && ga.trans == CblasNoTrans && ga.batch_stride == M * ga.ld && ga.ld == K && gb.batch_stride == 0) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, gb.trans, (int)(B * M), (int)N, (int)K, 1.0f, pa, (int)ga.ld, pb,
                (int)gb.ld, beta, po, (int)N);
    return;
  }
  for (int64_t i = 0; i < B; ++i) {
    cblas_sgemm(CblasRowMajor, ga.trans, gb.trans, (int)M, (int)N, (int)K, 1.0f, pa + i * ga.batch_stride,
                (int)ga.ld, pb + i * gb.batch_stride, (int)gb.ld, beta, po + i * M * N, (int)N);
  }
}

}  // namespace nl
