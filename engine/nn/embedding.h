// Embedding layer: a learnable table of vectors looked up by integer index, with
// torch.nn.Embedding's parameter name ("weight", [num_embeddings, dim]) and N(0, 1) init.
#pragma once
#include "engine/core/generator.h"
#include "engine/nn/module.h"

namespace nl::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator* gen = nullptr);
  using Module::forward;
  Tensor forward(const Tensor& indices) override;  // int64 [*] → [*, embedding_dim]
  std::string type_name() const override { return "Embedding"; }
  int64_t num_embeddings, embedding_dim;
  Tensor weight;
};

}  // namespace nl::nn
