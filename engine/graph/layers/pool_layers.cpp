// Layer schemas for 2-d pooling over N×C×H×W: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and
// GlobalAvgPool2d (N×C×H×W → N×C, the usual bridge from convolutions to a Linear).
#include <memory>

#include "engine/graph/layer_registry.h"
#include "engine/nn/pool.h"
#include "engine/ops/reduce.h"

namespace nl::graph {
namespace {


const TensorInfo& image_input(const LayerContext& c) {
  const TensorInfo& x = c.input_of_rank(0, 4, "N×C×H×W");
  if (x.dtype != DType::Float32) c.fail(std::string("expects a float32 input, got ") + dtype_name(x.dtype), 0);
  return x;
}

std::string sizes_str(const std::vector<int64_t>& v) { return shape_to_string(shape_from_ints(v, "")); }

Pool2dParams read_pool(const LayerContext& c, bool is_max) {
  Pool2dParams p;
  for (int d = 0; d < 2; ++d) {
    p.kernel[d] = c.ints("kernel_size")[d];
    p.stride[d] = c.ints("stride")[d];
    p.padding[d] = c.ints("padding")[d];
    p.dilation[d] = is_max ? c.ints("dilation")[d] : 1;
  }
  p.ceil_mode = c.boolean("ceil_mode");
  if (!is_max) p.count_include_pad = c.boolean("count_include_pad");
  return p;
}

// PyTorch's pooling output size: with ceil_mode a partial last window counts, unless it
// would start in the right padding.
int64_t pooled_size(int64_t in, int64_t window, int64_t stride, int64_t pad, bool ceil_mode) {
  int64_t span = in + 2 * pad - window;
  int64_t out = (span + (ceil_mode ? stride - 1 : 0)) / stride + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

void infer_pool(LayerContext& c, bool is_max) {
  const TensorInfo& x = image_input(c);
  Pool2dParams p = read_pool(c, is_max);
  std::vector<int64_t> window(2), padded(2), padding{p.padding[0], p.padding[1]};
  for (int d = 0; d < 2; ++d) window[d] = p.dilation[d] * (p.kernel[d] - 1) + 1;
  // More padding than half the window would make windows that see only padding.
  for (int d = 0; d < 2; ++d)
    if (p.padding[d] > window[d] / 2)
      c.fail("padding " + sizes_str(padding) + " must be at most half the kernel " + sizes_str(window));
  SymShape out{x.shape[0], x.shape[1]};
  bool too_large = false;
  for (int d = 0; d < 2; ++d) {
    const Dim& in = x.shape[2 + d];
    padded[d] = in.is_known() ? in.size + 2 * p.padding[d] : -1;
    if (!in.is_known())
      out.push_back(Dim::symbolic());
    else if (window[d] > padded[d])
      too_large = true;
    else
      out.push_back(Dim::known(pooled_size(in.size, window[d], p.stride[d], p.padding[d], p.ceil_mode)));
  }
  if (too_large) c.fail("kernel " + sizes_str(window) + " is larger than the padded input " + sizes_str(padded), 0);
  c.outputs = {TensorInfo{DType::Float32, out}};
}

std::vector<AttrSpec> pool_attrs(bool is_max) {
  std::vector<AttrSpec> a = {
      AttrSpec::ints("kernel_size", {2, 2}, 1, std::nullopt, "Size of the window", 2),
      // PyTorch's default stride is the kernel size; the editor shows it as a value.
      AttrSpec::ints("stride", {2, 2}, 1, std::nullopt, "Step between windows (usually the kernel size)", 2),
      AttrSpec::ints("padding", {0, 0}, 0, std::nullopt, "Padding on each side, at most half the kernel", 2),
  };
  if (is_max) a.push_back(AttrSpec::ints("dilation", {1, 1}, 1, std::nullopt, "Spacing between window elements", 2));
  a.push_back(AttrSpec::boolean("ceil_mode", false, "Round the output size up, keeping a partial last window"));
  if (!is_max) a.push_back(AttrSpec::boolean("count_include_pad", true, "Count the padding zeros in the average"));
  return a;
}

LayerSchema pool_schema(bool is_max) {
  LayerSchema s;
  s.type = is_max ? "MaxPool2d" : "AvgPool2d";
  s.category = "Pooling";
  s.help = std::string(is_max ? "Keeps the largest value" : "Averages the values") +
           " in each window, shrinking the image (by half with the defaults). Input N×C×H×W.";
  s.inputs = {port("input", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.attrs = pool_attrs(is_max);
  s.infer = [is_max](LayerContext& c) { infer_pool(c, is_max); };
  s.cost = [is_max](const LayerContext& c) {
    Pool2dParams p = read_pool(c, is_max);
    // One compare or add per window element per output.
    return LayerCost{0, p.kernel[0] * p.kernel[1] * numel_per_sample(c.outputs.at(0).shape)};
  };
  s.build = [is_max](const LayerContext& c) -> Runnable {
    Pool2dParams p = read_pool(c, is_max);
    if (is_max) return Runnable::of(std::make_shared<nn::MaxPool2d>(p));
    return Runnable::of(std::make_shared<nn::AvgPool2d>(p));
  };
  return s;
}

LayerSchema adaptive_avg_pool_schema() {
  LayerSchema s;
  s.type = "AdaptiveAvgPool2d";
  s.category = "Pooling";
  s.help =
      "Averages the image down to a fixed output size whatever the input size. Input N×C×H×W → "
      "N×C×output_size.";
  s.inputs = {port("input", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.attrs = {AttrSpec::ints("output_size", {1, 1}, 1, std::nullopt, "Height and width of the output", 2)};
  s.infer = [](LayerContext& c) {
    const TensorInfo& x = image_input(c);
    const auto& size = c.ints("output_size");
    c.outputs = {TensorInfo{DType::Float32, {x.shape[0], x.shape[1], Dim::known(size[0]), Dim::known(size[1])}}};
  };
  // Every input element is added into (about) one window.
  s.cost = [](const LayerContext& c) { return LayerCost{0, numel_per_sample(c.input(0).shape)}; };
  s.build = [](const LayerContext& c) {
    const auto& size = c.ints("output_size");
    return Runnable::of(std::make_shared<nn::AdaptiveAvgPool2d>(std::array<int64_t, 2>{size[0], size[1]}));
  };
  return s;
}

LayerSchema global_avg_pool_schema() {
  LayerSchema s;
  s.type = "GlobalAvgPool2d";
  s.category = "Pooling";
  s.help =
      "Averages each channel over the whole image, giving one number per channel: N×C×H×W → N×C, ready "
      "for a Linear layer.";
  s.inputs = {port("input", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.infer = [](LayerContext& c) {
    const TensorInfo& x = image_input(c);
    c.outputs = {TensorInfo{DType::Float32, {x.shape[0], x.shape[1]}}};
  };
  s.cost = [](const LayerContext& c) { return LayerCost{0, numel_per_sample(c.input(0).shape)}; };
  s.build = [](const LayerContext&) {
    return Runnable::op([](const std::vector<Tensor>& in) { return mean(in.at(0), {2, 3}); });
  };
  return s;
}

}  // namespace

void register_pool_layers(LayerRegistry& r) {
  r.add(pool_schema(true));
  r.add(pool_schema(false));
  r.add(adaptive_avg_pool_schema());
  r.add(global_avg_pool_schema());
}

}  // namespace nl::graph
