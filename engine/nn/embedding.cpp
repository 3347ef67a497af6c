// Embedding layer (see embedding.h).
#include "engine/nn/embedding.h"

#include "engine/core/error.h"
#include "engine/nn/init.h"
#include "engine/ops/indexing.h"

namespace nl::nn {

Embedding::Embedding(int64_t n, int64_t d, Generator* gen) : num_embeddings(n), embedding_dim(d) {
  NL_CHECK(n > 0 && d > 0, "Embedding: sizes must be positive, got ", n, " x ", d);
  weight = empty({n, d});
  init::normal_(weight, 0.0, 1.0, gen);
  register_parameter("weight", weight);
}

Tensor Embedding::forward(const Tensor& indices) { return embedding(weight, indices); }

}  // namespace nl::nn
