// Generic ONNX ops that cut, repeat or fill: Slice (negative steps too), Split, Pad
// (constant, edge, reflect), Tile, ConstantOfShape and Range. Like the shape family, their
// inference uses integer inputs' values when they are constants.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/error.h"
#include "engine/graph/onnx_ops/onnx_op.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/indexing.h"
#include "engine/ops/movement.h"

namespace nl::graph::onnx_ops {

namespace {

std::vector<Tensor> one(Tensor t) { return {std::move(t)}; }
std::vector<TensorInfo> one(TensorInfo t) { return {std::move(t)}; }

// Values of an integer input at inference: the constant's, or null.
const std::vector<int64_t>* known(const InferArgs& a, size_t k) { return a.has_input(k) ? a.value(k) : nullptr; }

// ---- Slice ----
struct SliceSpec {
  std::vector<int64_t> starts, ends, axes, steps;
};
SliceSpec slice_spec(const OpAttrs& a, const std::vector<int64_t>& starts, const std::vector<int64_t>& ends,
                     std::vector<int64_t> axes, std::vector<int64_t> steps, int64_t rank) {
  if (axes.empty())
    for (size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    a.fail("starts, ends, axes and steps differ in length");
  for (auto& ax : axes) ax = normalize_axis(a, ax, rank);
  for (int64_t s : steps)
    if (s == 0) a.fail("a step is 0");
  return {starts, ends, axes, steps};
}
// ONNX's clamping of one axis: the first index and the element count.
std::pair<int64_t, int64_t> slice_range(int64_t start, int64_t end, int64_t step, int64_t size) {
  if (start < 0) start += size;
  if (end < 0) end += size;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, size);
    end = std::clamp<int64_t>(end, 0, size);
    return {start, end > start ? (end - start + step - 1) / step : 0};
  }
  start = std::clamp<int64_t>(start, 0, size - 1);
  end = std::clamp<int64_t>(end, -1, size - 1);
  return {start, start > end ? (start - end - step - 1) / -step : 0};
}

Tensor flip_axis(const Tensor& x, int64_t axis) {
  std::vector<int64_t> idx(static_cast<size_t>(x.size(axis)));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(idx.size() - 1 - i);
  Tensor index = tensor(idx, {static_cast<int64_t>(idx.size())}).to(x.device());
  if (x.dtype() == DType::Float32) return index_select(x, axis, index);
  return index_select(x.to(DType::Float32), axis, index).to(x.dtype());
}

Tensor edge_or_reflect_pad(const Tensor& x, const std::vector<int64_t>& pads, bool reflect) {
  size_t rank = x.dim();
  Tensor y = x;
  for (size_t d = 0; d < rank; ++d) {
    auto d64 = static_cast<int64_t>(d);
    int64_t before = pads[d], after = pads[d + rank], n = y.size(d64);
    if (before == 0 && after == 0) continue;
    NL_CHECK(before >= 0 && after >= 0, "Pad: negative pads are supported in constant mode only");
    std::vector<int64_t> idx;
    for (int64_t i = -before; i < n + after; ++i) {
      int64_t j = i;
      if (reflect) {
        NL_CHECK(n > 1 && before < n && after < n, "Pad: reflect padding must be smaller than the dimension");
        if (j < 0) j = -j;
        if (j >= n) j = 2 * (n - 1) - j;
      } else {
        j = std::clamp<int64_t>(j, 0, n - 1);
      }
      idx.push_back(j);
    }
    y = gather_any(y, d64, tensor(idx, {static_cast<int64_t>(idx.size())}));
  }
  return y;
}

}  // namespace

Tensor pad_constant(const Tensor& x, const std::vector<int64_t>& pads, double value) {
  size_t rank = x.dim();
  Tensor y = x;
  for (size_t d = 0; d < rank; ++d) {
    int64_t before = pads[d], after = pads[d + rank];
    auto d64 = static_cast<int64_t>(d);
    if (before < 0) y = y.slice(d64, -before, y.size(d64));
    if (after < 0) y = y.slice(d64, 0, y.size(d64) + after);
    if (before <= 0 && after <= 0) continue;
    std::vector<Tensor> parts;
    Shape s = y.shape();
    if (before > 0) {
      s[d] = before;
      parts.push_back(full(s, value, {.dtype = y.dtype(), .device = y.device()}));
    }
    parts.push_back(y);
    if (after > 0) {
      s[d] = after;
      parts.push_back(full(s, value, {.dtype = y.dtype(), .device = y.device()}));
    }
    y = cat(parts, d64);
  }
  return y;
}

void register_slice_pad_ops(OpTable& t) {
  t["Slice"] = OpImpl{[](const InferArgs& a) {
                        const TensorInfo& x = a.input(0);
                        std::vector<int64_t> starts, ends, axes, steps;
                        if (a.opset() < 10) {
                          starts = a.ints("starts");
                          ends = a.ints("ends");
                          axes = a.ints("axes");
                        } else {
                          const std::vector<int64_t>*s = known(a, 1), *e = known(a, 2);
                          if (!s || !e) {
                            // Unknown bounds: the rank stays, the sliced sizes are unknown.
                            SymShape out = x.shape;
                            const std::vector<int64_t>* ax = known(a, 3);
                            for (size_t d = 0; d < out.size(); ++d)
                              if (!ax || std::find(ax->begin(), ax->end(), static_cast<int64_t>(d)) != ax->end() ||
                                  std::find(ax->begin(), ax->end(), static_cast<int64_t>(d) - x.rank()) != ax->end())
                                out[d] = Dim::symbolic();
                            return one(TensorInfo{x.dtype, out});
                          }
                          starts = *s;
                          ends = *e;
                          if (a.has_input(3)) {
                            if (!known(a, 3)) a.fail("the axes input must be a constant");
                            axes = *known(a, 3);
                          }
                          if (a.has_input(4)) {
                            if (!known(a, 4)) a.fail("the steps input must be a constant");
                            steps = *known(a, 4);
                          }
                        }
                        SliceSpec sp = slice_spec(a, starts, ends, axes, steps, x.rank());
                        SymShape out = x.shape;
                        for (size_t k = 0; k < sp.axes.size(); ++k) {
                          const Dim& d = x.shape[sp.axes[k]];
                          if (d.is_known())
                            out[sp.axes[k]] = Dim::known(slice_range(sp.starts[k], sp.ends[k], sp.steps[k], d.size).second);
                          else if (sp.starts[k] == 0 && sp.steps[k] == 1 && sp.ends[k] >= std::numeric_limits<int32_t>::max())
                            out[sp.axes[k]] = d;  // the whole axis
                          else
                            out[sp.axes[k]] = Dim::symbolic();
                        }
                        return one(TensorInfo{x.dtype, out});
                      },
                      [](const RunArgs& a, const std::vector<Tensor>& in) {
                        const Tensor& x = in.at(0);
                        std::vector<int64_t> starts, ends, axes, steps;
                        if (a.opset() < 10) {
                          starts = a.ints("starts");
                          ends = a.ints("ends");
                          axes = a.ints("axes");
                        } else {
                          starts = int_values(in.at(1));
                          ends = int_values(in.at(2));
                          if (in.size() > 3 && in[3].defined()) axes = int_values(in[3]);
                          if (in.size() > 4 && in[4].defined()) steps = int_values(in[4]);
                        }
                        SliceSpec sp = slice_spec(a, starts, ends, axes, steps, static_cast<int64_t>(x.dim()));
                        Tensor y = x;
                        for (size_t k = 0; k < sp.axes.size(); ++k) {
                          int64_t ax = sp.axes[k], step = sp.steps[k];
                          auto [first, count] = slice_range(sp.starts[k], sp.ends[k], step, y.size(ax));
                          if (count == 0) {
                            y = y.narrow(ax, 0, 0);
                          } else if (step > 0) {
                            y = y.slice(ax, first, first + (count - 1) * step + 1, step);
                          } else {  // negative steps: the mirrored forward slice, flipped
                            int64_t last = first + (count - 1) * step;
                            y = flip_axis(y.slice(ax, last, first + 1, -step), ax);
                          }
                        }
                        return one(y);
                      }};

  t["Split"] = OpImpl{[](const InferArgs& a) {
                        const TensorInfo& x = a.input(0);
                        int64_t axis = normalize_axis(a, a.i("axis", 0), x.rank());
                        int n = a.num_outputs();
                        std::vector<int64_t> sizes;
                        bool computed = false;  // sizes a run reads from a tensor: unknown until then
                        if (a.opset() >= 13 && a.has_input(1)) {
                          if (known(a, 1)) sizes = *known(a, 1);
                          else computed = true;
                        } else if (a.opset() < 13) {
                          sizes = a.ints("split");
                        }
                        if (!sizes.empty() && static_cast<int>(sizes.size()) != n)
                          a.fail("split has " + std::to_string(sizes.size()) + " sizes for " + std::to_string(n) + " outputs");
                        std::vector<TensorInfo> out(static_cast<size_t>(n), x);
                        const Dim& d = x.shape[axis];
                        for (int k = 0; k < n; ++k) {
                          if (computed)
                            out[k].shape[axis] = Dim::symbolic();
                          else if (!sizes.empty())
                            out[k].shape[axis] = Dim::known(sizes.at(k));
                          else if (d.is_known())
                            out[k].shape[axis] = Dim::known(k + 1 < n ? (d.size + n - 1) / n : d.size - (n - 1) * ((d.size + n - 1) / n));
                          else
                            out[k].shape[axis] = Dim::symbolic();
                        }
                        return out;
                      },
                      [](const RunArgs& a, const std::vector<Tensor>& in) {
                        const Tensor& x = in.at(0);
                        int64_t axis = normalize_axis(a, a.i("axis", 0), static_cast<int64_t>(x.dim()));
                        std::vector<int64_t> sizes;
                        if (a.opset() >= 13 && in.size() > 1 && in[1].defined())
                          sizes = int_values(in[1]);
                        else if (a.opset() < 13)
                          sizes = a.ints("split");
                        int n = a.num_outputs();
                        if (sizes.empty()) {
                          int64_t chunk = (x.size(axis) + n - 1) / n;
                          for (int k = 0; k < n; ++k) sizes.push_back(std::min(chunk, x.size(axis) - chunk * k));
                        }
                        return split(x, sizes, axis);
                      }};

  // ConstantOfShape's `value` is a one-element tensor attribute, held as a one-entry list.
  auto fill_value = [](const OpAttrs& a) -> std::pair<double, DType> {
    if (!a.has("value")) return {0.0, DType::Float32};
    std::vector<double> v = a.floats("value");
    if (v.size() != 1) a.fail("value must hold one element");
    DType dt = DType::Float32;
    if (a.has("value.dtype")) dt = dtype_from_onnx(a, a.i("value.dtype", 1));
    return {v[0], dt};
  };
  t["ConstantOfShape"] = OpImpl{[fill_value](const InferArgs& a) {
                                  auto [v, dt] = fill_value(a);
                                  const std::vector<int64_t>* shape = known(a, 0);
                                  SymShape out;
                                  if (shape) {
                                    for (int64_t d : *shape) out.push_back(Dim::known(d));
                                  } else {
                                    const TensorInfo& s = a.input(0);
                                    if (s.rank() != 1 || !s.shape[0].is_known()) a.fail("the shape input's length is unknown");
                                    out.assign(static_cast<size_t>(s.shape[0].size), Dim::symbolic());
                                  }
                                  return one(TensorInfo{dt, out});
                                },
                                [fill_value](const RunArgs& a, const std::vector<Tensor>& in) {
                                  auto [v, dt] = fill_value(a);
                                  std::vector<int64_t> s = int_values(in.at(0));
                                  // Where its shape input is (Note [Devices of generic ops]).
                                  return one(full(Shape(s.begin(), s.end()), v, {.dtype = dt, .device = in[0].device()}));
                                }};

  t["Range"] = OpImpl{[](const InferArgs& a) {
                        const std::vector<int64_t>*s = known(a, 0), *l = known(a, 1), *d = known(a, 2);
                        Dim n = Dim::symbolic();
                        if (s && l && d && s->size() == 1 && l->size() == 1 && d->size() == 1 && (*d)[0] != 0)
                          n = Dim::known(std::max<int64_t>(0, ((*l)[0] - (*s)[0] + (*d)[0] - ((*d)[0] > 0 ? 1 : -1)) / (*d)[0]));
                        return one(TensorInfo{a.input(0).dtype, {n}});
                      },
                      [](const RunArgs& a, const std::vector<Tensor>& in) {
                        const Tensor &s = in.at(0), &l = in.at(1), &d = in.at(2);
                        if (s.dtype() == DType::Int64) {
                          int64_t start = int_values(s)[0], limit = int_values(l)[0], delta = int_values(d)[0];
                          if (delta == 0) a.fail("delta is 0");
                          std::vector<int64_t> v;
                          for (int64_t x = start; delta > 0 ? x < limit : x > limit; x += delta) v.push_back(x);
                          return one(on_device(tensor(v, {static_cast<int64_t>(v.size())}), data_device(in)));
                        }
                        double start = s.to(DType::Float32).item(), limit = l.to(DType::Float32).item(),
                               delta = d.to(DType::Float32).item();
                        if (delta == 0) a.fail("delta is 0");
                        int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((limit - start) / delta)));
                        std::vector<float> v;
                        for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<float>(start + i * delta));
                        return one(on_device(tensor(v, {n}), data_device(in)));
                      }};

  t["Tile"] = OpImpl{[](const InferArgs& a) {
                       const TensorInfo& x = a.input(0);
                       const std::vector<int64_t>* r = known(a, 1);
                       SymShape out = x.shape;
                       for (size_t d = 0; d < out.size(); ++d)
                         out[d] = r && out[d].is_known() ? Dim::known(out[d].size * r->at(d)) : Dim::symbolic();
                       return one(TensorInfo{x.dtype, out});
                     },
                     [](const RunArgs& a, const std::vector<Tensor>& in) {
                       std::vector<int64_t> reps = int_values(in.at(1));
                       Tensor y = in.at(0);
                       if (reps.size() != static_cast<size_t>(y.dim())) a.fail("repeats must hold one value per dimension");
                       for (size_t d = 0; d < reps.size(); ++d)
                         if (reps[d] != 1) y = cat(std::vector<Tensor>(static_cast<size_t>(reps[d]), y), static_cast<int64_t>(d));
                       return one(y);
                     }};

  t["Pad"] = OpImpl{[](const InferArgs& a) {
                      const TensorInfo& x = a.input(0);
                      std::vector<int64_t> pads;
                      if (a.opset() < 11) {
                        pads = a.ints("pads");
                      } else {
                        if (!known(a, 1)) a.fail("the pads input must be a constant");
                        pads = *known(a, 1);
                      }
                      std::string mode = a.s("mode", "constant");
                      if (mode != "constant" && mode != "reflect" && mode != "edge") a.fail("mode '" + mode + "' is not supported");
                      std::vector<int64_t> axes;
                      if (a.has_input(3)) {
                        if (!known(a, 3)) a.fail("the axes input must be a constant");
                        axes = *known(a, 3);
                      }
                      size_t rank = x.shape.size();
                      std::vector<int64_t> full_pads(2 * rank, 0);
                      if (axes.empty()) {
                        if (pads.size() != 2 * rank) a.fail("pads must hold two values per dimension");
                        full_pads = pads;
                      } else {
                        for (size_t k = 0; k < axes.size(); ++k) {
                          int64_t ax = normalize_axis(a, axes[k], x.rank());
                          full_pads[ax] = pads.at(k);
                          full_pads[ax + rank] = pads.at(k + axes.size());
                        }
                      }
                      SymShape out = x.shape;
                      for (size_t d = 0; d < rank; ++d)
                        if (out[d].is_known()) out[d] = Dim::known(out[d].size + full_pads[d] + full_pads[d + rank]);
                        else if (full_pads[d] || full_pads[d + rank]) out[d] = Dim::symbolic();
                      return one(TensorInfo{x.dtype, out});
                    },
                    [](const RunArgs& a, const std::vector<Tensor>& in) {
                      const Tensor& x = in.at(0);
                      size_t rank = x.dim();
                      std::vector<int64_t> pads = a.opset() < 11 ? a.ints("pads") : int_values(in.at(1));
                      double value = a.opset() < 11 ? a.f("value", 0.0)
                                     : in.size() > 2 && in[2].defined() ? in[2].to(DType::Float32).item() : 0.0;
                      if (in.size() > 3 && in[3].defined()) {
                        std::vector<int64_t> axes = int_values(in[3]), full_pads(2 * rank, 0);
                        for (size_t k = 0; k < axes.size(); ++k) {
                          int64_t ax = normalize_axis(a, axes[k], static_cast<int64_t>(rank));
                          full_pads[ax] = pads.at(k);
                          full_pads[ax + rank] = pads.at(k + axes.size());
                        }
                        pads = full_pads;
                      }
                      if (pads.size() != 2 * rank) a.fail("pads must hold two values per dimension");
                      std::string mode = a.s("mode", "constant");
                      if (mode == "constant") return one(pad_constant(x, pads, value));
                      return one(edge_or_reflect_pad(x, pads, mode == "reflect"));
                    }};

}

}  // namespace nl::graph::onnx_ops
