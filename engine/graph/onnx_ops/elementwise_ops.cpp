// Generic ONNX ops, elementwise family: unary math and activations, broadcasting binary and
// variadic ops, comparisons and logic, Where, Clip, Cast. Built from engine ops, so their
// gradients come from the primitives.
#include <cmath>
#include <limits>

#include "engine/core/error.h"
#include "engine/graph/onnx_ops/onnx_op.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace nl::graph::onnx_ops {

namespace {

using UnaryFn = std::function<Tensor(const OpAttrs&, const Tensor&)>;

Tensor as_float(const Tensor& x) { return x.dtype() == DType::Float32 ? x : x.to(DType::Float32); }

void unary(OpTable& t, const std::string& name, UnaryFn fn, bool to_bool = false) {
  t[name] = OpImpl{[to_bool](const InferArgs& a) {
                     TensorInfo x = a.input(0);
                     if (to_bool) x.dtype = DType::Bool;
                     return std::vector<TensorInfo>{x};
                   },
                   [fn](const RunArgs& a, const std::vector<Tensor>& in) { return std::vector<Tensor>{fn(a, in.at(0))}; }};
}

// Float-only math: integer inputs are computed in float32 and converted back.
void float_unary(OpTable& t, const std::string& name, std::function<Tensor(const OpAttrs&, const Tensor&)> fn) {
  unary(t, name, [fn](const OpAttrs& a, const Tensor& x) {
    if (x.dtype() == DType::Float32) return fn(a, x);
    return fn(a, as_float(x)).to(x.dtype());
  });
}

TensorInfo broadcast_info(const InferArgs& a, size_t first, size_t count, DType dtype) {
  SymShape s = a.input(first).shape;
  for (size_t k = first + 1; k < first + count; ++k) s = broadcast_shapes(a, s, a.input(k).shape);
  return TensorInfo{dtype, s};
}

// Integer division and remainder as ONNX defines them for integers (truncating Div; Mod takes
// the divisor's sign unless fmod = 1), on broadcast contiguous host copies; the result goes
// to the operands' device.
Tensor integer_div_mod(const Tensor& a_in, const Tensor& b_in, bool div, bool fmod) {
  const Device device = data_device({a_in, b_in});
  Shape shape;
  {
    int n = std::max(a_in.dim(), b_in.dim());
    for (int r = 0; r < n; ++r) {
      int64_t da = r < a_in.dim() ? a_in.size(a_in.dim() - 1 - r) : 1;
      int64_t db = r < b_in.dim() ? b_in.size(b_in.dim() - 1 - r) : 1;
      NL_CHECK(da == db || da == 1 || db == 1, div ? "Div" : "Mod", ": shapes do not broadcast");
      shape.insert(0, std::max(da, db));
    }
  }
  auto widen = [&](Tensor t) {
    t = t.to(Device::cpu()).to(DType::Int64);
    while (t.dim() < shape.rank()) t = t.unsqueeze(0);
    return t.expand(shape).contiguous();
  };
  Tensor a = widen(a_in), b = widen(b_in);
  Tensor out = Tensor::empty(shape, DType::Int64);
  const int64_t *pa = a.data<int64_t>(), *pb = b.data<int64_t>();
  int64_t* po = out.data<int64_t>();
  for (int64_t i = 0; i < out.numel(); ++i) {
    NL_CHECK(pb[i] != 0, div ? "Div" : "Mod", ": integer division by zero");
    if (div) {
      po[i] = pa[i] / pb[i];
    } else {
      int64_t r = pa[i] % pb[i];
      if (!fmod && r != 0 && ((r < 0) != (pb[i] < 0))) r += pb[i];
      po[i] = r;
    }
  }
  return on_device(out, device);
}

using BinaryFn = std::function<Tensor(const OpAttrs&, const Tensor&, const Tensor&)>;

// The engine's kernels compute in float32 and int64. Inputs of the storage-only types are
// computed in the wider type and converted back as ONNX defines: uint8 wraps modulo 256
// (Add 250 + 10 = 4), float16 and bfloat16 round to nearest even.
BinaryFn widened(BinaryFn fn, bool to_bool) {
  return [fn, to_bool](const OpAttrs& a, const Tensor& x, const Tensor& y) {
    DType d = x.dtype();
    if (d != DType::UInt8 && d != DType::Float16 && d != DType::BFloat16) return fn(a, x, y);
    DType wide = d == DType::UInt8 ? DType::Int64 : DType::Float32;
    Tensor r = fn(a, x.to(wide), y.to(wide));
    if (to_bool) return r;
    return d == DType::UInt8 ? wrap_integer(r, d) : r.to(d);
  };
}

void binary(OpTable& t, const std::string& name, BinaryFn fn, bool to_bool = false) {
  fn = widened(std::move(fn), to_bool);
  t[name] = OpImpl{[to_bool](const InferArgs& a) {
                     return std::vector<TensorInfo>{
                         broadcast_info(a, 0, 2, to_bool ? DType::Bool : a.input(0).dtype)};
                   },
                   [fn](const RunArgs& a, const std::vector<Tensor>& in) {
                     std::vector<Tensor> xy = same_device({in.at(0), in.at(1)});
                     return std::vector<Tensor>{fn(a, xy[0], xy[1])};
                   }};
}

// Max, Min, Sum, Mean: any number of broadcasting inputs.
void variadic(OpTable& t, const std::string& name, BinaryFn fold, bool mean = false) {
  fold = widened(std::move(fold), false);
  t[name] = OpImpl{[](const InferArgs& a) {
                     if (a.num_inputs() == 0) a.fail("needs at least one input");
                     return std::vector<TensorInfo>{broadcast_info(a, 0, a.num_inputs(), a.input(0).dtype)};
                   },
                   [fold, mean](const RunArgs& a, const std::vector<Tensor>& in_any) {
                     const std::vector<Tensor> in = same_device(in_any);
                     Tensor acc = in.at(0);
                     for (size_t k = 1; k < in.size(); ++k) acc = fold(a, acc, in[k]);
                     if (mean) acc = div(acc, static_cast<double>(in.size()));
                     return std::vector<Tensor>{acc};
                   }};
}

Tensor bool_xor(const Tensor& a, const Tensor& b) { return ne(a.to(DType::Bool), b.to(DType::Bool)); }

}  // namespace

void register_elementwise_ops(OpTable& t) {
  auto fn = [](Tensor (*f)(const Tensor&)) { return [f](const OpAttrs&, const Tensor& x) { return f(x); }; };
  float_unary(t, "Neg", fn(neg));
  unary(t, "Abs", fn(abs));
  float_unary(t, "Exp", fn(exp));
  float_unary(t, "Log", fn(log));
  float_unary(t, "Sqrt", fn(sqrt));
  float_unary(t, "Reciprocal", fn(reciprocal));
  float_unary(t, "Erf", fn(erf));
  float_unary(t, "Sin", fn(sin));
  float_unary(t, "Cos", fn(cos));
  float_unary(t, "Tan", [](const OpAttrs&, const Tensor& x) { return div(sin(x), cos(x)); });
  float_unary(t, "Floor", fn(floor));
  float_unary(t, "Ceil", fn(ceil));
  float_unary(t, "Round", fn(round));  // round half to even, as ONNX
  unary(t, "Sign", fn(sign));
  float_unary(t, "Relu", fn(relu));
  float_unary(t, "Sigmoid", fn(sigmoid));
  float_unary(t, "Tanh", fn(tanh));
  float_unary(t, "Softplus", fn(softplus));
  float_unary(t, "Softsign", [](const OpAttrs&, const Tensor& x) { return div(x, add(abs(x), 1.0)); });
  float_unary(t, "Sinh", [](const OpAttrs&, const Tensor& x) { return mul(sub(exp(x), exp(neg(x))), 0.5); });
  float_unary(t, "Cosh", [](const OpAttrs&, const Tensor& x) { return mul(add(exp(x), exp(neg(x))), 0.5); });
  float_unary(t, "LeakyRelu", [](const OpAttrs& a, const Tensor& x) { return leaky_relu(x, a.f("alpha", 0.01)); });
  float_unary(t, "Elu", [](const OpAttrs& a, const Tensor& x) {
    return where(gt(x, 0.0), x, mul(sub(exp(x), 1.0), a.f("alpha", 1.0)));
  });
  float_unary(t, "Celu", [](const OpAttrs& a, const Tensor& x) {
    double alpha = a.f("alpha", 1.0);
    return add(relu(x), minimum(zeros_like(x), mul(sub(exp(div(x, alpha)), 1.0), alpha)));
  });
  float_unary(t, "Selu", [](const OpAttrs& a, const Tensor& x) {
    double alpha = a.f("alpha", 1.67326319217681884765625), gamma = a.f("gamma", 1.05070102214813232421875);
    return mul(where(gt(x, 0.0), x, mul(sub(exp(x), 1.0), alpha)), gamma);
  });
  float_unary(t, "ThresholdedRelu", [](const OpAttrs& a, const Tensor& x) {
    return where(gt(x, a.f("alpha", 1.0)), x, zeros_like(x));
  });
  float_unary(t, "HardSigmoid", [](const OpAttrs& a, const Tensor& x) {
    return clamp(add(mul(x, a.f("alpha", 0.2)), a.f("beta", 0.5)), 0.0, 1.0);
  });
  float_unary(t, "HardSwish", [](const OpAttrs&, const Tensor& x) {
    return mul(x, clamp(add(mul(x, 1.0 / 6.0), 0.5), 0.0, 1.0));
  });
  float_unary(t, "Mish", [](const OpAttrs&, const Tensor& x) { return mul(x, tanh(softplus(x))); });
  unary(t, "Identity", [](const OpAttrs&, const Tensor& x) { return x; });
  unary(t, "Not", [](const OpAttrs&, const Tensor& x) { return logical_not(x); }, true);
  unary(t, "IsNaN", [](const OpAttrs&, const Tensor& x) { return isnan(x); }, true);
  unary(t, "IsInf", [](const OpAttrs& a, const Tensor& x) {
    Tensor f = as_float(x);
    Tensor pos = eq(f, std::numeric_limits<double>::infinity()), neg_inf = eq(f, -std::numeric_limits<double>::infinity());
    bool want_pos = a.i("detect_positive", 1) != 0, want_neg = a.i("detect_negative", 1) != 0;
    if (want_pos && want_neg) return logical_or(pos, neg_inf);
    if (want_pos) return pos;
    if (want_neg) return neg_inf;
    return zeros_like(f).to(DType::Bool);
  }, true);

  binary(t, "Add", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return add(x, y); });
  binary(t, "Sub", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return sub(x, y); });
  binary(t, "Mul", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return mul(x, y); });
  binary(t, "Div", [](const OpAttrs&, const Tensor& x, const Tensor& y) {
    if (x.dtype() == DType::Int64 && y.dtype() == DType::Int64) return integer_div_mod(x, y, true, false);
    return div(x, y);
  });
  binary(t, "Mod", [](const OpAttrs& a, const Tensor& x, const Tensor& y) {
    bool fmod = a.i("fmod", 0) != 0;
    if (x.dtype() == DType::Int64 && y.dtype() == DType::Int64) return integer_div_mod(x, y, false, fmod);
    Tensor r = sub(x, mul(y, fmod ? mul(sign(div(x, y)), floor(abs(div(x, y)))) : floor(div(x, y))));
    return r;
  });
  binary(t, "Pow", [](const OpAttrs&, const Tensor& x, const Tensor& y) {
    Tensor e = as_float(y);
    if (e.numel() == 1) {
      double v = e.item();
      Tensor r = v == 2.0 ? square(as_float(x)) : v == 1.0 ? as_float(x) : pow(as_float(x), v);
      return x.dtype() == DType::Float32 ? r : round(r).to(x.dtype());
    }
    Tensor r = pow(as_float(x), e);
    return x.dtype() == DType::Float32 ? r : round(r).to(x.dtype());
  });
  binary(t, "PRelu", [](const OpAttrs&, const Tensor& x, const Tensor& slope) {
    return where(lt(x, 0.0), mul(x, slope), x);
  });
  binary(t, "Equal", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return eq(x, y); }, true);
  binary(t, "Less", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return lt(x, y); }, true);
  binary(t, "LessOrEqual", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return le(x, y); }, true);
  binary(t, "Greater", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return gt(x, y); }, true);
  binary(t, "GreaterOrEqual", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return ge(x, y); }, true);
  binary(t, "And", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return logical_and(x, y); }, true);
  binary(t, "Or", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return logical_or(x, y); }, true);
  binary(t, "Xor", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return bool_xor(x, y); }, true);
  variadic(t, "Max", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return maximum(x, y); });
  variadic(t, "Min", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return minimum(x, y); });
  variadic(t, "Sum", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return add(x, y); });
  variadic(t, "Mean", [](const OpAttrs&, const Tensor& x, const Tensor& y) { return add(x, y); }, true);

  t["Where"] = OpImpl{[](const InferArgs& a) {
                        TensorInfo out = broadcast_info(a, 0, 3, a.input(1).dtype);
                        return std::vector<TensorInfo>{out};
                      },
                      [](const RunArgs&, const std::vector<Tensor>& in_any) {
                        const std::vector<Tensor> in = same_device({in_any.at(0), in_any.at(1), in_any.at(2)});
                        return std::vector<Tensor>{where(in[0], in[1], in[2])};
                      }};

  // Clip: bounds as attributes before opset 11, as optional scalar inputs from 11 on.
  t["Clip"] = OpImpl{[](const InferArgs& a) { return std::vector<TensorInfo>{a.input(0)}; },
                     [](const RunArgs& a, const std::vector<Tensor>& in) {
                       double lo = -std::numeric_limits<double>::infinity(), hi = -lo;
                       if (a.opset() < 11) {
                         lo = a.f("min", -std::numeric_limits<float>::max());
                         hi = a.f("max", std::numeric_limits<float>::max());
                       } else {
                         if (in.size() > 1 && in[1].defined()) lo = as_float(in[1]).item();
                         if (in.size() > 2 && in[2].defined()) hi = as_float(in[2]).item();
                       }
                       const Tensor& x = in.at(0);
                       if (x.dtype() == DType::Float32) return std::vector<Tensor>{clamp(x, lo, hi)};
                       return std::vector<Tensor>{clamp(as_float(x), lo, hi).to(x.dtype())};
                     }};

  t["Cast"] = OpImpl{[](const InferArgs& a) {
                       TensorInfo x = a.input(0);
                       x.dtype = dtype_from_onnx(a, a.i("to", 1));
                       return std::vector<TensorInfo>{x};
                     },
                     [](const RunArgs& a, const std::vector<Tensor>& in) {
                       DType to = dtype_from_onnx(a, a.i("to", 1));
                       const Tensor& x = in.at(0);
                       // Float → integer truncates toward zero, as C casts do.
                       if (to == DType::Int64 && x.dtype() == DType::Float32)
                         return std::vector<Tensor>{mul(sign(x), floor(abs(x))).to(to)};
                       return std::vector<Tensor>{x.to(to)};
                     }};
  t["CastLike"] = OpImpl{[](const InferArgs& a) {
                           TensorInfo x = a.input(0);
                           x.dtype = a.input(1).dtype;
                           return std::vector<TensorInfo>{x};
                         },
                         [](const RunArgs&, const std::vector<Tensor>& in) {
                           const Tensor& x = in.at(0);
                           DType to = in.at(1).dtype();
                           if (to == DType::Int64 && x.dtype() == DType::Float32)
                             return std::vector<Tensor>{mul(sign(x), floor(abs(x))).to(to)};
                           return std::vector<Tensor>{x.to(to)};
                         }};
}

}  // namespace nl::graph::onnx_ops
