// Elementwise ops with their backward rules (unary rules run as fused derivative kernels;
// binary rules are written with ops, and the engine undoes broadcasting).
#include "engine/ops/elementwise.h"

#include <cmath>

#include "engine/ops/op_utils.h"
#include "engine/ops/reduce.h"

namespace nl {

using detail::broadcast_view;

namespace {

bool float_only(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: case UnaryOp::Abs: case UnaryOp::Sign: case UnaryOp::Square: case UnaryOp::AddScalar:
    case UnaryOp::MulScalar: case UnaryOp::RSubScalar: case UnaryOp::Clamp: case UnaryOp::LogicalNot:
    case UnaryOp::IsNan:
      return false;
    default:
      return true;
  }
}

// Which unary derivatives read the forward output rather than the input.
bool backward_uses_output(UnaryOp op) {
  switch (op) {
    case UnaryOp::Exp: case UnaryOp::Sqrt: case UnaryOp::Rsqrt: case UnaryOp::Sigmoid: case UnaryOp::Tanh:
    case UnaryOp::Reciprocal:
      return true;
    default:
      return false;
  }
}

Tensor unary_op(const char* name, UnaryOp op, const Tensor& x_in, float a = 0, float b = 0) {
  detail::check_defined(name, x_in, "input");
  Tensor x = x_in;
  if (float_only(op) && !is_floating(x.dtype())) x = x.to(DType::Float32);
  NL_CHECK(x.dtype() != DType::Float64 && x.dtype() != DType::Float16 && x.dtype() != DType::BFloat16, name,
           ": ", dtype_name(x.dtype()), " tensors are not supported by this op; convert to float32 first");
  const bool to_bool = op == UnaryOp::LogicalNot || op == UnaryOp::IsNan;
  Tensor out = Tensor::empty(x.shape(), to_bool ? DType::Bool : x.dtype(), x.device());
  Backend& be = backend_for(x.device());
  be.unary(op, x, out, a, b);
  if (!to_bool && needs_grad({&x})) {
    // The output is saved detached: keeping `out` itself would make its node own it (a cycle).
    Tensor y = backward_uses_output(op) ? out.detach() : Tensor();
    Tensor xs = backward_uses_output(op) ? Tensor() : x;
    record(name, out, {&x}, [op, xs, y, a, b](const Tensor& g) {
      const Tensor& ref = xs.defined() ? xs : y;
      Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
      backend_for(g.device()).unary_backward(op, g, ref, y, gx, a, b);
      return std::vector<Tensor>{gx};
    });
  }
  return out;
}

bool is_comparison(BinaryOp op) { return op >= BinaryOp::Eq; }

Tensor binary_forward(const char* name, BinaryOp op, const Tensor& a_in, const Tensor& b_in, Tensor& a, Tensor& b) {
  detail::check_defined(name, a_in, "first input");
  detail::check_defined(name, b_in, "second input");
  detail::check_same_device(name, a_in, b_in);
  DType dt = detail::promote(a_in.dtype(), b_in.dtype());
  if ((op == BinaryOp::Div || op == BinaryOp::Pow) && !is_floating(dt)) dt = DType::Float32;
  a = a_in.to(dt);
  b = b_in.to(dt);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, is_comparison(op) ? DType::Bool : dt, a.device());
  backend_for(a.device()).binary(op, broadcast_view(a, shape), broadcast_view(b, shape), out);
  return out;
}

Tensor scalar_like(const Tensor& t, double v) { return full(Shape{}, v, {.dtype = t.dtype(), .device = t.device()}); }

void check_inplace(const char* op, const Tensor& self) {
  NL_CHECK(self.defined(), op, ": tensor is undefined");
  NL_CHECK(!(grad_enabled() && self.requires_grad()), op,
           ": in-place update of a tensor that requires grad would corrupt autograd; do it under NoGradGuard");
}

}  // namespace

Tensor neg(const Tensor& x) { return unary_op("neg", UnaryOp::Neg, x); }
Tensor exp(const Tensor& x) { return unary_op("exp", UnaryOp::Exp, x); }
Tensor log(const Tensor& x) { return unary_op("log", UnaryOp::Log, x); }
Tensor sqrt(const Tensor& x) { return unary_op("sqrt", UnaryOp::Sqrt, x); }
Tensor rsqrt(const Tensor& x) { return unary_op("rsqrt", UnaryOp::Rsqrt, x); }
Tensor abs(const Tensor& x) { return unary_op("abs", UnaryOp::Abs, x); }
Tensor relu(const Tensor& x) { return unary_op("relu", UnaryOp::Relu, x); }
Tensor leaky_relu(const Tensor& x, double slope) { return unary_op("leaky_relu", UnaryOp::LeakyRelu, x, (float)slope); }
Tensor sigmoid(const Tensor& x) { return unary_op("sigmoid", UnaryOp::Sigmoid, x); }
Tensor tanh(const Tensor& x) { return unary_op("tanh", UnaryOp::Tanh, x); }
Tensor gelu(const Tensor& x, GeluApproximation approx) {
  return approx == GeluApproximation::Tanh ? unary_op("gelu", UnaryOp::GeluTanh, x)
                                           : unary_op("gelu", UnaryOp::GeluErf, x);
}
Tensor silu(const Tensor& x) { return unary_op("silu", UnaryOp::Silu, x); }
Tensor softplus(const Tensor& x) { return unary_op("softplus", UnaryOp::Softplus, x); }
Tensor erf(const Tensor& x) { return unary_op("erf", UnaryOp::Erf, x); }
Tensor reciprocal(const Tensor& x) { return unary_op("reciprocal", UnaryOp::Reciprocal, x); }
Tensor square(const Tensor& x) { return unary_op("square", UnaryOp::Square, x); }
Tensor sin(const Tensor& x) { return unary_op("sin", UnaryOp::Sin, x); }
Tensor cos(const Tensor& x) { return unary_op("cos", UnaryOp::Cos, x); }
Tensor sign(const Tensor& x) { return unary_op("sign", UnaryOp::Sign, x); }
Tensor floor(const Tensor& x) { return unary_op("floor", UnaryOp::Floor, x); }
Tensor ceil(const Tensor& x) { return unary_op("ceil", UnaryOp::Ceil, x); }
Tensor round(const Tensor& x) { return unary_op("round", UnaryOp::Round, x); }
Tensor pow(const Tensor& x, double e) { return unary_op("pow", UnaryOp::PowScalar, x, (float)e); }
Tensor clamp(const Tensor& x, double lo, double hi) {
  NL_CHECK(!(lo > hi), "clamp: lower bound ", lo, " exceeds upper bound ", hi);
  return unary_op("clamp", UnaryOp::Clamp, x, (float)lo, (float)hi);
}
Tensor logical_not(const Tensor& x) { return unary_op("logical_not", UnaryOp::LogicalNot, x); }
Tensor isnan(const Tensor& x) { return unary_op("isnan", UnaryOp::IsNan, x); }

Tensor add(const Tensor& a, double v) { return unary_op("add", UnaryOp::AddScalar, a, (float)v); }
Tensor sub(const Tensor& a, double v) { return unary_op("sub", UnaryOp::AddScalar, a, (float)-v); }
Tensor mul(const Tensor& a, double v) { return unary_op("mul", UnaryOp::MulScalar, a, (float)v); }
Tensor div(const Tensor& a, double v) {
  if (!is_floating(a.dtype())) return div(a.to(DType::Float32), v);
  return unary_op("div", UnaryOp::MulScalar, a, (float)(1.0 / v));
}
Tensor rsub(const Tensor& a, double v) { return unary_op("rsub", UnaryOp::RSubScalar, a, (float)v); }

Tensor add(const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  Tensor out = binary_forward("add", BinaryOp::Add, a_in, b_in, a, b);
  if (needs_grad({&a, &b}))
    record("add", out, {&a, &b}, [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
  return out;
}

Tensor sub(const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  Tensor out = binary_forward("sub", BinaryOp::Sub, a_in, b_in, a, b);
  if (needs_grad({&a, &b})) {
    bool need_b = b.requires_grad();
    record("sub", out, {&a, &b}, [need_b](const Tensor& g) {
      return std::vector<Tensor>{g, need_b ? neg(g) : Tensor()};
    });
  }
  return out;
}

Tensor mul(const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  Tensor out = binary_forward("mul", BinaryOp::Mul, a_in, b_in, a, b);
  if (needs_grad({&a, &b})) {
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    // Save only what the other gradient needs.
    Tensor sa = need_b ? a : Tensor(), sb = need_a ? b : Tensor();
    record("mul", out, {&a, &b}, [sa, sb](const Tensor& g) {
      return std::vector<Tensor>{sb.defined() ? mul(g, sb) : Tensor(), sa.defined() ? mul(g, sa) : Tensor()};
    });
  }
  return out;
}

Tensor div(const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  Tensor out = binary_forward("div", BinaryOp::Div, a_in, b_in, a, b);
  if (needs_grad({&a, &b})) {
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    Tensor y = need_b ? out.detach() : Tensor();
    record("div", out, {&a, &b}, [b, y, need_a, need_b](const Tensor& g) {
      Tensor ga = need_a ? div(g, b) : Tensor();
      Tensor gb = need_b ? neg(div(mul(g, y), b)) : Tensor();  // d(a/b)/db = -(a/b)/b
      return std::vector<Tensor>{ga, gb};
    });
  }
  return out;
}

// maximum/minimum: the gradient goes to the larger (smaller) input, split evenly on ties.
static Tensor extremum(const char* name, BinaryOp op, const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  Tensor out = binary_forward(name, op, a_in, b_in, a, b);
  if (needs_grad({&a, &b})) {
    record(name, out, {&a, &b}, [a, b, op](const Tensor& g) {
      Tensor a_wins = op == BinaryOp::Maximum ? gt(a, b) : lt(a, b);
      Tensor tie = eq(a, b);
      Tensor half = mul(g, 0.5);
      Tensor zero = zeros_like(g);
      Tensor ga = where(tie, half, where(a_wins, g, zero));
      Tensor gb = where(tie, half, where(a_wins, zero, g));
      return std::vector<Tensor>{ga, gb};
    });
  }
  return out;
}
Tensor maximum(const Tensor& a, const Tensor& b) { return extremum("maximum", BinaryOp::Maximum, a, b); }
Tensor minimum(const Tensor& a, const Tensor& b) { return extremum("minimum", BinaryOp::Minimum, a, b); }

Tensor pow(const Tensor& a_in, const Tensor& e_in) {
  Tensor a, e;
  Tensor out = binary_forward("pow", BinaryOp::Pow, a_in, e_in, a, e);
  if (needs_grad({&a, &e})) {
    bool need_a = a.requires_grad(), need_e = e.requires_grad();
    Tensor y = out.detach();
    record("pow", out, {&a, &e}, [a, e, y, need_a, need_e](const Tensor& g) {
      Tensor ga = need_a ? mul(g, mul(e, pow(a, sub(e, 1.0)))) : Tensor();
      Tensor grad_e;
      if (need_e) {  // d a^e / de = a^e log a, taken as 0 where a == 0 and e >= 0 (PyTorch's rule)
        Tensor raw = mul(g, mul(y, log(a)));
        grad_e = where(logical_and(eq(a, 0.0), ge(e, 0.0)), zeros_like(raw), raw);
      }
      return std::vector<Tensor>{ga, grad_e};
    });
  }
  return out;
}

// ---- Comparisons and logic (no gradients) ----------------------------------------------

static Tensor compare(const char* name, BinaryOp op, const Tensor& a_in, const Tensor& b_in) {
  Tensor a, b;
  return binary_forward(name, op, a_in, b_in, a, b);
}
Tensor eq(const Tensor& a, const Tensor& b) { return compare("eq", BinaryOp::Eq, a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare("ne", BinaryOp::Ne, a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare("lt", BinaryOp::Lt, a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare("le", BinaryOp::Le, a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare("gt", BinaryOp::Gt, a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare("ge", BinaryOp::Ge, a, b); }
Tensor eq(const Tensor& a, double v) { return eq(a, scalar_like(a, v)); }
Tensor lt(const Tensor& a, double v) { return lt(a, scalar_like(a, v)); }
Tensor gt(const Tensor& a, double v) { return gt(a, scalar_like(a, v)); }
Tensor ge(const Tensor& a, double v) { return ge(a, scalar_like(a, v)); }
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return compare("logical_and", BinaryOp::LogicalAnd, a.to(DType::Bool), b.to(DType::Bool));
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return compare("logical_or", BinaryOp::LogicalOr, a.to(DType::Bool), b.to(DType::Bool));
}

Tensor where(const Tensor& cond_in, const Tensor& a_in, const Tensor& b_in) {
  detail::check_defined("where", cond_in, "condition");
  detail::check_same_device("where", cond_in, a_in);
  detail::check_same_device("where", a_in, b_in);
  Tensor cond = cond_in.to(DType::Bool);
  DType dt = detail::promote(a_in.dtype(), b_in.dtype());
  Tensor a = a_in.to(dt), b = b_in.to(dt);
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(shape, dt, a.device());
  backend_for(a.device()).where(broadcast_view(cond, shape), broadcast_view(a, shape), broadcast_view(b, shape), out);
  if (needs_grad({&a, &b})) {
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    record("where", out, {&cond, &a, &b}, [cond, need_a, need_b](const Tensor& g) {
      Tensor zero = zeros(Shape{}, {.dtype = g.dtype(), .device = g.device()});
      return std::vector<Tensor>{Tensor(), need_a ? where(cond, g, zero) : Tensor(),
                                 need_b ? where(cond, zero, g) : Tensor()};
    });
  }
  return out;
}

// ---- In-place updates -------------------------------------------------------------------

Tensor& add_(Tensor& self, const Tensor& other_in, double alpha) {
  check_inplace("add_", self);
  detail::check_same_device("add_", self, other_in);
  NoGradGuard ng;
  Tensor other = other_in.to(self.dtype());
  if (alpha != 1.0) other = mul(other, alpha);
  Shape shape = broadcast_shapes(self.shape(), other.shape(), "add_");
  NL_CHECK(shape == self.shape(), "add_: ", other.shape().str(), " cannot be added in place to ", self.shape().str());
  if (self.is_contiguous()) {
    // Elementwise kernels may write their output over their first input.
    backend_for(self.device()).binary(BinaryOp::Add, self, broadcast_view(other, shape), self);
  } else {
    copy_(self, add(self, other));
  }
  return self;
}

Tensor& mul_(Tensor& self, double value) {
  check_inplace("mul_", self);
  NoGradGuard ng;
  if (self.is_contiguous()) backend_for(self.device()).unary(UnaryOp::MulScalar, self, self, (float)value, 0);
  else copy_(self, mul(self, value));
  return self;
}

Tensor& mul_(Tensor& self, const Tensor& other_in) {
  check_inplace("mul_", self);
  NoGradGuard ng;
  Tensor other = other_in.to(self.dtype());
  Shape shape = broadcast_shapes(self.shape(), other.shape(), "mul_");
  NL_CHECK(shape == self.shape(), "mul_: ", other.shape().str(), " cannot multiply in place ", self.shape().str());
  if (self.is_contiguous()) backend_for(self.device()).binary(BinaryOp::Mul, self, broadcast_view(other, shape), self);
  else copy_(self, mul(self, other));
  return self;
}

Tensor& copy_(Tensor& self, const Tensor& src) {
  check_inplace("copy_", self);
  Shape shape = broadcast_shapes(self.shape(), src.shape(), "copy_");
  NL_CHECK(shape == self.shape(), "copy_: source ", src.shape().str(), " does not fit ", self.shape().str());
  Tensor s = src.device() == self.device() ? src : src.to(self.device());
  backend_for(self.device()).copy(broadcast_view(s, shape), self);
  return self;
}

Tensor& fill_(Tensor& self, double value) {
  check_inplace("fill_", self);
  if (self.numel() > 0) backend_for(self.device()).fill(self, value);
  return self;
}

Tensor& zero_(Tensor& self) { return fill_(self, 0.0); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  int lead = x.dim() - shape.size();
  NL_CHECK(lead >= 0, "sum_to: cannot reduce ", x.shape().str(), " to ", shape.str());
  std::vector<int64_t> dims;
  for (int i = 0; i < x.dim(); ++i) {
    if (i < lead) {
      dims.push_back(i);
    } else if (shape[i - lead] == 1 && x.shape()[i] != 1) {
      dims.push_back(i);
    } else {
      NL_CHECK(shape[i - lead] == x.shape()[i], "sum_to: cannot reduce ", x.shape().str(), " to ", shape.str());
    }
  }
  return sum(x, dims, true).reshape(shape);
}

}  // namespace nl
