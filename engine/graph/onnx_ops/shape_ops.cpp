// Generic ONNX ops, shape family: Reshape, Transpose, (Un)Squeeze, Flatten, Expand, Concat,
// Gather, Shape, Size, Dropout (slice_pad_ops.cpp has Slice, Split, Pad …). Shape
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
      if (static_cast<int>(d) >= x.size()) a.fail("shape entry 0 at position " + std::to_string(d) + " has no input size to copy");
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

}  // namespace

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
  Tensor flat_idx = tensor(idx, {static_cast<int64_t>(idx.size())}).to(x.device());
  if (x.dtype() == DType::Float32) return index_select(x, axis, flat_idx).reshape(out_shape);
  // Other dtypes carry no gradient: a plain copy of rows, on the host.
  Tensor c = x.contiguous().to(Device::cpu());
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.size(d);
  for (int64_t d = axis + 1; d < static_cast<int64_t>(x.dim()); ++d) inner *= x.size(d);
  Tensor out = Tensor::empty(out_shape, x.dtype());
  size_t es = x.element_size(), row = static_cast<size_t>(inner) * es;
  auto* dst = static_cast<char*>(out.raw_data());
  const auto* src = static_cast<const char*>(c.raw_data());
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < idx.size(); ++k, dst += row) std::memcpy(dst, src + (o * size + idx[k]) * row, row);
  return on_device(out, x.device());
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
                           int64_t dx = static_cast<int>(r) < x.dim() ? x.size(x.dim() - 1 - static_cast<int>(r)) : 1;
                           int64_t dt = r < target.size() ? target[target.size() - 1 - r] : 1;
                           if (dx != dt && dx != 1 && dt != 1) a.fail("shapes do not broadcast");
                           out[rank - 1 - r] = dx == 1 ? dt : dx;
                         }
                         Tensor y = x;
                         while (static_cast<size_t>(y.dim()) < rank) y = y.unsqueeze(0);
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
                         return one(cat(same_device(in), axis));
                       }};

  // GatherND: each index tuple (the last axis of indices) picks a slice of data after
  // batch_dims shared leading axes. Tuples become row numbers of data flattened to
  // [batches · indexed sizes, rest…], gathered with gather_any (so float32 keeps its gradient).
  t["GatherND"] = OpImpl{[](const InferArgs& a) {
                           const TensorInfo& x = a.input(0);
                           const TensorInfo& idx = a.input(1);
                           if (idx.dtype != DType::Int64) a.fail("indices must be integers");
                           int64_t b = a.i("batch_dims", 0);
                           if (idx.rank() < 1 || !idx.shape.back().is_known()) a.fail("the indices' last axis must be known");
                           int64_t m = idx.shape.back().size;
                           if (b < 0 || b >= std::min(x.rank(), idx.rank()) || b + m > x.rank())
                             a.fail("batch_dims " + std::to_string(b) + " and tuples of " + std::to_string(m) +
                                    " do not fit data of rank " + std::to_string(x.rank()));
                           SymShape out(idx.shape.begin(), idx.shape.end() - 1);
                           out.insert(out.end(), x.shape.begin() + b + m, x.shape.end());
                           return one(TensorInfo{x.dtype, out});
                         },
                         [](const RunArgs& a, const std::vector<Tensor>& in) {
                           const Tensor& x = in.at(0);
                           const Tensor& idx_t = in.at(1);
                           int64_t b = a.i("batch_dims", 0), m = idx_t.size(idx_t.dim() - 1);
                           int64_t batches = 1, indexed = 1, tuples = idx_t.numel() / std::max<int64_t>(m, 1);
                           for (int64_t d = 0; d < b; ++d) batches *= x.size(static_cast<int>(d));
                           for (int64_t d = b; d < b + m; ++d) indexed *= x.size(static_cast<int>(d));
                           int64_t per_batch = tuples / std::max<int64_t>(batches, 1);
                           std::vector<int64_t> idx = int_values(idx_t), rows;
                           for (int64_t t = 0; t < tuples; ++t) {
                             int64_t row = 0;
                             for (int64_t k = 0; k < m; ++k) {
                               int64_t size = x.size(static_cast<int>(b + k)), v = idx[t * m + k];
                               if (v < 0) v += size;
                               if (v < 0 || v >= size)
                                 a.fail("index " + std::to_string(idx[t * m + k]) + " is out of range for size " +
                                        std::to_string(size));
                               row = row * size + v;
                             }
                             rows.push_back((t / std::max<int64_t>(per_batch, 1)) * indexed + row);
                           }
                           Shape flat{batches * indexed};
                           for (int d = static_cast<int>(b + m); d < x.dim(); ++d) flat.push_back(x.size(d));
                           Shape out(idx_t.shape().begin(), idx_t.shape().end() - 1);
                           for (int d = static_cast<int>(b + m); d < x.dim(); ++d) out.push_back(x.size(d));
                           Tensor picked = gather_any(x.reshape(flat), 0, tensor(rows, {static_cast<int64_t>(rows.size())}));
                           return one(picked.reshape(out));
                         }};

  // GatherElements is torch.gather: out[i][j] = x[index[i][j]][j] along axis 0. Negative
  // indices count from the end. Float32 keeps its gradient; types exact in float32 (uint8,
  // 16-bit floats, bool) are gathered there; int64 data is refused rather than rounded.
  t["GatherElements"] = OpImpl{[](const InferArgs& a) {
                                 const TensorInfo& x = a.input(0);
                                 const TensorInfo& idx = a.input(1);
                                 if (idx.dtype != DType::Int64) a.fail("indices must be integers");
                                 if (idx.rank() != x.rank()) a.fail("indices must have the data's rank");
                                 normalize_axis(a, a.i("axis", 0), x.rank());
                                 return one(TensorInfo{x.dtype, idx.shape});
                               },
                               [](const RunArgs& a, const std::vector<Tensor>& in) {
                                 const Tensor& x = in.at(0);
                                 int64_t axis = normalize_axis(a, a.i("axis", 0), static_cast<int64_t>(x.dim()));
                                 Tensor idx = in.at(1).to(DType::Int64);
                                 idx = where(lt(idx, 0.0), add(idx, static_cast<double>(x.size(static_cast<int>(axis)))), idx);
                                 if (x.dtype() == DType::Float32) return one(gather(x, axis, idx));
                                 if (x.dtype() == DType::Int64 || x.dtype() == DType::Int32 || x.dtype() == DType::Float64)
                                   a.fail(std::string("gathering ") + dtype_name(x.dtype()) + " data is not supported");
                                 Tensor y = gather(x.to(DType::Float32), axis, idx);
                                 return one(x.dtype() == DType::UInt8 ? wrap_integer(round(y), DType::UInt8) : y.to(x.dtype()));
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
                        return one(tensor(v, {static_cast<int64_t>(v.size())}));  // on the host (Note [Devices of generic ops])
                      }};
  t["Size"] = OpImpl{[](const InferArgs& a) {
                       a.input(0);
                       return one(TensorInfo{DType::Int64, {}});
                     },
                     [](const RunArgs&, const std::vector<Tensor>& in) {
                       return one(tensor(std::vector<int64_t>{in.at(0).numel()}, Shape{}));
                     }};

  // Dropout at inference is the identity; its mask, when asked for, is all true. The ratio
  // applies only with training_mode true, where dropping is random: that runs only for a
  // ratio of 0 (the identity again), since no random mask can reproduce another runtime's.
  t["Dropout"] = OpImpl{[](const InferArgs& a) {
                          // Known early: training_mode set and the default ratio of 0.5.
                          const std::vector<int64_t>* mode = known(a, 2);
                          if (mode && !mode->empty() && (*mode)[0] != 0 && !a.has_input(1))
                            a.fail("training_mode with the default ratio of 0.5 drops at random, which Netloom does "
                                   "not run in a generic node");
                          std::vector<TensorInfo> out{a.input(0)};
                          if (a.num_outputs() > 1) out.push_back(TensorInfo{DType::Bool, a.input(0).shape});
                          return out;
                        },
                        [](const RunArgs& a, const std::vector<Tensor>& in) {
                          bool training = in.size() > 2 && in[2].defined() && in[2].to(DType::Float32).item() != 0;
                          if (training) {
                            double ratio = in.size() > 1 && in[1].defined() ? in[1].to(DType::Float32).item() : 0.5;
                            if (ratio != 0)
                              a.fail("training_mode with a ratio of " + std::to_string(ratio) +
                                     " drops at random, which Netloom does not run in a generic node");
                          }
                          std::vector<Tensor> out{in.at(0)};
                          if (a.num_outputs() > 1)
                            out.push_back(ones(in[0].shape(), {.dtype = DType::Bool, .device = in[0].device()}));
                          return out;
                        }};
}

}  // namespace nl::graph::onnx_ops
