// Dropout layer (see dropout.h).
#include "engine/nn/dropout.h"

#include "engine/core/error.h"
#include "engine/ops/random.h"

namespace nl::nn {

Dropout::Dropout(double p_, Generator* gen_) : p(p_), gen(gen_) {
  NL_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), gen); }

}  // namespace nl::nn
