// Embedding layer (see embedding.h).
#include "engine/nn/embedding.h"

#include "engine/autograd/node.h"
#include "engine/core/error.h"
#include "engine/ops/elementwise.h"
#include "engine/nn/init.h"
#include "engine/ops/indexing.h"

namespace nl::nn {

Embedding::Embedding(int64_t n, int64_t d, std::optional<int64_t> pad, Generator* gen)
    : num_embeddings(n), embedding_dim(d) {
  NL_CHECK(n > 0 && d > 0, "Embedding: sizes must be positive, got ", n, " x ", d);
  if (pad) {
    NL_CHECK(*pad >= -n && *pad < n, "Embedding: padding_idx ", *pad, " is outside [", -n, ", ", n, ")");
    padding_idx = *pad < 0 ? *pad + n : *pad;
  }
  weight = empty({n, d});
  init::normal_(weight, 0.0, 1.0, gen);
  if (padding_idx) {
    NoGradGuard no_grad;
    Tensor row = weight.select(0, *padding_idx);
    zero_(row);
  }
  register_parameter("weight", weight);
}

Tensor Embedding::forward(const Tensor& indices) {
  Tensor looked_up = embedding(weight, indices);
  if (!padding_idx) return looked_up;
  // Padding positions read the same row through a detached weight, so no gradient reaches it.
  Tensor is_padding = eq(indices, full_like(indices, (double)*padding_idx)).unsqueeze(-1);
  return where(is_padding, embedding(weight.detach(), indices), looked_up);
}

}  // namespace nl::nn
