// Generic ONNX ops, shape family: Reshape, Transpose, (Un)Squeeze, Flatten, Expand, Concat,
// Gather, Slice, Split, Shape, Size, ConstantOfShape, Range, Tile, Pad, Dropout. Shape
// inference uses an integer input's values when it is a constant (Reshape's shape, the axes
// of Unsqueeze); otherwise the sizes it decides are unknown but the rank is still given.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

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

// Axes from the attribute (before `input_from`) or from input 1 (from `input_from` on).
std::vector<int64_t> axes_at_run(const RunArgs& a, const std::vector<Tensor>& in, int64_t input_from) {
  if (a.opset() >= input_from) return in.size() > 1 && in[1].defined() ? int_values(in[1]) : std::vector<int64_t>{};
  return a.ints("axes");
}

// ---- Reshape ----
std::vector<int64_t> reshape_target(const OpAttrs& a, const Shape& x, std::vector<int64_t> shape) {
  bool allowzero = a.i("allowzero", 0) != 0;
  int64_t known_product = 1, infer_at = -1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0 && !allowzero) {
      if (d >= x.size()) a.fail("shape entry 0 at position " + std::to_string(d) + " has no input size to copy");
      shape[d] = x[d];
    }
    if (shape[d] == -1) {
      if (infer_at >= 0) a.fail("shape has more than one -1");
      infer_at = static_cast<int64_t>(d);
    } else {
      known_product *= shape[d];
    }
  }
  int64_t numel = std::accumulate(x.begin(), x.end(), int64_t{1}, std::multiplies<>());
  if (infer_at >= 0) {
    if (known_product == 0 || numel % known_product) a.fail("cannot reshape " + std::to_string(numel) + " elements");
    shape[infer_at] = numel / known_product;
  }
  return shape;
}

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
  Tensor index = tensor(idx, {static_cast<int64_t>(idx.size())});
  if (x.dtype() == DType::Float32) return index_select(x, axis, index);
  return index_select(x.to(DType::Float32), axis, index).to(x.dtype());
}

// ---- Gather: any dtype, any axis, negative indices ----
Tensor gather_any(const Tensor& x, int64_t axis, const Tensor& indices_in) {
  std::vector<int64_t> idx = int_values(indices_in);
  int64_t size = x.size(axis);
  for (auto& i : idx) {
    if (i < 0) i += size;
    NL_CHECK(i >= 0 && i < size, "Gather: index ", i, " is out of range for a dimension of size ", size);
  }
  Shape out_shape(x.shape().begin(), x.shape().begin() + axis);
  for (int64_t d : indices_in.shape()) out_shape.push_back(d);
  for (int d = static_cast<int>(axis) + 1; d < x.dim(); ++d) out_shape.push_back(x.size(d));
  Tensor flat_idx = tensor(idx, {static_cast<int64_t>(idx.size())});
  if (x.dtype() == DType::Float32) return index_select(x, axis, flat_idx).reshape(out_shape);
  // Other dtypes carry no gradient: a plain copy of rows.
  Tensor c = x.contiguous();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.size(d);
  for (int64_t d = axis + 1; d < static_cast<int64_t>(x.dim()); ++d) inner *= x.size(d);
  Tensor out = Tensor::empty(out_shape, x.dtype());
  size_t es = x.element_size(), row = static_cast<size_t>(inner) * es;
  auto* dst = static_cast<char*>(out.raw_data());
  const auto* src = static_cast<const char*>(c.raw_data());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < idx.size(); ++k, dst += row) std::memcpy(dst, src + (o * size + idx[k]) * row, row);
  return out;
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
      parts.push_back(full(s, value, {.dtype = y.dtype()}));
    }
    parts.push_back(y);
    if (after > 0) {
      s[d] = after;
      parts.push_back(full(s, value, {.dtype = y.dtype()}));
    }
    y = cat(parts, d64);
  }
  return y;
}

void register_shape_ops(OpTable& t) {
  t["Reshape"] = OpImpl{[](const InferArgs& a) {
                          const TensorInfo& x = a.input(0);
                          const std::vector<int64_t>* shape = known(a, 1);
                          if (!shape) {
                            const TensorInfo& s = a.input(1);
                            if (s.rank() != 1 || !s.shape[0].is_known()) a.fail("the shape input's length is unknown");
                            return one(TensorInfo{x.dtype, SymShape(static_cast<size_t>(s.shape[0].size), Dim::symbolic())});
                          }
                          bool allowzero = a.i("allowzero", 0) != 0;
                          SymShape out;
                          int64_t infer_at = -1, target_known = 1;
                          bool all_known = true;
                          for (const Dim& d : x.shape) all_known &= d.is_known();
                          for (size_t d = 0; d < shape->size(); ++d) {
                            int64_t v = (*shape)[d];
                            if (v == 0 && !allowzero) {
                              if (d >= x.shape.size()) a.fail("shape entry 0 has no input size to copy");
                              out.push_back(x.shape[d]);
                              if (x.shape[d].is_known()) target_known *= x.shape[d].size; else target_known = -1;
                            } else if (v == -1) {
                              infer_at = static_cast<int64_t>(d);
                              out.push_back(Dim::symbolic());
                            } else {
                              if (v < 0) a.fail("shape entry " + std::to_string(v) + " is invalid");
                              out.push_back(Dim::known(v));
                              if (target_known >= 0) target_known *= v;
                            }
                          }
                          if (infer_at >= 0 && all_known && target_known > 0) {
                            int64_t numel = 1;
                            for (const Dim& d : x.shape) numel *= d.size;
                            if (numel % target_known) a.fail("cannot reshape " + shape_to_string(x.shape));
                            out[infer_at] = Dim::known(numel / target_known);
                          } else if (infer_at >= 0 && target_known > 0) {
                            // N×… → [-1, k]: the -1 is the batch when the rest divides per sample.
                            int64_t per = 1, symbolic = 0;
                            Dim sym;
                            for (const Dim& d : x.shape) {
                              if (d.is_known()) per *= d.size;
                              else { ++symbolic; sym = d; }
                            }
                            if (symbolic == 1 && per == target_known) out[infer_at] = sym;
                          }
                          return one(TensorInfo{x.dtype, out});
                        },
                        [](const RunArgs& a, const std::vector<Tensor>& in) {
                          std::vector<int64_t> target = reshape_target(a, in.at(0).shape(), int_values(in.at(1)));
                          return one(in[0].reshape(Shape(target.begin(), target.end())));
                        }};

  t["Transpose"] = OpImpl{[](const InferArgs& a) {
                            const TensorInfo& x = a.input(0);
                            std::vector<int64_t> perm = a.ints("perm");
                            if (perm.empty())
                              for (int64_t d = x.rank() - 1; d >= 0; --d) perm.push_back(d);
                            if (static_cast<int64_t>(perm.size()) != x.rank()) a.fail("perm does not match the rank");
                            SymShape out;
                            for (int64_t p : perm) out.push_back(x.shape.at(normalize_axis(a, p, x.rank())));
                            return one(TensorInfo{x.dtype, out});
                          },
                          [](const RunArgs& a, const std::vector<Tensor>& in) {
                            std::vector<int64_t> perm = a.ints("perm");
                            if (perm.empty())
                              for (int64_t d = static_cast<int64_t>(in.at(0).dim()) - 1; d >= 0; --d) perm.push_back(d);
                            return one(in.at(0).permute(perm));
                          }};

  t["Unsqueeze"] = OpImpl{[](const InferArgs& a) {
                            const TensorInfo& x = a.input(0);
                            std::vector<int64_t> axes;
                            if (a.opset() >= 13) {
                              const std::vector<int64_t>* v = known(a, 1);
                              if (!v) a.fail("the axes input must be a constant to know the output rank");
                              axes = *v;
                            } else {
                              axes = a.ints("axes");
                            }
                            int64_t rank = x.rank() + static_cast<int64_t>(axes.size());
                            std::vector<bool> inserted(static_cast<size_t>(rank), false);
                            for (int64_t ax : axes) inserted[normalize_axis(a, ax, rank)] = true;
                            SymShape out;
                            size_t k = 0;
                            for (int64_t d = 0; d < rank; ++d) out.push_back(inserted[d] ? Dim::known(1) : x.shape.at(k++));
                            return one(TensorInfo{x.dtype, out});
                          },
                          [](const RunArgs& a, const std::vector<Tensor>& in) {
                            std::vector<int64_t> axes = axes_at_run(a, in, 13);
                            int64_t rank = static_cast<int64_t>(in.at(0).dim() + axes.size());
                            for (auto& ax : axes) ax = normalize_axis(a, ax, rank);
                            std::sort(axes.begin(), axes.end());
                            Tensor y = in[0];
                            for (int64_t ax : axes) y = y.unsqueeze(ax);
                            return one(y);
                          }};

  t["Squeeze"] = OpImpl{[](const InferArgs& a) {
                          const TensorInfo& x = a.input(0);
                          std::vector<int64_t> axes;
                          if (a.opset() >= 13 && a.has_input(1)) {
                            const std::vector<int64_t>* v = known(a, 1);
                            if (!v) a.fail("the axes input must be a constant to know the output rank");
                            axes = *v;
                          } else if (a.opset() < 13) {
                            axes = a.ints("axes");
                          }
                          std::vector<bool> drop(x.shape.size(), false);
                          if (axes.empty()) {
                            for (size_t d = 0; d < x.shape.size(); ++d) {
                              if (!x.shape[d].is_known()) a.fail("squeezing every size-1 axis needs known sizes");
                              drop[d] = x.shape[d].size == 1;
                            }
                          }
                          for (int64_t ax : axes) drop[normalize_axis(a, ax, x.rank())] = true;
                          SymShape out;
                          for (size_t d = 0; d < x.shape.size(); ++d)
                            if (!drop[d]) out.push_back(x.shape[d]);
                          return one(TensorInfo{x.dtype, out});
                        },
                        [](const RunArgs& a, const std::vector<Tensor>& in) {
                          std::vector<int64_t> axes = axes_at_run(a, in, 13);
                          const Tensor& x = in.at(0);
                          if (axes.empty()) return one(x.squeeze());
                          for (auto& ax : axes) ax = normalize_axis(a, ax, static_cast<int64_t>(x.dim()));
                          std::sort(axes.rbegin(), axes.rend());
                          Tensor y = x;
                          for (int64_t ax : axes) {
                            if (y.size(ax) != 1) a.fail("axis " + std::to_string(ax) + " has size " + std::to_string(y.size(ax)));
                            y = y.squeeze(ax);
                          }
                          return one(y);
                        }};

  t["Flatten"] = OpImpl{[](const InferArgs& a) {
                          const TensorInfo& x = a.input(0);
                          int64_t axis = a.i("axis", 1);
                          if (axis < 0) axis += x.rank();
                          if (axis < 0 || axis > x.rank()) a.fail("axis is out of range");
                          auto merge = [](const SymShape& s, int64_t from, int64_t to) {
                            if (to - from == 1) return s[from];
                            int64_t p = 1;
                            for (int64_t d = from; d < to; ++d) {
                              if (!s[d].is_known()) return Dim::symbolic();
                              p *= s[d].size;
                            }
                            return Dim::known(p);
                          };
                          return one(TensorInfo{x.dtype, {merge(x.shape, 0, axis), merge(x.shape, axis, x.rank())}});
                        },
                        [](const RunArgs& a, const std::vector<Tensor>& in) {
                          const Tensor& x = in.at(0);
                          int64_t axis = a.i("axis", 1), rank = static_cast<int64_t>(x.dim());
                          if (axis < 0) axis += rank;
                          int64_t outer = 1;
                          for (int64_t d = 0; d < axis; ++d) outer *= x.size(d);
                          return one(x.reshape({outer, outer ? x.numel() / outer : 0}));
                        }};

  t["Expand"] = OpImpl{[](const InferArgs& a) {
                         const TensorInfo& x = a.input(0);
                         const std::vector<int64_t>* shape = known(a, 1);
                         if (!shape) {
                           const TensorInfo& s = a.input(1);
                           if (s.rank() != 1 || !s.shape[0].is_known()) a.fail("the shape input's length is unknown");
                           size_t rank = std::max<size_t>(x.shape.size(), static_cast<size_t>(s.shape[0].size));
                           return one(TensorInfo{x.dtype, SymShape(rank, Dim::symbolic())});
                         }
                         SymShape target;
                         for (int64_t v : *shape) target.push_back(Dim::known(v));
                         return one(TensorInfo{x.dtype, broadcast_shapes(a, x.shape, target)});
                       },
                       [](const RunArgs& a, const std::vector<Tensor>& in) {
                         const Tensor& x = in.at(0);
                         std::vector<int64_t> target = int_values(in.at(1));
                         size_t rank = std::max<size_t>(static_cast<size_t>(x.dim()), target.size());
                         Shape out;
                         out.resize(static_cast<int>(rank));
                         for (size_t r = 0; r < rank; ++r) {
                           int64_t dx = r < x.dim() ? x.size(x.dim() - 1 - r) : 1;
                           int64_t dt = r < target.size() ? target[target.size() - 1 - r] : 1;
                           if (dx != dt && dx != 1 && dt != 1) a.fail("shapes do not broadcast");
                           out[rank - 1 - r] = dx == 1 ? dt : dx;
                         }
                         Tensor y = x;
                         while (y.dim() < rank) y = y.unsqueeze(0);
                         return one(y.expand(out));
                       }};

  t["Concat"] = OpImpl{[](const InferArgs& a) {
                         const TensorInfo& x = a.input(0);
                         int64_t axis = normalize_axis(a, a.i("axis", 0), x.rank());
                         SymShape out = x.shape;
                         for (size_t k = 1; k < a.num_inputs(); ++k) {
                           const TensorInfo& y = a.input(k);
                           if (y.rank() != x.rank()) a.fail("inputs differ in rank");
                           const Dim &d = out[axis], &e = y.shape[axis];
                           out[axis] = d.is_known() && e.is_known() ? Dim::known(d.size + e.size) : Dim::symbolic();
                         }
                         return one(TensorInfo{x.dtype, out});
                       },
                       [](const RunArgs& a, const std::vector<Tensor>& in) {
                         int64_t axis = normalize_axis(a, a.i("axis", 0), static_cast<int64_t>(in.at(0).dim()));
                         return one(cat(in, axis));
                       }};

  t["Gather"] = OpImpl{[](const InferArgs& a) {
                         const TensorInfo& x = a.input(0);
                         const TensorInfo& idx = a.input(1);
                         if (idx.dtype != DType::Int64) a.fail("indices must be integers");
                         int64_t axis = normalize_axis(a, a.i("axis", 0), x.rank());
                         SymShape out(x.shape.begin(), x.shape.begin() + axis);
                         out.insert(out.end(), idx.shape.begin(), idx.shape.end());
                         out.insert(out.end(), x.shape.begin() + axis + 1, x.shape.end());
                         return one(TensorInfo{x.dtype, out});
                       },
                       [](const RunArgs& a, const std::vector<Tensor>& in) {
                         int64_t axis = normalize_axis(a, a.i("axis", 0), static_cast<int64_t>(in.at(0).dim()));
                         return one(gather_any(in[0], axis, in.at(1)));
                       }};

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
                        if (a.opset() >= 13 && a.has_input(1)) {
                          if (!known(a, 1)) a.fail("the split input must be a constant");
                          sizes = *known(a, 1);
                        } else if (a.opset() < 13) {
                          sizes = a.ints("split");
                        }
                        std::vector<TensorInfo> out(static_cast<size_t>(n), x);
                        const Dim& d = x.shape[axis];
                        for (int k = 0; k < n; ++k) {
                          if (!sizes.empty())
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

  auto shape_range = [](const OpAttrs& a, int64_t rank) {
    int64_t start = a.i("start", 0), end = a.i("end", rank);
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
    return std::pair{start, end};
  };
  t["Shape"] = OpImpl{[shape_range](const InferArgs& a) {
                        auto [s, e] = shape_range(a, a.input(0).rank());
                        return one(TensorInfo{DType::Int64, {Dim::known(e - s)}});
                      },
                      [shape_range](const RunArgs& a, const std::vector<Tensor>& in) {
                        const Tensor& x = in.at(0);
                        auto [s, e] = shape_range(a, static_cast<int64_t>(x.dim()));
                        std::vector<int64_t> v(x.shape().begin() + s, x.shape().begin() + e);
                        return one(tensor(v, {static_cast<int64_t>(v.size())}));
                      }};
  t["Size"] = OpImpl{[](const InferArgs& a) {
                       a.input(0);
                       return one(TensorInfo{DType::Int64, {}});
                     },
                     [](const RunArgs&, const std::vector<Tensor>& in) {
                       return one(tensor(std::vector<int64_t>{in.at(0).numel()}, Shape{}));
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
                                  return one(full(Shape(s.begin(), s.end()), v, {.dtype = dt}));
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
                          return one(tensor(v, {static_cast<int64_t>(v.size())}));
                        }
                        double start = s.to(DType::Float32).item(), limit = l.to(DType::Float32).item(),
                               delta = d.to(DType::Float32).item();
                        if (delta == 0) a.fail("delta is 0");
                        int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((limit - start) / delta)));
                        std::vector<float> v;
                        for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<float>(start + i * delta));
                        return one(tensor(v, {n}));
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
                       if (reps.size() != y.dim()) a.fail("repeats must hold one value per dimension");
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

  // Dropout at inference is the identity; its mask, when asked for, is all true.
  t["Dropout"] = OpImpl{[](const InferArgs& a) {
                          if (a.has_input(2)) {
                            const std::vector<int64_t>* mode = known(a, 2);
                            if (!mode || *mode != std::vector<int64_t>{0})
                              a.fail("training_mode (random dropout) is not supported");
                          }
                          std::vector<TensorInfo> out{a.input(0)};
                          if (a.num_outputs() > 1) out.push_back(TensorInfo{DType::Bool, a.input(0).shape});
                          return out;
                        },
                        [](const RunArgs& a, const std::vector<Tensor>& in) {
                          std::vector<Tensor> out{in.at(0)};
                          if (a.num_outputs() > 1) out.push_back(ones(in[0].shape()).to(DType::Bool));
                          return out;
                        }};
}

}  // namespace nl::graph::onnx_ops
