// Numerically stable softmax and log-softmax along one dimension.
#pragma once
#include "engine/core/tensor.h"

namespace nl {

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

}  // namespace nl
