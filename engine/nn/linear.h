// Linear (fully connected) layer: y = x W^T + b, with torch.nn.Linear's parameter names,
// shapes ([out, in] weight, [out] bias) and default initialisation.
#pragma once
#include "engine/core/generator.h"
#include "engine/nn/module.h"

namespace nl::nn {

class Linear : public Module {
 public:
  // Weight: kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)); bias the same bound.
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* gen = nullptr);

  using Module::forward;
  Tensor forward(const Tensor& x) override;  // x [..., in] → [..., out]
  std::string type_name() const override { return "Linear"; }

  int64_t in_features, out_features;
  Tensor weight;  // [out, in]
  Tensor bias;    // [out], undefined when constructed without bias
};

}  // namespace nl::nn
