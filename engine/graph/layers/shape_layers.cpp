// Layer schemas that rearrange or combine tensors without learning anything: Flatten,
// Reshape, Permute, Slice, Split, Identity ("Shape") and Concat, Add, Mul ("Merge").
#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>

#include "engine/graph/layer_registry.h"
#include "engine/nn/structural.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/movement.h"

namespace nl::graph {

namespace {

std::string ints_to_string(const std::vector<int64_t>& v) { return attr_value_to_string(AttrValue(v)); }

// `dim` counted from the end when negative, or a failure naming the attribute and shape.
int64_t axis(const LayerContext& ctx, const std::string& type, const char* attr, int64_t dim, const TensorInfo& x) {
  int64_t rank = x.rank();
  if (dim < -rank || dim >= rank)
    ctx.fail(type + ": " + attr + " " + std::to_string(dim) + " is out of range for input " + shape_to_string(x.shape) +
             " (rank " + std::to_string(rank) + ")");
  return dim < 0 ? dim + rank : dim;
}

// Shape and merge layers work on any dtype (index tensors can be reshaped and concatenated).
PortSpec any_port(std::string name, bool variadic = false) {
  return {std::move(name), PortType::Any, false, variadic, {}};
}

// The fixed fields of a schema with one output; the caller sets infer, cost and build.
LayerSchema schema(std::string type, std::string category, std::string help, std::vector<PortSpec> inputs,
                   std::vector<AttrSpec> attrs) {
  return make_schema(std::move(type), std::move(category), std::move(help), std::move(inputs), std::move(attrs),
                     any_port("output"));
}

LayerSchema unary(std::string type, std::string help, std::vector<AttrSpec> attrs) {
  return schema(std::move(type), "Shape", std::move(help), {any_port("input")}, std::move(attrs));
}

// Views and copies cost no arithmetic.
LayerCost no_cost(const LayerContext&) { return {}; }

// ---- Flatten and Reshape ----------------------------------------------------------------

void infer_flatten(LayerContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  if (x.rank() == 0) {  // as torch.flatten: a scalar becomes one element
    ctx.outputs = {TensorInfo{x.dtype, {Dim::known(1)}}};
    return;
  }
  int64_t start = axis(ctx, "Flatten", "start_dim", ctx.integer("start_dim"), x);
  int64_t end = axis(ctx, "Flatten", "end_dim", ctx.integer("end_dim"), x);
  if (start > end)
    ctx.fail("Flatten: start_dim " + std::to_string(start) + " comes after end_dim " + std::to_string(end) +
             " for input " + shape_to_string(x.shape));
  SymShape out(x.shape.begin(), x.shape.begin() + start);
  Dim merged = x.shape[start];  // a single axis passes through with its symbol
  for (int64_t d = start + 1; d <= end; ++d)
    merged = merged.is_known() && x.shape[d].is_known() ? Dim::known(merged.size * x.shape[d].size) : Dim::symbolic();
  out.push_back(merged);
  out.insert(out.end(), x.shape.begin() + end + 1, x.shape.end());
  ctx.outputs = {TensorInfo{x.dtype, out}};
}

// Note [Reshape with symbolic sizes]: ONNX semantics, where 0 copies the input's size at that
// position and one -1 takes what is left. Copied positions cancel out against the input, so
// N×8×4 with [0, -1] gives N×32 per sample without knowing N. The -1 is known when the
// remaining input sizes are; when they contain exactly one symbolic size and the known
// sizes match, the -1 is that size (it passes through); otherwise it is unknown.
void infer_reshape(LayerContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  const std::vector<int64_t>& shape = ctx.ints("shape");
  std::string what = "Reshape: shape " + ints_to_string(shape);
  std::vector<bool> copied(x.shape.size(), false);
  int64_t infer_at = -1, target_known = 1;
  SymShape out;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) {
      if (i >= x.shape.size())
        ctx.fail(what + " has 0 (copy the input's size) at position " + std::to_string(i) + ", but the input " +
                     shape_to_string(x.shape) + " has only " + std::to_string(x.rank()) + " dimensions",
                 0);
      copied[i] = true;
      out.push_back(x.shape[i]);
    } else if (shape[i] == -1) {
      if (infer_at >= 0) ctx.fail(what + " has more than one -1; at most one size can be inferred");
      infer_at = static_cast<int64_t>(i);
      out.push_back(Dim::symbolic());
    } else if (shape[i] < -1) {
      ctx.fail(what + " has the negative size " + std::to_string(shape[i]));
    } else {
      target_known *= shape[i];
      out.push_back(Dim::known(shape[i]));
    }
  }
  int64_t input_known = 1;
  std::vector<Dim> input_symbolic;
  for (size_t i = 0; i < x.shape.size(); ++i) {
    if (copied[i]) continue;
    if (x.shape[i].is_known())
      input_known *= x.shape[i].size;
    else
      input_symbolic.push_back(x.shape[i]);
  }
  std::string mismatch = what + " does not fit the input " + shape_to_string(x.shape);
  if (!input_symbolic.empty()) {
    if (infer_at >= 0 && input_symbolic.size() == 1 && input_known == target_known) out[infer_at] = input_symbolic[0];
  } else if (infer_at >= 0) {
    if (target_known == 0 || input_known % target_known != 0)
      ctx.fail(
          mismatch + ": " + std::to_string(input_known) + " elements do not divide by " + std::to_string(target_known),
          0);
    out[infer_at] = Dim::known(input_known / target_known);
  } else if (input_known != target_known) {
    ctx.fail(mismatch + " (" + std::to_string(input_known) + " vs " + std::to_string(target_known) + " elements)", 0);
  }
  ctx.outputs = {TensorInfo{x.dtype, out}};
}

Runnable build_reshape(const LayerContext& ctx) {
  std::vector<int64_t> shape = ctx.ints("shape");
  return Runnable::op([shape](const std::vector<Tensor>& in) {
    const Tensor& x = in[0];
    Shape target;
    for (size_t i = 0; i < shape.size(); ++i)
      target.push_back(shape[i] == 0 ? x.size(static_cast<int64_t>(i)) : shape[i]);
    return x.reshape(target);
  });
}

// ---- Permute, Slice and Split -----------------------------------------------------------

std::vector<int64_t> permutation(const LayerContext& ctx, const TensorInfo& x) {
  std::vector<int64_t> dims = ctx.ints("dims");
  int64_t rank = x.rank();
  std::vector<bool> seen(rank, false);
  bool ok = static_cast<int64_t>(dims.size()) == rank;
  for (int64_t& d : dims) {
    if (!ok) break;
    if (d < 0) d += rank;
    ok = d >= 0 && d < rank && !seen[d];
    if (ok) seen[d] = true;
  }
  if (!ok)
    ctx.fail("Permute: dims " + ints_to_string(ctx.ints("dims")) + " is not a permutation of " + std::to_string(rank) +
             " axes (input " + shape_to_string(x.shape) + ")");
  return dims;
}

void infer_permute(LayerContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  SymShape out;
  for (int64_t d : permutation(ctx, x)) out.push_back(x.shape[d]);
  ctx.outputs = {TensorInfo{x.dtype, out}};
}

constexpr int64_t kToEnd = std::numeric_limits<int64_t>::max();

// The length of x[start:end:step] along an axis of size n, as PyTorch counts it.
int64_t slice_length(int64_t n, int64_t start, int64_t end, int64_t step) {
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  return (end - start + step - 1) / step;
}

void infer_slice(LayerContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  int64_t dim = axis(ctx, "Slice", "dim", ctx.integer("dim"), x);
  int64_t start = ctx.integer("start"), end = ctx.integer("end"), step = ctx.integer("step");
  if (step < 1) ctx.fail("Slice: step must be at least 1, got " + std::to_string(step));
  SymShape out = x.shape;
  const Dim& n = x.shape[dim];
  if (n.is_known()) {
    int64_t length = slice_length(n.size, start, end, step);
    if (length == 0)
      ctx.fail("Slice: start " + std::to_string(start) + " and end " + std::to_string(end) +
                   " select nothing from dimension " + std::to_string(dim) + " of " + shape_to_string(x.shape),
               0);
    out[dim] = Dim::known(length);
  } else if (!(start == 0 && end == kToEnd && step == 1)) {  // only the whole axis keeps its symbol
    out[dim] = Dim::symbolic();
  }
  ctx.outputs = {TensorInfo{x.dtype, out}};
}

// The piece sizes of Split along an axis of size n: `sizes`, or num_outputs equal parts with
// a smaller last one when n does not divide (ONNX Split-18).
std::vector<int64_t> split_sizes(const LayerContext& ctx, const TensorInfo& x, int64_t dim) {
  int64_t parts = ctx.integer("num_outputs");
  std::vector<int64_t> sizes = ctx.ints("sizes");
  const Dim& n = x.shape[dim];
  std::string where = "dimension " + std::to_string(dim) + " of " + shape_to_string(x.shape);
  if (!sizes.empty()) {
    if (static_cast<int64_t>(sizes.size()) != parts)
      ctx.fail("Split: sizes " + ints_to_string(sizes) + " has " + std::to_string(sizes.size()) +
               " entries but num_outputs is " + std::to_string(parts));
    int64_t total = 0;
    for (int64_t s : sizes) total += s;
    if (n.is_known() && total != n.size)
      ctx.fail("Split: sizes " + ints_to_string(sizes) + " add up to " + std::to_string(total) + " but " + where +
                   " has size " + std::to_string(n.size),
               0);
    return sizes;
  }
  if (!n.is_known()) ctx.fail("Split: " + where + " must be known to split it into equal parts; give sizes", 0);
  int64_t piece = (n.size + parts - 1) / parts, last = n.size - piece * (parts - 1);
  if (last <= 0)
    ctx.fail("Split: " + where + " is too small for " + std::to_string(parts) + " parts of " + std::to_string(piece),
             0);
  sizes.assign(parts, piece);
  sizes.back() = last;
  return sizes;
}

void infer_split(LayerContext& ctx) {
  const TensorInfo& x = ctx.input(0);
  int64_t dim = axis(ctx, "Split", "dim", ctx.integer("dim"), x);
  for (int64_t size : split_sizes(ctx, x, dim)) {
    TensorInfo piece = x;
    piece.shape[dim] = Dim::known(size);
    ctx.outputs.push_back(piece);
  }
}

Runnable build_split(const LayerContext& ctx) {
  int64_t dim = axis(ctx, "Split", "dim", ctx.integer("dim"), ctx.input(0));
  std::vector<int64_t> sizes = split_sizes(ctx, ctx.input(0), dim);
  Runnable r;
  r.forward = [dim, sizes](const std::vector<Tensor>& in) { return split(in[0], sizes, dim); };
  return r;
}

// ---- Merging several inputs ---------------------------------------------------------------

// How input i is named in messages: the port name for fixed ports, the slot for variadic ones.
std::string input_name(const LayerContext& ctx, size_t i, bool variadic) {
  if (variadic) return "input " + std::to_string(i);
  return std::string("input '") + (i == 0 ? "a" : "b") + "'";
}

// Merged inputs must agree on dtype: the engine would promote, but silently mixing an index
// tensor into float arithmetic is more likely a wiring mistake.
void check_same_dtype(const LayerContext& ctx, const std::string& type, bool variadic) {
  DType first = ctx.input(0).dtype;
  for (size_t i = 1; i < ctx.num_inputs(); ++i)
    if (ctx.input(i).dtype != first)
      ctx.fail(type + ": " + input_name(ctx, i, variadic) + " is " + dtype_name(ctx.input(i).dtype) + " but " +
                   input_name(ctx, 0, variadic) + " is " + dtype_name(first),
               static_cast<int>(i));
}

void require_two(const LayerContext& ctx, const std::string& type) {
  if (ctx.num_inputs() < 2) ctx.fail(type + ": needs at least two inputs, got " + std::to_string(ctx.num_inputs()), 0);
}

// NumPy broadcasting of two symbolic sizes, or nullopt when they cannot match. A symbolic
// size against a known one is assumed to fit (it must be 1 or equal at run time).
std::optional<Dim> broadcast_dim(const Dim& a, const Dim& b) {
  if (a == b) return a;
  if (a.is_known() && b.is_known()) {
    if (a.size == 1) return b;
    if (b.size == 1) return a;
    return std::nullopt;
  }
  if (a.is_known()) return a.size == 1 ? b : a;
  if (b.is_known()) return b.size == 1 ? a : b;
  return Dim::symbolic();
}

// The broadcast shape of all inputs, folded left to right so a message names the first
// input that does not fit the ones before it.
void infer_broadcast(LayerContext& ctx, const std::string& type, bool variadic) {
  if (variadic)
    require_two(ctx, type);
  else
    ctx.input(1);  // b must be connected too
  check_same_dtype(ctx, type, variadic);
  SymShape acc = ctx.input(0).shape;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const SymShape& s = ctx.input(i).shape;
    SymShape out(std::max(acc.size(), s.size()));
    for (size_t k = 0; k < out.size(); ++k) {
      // Align from the right; a missing leading axis acts as size 1.
      size_t from_end = out.size() - 1 - k;
      Dim a = from_end < acc.size() ? acc[acc.size() - 1 - from_end] : Dim::known(1);
      Dim b = from_end < s.size() ? s[s.size() - 1 - from_end] : Dim::known(1);
      std::optional<Dim> d = broadcast_dim(a, b);
      if (!d)
        ctx.fail(type + ": " + input_name(ctx, i, variadic) + " has shape " + shape_to_string(s) +
                     " that does not broadcast with " + shape_to_string(acc),
                 static_cast<int>(i));
      out[k] = *d;
    }
    acc = std::move(out);
  }
  ctx.outputs = {TensorInfo{ctx.input(0).dtype, acc}};
}

LayerCost elementwise_cost(const LayerContext& ctx) {
  return {.params = 0, .flops = static_cast<int64_t>(ctx.num_inputs() - 1) * numel_per_sample(ctx.outputs[0].shape)};
}

void infer_concat(LayerContext& ctx) {
  require_two(ctx, "Concat");
  check_same_dtype(ctx, "Concat", true);
  const TensorInfo& first = ctx.input(0);
  int64_t dim = axis(ctx, "Concat", "dim", ctx.integer("dim"), first);
  SymShape out = first.shape;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const TensorInfo& t = ctx.input(i);
    if (t.rank() != first.rank())
      ctx.fail("Concat: input " + std::to_string(i) + " " + shape_to_string(t.shape) + " has rank " +
                   std::to_string(t.rank()) + " but input 0 " + shape_to_string(first.shape) + " has rank " +
                   std::to_string(first.rank()),
               static_cast<int>(i));
    for (int64_t d = 0; d < first.rank(); ++d) {
      const Dim &a = out[d], &b = t.shape[d];
      if (d == dim) {
        out[d] = a.is_known() && b.is_known() ? Dim::known(a.size + b.size) : Dim::symbolic();
      } else if (a.is_known() && b.is_known() && a.size != b.size) {
        ctx.fail("Concat: inputs differ in dimension " + std::to_string(d) + " (" + std::to_string(a.size) + " vs " +
                     std::to_string(b.size) + "): " + shape_to_string(first.shape) + " and input " + std::to_string(i) +
                     " " + shape_to_string(t.shape),
                 static_cast<int>(i));
      } else if (!a.is_known() && b.is_known()) {
        out[d] = b;  // the known size is what the symbolic one must be
      } else if (!(a == b) && !a.is_known() && !b.is_known()) {
        out[d] = Dim::symbolic();
      }
    }
  }
  ctx.outputs = {TensorInfo{first.dtype, out}};
}

LayerSchema merge(std::string type, std::string help, std::vector<PortSpec> inputs, std::vector<AttrSpec> attrs) {
  return schema(std::move(type), "Merge", std::move(help), std::move(inputs), std::move(attrs));
}

}  // namespace

void register_shape_layers(LayerRegistry& r) {
  LayerSchema flatten = unary(
      "Flatten", "Merges dimensions start_dim..end_dim into one, e.g. N×32×7×7 → N×1568 to feed a Linear layer.",
      {AttrSpec::integer("start_dim", 1, std::nullopt, std::nullopt, "First dimension to merge (1 keeps the batch)"),
       AttrSpec::integer("end_dim", -1, std::nullopt, std::nullopt, "Last dimension to merge (-1: the last)")});
  flatten.infer = infer_flatten;
  flatten.cost = no_cost;
  flatten.build = [](const LayerContext& ctx) {
    return Runnable::of(std::make_shared<nn::Flatten>(ctx.integer("start_dim"), ctx.integer("end_dim")));
  };
  r.add(std::move(flatten));

  LayerSchema reshape =
      unary("Reshape",
            "Rearranges the values into a new shape with the same number of elements. In `shape`, 0 keeps that input "
            "dimension and -1 is worked out from the rest: [0, -1] makes N×… into N×(everything else).",
            {AttrSpec::ints("shape", {0, -1}, -1, std::nullopt,
                            "Full target shape including the batch; 0 copies the input's size, -1 is inferred")});
  reshape.infer = infer_reshape;
  reshape.cost = no_cost;
  reshape.build = build_reshape;
  r.add(std::move(reshape));

  LayerSchema permute =
      unary("Permute",
            "Reorders the dimensions: output dimension i is input dimension dims[i]. [0, 2, 1] turns N×C×L into N×L×C.",
            {AttrSpec::ints("dims", {0, 2, 1}, std::nullopt, std::nullopt,
                            "A permutation of all axes, the batch axis included")});
  permute.infer = infer_permute;
  permute.cost = no_cost;
  permute.build = [](const LayerContext& ctx) {
    std::vector<int64_t> dims = permutation(ctx, ctx.input(0));
    return Runnable::op([dims](const std::vector<Tensor>& in) { return in[0].permute(dims); });
  };
  r.add(std::move(permute));

  LayerSchema slice = unary(
      "Slice",
      "Keeps a range of one dimension, like x[:, start:end:step] in Python. Negative start/end count from the end.",
      {AttrSpec::integer("dim", 1, std::nullopt, std::nullopt, "Dimension to slice"),
       AttrSpec::integer("start", 0, std::nullopt, std::nullopt, "First index kept (negative: from the end)"),
       AttrSpec::integer("end", kToEnd, std::nullopt, std::nullopt, "One past the last index (clipped to the size)"),
       AttrSpec::integer("step", 1, 1, std::nullopt, "Keep every step-th index")});
  slice.infer = infer_slice;
  slice.cost = no_cost;
  slice.build = [](const LayerContext& ctx) {
    int64_t dim = ctx.integer("dim"), start = ctx.integer("start"), end = ctx.integer("end"),
            step = ctx.integer("step");
    return Runnable::op([=](const std::vector<Tensor>& in) { return in[0].slice(dim, start, end, step); });
  };
  r.add(std::move(slice));

  LayerSchema split =
      unary("Split",
            "Cuts one dimension into num_outputs pieces: equal ones (the last smaller if it does not divide), or the "
            "given sizes. N×6 with dim 1 and 2 outputs gives two N×3.",
            {AttrSpec::integer("dim", 1, std::nullopt, std::nullopt, "Dimension to cut"),
             AttrSpec::integer("num_outputs", 2, 1, 64, "How many pieces"),
             AttrSpec::ints("sizes", {}, 1, std::nullopt, "Size of each piece; empty for equal parts")});
  split.outputs = {any_port("outputs")};
  split.num_outputs = [](const AttrMap& attrs) {
    auto it = attrs.find("num_outputs");
    const int64_t* n = it == attrs.end() ? nullptr : std::get_if<int64_t>(&it->second);
    return n && *n >= 1 ? static_cast<int>(*n) : 1;
  };
  split.infer = infer_split;
  split.cost = no_cost;
  split.build = build_split;
  r.add(std::move(split));

  LayerSchema identity = unary("Identity", "Passes its input through unchanged: a placeholder or a named tap.", {});
  identity.infer = [](LayerContext& ctx) { ctx.outputs = {ctx.input(0)}; };
  identity.cost = no_cost;
  identity.build = [](const LayerContext&) { return Runnable::of(std::make_shared<nn::Identity>()); };
  r.add(std::move(identity));

  LayerSchema concat = merge(
      "Concat",
      "Joins two or more tensors along one dimension (channels by default): N×16×H×W and N×32×H×W give "
      "N×48×H×W. All other dimensions must match.",
      {any_port("inputs", true)}, {AttrSpec::integer("dim", 1, std::nullopt, std::nullopt, "Dimension to join along")});
  concat.infer = infer_concat;
  concat.cost = no_cost;
  concat.build = [](const LayerContext& ctx) {
    return Runnable::of(std::make_shared<nn::Concat>(axis(ctx, "Concat", "dim", ctx.integer("dim"), ctx.input(0))));
  };
  r.add(std::move(concat));

  LayerSchema add = merge("Add",
                          "Adds two or more tensors element by element, as in a residual connection. Shapes must "
                          "match or broadcast (a size 1 stretches).",
                          {any_port("inputs", true)}, {});
  add.infer = [](LayerContext& ctx) { infer_broadcast(ctx, "Add", true); };
  add.cost = elementwise_cost;
  add.build = [](const LayerContext&) { return Runnable::of(std::make_shared<nn::Add>()); };
  r.add(std::move(add));

  LayerSchema mul = merge("Mul",
                          "Multiplies a and b element by element, e.g. to gate one branch by another. Shapes must "
                          "match or broadcast (a size 1 stretches).",
                          {any_port("a"), any_port("b")}, {});
  mul.infer = [](LayerContext& ctx) { infer_broadcast(ctx, "Mul", false); };
  mul.cost = elementwise_cost;
  mul.build = [](const LayerContext&) {
    return Runnable::op([](const std::vector<Tensor>& in) { return nl::mul(in[0], in[1]); });
  };
  r.add(std::move(mul));
}

}  // namespace nl::graph
