// 2-D max and average pooling (NCHW).
#pragma once
#include "engine/backends/backend.h"
#include "engine/core/tensor.h"

namespace nl {

Tensor max_pool2d(const Tensor& x, const Pool2dParams& p);
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p);

}  // namespace nl
