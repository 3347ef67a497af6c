// Dropout layer: zeroes elements with probability p in training (scaling the rest by
// 1 / (1 - p)) and passes input through unchanged in eval, as torch.nn.Dropout.
#pragma once
#include "engine/core/generator.h"
#include "engine/nn/module.h"

namespace nl::nn {

class Dropout : public Module {
 public:
  // gen: where the masks come from; null = the default generator.
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  using Module::forward;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  double p;
  Generator* gen;
};

}  // namespace nl::nn
