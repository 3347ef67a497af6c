// Linear layer (see linear.h).
#include "engine/nn/linear.h"

#include <cmath>

#include "engine/core/error.h"
#include "engine/nn/init.h"
#include "engine/ops/matmul.h"

namespace nl::nn {

Linear::Linear(int64_t in, int64_t out, bool has_bias, Generator* gen) : in_features(in), out_features(out) {
  NL_CHECK(in > 0 && out > 0, "Linear: features must be positive, got in ", in, ", out ", out);
  weight = empty({out, in});
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, "leaky_relu", gen);
  register_parameter("weight", weight);
  if (has_bias) {
    double bound = 1.0 / std::sqrt((double)in);
    bias = empty({out});
    init::uniform_(bias, -bound, bound, gen);
    register_parameter("bias", bias);
  }
}

Tensor Linear::forward(const Tensor& x) {
  NL_CHECK(x.dim() >= 1 && x.size(-1) == in_features, "Linear: expected input [..., ", in_features, "], got ",
           x.shape().str());
  return linear(x, weight, bias);
}

}  // namespace nl::nn
