// Embedding lookup, gather and index_select.
#pragma once
#include "engine/core/tensor.h"

namespace nl {

// weight [V, D], indices Int64 of any shape → [*indices.shape, D].
Tensor embedding(const Tensor& weight, const Tensor& indices);
// torch.gather: out[i][j][k] = x[i][index[i][j][k]][k] for dim = 1, and so on.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// Rows of x along `dim` picked by a 1-D Int64 index.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);

}  // namespace nl
