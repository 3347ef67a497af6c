// Layer schemas for the dense layers: Linear, Embedding and MatMul. Linear's in_features is
// the input's last dimension (Note [Inferred sizes]).
#include <memory>

#include "engine/graph/layer_registry.h"
#include "engine/nn/embedding.h"
#include "engine/nn/linear.h"
#include "engine/ops/matmul.h"

namespace nl::graph {
namespace {


void require_float(const LayerContext& c, size_t port, const char* hint = "") {
  const TensorInfo& t = c.input(port);
  if (t.dtype != DType::Float32)
    c.fail(std::string("expects a float32 input, got ") + dtype_name(t.dtype) + hint, static_cast<int>(port));
}

// ---- Linear ----

void infer_linear(LayerContext& c) {
  const TensorInfo& x = c.input(0);
  if (x.rank() < 1) c.fail("expects an input with a feature dimension (N×features), got a scalar", 0);
  require_float(c, 0, " (indices go through an Embedding first)");
  (void)c.known_dim(0, -1);  // in_features: the weight cannot be made without it
  SymShape out = x.shape;
  out.back() = Dim::known(c.integer("out_features"));
  c.outputs = {TensorInfo{DType::Float32, out}};
}

LayerCost linear_cost(const LayerContext& c) {
  int64_t in = c.input(0).shape.back().size, out = c.integer("out_features");
  // Every row of in_features (N×features, or N×T×features for sequences) is one matrix-vector product.
  int64_t rows = numel_per_sample(c.input(0).shape) / in;
  return LayerCost{in * out + (c.boolean("bias") ? out : 0), 2 * in * out * rows};
}

LayerSchema linear_schema() {
  LayerSchema s;
  s.type = "Linear";
  s.category = "Dense";
  s.help =
      "Fully connected layer: every output is a weighted sum of all inputs plus a bias. Input N×features "
      "(or N×…×features: applied to the last dimension).";
  s.inputs = {port("input", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.attrs = {AttrSpec::integer("out_features", 64, 1, 1 << 20, "Number of outputs"),
             AttrSpec::boolean("bias", true, "Add a learnable bias to each output")};
  s.infer = infer_linear;
  s.cost = linear_cost;
  s.build = [](const LayerContext& c) {
    return Runnable::of(std::make_shared<nn::Linear>(c.known_dim(0, -1), c.integer("out_features"), c.boolean("bias")));
  };
  return s;
}

// ---- Embedding ----

void infer_embedding(LayerContext& c) {
  const TensorInfo& x = c.input(0);
  if (x.dtype != DType::Int64)
    c.fail(std::string("expects int64 indices (token or category ids), got ") + dtype_name(x.dtype), 0);
  int64_t rows = c.integer("num_embeddings"), pad = c.integer("padding_idx");
  if (pad >= rows)
    c.fail("padding_idx " + std::to_string(pad) + " is outside the table of " + std::to_string(rows) + " rows");
  SymShape out = x.shape;
  out.push_back(Dim::known(c.integer("embedding_dim")));
  c.outputs = {TensorInfo{DType::Float32, out}};
}

LayerSchema embedding_schema() {
  LayerSchema s;
  s.type = "Embedding";
  s.category = "Dense";
  s.help =
      "Looks up a learned vector for each integer index (a word or category id). Input N×T int64 → "
      "N×T×embedding_dim.";
  s.inputs = {port("input", PortType::Index)};
  s.outputs = {port("output", PortType::Float)};
  s.attrs = {
      AttrSpec::integer("num_embeddings", 1000, 1, 1 << 24, "Size of the table: indices run from 0 to this - 1"),
      AttrSpec::integer("embedding_dim", 64, 1, 1 << 20, "Length of each vector"),
      // PyTorch's None; PyTorch also reads negative values from the end, which the editor
      // gives up so that -1 can mean "none".
      AttrSpec::integer("padding_idx", -1, -1, std::nullopt,
                        "Index whose vector stays zero and is never trained (the padding token); -1 = none"),
  };
  s.infer = infer_embedding;
  s.cost = [](const LayerContext& c) {
    // A lookup copies rows and does no arithmetic.
    return LayerCost{c.integer("num_embeddings") * c.integer("embedding_dim"), 0};
  };
  s.build = [](const LayerContext& c) {
    int64_t pad = c.integer("padding_idx");
    return Runnable::of(std::make_shared<nn::Embedding>(c.integer("num_embeddings"), c.integer("embedding_dim"),
                                                        pad >= 0 ? std::optional<int64_t>(pad) : std::nullopt));
  };
  return s;
}

// ---- MatMul ----

// One batch dimension of a broadcast: a known 1 yields to the other side; a symbolic size
// facing a known one must be 1 or equal, so the known one is the result.
Dim broadcast_dim(const LayerContext& c, const Dim& a, const Dim& b, const std::string& why) {
  if (a.is_known() && b.is_known()) {
    if (a.size == b.size || b.size == 1) return a;
    if (a.size == 1) return b;
    c.fail(why, 1);
  }
  if (a.is_known()) return a.size == 1 ? b : a;
  if (b.is_known()) return b.size == 1 ? a : b;
  return a.symbol == b.symbol ? a : Dim::symbolic();
}

// torch.matmul: a 1-D a is a row vector and a 1-D b a column vector (their extra dimension
// dropped from the result); all but the last two dimensions broadcast.
void infer_matmul(LayerContext& c) {
  const TensorInfo& a = c.input(0);
  const TensorInfo& b = c.input(1);
  require_float(c, 0);
  require_float(c, 1);
  if (a.rank() < 1) c.fail("a must have at least one dimension, got a scalar", 0);
  if (b.rank() < 1) c.fail("b must have at least one dimension, got a scalar", 1);
  std::string shapes = shape_to_string(a.shape) + " @ " + shape_to_string(b.shape);
  const Dim& ka = a.shape.back();
  const Dim& kb = b.rank() == 1 ? b.shape[0] : b.shape[b.rank() - 2];
  if (ka.is_known() && kb.is_known() && ka.size != kb.size)
    c.fail(
        "inner dimensions differ: " + shapes + " (" + std::to_string(ka.size) + " vs " + std::to_string(kb.size) + ")",
        1);
  SymShape batch_a(a.shape.begin(), a.shape.end() - std::min<int64_t>(a.rank(), 2));
  SymShape batch_b(b.shape.begin(), b.shape.end() - std::min<int64_t>(b.rank(), 2));
  size_t n = std::max(batch_a.size(), batch_b.size());
  SymShape out(n);
  // Right-aligned, as broadcasting is: the shorter side is padded with 1s in front.
  auto from_right = [](const SymShape& s, size_t r) { return r < s.size() ? s[s.size() - 1 - r] : Dim::known(1); };
  for (size_t r = 0; r < n; ++r)
    out[n - 1 - r] = broadcast_dim(c, from_right(batch_a, r), from_right(batch_b, r),
                                   "batch dimensions do not broadcast: " + shapes);
  if (a.rank() >= 2) out.push_back(a.shape[a.rank() - 2]);
  if (b.rank() >= 2) out.push_back(b.shape.back());
  c.outputs = {TensorInfo{DType::Float32, out}};
}

LayerSchema matmul_schema() {
  LayerSchema s;
  s.type = "MatMul";
  s.category = "Dense";
  s.help =
      "Matrix product a @ b of two inputs, as torch.matmul: a …×M×K times b …×K×P gives …×M×P, with the "
      "leading (batch) dimensions broadcast.";
  s.inputs = {port("a", PortType::Float), port("b", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.infer = infer_matmul;
  s.cost = [](const LayerContext& c) {
    const Dim& k = c.input(0).shape.back();
    // Each output element is a dot product of length K.
    return LayerCost{0, 2 * (k.is_known() ? k.size : 1) * numel_per_sample(c.outputs.at(0).shape)};
  };
  s.build = [](const LayerContext&) {
    return Runnable::op([](const std::vector<Tensor>& in) { return matmul(in.at(0), in.at(1)); });
  };
  return s;
}

}  // namespace

void register_dense_layers(LayerRegistry& r) {
  r.add(linear_schema());
  r.add(embedding_schema());
  r.add(matmul_schema());
}

}  // namespace nl::graph
