// Embedding layer: a learnable table of vectors looked up by integer index, with
// torch.nn.Embedding's parameter name ("weight", [num_embeddings, dim]) and N(0, 1) init.
// padding_idx, as in PyTorch, names a row that starts at zero and never gets a gradient.
#pragma once
#include <optional>

#include "engine/core/generator.h"
#include "engine/nn/module.h"

namespace nl::nn {

class Embedding : public Module {
 public:
  // padding_idx may be negative (counted from the end).
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::optional<int64_t> padding_idx = std::nullopt,
            Generator* gen = nullptr);
  using Module::forward;
  Tensor forward(const Tensor& indices) override;  // int64 [*] → [*, embedding_dim]
  std::string type_name() const override { return "Embedding"; }
  int64_t num_embeddings, embedding_dim;
  std::optional<int64_t> padding_idx;  // wrapped to [0, num_embeddings)
  Tensor weight;
};

}  // namespace nl::nn
