// Batch normalisation and layer normalisation with fused forward and backward kernels.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace nl {

// x [N, C, *]. In training, normalises with batch statistics and, when running_mean/var
// are defined, updates them in place: r = (1 - momentum) r + momentum * stat (unbiased var).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// relu(batch_norm(...)) with the same arguments, in one pass on the CPU (and its gradient in
// one pass too): what nn::Sequential and nn::BatchNorm::forward_relu use for BatchNorm → ReLU.
Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                       Tensor running_var, bool training, double momentum, double eps);
// Normalises over the trailing dims given by `normalized_shape`; weight/bias of that shape
// or undefined.
Tensor layer_norm(const Tensor& x, const std::vector<int64_t>& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

}  // namespace nl
