// The max_pool2d and avg_pool2d ops: argument checks, output sizes by PyTorch's rules
// (including ceil_mode), the backend kernels and their backward rules.
#include "engine/ops/pool.h"

#include <string>

#include "engine/autograd/node.h"

namespace nl {
namespace {

std::string pair_str(const int64_t (&v)[2]) { return "[" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + "]"; }

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// PyTorch's pooling_output_shape: with ceil_mode the division rounds up, but a last
// window that would start in the right padding (or beyond) is dropped.
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad, int64_t dilation, bool ceil_mode) {
  const int64_t span = in + 2 * pad - dilation * (kernel - 1) - 1;
  int64_t out = floor_div(span + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// Checks a 4-D float32 input and the parameters; returns the output shape.
Shape pool_output_shape(const char* op, const Tensor& x, const Pool2dParams& p, bool is_max) {
  NL_CHECK(x.dtype() == DType::Float32, op, ": input must be float32, got ", dtype_name(x.dtype()));
  NL_CHECK(p.kernel[0] >= 1 && p.kernel[1] >= 1, op, ": kernel size must be at least 1, got ", pair_str(p.kernel));
  NL_CHECK(p.stride[0] >= 1 && p.stride[1] >= 1, op, ": stride must be at least 1, got ", pair_str(p.stride));
  NL_CHECK(p.dilation[0] >= 1 && p.dilation[1] >= 1, op, ": dilation must be at least 1, got ", pair_str(p.dilation));
  NL_CHECK(is_max || (p.dilation[0] == 1 && p.dilation[1] == 1), op, ": dilation is not supported (got ",
           pair_str(p.dilation), "); only max_pool2d dilates its window");
  NL_CHECK(p.padding[0] >= 0 && p.padding[1] >= 0, op, ": padding must be non-negative, got ", pair_str(p.padding));

  Shape out{x.size(0), x.size(1), 0, 0};
  for (int d = 0; d < 2; ++d) {
    // As in PyTorch: more padding than half the (dilated) window would create windows
    // that see padding only.
    const int64_t window = is_max ? p.dilation[d] * (p.kernel[d] - 1) + 1 : p.kernel[d];
    NL_CHECK(p.padding[d] <= window / 2, op, ": padding ", pair_str(p.padding), " must be at most half of the ",
             is_max ? "dilated " : "", "kernel ", pair_str(p.kernel), " (", window / 2, " in ",
             d == 0 ? "height" : "width", ")");
    out[2 + d] = pool_output_size(x.size(2 + d), p.kernel[d], p.stride[d], p.padding[d], p.dilation[d], p.ceil_mode);
    NL_CHECK(out[2 + d] > 0, op, ": output size would be <= 0 (", out[2 + d], " in ", d == 0 ? "height" : "width",
             "): input ", x.shape(), " with kernel ", pair_str(p.kernel), ", padding ", pair_str(p.padding),
             ", dilation ", pair_str(p.dilation), " and stride ", pair_str(p.stride));
  }
  return out;
}

// A 3-D [C, H, W] input runs as a batch of one; anything else but 4-D is refused.
bool is_unbatched(const char* op, const Tensor& x) {
  NL_CHECK(x.defined(), op, ": input is undefined");
  NL_CHECK(x.dim() == 3 || x.dim() == 4, op, ": input must be 4-D [N, C, H, W] or 3-D [C, H, W], got ", x.shape());
  return x.dim() == 3;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const Pool2dParams& p) {
  if (is_unbatched("max_pool2d", x)) return max_pool2d(x.unsqueeze(0), p).squeeze(0);
  const Shape out_shape = pool_output_shape("max_pool2d", x, p, /*is_max=*/true);
  Tensor xc;
  {
    NoGradGuard no_grad;  // the node is recorded against x itself
    xc = x.contiguous().detach();
  }
  Tensor out = Tensor::empty(out_shape, DType::Float32, x.device());
  Tensor indices = Tensor::empty(out_shape, DType::Int64, x.device());
  backend_for(x.device()).max_pool2d(xc, out, indices, p);

  if (needs_grad({&x})) {
    record("max_pool2d", out, {&x}, [indices, x_shape = xc.shape()](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = g.contiguous();
      Tensor grad_x = Tensor::empty(x_shape, DType::Float32, gc.device());
      backend_for(gc.device()).max_pool2d_backward(gc, indices, grad_x);
      return {grad_x};
    });
  }
  return out;
}

Tensor avg_pool2d(const Tensor& x, const Pool2dParams& p) {
  if (is_unbatched("avg_pool2d", x)) return avg_pool2d(x.unsqueeze(0), p).squeeze(0);
  const Shape out_shape = pool_output_shape("avg_pool2d", x, p, /*is_max=*/false);
  Tensor xc;
  {
    NoGradGuard no_grad;  // the node is recorded against x itself
    xc = x.contiguous().detach();
  }
  Tensor out = Tensor::empty(out_shape, DType::Float32, x.device());
  backend_for(x.device()).avg_pool2d(xc, out, p);

  if (needs_grad({&x})) {
    record("avg_pool2d", out, {&x}, [p, x_shape = xc.shape()](const Tensor& g) -> std::vector<Tensor> {
      const Tensor gc = g.contiguous();
      Tensor grad_x = Tensor::empty(x_shape, DType::Float32, gc.device());
      backend_for(gc.device()).avg_pool2d_backward(gc, grad_x, p);
      return {grad_x};
    });
  }
  return out;
}

}  // namespace nl
