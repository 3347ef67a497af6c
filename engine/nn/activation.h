// Activation layers: stateless wrappers over the elementwise and softmax ops, so that
// activations can sit in a Sequential and be named in a model graph.
#pragma once
#include "engine/ops/elementwise.h"
#include "engine/nn/module.h"

namespace nl::nn {

class ReLU : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override { return relu(x); }
  std::string type_name() const override { return "ReLU"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string type_name() const override { return "LeakyReLU"; }
  double negative_slope;
};

class GELU : public Module {
 public:
  explicit GELU(GeluApproximation approximate = GeluApproximation::None) : approximate(approximate) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override { return gelu(x, approximate); }
  std::string type_name() const override { return "GELU"; }
  GeluApproximation approximate;
};

class SiLU : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override { return silu(x); }
  std::string type_name() const override { return "SiLU"; }
};

class Sigmoid : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
  std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override { return nl::tanh(x); }
  std::string type_name() const override { return "Tanh"; }
};

class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim) : dim(dim) {}
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Softmax"; }
  int64_t dim;
};

}  // namespace nl::nn
