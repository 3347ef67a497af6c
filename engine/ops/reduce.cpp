// Reduction ops and their gradients; var/std/logsumexp are composed from primitives.
#include "engine/ops/reduce.h"

#include <cmath>

#include "engine/ops/elementwise.h"
#include "engine/ops/op_utils.h"

namespace nl {
namespace {

struct ReducePlan {
  std::vector<bool> mask;
  Shape keep_shape;  // reduced dims set to 1
  Shape out_shape;   // as returned (keepdim or not)
  int64_t count = 1; // elements per output
};

ReducePlan plan(const char* op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p;
  p.mask.assign(x.dim(), dims.empty());
  for (int64_t d : dims) {
    int w = wrap_dim(d, x.dim(), op);
    if (x.dim() == 0) continue;
    NL_CHECK(!p.mask[w] || dims.empty(), op, ": dimension ", d, " appears twice");
    p.mask[w] = true;
  }
  for (int i = 0; i < x.dim(); ++i) {
    int64_t s = x.shape()[i];
    if (p.mask[i]) {
      p.count *= s;
      p.keep_shape.push_back(1);
      if (keepdim) p.out_shape.push_back(1);
    } else {
      p.keep_shape.push_back(s);
      p.out_shape.push_back(s);
    }
  }
  return p;
}

Tensor run_reduce(ReduceOp op, const Tensor& x, const ReducePlan& p, DType out_dtype) {
  Tensor out = Tensor::empty(p.keep_shape, out_dtype, x.device());
  backend_for(x.device()).reduce(op, x, p.mask, out);
  return detail::raw_view(out, p.out_shape, contiguous_strides(p.out_shape), 0);
}

Tensor reduce_float(const char* name, const Tensor& x_in) {
  detail::check_defined(name, x_in, "input");
  if (x_in.dtype() == DType::Float32 || x_in.dtype() == DType::Float64) return x_in;
  return x_in.to(DType::Float32);
}

}  // namespace

Tensor sum(const Tensor& x_in, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_defined("sum", x_in, "input");
  Tensor x = x_in.dtype() == DType::Bool || x_in.dtype() == DType::UInt8 ? x_in.to(DType::Int64) : x_in;
  if (x.dtype() == DType::Float16 || x.dtype() == DType::BFloat16) x = x.to(DType::Float32);
  ReducePlan p = plan("sum", x, dims, keepdim);
  Tensor out = run_reduce(ReduceOp::Sum, x, p, x.dtype());
  if (needs_grad({&x})) {
    Shape keep = p.keep_shape, in_shape = x.shape();
    record("sum", out, {&x}, [keep, in_shape](const Tensor& g) {
      return std::vector<Tensor>{g.reshape(keep).expand(in_shape)};
    });
  }
  return out;
}
Tensor sum(const Tensor& x) { return sum(x, {}, false); }

Tensor mean(const Tensor& x_in, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor x = reduce_float("mean", x_in);
  ReducePlan p = plan("mean", x, dims, keepdim);
  Tensor out = run_reduce(ReduceOp::Mean, x, p, x.dtype());
  if (needs_grad({&x})) {
    Shape keep = p.keep_shape, in_shape = x.shape();
    double scale = 1.0 / static_cast<double>(p.count);
    record("mean", out, {&x}, [keep, in_shape, scale](const Tensor& g) {
      return std::vector<Tensor>{mul(g, scale).reshape(keep).expand(in_shape)};
    });
  }
  return out;
}
Tensor mean(const Tensor& x) { return mean(x, {}, false); }

static Tensor extreme(const char* name, ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  detail::check_defined(name, x, "input");
  ReducePlan p = plan(name, x, dims, keepdim);
  NL_CHECK(p.count > 0 || x.numel() == 0, name, ": cannot reduce over an empty dimension of ", x.shape().str());
  Tensor out = run_reduce(op, x, p, x.dtype());
  if (needs_grad({&x})) {
    Shape keep = p.keep_shape;
    Tensor y = out.detach();
    std::vector<int64_t> red_dims;
    for (int i = 0; i < x.dim(); ++i)
      if (p.mask[i]) red_dims.push_back(i);
    record(name, out, {&x}, [x, y, keep, red_dims](const Tensor& g) {
      // Gradient shared evenly between the elements equal to the extreme value.
      Tensor hit = eq(x, y.reshape(keep)).to(g.dtype());
      Tensor count = sum(hit, red_dims, true);
      return std::vector<Tensor>{mul(div(g.reshape(keep), count), hit)};
    });
  }
  return out;
}
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme("amax", ReduceOp::Max, x, dims, keepdim);
}
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme("amin", ReduceOp::Min, x, dims, keepdim);
}

static Tensor arg_extreme(const char* name, ReduceOp op, const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_defined(name, x, "input");
  if (x.dim() == 0) return zeros(Shape{}, {.dtype = DType::Int64, .device = x.device()});
  int d = wrap_dim(dim, x.dim(), name);
  NL_CHECK(x.shape()[d] > 0, name, ": dimension ", d, " of ", x.shape().str(), " is empty");
  ReducePlan p = plan(name, x, {d}, keepdim);
  return run_reduce(op, x, p, DType::Int64);
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) { return arg_extreme("argmax", ReduceOp::ArgMax, x, dim, keepdim); }
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) { return arg_extreme("argmin", ReduceOp::ArgMin, x, dim, keepdim); }

Tensor var(const Tensor& x_in, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  Tensor x = reduce_float("var", x_in);
  ReducePlan p = plan("var", x, dims, keepdim);
  Tensor mu = mean(x, dims, true);
  Tensor d = sub(x, mu);
  Tensor ss = sum(mul(d, d), dims, keepdim);
  double denom = static_cast<double>(p.count - correction);
  return div(ss, denom > 0 ? denom : 0.0);  // as PyTorch: 0 or fewer degrees of freedom give inf/nan
}

Tensor stddev(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor logsumexp(const Tensor& x_in, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor x = reduce_float("logsumexp", x_in);
  // Shift by the (detached) maximum for stability; the shift cancels in the gradient.
  Tensor m = amax(x.detach(), dims, true);
  m = where(isnan(m), zeros_like(m), where(lt(abs(m), INFINITY), m, zeros_like(m)));
  Tensor s = log(sum(exp(sub(x, m)), dims, true));
  Tensor out = add(s, m);
  if (!keepdim) {
    ReducePlan p = plan("logsumexp", x, dims, false);
    out = out.reshape(p.out_shape);
  }
  return out;
}

}  // namespace nl
