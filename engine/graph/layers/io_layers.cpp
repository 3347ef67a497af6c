// Layer schemas for the graph's ends: Input (where data enters), Output (what a run returns)
// and Loss (the training objective, left out of run and export).
#include <memory>

#include "engine/core/error.h"
#include "engine/graph/layer_registry.h"
#include "engine/nn/losses.h"

namespace nl::graph {
namespace {


namespace F = nl::nn::functional;

// The Input's declared shape: -1 is unknown until a run, named "N" in front (the batch).
SymShape declared_shape(const std::vector<int64_t>& dims) {
  SymShape shape;
  for (size_t i = 0; i < dims.size(); ++i)
    shape.push_back(dims[i] >= 0 ? Dim::known(dims[i]) : Dim::symbolic(i == 0 ? "N" : ""));
  return shape;
}

DType dtype_of_choice(const std::string& name) {
  if (name == "int64") return DType::Int64;
  if (name == "bool") return DType::Bool;
  if (name == "uint8") return DType::UInt8;
  if (name == "float16") return DType::Float16;
  if (name == "bfloat16") return DType::BFloat16;
  return DType::Float32;
}

std::string concrete_str(const Tensor& t) {
  return shape_to_string(shape_from_ints(std::vector<int64_t>(t.shape().begin(), t.shape().end())));
}

LayerSchema input_schema() {
  LayerSchema s;
  s.type = "Input";
  s.category = "Input/Output";
  s.help =
      "Where data enters the network. Set the shape of one batch, -1 for a size known only when it runs "
      "(the first one is the batch N).";
  s.outputs = {port("output", PortType::Any)};
  s.attrs = {AttrSpec::ints("shape", {-1, 2}, -1, std::nullopt,
                            "Shape of the input tensor; -1 = decided by the data (the first -1 is the batch N)"),
             AttrSpec::choice("dtype", "float32", {"float32", "int64", "bool", "uint8", "float16", "bfloat16"},
                              "float32 for features and images, int64 for token or class indices, bool for masks; "
                              "uint8, float16 and bfloat16 for imported models that take them")};
  s.infer = [](LayerContext& c) {
    c.outputs = {TensorInfo{dtype_of_choice(c.text("dtype")), declared_shape(c.ints("shape"))}};
  };
  s.cost = [](const LayerContext&) { return LayerCost{}; };
  s.build = [](const LayerContext& c) {
    TensorInfo expected{dtype_of_choice(c.text("dtype")), declared_shape(c.ints("shape"))};
    Runnable r;
    r.forward = [expected](const std::vector<Tensor>& in) {
      NL_CHECK(in.size() == 1, "Input: expects exactly one tensor from the data, got ", in.size());
      const Tensor& x = in[0];
      std::vector<int64_t> dims(x.shape().begin(), x.shape().end());
      NL_CHECK(shape_matches(expected.shape, dims) && x.dtype() == expected.dtype, "Input: expects a ",
               dtype_name(expected.dtype), " tensor of shape ", shape_to_string(expected.shape), ", got ",
               dtype_name(x.dtype()), " ", concrete_str(x));
      return std::vector<Tensor>{x};
    };
    return r;
  };
  return s;
}

LayerSchema output_schema() {
  LayerSchema s;
  s.type = "Output";
  s.category = "Input/Output";
  s.help = "Marks the tensor a run returns as the network's result (the prediction); any shape.";
  s.inputs = {port("input", PortType::Any)};
  // The executor reads the tensor on the input edge itself, so the node has nothing to
  // produce and no output ports.
  s.infer = [](LayerContext& c) { (void)c.input(0); };
  s.cost = [](const LayerContext&) { return LayerCost{}; };
  s.build = [](const LayerContext&) {
    Runnable r;
    r.forward = [](const std::vector<Tensor>&) { return std::vector<Tensor>{}; };
    return r;
  };
  return s;
}

// ---- Loss ----

bool is_classification(const std::string& loss) { return loss == "cross_entropy" || loss == "nll"; }

// Sizes clash only when both are known: a symbolic batch matches anything.
bool dims_agree(const Dim& a, const Dim& b) { return !a.is_known() || !b.is_known() || a.size == b.size; }

bool shapes_agree(const SymShape& a, const SymShape& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!dims_agree(a[i], b[i])) return false;
  return true;
}

// Classification targets are int64 class indices shaped like the prediction without its
// class dimension (dim 1); the other losses compare elementwise, so same shape, float.
void check_target(const LayerContext& c, const std::string& loss, const TensorInfo& pred, const TensorInfo& target) {
  bool classes = is_classification(loss);
  if (target.dtype != (classes ? DType::Int64 : DType::Float32))
    c.fail(std::string(classes ? "target must be int64 class indices for " : "target must be a float tensor for ") +
               loss + ", got " + dtype_name(target.dtype) +
               (classes ? " (use mse or bce_with_logits for float targets)" : " (use cross_entropy for class indices)"),
           1);
  SymShape expected = pred.shape;
  if (classes) expected.erase(expected.begin() + 1);
  if (!shapes_agree(expected, target.shape))
    c.fail("target " + shape_to_string(target.shape) + " does not fit the prediction " + shape_to_string(pred.shape) +
               ": " + loss + " expects a target of shape " + shape_to_string(expected),
           1);
}

void infer_loss(LayerContext& c) {
  const std::string& loss = c.text("loss");
  const TensorInfo& pred = c.input(0);
  if (pred.dtype != DType::Float32) c.fail(std::string("prediction must be float32, got ") + dtype_name(pred.dtype), 0);
  if (is_classification(loss)) {
    if (pred.rank() < 2)
      c.fail("expects a prediction of rank 2 or more (N×classes) for " + loss + ", got " + shape_to_string(pred.shape),
             0);
    if (pred.shape[1].is_known() && pred.shape[1].size < 1)
      c.fail("the prediction has no classes (dimension 1 is 0)", 0);
  }
  if (loss == "huber" && c.real("delta") <= 0) c.fail("delta must be greater than 0 for huber");
  if (c.real("label_smoothing") > 0 && loss != "cross_entropy")
    c.warn("label_smoothing only applies to cross_entropy; it is ignored for " + loss);
  // An unconnected target is the dataset's, checked when a run starts.
  if (c.has_input(1)) check_target(c, loss, pred, c.input(1));
  c.outputs = {TensorInfo{DType::Float32, {}}};
}

// Rough per-element work: softmax + log + pick for the classification losses, a
// subtract and a square/abs (plus the sigmoid for BCE) for the others.
LayerCost loss_cost(const LayerContext& c) {
  const std::string& loss = c.text("loss");
  int64_t per_element = loss == "cross_entropy" ? 5 : loss == "bce_with_logits" ? 6 : loss == "nll" ? 1 : 3;
  return LayerCost{0, per_element * numel_per_sample(c.input(0).shape)};
}

Runnable build_loss(const LayerContext& c) {
  std::string loss = c.text("loss");
  Reduction red = c.text("reduction") == "sum" ? Reduction::Sum : Reduction::Mean;
  int64_t ignore = c.integer("ignore_index");
  double smoothing = c.real("label_smoothing"), beta = c.real("beta"), delta = c.real("delta");
  return Runnable::op([=](const std::vector<Tensor>& in) -> Tensor {
    NL_CHECK(in.size() == 2 && in[1].defined(),
             "Loss: needs a target: connect one, or train with a dataset that has targets");
    const Tensor& x = in[0];
    const Tensor& y = in[1];
    if (loss == "cross_entropy") return F::cross_entropy(x, y, red, ignore, smoothing);
    if (loss == "nll") return F::nll_loss(x, y, Tensor(), red, ignore);
    if (loss == "mse") return F::mse_loss(x, y, red);
    if (loss == "l1") return F::l1_loss(x, y, red);
    if (loss == "smooth_l1") return F::smooth_l1_loss(x, y, red, beta);
    if (loss == "huber") return F::huber_loss(x, y, red, delta);
    return F::binary_cross_entropy_with_logits(x, y, Tensor(), red);
  });
}

LayerSchema loss_schema() {
  LayerSchema s;
  s.type = "Loss";
  s.category = "Loss";
  s.help =
      "The number training minimises: compares the prediction (N×classes logits for cross_entropy) with "
      "the target. Only used while training.";
  s.inputs = {
      port("prediction", PortType::Float, false, "What the network predicts"),
      port("target", PortType::Any, true, "What it should predict; when unconnected the dataset's targets are used")};
  s.outputs = {port("loss", PortType::Float, false, "The loss, a single number")};
  s.training_only = true;
  s.attrs = {
      AttrSpec::choice("loss", "cross_entropy",
                       {"cross_entropy", "nll", "mse", "l1", "smooth_l1", "huber", "bce_with_logits"},
                       "cross_entropy for classes (raw logits), nll after LogSoftmax, mse/l1/smooth_l1/huber for "
                       "numbers, bce_with_logits for yes/no labels"),
      AttrSpec::choice("reduction", "mean", {"mean", "sum"}, "Average or add up the per-element losses"),
      AttrSpec::real("label_smoothing", 0.0, 0.0, 1.0,
                     "cross_entropy only: share of the target probability spread over all classes"),
      AttrSpec::integer("ignore_index", -100, std::nullopt, std::nullopt,
                        "cross_entropy/nll: targets with this class index do not count"),
      AttrSpec::real("beta", 1.0, 0.0, std::nullopt, "smooth_l1: where the loss turns from squared to linear"),
      AttrSpec::real("delta", 1.0, 0.0, std::nullopt, "huber: where the loss turns from squared to linear"),
  };
  s.infer = infer_loss;
  s.cost = loss_cost;
  s.build = build_loss;
  return s;
}

}  // namespace

void register_io_layers(LayerRegistry& r) {
  r.add(input_schema());
  r.add(output_schema());
  r.add(loss_schema());
}

}  // namespace nl::graph
