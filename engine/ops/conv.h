// 2-D convolution (NCHW, OIHW weights) via im2col + GEMM: stride, padding, dilation and
// groups (depthwise when groups == channels).
#pragma once
#include "engine/backends/backend.h"
#include "engine/core/tensor.h"

namespace nl {

// x [N, C, H, W], weight [O, C/groups, kH, kW], bias [O] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p = {});

}  // namespace nl
