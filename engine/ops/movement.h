// Ops that move data between tensors: concatenation, splitting, stacking.
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace nl {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim);
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim);
// Pieces of the given sizes along dim (views of x).
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
// Pieces of `size` along dim, the last one smaller if needed (torch.split with an int).
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);

}  // namespace nl
