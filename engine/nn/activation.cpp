// Activation layers whose forward needs more than the header (see activation.h).
#include "engine/nn/activation.h"

#include "engine/ops/softmax.h"

namespace nl::nn {

Tensor Softmax::forward(const Tensor& x) { return softmax(x, dim); }

}  // namespace nl::nn
