// softmax and log_softmax along one dimension: the backend's stable kernel forward, and a
// backward rule that needs only the output (saved detached, so the node does not own its
// own output and form a reference cycle).
#include "engine/ops/softmax.h"

#include "engine/ops/op_utils.h"

namespace nl {
namespace {

Tensor softmax_op(const Tensor& x_in, int64_t dim_in, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  detail::check_defined(name, x_in, "input");
  NL_CHECK(x_in.dtype() == DType::Float32, name, ": input must be float32, got ", dtype_name(x_in.dtype()));
  const int dim = wrap_dim(dim_in, x_in.dim(), name);
  const bool grad = needs_grad({&x_in});
  const Device device = x_in.device();

  NoGradGuard no_grad;
  Tensor x = x_in.contiguous();
  Tensor out = Tensor::empty(x.shape(), DType::Float32, device);
  backend_for(device).softmax(x, dim, log, out);

  if (grad) {
    record(name, out, {&x_in}, [y = out.detach(), dim, log, device](const Tensor& g) {
      Tensor gx = Tensor::empty(y.shape(), DType::Float32, device);
      backend_for(device).softmax_backward(g.contiguous(), y, dim, log, gx);
      return std::vector<Tensor>{gx};
    });
  }
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_op(x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_op(x, dim, true); }

}  // namespace nl
