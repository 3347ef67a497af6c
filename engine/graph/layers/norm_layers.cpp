// Layer schemas for normalisation (BatchNorm1d/2d, LayerNorm, GroupNorm) and Dropout. The
// normalised sizes (num_features, normalized_shape, num_channels) come from the input
// (Note [Inferred sizes]).
#include <memory>

#include "engine/graph/layer_registry.h"
#include "engine/nn/dropout.h"
#include "engine/nn/norm.h"

namespace nl::graph {
namespace {


// Mean, variance, normalise, scale and shift: a handful of operations per element.
constexpr int64_t kNormFlopsPerElement = 5;

const TensorInfo& float_input(const LayerContext& c) {
  const TensorInfo& x = c.input(0);
  if (x.dtype != DType::Float32) c.fail(std::string("expects a float32 input, got ") + dtype_name(x.dtype), 0);
  return x;
}

void same_shape_output(LayerContext& c) { c.outputs = {c.input(0)}; }

// The learnable scale and shift hold `affine_size` values each.
LayerCost norm_cost(const LayerContext& c, int64_t affine_size, bool affine) {
  return LayerCost{affine ? 2 * affine_size : 0, kNormFlopsPerElement * numel_per_sample(c.input(0).shape)};
}

// ---- BatchNorm ----

LayerSchema batch_norm_schema(bool image) {
  LayerSchema s;
  s.type = image ? "BatchNorm2d" : "BatchNorm1d";
  s.category = "Normalization";
  s.help = image ? "Normalises each channel over the batch and the image, then scales and shifts it; steadies "
                   "training. Input N×C×H×W."
                 : "Normalises each feature over the batch, then scales and shifts it; steadies training. Input N×C "
                   "or N×C×L.";
  s.inputs = {port("input", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.attrs = {AttrSpec::real("eps", 1e-5, 0.0, 1.0, "Added to the variance to avoid dividing by zero"),
             AttrSpec::real("momentum", 0.1, 0.0, 1.0, "Weight of each new batch in the running statistics"),
             AttrSpec::boolean("affine", true, "Learn a scale and shift per channel"),
             AttrSpec::boolean("track_running_stats", true,
                               "Keep running statistics for evaluation (else batch statistics are always used)")};
  s.infer = [image](LayerContext& c) {
    const TensorInfo& x = float_input(c);
    if (image)
      c.input_of_rank(0, 4, "N×C×H×W");
    else if (x.rank() != 2 && x.rank() != 3)
      c.fail("expects a rank-2 or rank-3 input (N×C or N×C×L), got " + shape_to_string(x.shape) +
                 (x.rank() == 4 ? " (use BatchNorm2d for images)" : ""),
             0);
    (void)c.known_dim(0, 1);
    same_shape_output(c);
  };
  s.cost = [](const LayerContext& c) { return norm_cost(c, c.input(0).shape[1].size, c.boolean("affine")); };
  s.build = [image](const LayerContext& c) -> Runnable {
    nn::BatchNormOptions o;
    o.eps = c.real("eps");
    o.momentum = c.real("momentum");
    o.affine = c.boolean("affine");
    o.track_running_stats = c.boolean("track_running_stats");
    int64_t channels = c.known_dim(0, 1);
    if (image) return Runnable::of(std::make_shared<nn::BatchNorm2d>(channels, o));
    return Runnable::of(std::make_shared<nn::BatchNorm1d>(channels, o));
  };
  return s;
}

// ---- LayerNorm ----

// PyTorch's normalized_shape: the sizes of the last `normalized_dims` dimensions.
std::vector<int64_t> normalized_shape(const LayerContext& c) {
  int64_t k = c.integer("normalized_dims");
  const TensorInfo& x = c.input(0);
  if (x.rank() < k)
    c.fail("normalizes over the last " + std::to_string(k) + " dimensions, but the input " + shape_to_string(x.shape) +
               " has only " + std::to_string(x.rank()),
           0);
  std::vector<int64_t> shape;
  for (int64_t d = x.rank() - k; d < x.rank(); ++d) shape.push_back(c.known_dim(0, d));
  return shape;
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

LayerSchema layer_norm_schema() {
  LayerSchema s;
  s.type = "LayerNorm";
  s.category = "Normalization";
  s.help =
      "Normalises each sample over its last dimension(s), then scales and shifts; the usual choice in "
      "transformers. Input N×…×features.";
  s.inputs = {port("input", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.attrs = {AttrSpec::integer("normalized_dims", 1, 1, 8,
                               "How many trailing dimensions to normalise over (their sizes are PyTorch's "
                               "normalized_shape)"),
             AttrSpec::real("eps", 1e-5, 0.0, 1.0, "Added to the variance to avoid dividing by zero"),
             AttrSpec::boolean("elementwise_affine", true, "Learn a scale and shift per element")};
  s.infer = [](LayerContext& c) {
    float_input(c);
    normalized_shape(c);
    same_shape_output(c);
  };
  s.cost = [](const LayerContext& c) {
    return norm_cost(c, product(normalized_shape(c)), c.boolean("elementwise_affine"));
  };
  s.build = [](const LayerContext& c) {
    return Runnable::of(
        std::make_shared<nn::LayerNorm>(normalized_shape(c), c.real("eps"), c.boolean("elementwise_affine")));
  };
  return s;
}

// ---- GroupNorm ----

LayerSchema group_norm_schema() {
  LayerSchema s;
  s.type = "GroupNorm";
  s.category = "Normalization";
  s.help =
      "Splits the channels into groups and normalises each group per sample, so it works with any batch "
      "size. Input N×C×… (e.g. N×C×H×W).";
  s.inputs = {port("input", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.attrs = {AttrSpec::integer("num_groups", 1, 1, 1 << 16, "Number of channel groups; must divide the channels"),
             AttrSpec::real("eps", 1e-5, 0.0, 1.0, "Added to the variance to avoid dividing by zero"),
             AttrSpec::boolean("affine", true, "Learn a scale and shift per channel")};
  s.infer = [](LayerContext& c) {
    const TensorInfo& x = float_input(c);
    if (x.rank() < 2) c.fail("expects an input of rank 2 or more (N×C×…), got " + shape_to_string(x.shape), 0);
    int64_t channels = c.known_dim(0, 1), groups = c.integer("num_groups");
    if (channels % groups != 0)
      c.fail("num_channels " + std::to_string(channels) + " is not divisible by num_groups " + std::to_string(groups),
             0);
    same_shape_output(c);
  };
  s.cost = [](const LayerContext& c) { return norm_cost(c, c.input(0).shape[1].size, c.boolean("affine")); };
  s.build = [](const LayerContext& c) {
    return Runnable::of(std::make_shared<nn::GroupNorm>(c.integer("num_groups"), c.known_dim(0, 1), c.real("eps"),
                                                        c.boolean("affine")));
  };
  return s;
}

// ---- Dropout ----

LayerSchema dropout_schema() {
  LayerSchema s;
  s.type = "Dropout";
  s.category = "Regularization";
  s.help =
      "While training, zeroes random elements (with probability p) so the network cannot rely on any "
      "single one; does nothing at evaluation. Any input shape.";
  s.inputs = {port("input", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.attrs = {AttrSpec::real("p", 0.5, 0.0, 1.0, "Probability of zeroing each element")};
  s.infer = [](LayerContext& c) {
    float_input(c);
    if (c.real("p") == 1.0) c.warn("p = 1 zeroes every element while training");
    same_shape_output(c);
  };
  // One multiply by the mask per element.
  s.cost = [](const LayerContext& c) { return LayerCost{0, numel_per_sample(c.input(0).shape)}; };
  s.build = [](const LayerContext& c) { return Runnable::of(std::make_shared<nn::Dropout>(c.real("p"))); };
  return s;
}

}  // namespace

void register_norm_layers(LayerRegistry& r) {
  r.add(batch_norm_schema(false));
  r.add(batch_norm_schema(true));
  r.add(layer_norm_schema());
  r.add(group_norm_schema());
  r.add(dropout_schema());
}

}  // namespace nl::graph
