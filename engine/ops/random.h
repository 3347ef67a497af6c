// Dropout (inverted: scales kept elements by 1/(1-p) in training, identity in eval).
#pragma once
#include "engine/core/generator.h"
#include "engine/core/tensor.h"

namespace nl {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

}  // namespace nl
