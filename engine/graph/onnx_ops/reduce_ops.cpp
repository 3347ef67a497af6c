// Generic ONNX ops, reduction family: Reduce{Mean,Sum,Max,Min,Prod,L1,L2,SumSquare,LogSum,
// LogSumExp}, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax (with the flattening semantics of
// opsets before 13), CumSum.
#include <algorithm>
#include <cmath>

#include "engine/core/error.h"
#include "engine/graph/onnx_ops/onnx_op.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/indexing.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"

namespace nl::graph::onnx_ops {

namespace {

std::vector<Tensor> one(Tensor t) { return {std::move(t)}; }

// The opset from which a reduction takes its axes as input 1 instead of an attribute.
int64_t axes_input_from(const std::string& op) { return op == "ReduceSum" ? 13 : 18; }

// The axes to reduce (all when none are given, unless noop_with_empty_axes), normalized and
// sorted; `noop` says the op passes its input through.
std::vector<int64_t> reduce_axes(const OpAttrs& a, const std::vector<int64_t>* given, int64_t rank, bool* noop) {
  std::vector<int64_t> axes = given ? *given : std::vector<int64_t>{};
  *noop = false;
  if (axes.empty()) {
    if (a.i("noop_with_empty_axes", 0)) {
      *noop = true;
      return {};
    }
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  for (auto& ax : axes) ax = normalize_axis(a, ax, rank);
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

using ReduceFn = std::function<Tensor(const Tensor& x, const std::vector<int64_t>& axes)>;

Tensor as_float(const Tensor& x) { return x.dtype() == DType::Float32 ? x : x.to(DType::Float32); }

Tensor prod(const Tensor& x, const std::vector<int64_t>& axes) {
  // exp(Σ log|x|) with the sign counted separately, so negatives and zeros are exact enough.
  Tensor f = as_float(x);
  Tensor mag = exp(sum(log(abs(f)), axes, true));
  Tensor negatives = sum(lt(f, 0.0).to(DType::Float32), axes, true);
  Tensor odd = sub(negatives, mul(floor(div(negatives, 2.0)), 2.0));  // 0 or 1
  return mul(mag, rsub(mul(odd, 2.0), 1.0));
}

void reduction(OpTable& t, const std::string& name, ReduceFn fn) {
  int64_t from = axes_input_from(name);
  t[name] = OpImpl{[from](const InferArgs& a) {
                     const TensorInfo& x = a.input(0);
                     const std::vector<int64_t>* given = nullptr;
                     std::vector<int64_t> attr_axes;
                     if (a.opset() >= from) {
                       if (a.has_input(1)) {
                         given = a.value(1);
                         if (!given) a.fail("the axes input must be a constant to know the output shape");
                       }
                     } else {
                       attr_axes = a.ints("axes");
                       given = &attr_axes;
                     }
                     bool noop;
                     std::vector<int64_t> axes = reduce_axes(a, given, x.rank(), &noop);
                     if (noop) return std::vector<TensorInfo>{x};
                     bool keep = a.i("keepdims", 1) != 0;
                     SymShape out;
                     for (int64_t d = 0; d < x.rank(); ++d) {
                       bool reduced = std::binary_search(axes.begin(), axes.end(), d);
                       if (!reduced) out.push_back(x.shape[d]);
                       else if (keep) out.push_back(Dim::known(1));
                     }
                     return std::vector<TensorInfo>{TensorInfo{x.dtype, out}};
                   },
                   [fn, from](const RunArgs& a, const std::vector<Tensor>& in) {
                     const Tensor& x = in.at(0);
                     std::vector<int64_t> attr_axes, input_axes;
                     const std::vector<int64_t>* given = nullptr;
                     if (a.opset() >= from) {
                       if (in.size() > 1 && in[1].defined()) {
                         input_axes = int_values(in[1]);
                         given = &input_axes;
                       }
                     } else {
                       attr_axes = a.ints("axes");
                       given = &attr_axes;
                     }
                     bool noop;
                     std::vector<int64_t> axes = reduce_axes(a, given, static_cast<int64_t>(x.dim()), &noop);
                     if (noop) return one(x);
                     if (axes.empty()) return one(x);  // a scalar reduces to itself
                     Tensor y = fn(x, axes);  // keeps the reduced dims as size 1
                     if (a.i("keepdims", 1) == 0) {
                       Shape s;
                       for (int64_t d = 0; d < static_cast<int64_t>(x.dim()); ++d)
                         if (!std::binary_search(axes.begin(), axes.end(), d)) s.push_back(x.size(d));
                       y = y.reshape(s);
                     }
                     return one(y);
                   }};
}

// Softmax-like ops: per-axis from opset 13; before, over the flattened axes from `axis` on.
void softmax_like(OpTable& t, const std::string& name, std::function<Tensor(const Tensor&, int64_t)> fn) {
  t[name] = OpImpl{[](const InferArgs& a) {
                     const TensorInfo& x = a.input(0);
                     normalize_axis(a, a.i("axis", a.opset() >= 13 ? -1 : 1), x.rank());
                     return std::vector<TensorInfo>{x};
                   },
                   [fn](const RunArgs& a, const std::vector<Tensor>& in) {
                     const Tensor& x = in.at(0);
                     auto rank = static_cast<int64_t>(x.dim());
                     int64_t axis = normalize_axis(a, a.i("axis", a.opset() >= 13 ? -1 : 1), rank);
                     if (a.opset() >= 13 || axis == rank - 1) return one(fn(x, axis));
                     int64_t outer = 1;
                     for (int64_t d = 0; d < axis; ++d) outer *= x.size(d);
                     return one(fn(x.reshape({outer, x.numel() / std::max<int64_t>(outer, 1)}), 1).reshape(x.shape()));
                   }};
}

Tensor hardmax(const Tensor& x, int64_t axis) {
  Tensor idx = argmax(x, axis, true);
  Shape s;
  s.resize(static_cast<int>(x.dim()), 1);
  s[axis] = x.size(axis);
  Tensor positions = arange(x.size(axis), {.dtype = DType::Int64, .device = x.device()}).reshape(s);
  return eq(positions, idx).to(DType::Float32);
}

void arg_reduction(OpTable& t, const std::string& name, bool is_max) {
  t[name] = OpImpl{[](const InferArgs& a) {
                     const TensorInfo& x = a.input(0);
                     int64_t axis = normalize_axis(a, a.i("axis", 0), x.rank());
                     SymShape out = x.shape;
                     if (a.i("keepdims", 1))
                       out[axis] = Dim::known(1);
                     else
                       out.erase(out.begin() + axis);
                     return std::vector<TensorInfo>{TensorInfo{DType::Int64, out}};
                   },
                   [is_max](const RunArgs& a, const std::vector<Tensor>& in) {
                     const Tensor& x = in.at(0);
                     int64_t axis = normalize_axis(a, a.i("axis", 0), static_cast<int64_t>(x.dim()));
                     bool keep = a.i("keepdims", 1) != 0;
                     Tensor f = x.dtype() == DType::Float32 ? x : x.to(DType::Float32);
                     if (a.i("select_last_index", 0)) {
                       // The last extreme is the first one along the reversed axis, mapped back.
                       int64_t n = f.size(axis);
                       std::vector<int64_t> rev(static_cast<size_t>(n));
                       for (int64_t i = 0; i < n; ++i) rev[i] = n - 1 - i;
                       Tensor flipped = index_select(f, axis, tensor(rev, {n}).to(f.device()));
                       Tensor idx = is_max ? argmax(flipped, axis, keep) : argmin(flipped, axis, keep);
                       return one(rsub(idx, static_cast<double>(n - 1)).to(DType::Int64));
                     }
                     return one(is_max ? argmax(f, axis, keep) : argmin(f, axis, keep));
                   }};
}

}  // namespace

void register_reduce_ops(OpTable& t) {
  reduction(t, "ReduceSum", [](const Tensor& x, const std::vector<int64_t>& ax) { return sum(x, ax, true); });
  reduction(t, "ReduceMean", [](const Tensor& x, const std::vector<int64_t>& ax) {
    if (x.dtype() == DType::Float32) return mean(x, ax, true);
    return mean(x.to(DType::Float32), ax, true).to(x.dtype());
  });
  reduction(t, "ReduceMax", [](const Tensor& x, const std::vector<int64_t>& ax) { return amax(x, ax, true); });
  reduction(t, "ReduceMin", [](const Tensor& x, const std::vector<int64_t>& ax) { return amin(x, ax, true); });
  reduction(t, "ReduceProd", [](const Tensor& x, const std::vector<int64_t>& ax) {
    Tensor p = prod(x, ax);
    return x.dtype() == DType::Float32 ? p : round(p).to(x.dtype());
  });
  reduction(t, "ReduceL1", [](const Tensor& x, const std::vector<int64_t>& ax) { return sum(abs(x), ax, true); });
  reduction(t, "ReduceL2", [](const Tensor& x, const std::vector<int64_t>& ax) {
    Tensor r = sqrt(sum(square(as_float(x)), ax, true));
    return x.dtype() == DType::Float32 ? r : round(r).to(x.dtype());
  });
  reduction(t, "ReduceSumSquare", [](const Tensor& x, const std::vector<int64_t>& ax) {
    if (x.dtype() == DType::Float32) return sum(square(x), ax, true);
    return sum(mul(x, x), ax, true);
  });
  reduction(t, "ReduceLogSum", [](const Tensor& x, const std::vector<int64_t>& ax) {
    return log(sum(as_float(x), ax, true));
  });
  reduction(t, "ReduceLogSumExp", [](const Tensor& x, const std::vector<int64_t>& ax) {
    return logsumexp(as_float(x), ax, true);
  });
  softmax_like(t, "Softmax", [](const Tensor& x, int64_t axis) { return softmax(x, axis); });
  softmax_like(t, "LogSoftmax", [](const Tensor& x, int64_t axis) { return log_softmax(x, axis); });
  softmax_like(t, "Hardmax", hardmax);
  arg_reduction(t, "ArgMax", true);
  arg_reduction(t, "ArgMin", false);
}

}  // namespace nl::graph::onnx_ops
