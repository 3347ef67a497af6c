// Add and Concat layers (see structural.h).
#include "engine/nn/structural.h"

#include "engine/core/error.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/movement.h"

namespace nl::nn {

Tensor Add::forward(const std::vector<Tensor>& inputs) {
  NL_CHECK(inputs.size() >= 2, "Add: needs at least two inputs, got ", inputs.size());
  Tensor total = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) total = add(total, inputs[i]);
  return total;
}

Tensor Concat::forward(const std::vector<Tensor>& inputs) {
  NL_CHECK(inputs.size() >= 2, "Concat: needs at least two inputs, got ", inputs.size());
  return cat(inputs, dim);
}

}  // namespace nl::nn
