// Layers that only rearrange or combine tensors, for building graphs out of modules:
// Identity, Flatten, and the multi-input Add (residual connections) and Concat (skip concatenation).
#pragma once
#include "engine/nn/module.h"

namespace nl::nn {

// Passes its input through: a placeholder, e.g. for a residual branch without a projection.
class Identity : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string type_name() const override { return "Flatten"; }
  int64_t start_dim, end_dim;
};

// Sum of two or more inputs (broadcasting).
class Add : public Module {
 public:
  using Module::forward;
  Tensor forward(const std::vector<Tensor>& inputs) override;
  std::string type_name() const override { return "Add"; }
};

// Concatenation of two or more inputs along `dim` (channels by default).
class Concat : public Module {
 public:
  explicit Concat(int64_t dim = 1) : dim(dim) {}
  using Module::forward;
  Tensor forward(const std::vector<Tensor>& inputs) override;
  std::string type_name() const override { return "Concat"; }
  int64_t dim;
};

}  // namespace nl::nn
