// Matrix products through the backend's GEMM (cblas_sgemm on the CPU): transposed views
// are folded into the GEMM call rather than copied.
#pragma once
#include "engine/core/tensor.h"

namespace nl {

// torch.matmul semantics: 1-D·1-D dot, 2-D matrix product, batched with broadcasting of
// the batch dimensions.
Tensor matmul(const Tensor& a, const Tensor& b);
// x @ weight^T + bias, weight [out, in], bias [out] or undefined; x [..., in].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace nl
