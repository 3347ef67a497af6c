// Dropout: a scaled Bernoulli mask from the generator, applied with mul (whose rule gives
// the gradient).
#include "engine/ops/random.h"

#include "engine/backends/backend.h"
#include "engine/ops/elementwise.h"

namespace nl {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  NL_CHECK(x.defined(), "dropout: input is undefined");
  NL_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
  if (!training || p == 0.0) return x;
  if (p == 1.0) return mul(x, 0.0);
  NL_CHECK(x.dtype() == DType::Float32, "dropout: input must be float32, got ", dtype_name(x.dtype()));
  Tensor mask = Tensor::empty(x.shape(), DType::Float32, x.device());
  backend_for(x.device()).dropout_mask(mask, p, gen ? *gen : default_generator());
  return mul(x, mask);
}

}  // namespace nl
