// Layer schemas for the convolutions: Conv1d (N×C×L), Conv2d and ConvTranspose2d (N×C×H×W).
// in_channels is the input's dimension 1 (Note [Inferred sizes]).
#include <memory>

#include "engine/graph/layer_registry.h"
#include "engine/nn/conv.h"
#include "engine/nn/conv_transpose.h"

namespace nl::graph {
namespace {


// A convolution's window settings, one entry per spatial dimension, read from Conv1d's
// integers or the 2-d layers' pairs alike.
struct ConvWindow {
  std::vector<int64_t> kernel, stride, padding, dilation, output_padding;
  bool same = false;  // padding_type "same": output size = input size
  int64_t groups = 1;
};

ConvWindow read_window(const LayerContext& c, size_t spatial) {
  auto list = [&](const char* name) { return spatial == 1 ? std::vector<int64_t>{c.integer(name)} : c.ints(name); };
  ConvWindow w{list("kernel_size"), list("stride"), list("padding"), list("dilation"), {}, false, c.integer("groups")};
  if (c.attrs().count("padding_type")) {
    const std::string& type = c.text("padding_type");
    w.same = type == "same";
    if (type == "valid") w.padding.assign(spatial, 0);
  }
  w.output_padding = c.attrs().count("output_padding") ? c.ints("output_padding") : std::vector<int64_t>(spatial, 0);
  return w;
}

// "5×5"; an unknown size (-1) shows as "?".
std::string sizes_str(const std::vector<int64_t>& v) { return shape_to_string(shape_from_ints(v, "")); }

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Checks the input layout and the channel/group arithmetic; returns in_channels.
int64_t check_channels(const LayerContext& c, size_t spatial, const char* layout, const ConvWindow& w) {
  const TensorInfo& x = c.input_of_rank(0, 2 + static_cast<int64_t>(spatial), layout);
  if (x.dtype != DType::Float32) c.fail(std::string("expects a float32 input, got ") + dtype_name(x.dtype), 0);
  int64_t in = c.known_dim(0, 1), out = c.integer("out_channels");
  if (in % w.groups != 0)
    c.fail("in_channels " + std::to_string(in) + " is not divisible by groups " + std::to_string(w.groups), 0);
  if (out % w.groups != 0)
    c.fail("out_channels " + std::to_string(out) + " is not divisible by groups " + std::to_string(w.groups));
  return in;
}

void infer_conv(LayerContext& c, size_t spatial, const char* layout) {
  ConvWindow w = read_window(c, spatial);
  check_channels(c, spatial, layout, w);
  const TensorInfo& x = c.input(0);
  bool dilated = false;
  for (size_t d = 0; d < spatial; ++d) {
    if (w.same && w.stride[d] != 1) c.fail("padding_type \"same\" needs stride 1 (as in PyTorch)");
    dilated = dilated || w.dilation[d] > 1;
  }
  SymShape out{x.shape[0], Dim::known(c.integer("out_channels"))};
  std::vector<int64_t> window(spatial), padded(spatial);
  bool too_large = false;
  for (size_t d = 0; d < spatial; ++d) {
    const Dim& in = x.shape[2 + d];
    window[d] = w.dilation[d] * (w.kernel[d] - 1) + 1;
    padded[d] = in.is_known() ? in.size + 2 * w.padding[d] : -1;
    if (w.same)
      out.push_back(in);  // the very same size, symbolic or not
    else if (!in.is_known())
      out.push_back(Dim::symbolic());
    else if (window[d] > padded[d])
      too_large = true;
    else
      out.push_back(Dim::known((padded[d] - window[d]) / w.stride[d] + 1));
  }
  if (too_large)
    c.fail(std::string(dilated ? "dilated kernel " : "kernel ") + sizes_str(window) +
               " is larger than the padded input " + sizes_str(padded),
           0);
  c.outputs = {TensorInfo{DType::Float32, out}};
}

// ConvTranspose2d spreads each input pixel over a kernel-sized patch of the output:
// out = (in - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1.
void infer_conv_transpose(LayerContext& c) {
  ConvWindow w = read_window(c, 2);
  check_channels(c, 2, "N×C×H×W", w);
  const TensorInfo& x = c.input(0);
  SymShape out{x.shape[0], Dim::known(c.integer("out_channels"))};
  std::vector<int64_t> sizes(2);
  bool empty = false;
  for (size_t d = 0; d < 2; ++d) {
    if (w.output_padding[d] >= std::max(w.stride[d], w.dilation[d]))
      c.fail("output_padding " + sizes_str(w.output_padding) +
             " must be smaller than the stride or the dilation in each dimension (as in PyTorch)");
    const Dim& in = x.shape[2 + d];
    sizes[d] = in.is_known() ? (in.size - 1) * w.stride[d] - 2 * w.padding[d] + w.dilation[d] * (w.kernel[d] - 1) +
                                   w.output_padding[d] + 1
                             : -1;
    empty = empty || (in.is_known() && sizes[d] <= 0);
    out.push_back(in.is_known() ? Dim::known(sizes[d]) : Dim::symbolic());
  }
  if (empty)
    c.fail("padding " + sizes_str(w.padding) + " leaves no output for input " + shape_to_string(x.shape) +
               " (reduce padding or raise stride or kernel_size)",
           0);
  c.outputs = {TensorInfo{DType::Float32, out}};
}

// Weights [out, in/groups, k…] (transposed: [in, out/groups, k…], the same count). A
// convolution does one multiply-add per weight per output position; a transposed one per
// weight per input position.
LayerCost conv_cost(const LayerContext& c, size_t spatial, bool transposed) {
  ConvWindow w = read_window(c, spatial);
  int64_t in = c.input(0).shape[1].size, out = c.integer("out_channels");
  int64_t weights = out * (in / w.groups) * product(w.kernel);
  int64_t params = weights + (c.boolean("bias") ? out : 0);
  int64_t positions =
      transposed ? numel_per_sample(c.input(0).shape) / in : numel_per_sample(c.outputs.at(0).shape) / out;
  return LayerCost{params, 2 * weights * positions};
}

// Attributes given per spatial dimension: an int for Conv1d, a pair for the 2-d layers.
AttrSpec window_attr(size_t spatial, const char* name, int64_t def, int64_t min, const char* help) {
  if (spatial == 1) return AttrSpec::integer(name, def, min, std::nullopt, help);
  return AttrSpec::ints(name, {def, def}, min, std::nullopt, help, 2);
}

std::vector<AttrSpec> conv_attrs(size_t spatial, int64_t kernel, int64_t stride, int64_t padding) {
  return {AttrSpec::integer("out_channels", 32, 1, 1 << 16, "Number of output channels (filters)"),
          window_attr(spatial, "kernel_size", kernel, 1, "Size of the sliding window"),
          window_attr(spatial, "stride", stride, 1, "Step between window positions"),
          window_attr(spatial, "padding", padding, 0, "Zeros added on each side of the input"),
          window_attr(spatial, "dilation", 1, 1, "Spacing between kernel elements"),
          AttrSpec::integer("groups", 1, 1, 1 << 16,
                            "Split channels into independent groups (groups = channels: depthwise)"),
          AttrSpec::boolean("bias", true, "Add a learnable bias per output channel")};
}

AttrSpec padding_type_attr() {
  return AttrSpec::choice("padding_type", "explicit", {"explicit", "same", "valid"},
                          "explicit: use padding; same: pad so the output keeps the input size (stride 1); valid: "
                          "no padding");
}

LayerSchema conv_schema(size_t spatial) {
  LayerSchema s;
  s.type = spatial == 1 ? "Conv1d" : "Conv2d";
  s.category = "Convolution";
  s.help = spatial == 1 ? "Slides learned filters along a sequence (audio, signals, token features). Input N×C×L."
                        : "Slides learned filters over an image to detect local patterns. Input N×C×H×W.";
  s.inputs = {port("input", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.attrs = conv_attrs(spatial, 3, 1, 1);
  s.attrs.insert(s.attrs.begin() + 4, padding_type_attr());
  const char* layout = spatial == 1 ? "N×C×L" : "N×C×H×W";
  s.infer = [spatial, layout](LayerContext& c) { infer_conv(c, spatial, layout); };
  s.cost = [spatial](const LayerContext& c) { return conv_cost(c, spatial, false); };
  return s;
}

LayerSchema conv1d_schema() {
  LayerSchema s = conv_schema(1);
  s.build = [](const LayerContext& c) {
    ConvWindow w = read_window(c, 1);
    nn::Conv1dOptions o;
    o.stride = w.stride[0];
    o.padding = w.padding[0];
    o.same_padding = w.same;
    o.dilation = w.dilation[0];
    o.groups = w.groups;
    o.bias = c.boolean("bias");
    return Runnable::of(std::make_shared<nn::Conv1d>(c.known_dim(0, 1), c.integer("out_channels"), w.kernel[0], o));
  };
  return s;
}

std::array<int64_t, 2> pair(const std::vector<int64_t>& v) { return {v.at(0), v.at(1)}; }

// The settings Conv2d and ConvTranspose2d share.
template <class Options>
Options options_2d(const LayerContext& c, const ConvWindow& w) {
  Options o;
  o.stride = pair(w.stride);
  o.padding = pair(w.padding);
  o.dilation = pair(w.dilation);
  o.groups = w.groups;
  o.bias = c.boolean("bias");
  return o;
}

LayerSchema conv2d_schema() {
  LayerSchema s = conv_schema(2);
  s.build = [](const LayerContext& c) {
    ConvWindow w = read_window(c, 2);
    auto o = options_2d<nn::Conv2dOptions>(c, w);
    o.same_padding = w.same;
    return Runnable::of(std::make_shared<nn::Conv2d>(c.known_dim(0, 1), c.integer("out_channels"), pair(w.kernel), o));
  };
  return s;
}

LayerSchema conv_transpose2d_schema() {
  LayerSchema s;
  s.type = "ConvTranspose2d";
  s.category = "Convolution";
  s.help =
      "Learned upsampling (\"deconvolution\"): each input pixel paints a filter-sized patch of a larger "
      "output. Input N×C×H×W; the defaults double H and W.";
  s.inputs = {port("input", PortType::Float)};
  s.outputs = {port("output", PortType::Float)};
  s.attrs = conv_attrs(2, 2, 2, 0);
  s.attrs.insert(s.attrs.begin() + 4, AttrSpec::ints("output_padding", {0, 0}, 0, std::nullopt,
                                                     "Extra rows/columns added at the bottom/right of the output", 2));
  s.infer = infer_conv_transpose;
  s.cost = [](const LayerContext& c) { return conv_cost(c, 2, true); };
  s.build = [](const LayerContext& c) {
    ConvWindow w = read_window(c, 2);
    auto o = options_2d<nn::ConvTranspose2dOptions>(c, w);
    o.output_padding = pair(w.output_padding);
    return Runnable::of(
        std::make_shared<nn::ConvTranspose2d>(c.known_dim(0, 1), c.integer("out_channels"), pair(w.kernel), o));
  };
  return s;
}

}  // namespace

void register_conv_layers(LayerRegistry& r) {
  r.add(conv1d_schema());
  r.add(conv2d_schema());
  r.add(conv_transpose2d_schema());
}

}  // namespace nl::graph
