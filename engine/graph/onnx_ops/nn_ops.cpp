// Generic ONNX ops, network family: Conv, MaxPool, AveragePool (any padding, including
// asymmetric and SAME_UPPER/SAME_LOWER, by an explicit pad where the kernels take symmetric
// padding only), ConvTranspose (any padding, output_shape), global pools, BatchNormalization,
// InstanceNormalization, LayerNormalization, Gemm and MatMul — the forms the layer mappings
// cannot hold.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/error.h"
#include "engine/graph/onnx_ops/onnx_op.h"
#include "engine/nn/conv_transpose.h"
#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/pool.h"
#include "engine/ops/reduce.h"

namespace nl::graph::onnx_ops {

namespace {

std::vector<Tensor> one(Tensor t) { return {std::move(t)}; }

// The window settings of a Conv or pool, resolved for concrete or symbolic spatial sizes.
struct Window {
  std::vector<int64_t> kernel, stride, dilation, pads;  // pads: [begin…, end…]
  bool ceil_mode = false;
};

Window read_window(const OpAttrs& a, const std::vector<int64_t>& kernel, size_t spatial) {
  Window w;
  w.kernel = kernel;
  w.stride = a.ints("strides", std::vector<int64_t>(spatial, 1));
  w.dilation = a.ints("dilations", std::vector<int64_t>(spatial, 1));
  w.pads = a.ints("pads", std::vector<int64_t>(2 * spatial, 0));
  w.ceil_mode = a.i("ceil_mode", 0) != 0;
  if (w.kernel.size() != spatial || w.stride.size() != spatial || w.dilation.size() != spatial ||
      w.pads.size() != 2 * spatial)
    a.fail("kernel_shape, strides, dilations and pads do not match the " + std::to_string(spatial) +
           " spatial dimensions");
  return w;
}

// SAME_UPPER / SAME_LOWER padding for an input of size `in` (ONNX's formula).
void resolve_auto_pad(const OpAttrs& a, Window& w, const std::vector<int64_t>& in) {
  std::string mode = a.s("auto_pad", "NOTSET");
  size_t n = w.kernel.size();
  if (mode == "NOTSET") return;
  if (mode == "VALID") {
    w.pads.assign(2 * n, 0);
    return;
  }
  if (mode != "SAME_UPPER" && mode != "SAME_LOWER") a.fail("auto_pad '" + mode + "' is not supported");
  for (size_t j = 0; j < n; ++j) {
    int64_t out = (in[j] + w.stride[j] - 1) / w.stride[j];
    int64_t total = std::max<int64_t>(0, (out - 1) * w.stride[j] + (w.kernel[j] - 1) * w.dilation[j] + 1 - in[j]);
    int64_t small = total / 2, big = total - small;
    w.pads[j] = mode == "SAME_UPPER" ? small : big;
    w.pads[j + n] = mode == "SAME_UPPER" ? big : small;
  }
}

int64_t out_size(const Window& w, size_t j, int64_t in) {
  int64_t span = w.dilation[j] * (w.kernel[j] - 1) + 1;
  int64_t room = in + w.pads[j] + w.pads[j + w.kernel.size()] - span;
  int64_t out = (w.ceil_mode ? (room + w.stride[j] - 1) / w.stride[j] : room / w.stride[j]) + 1;
  // As PyTorch and ONNX Runtime: the last window must start inside the input or left padding.
  if (w.ceil_mode && (out - 1) * w.stride[j] >= in + w.pads[j]) --out;
  return out;
}

SymShape window_out_shape(const OpAttrs& a, const TensorInfo& x, Window w, const Dim& channels) {
  size_t spatial = w.kernel.size();
  if (x.rank() != static_cast<int64_t>(spatial) + 2) a.fail("expects an N×C×… input of rank " + std::to_string(spatial + 2));
  std::vector<int64_t> in;
  bool known = true;
  for (size_t j = 0; j < spatial; ++j) {
    in.push_back(x.shape[2 + j].size);
    known &= x.shape[2 + j].is_known();
  }
  SymShape out = {x.shape[0], channels};
  std::string mode = a.s("auto_pad", "NOTSET");
  for (size_t j = 0; j < spatial; ++j) {
    if (!x.shape[2 + j].is_known()) {
      out.push_back(Dim::symbolic());
      continue;
    }
    if (mode == "SAME_UPPER" || mode == "SAME_LOWER") {
      out.push_back(Dim::known((in[j] + w.stride[j] - 1) / w.stride[j]));
      continue;
    }
    if (mode == "VALID") w.pads.assign(2 * spatial, 0);
    int64_t o = out_size(w, j, in[j]);
    if (o <= 0) a.fail("the window is larger than the padded input " + shape_to_string(x.shape));
    out.push_back(Dim::known(o));
  }
  (void)known;
  return out;
}

bool symmetric(const Window& w) {
  size_t n = w.kernel.size();
  for (size_t j = 0; j < n; ++j)
    if (w.pads[j] != w.pads[j + n]) return false;
  return true;
}

// Pads the spatial dimensions of an N×C×H×W tensor explicitly ([top, left, bottom, right]).
Tensor pad_spatial(const Tensor& x, const Window& w, double value) {
  std::vector<int64_t> pads(2 * x.dim(), 0);
  size_t n = w.kernel.size();
  for (size_t j = 0; j < n; ++j) {
    pads[2 + j] = w.pads[j];
    pads[x.dim() + 2 + j] = w.pads[j + n];
  }
  return pad_constant(x, pads, value);
}

// 1-d windows run as 2-d ones with a height of 1.
Window as_2d(const Window& w) {
  if (w.kernel.size() == 2) return w;
  Window v;
  v.kernel = {1, w.kernel[0]};
  v.stride = {1, w.stride[0]};
  v.dilation = {1, w.dilation[0]};
  v.pads = {0, w.pads[0], 0, w.pads[1]};
  v.ceil_mode = w.ceil_mode;
  return v;
}

std::vector<int64_t> spatial_sizes(const Tensor& x) { return std::vector<int64_t>(x.shape().begin() + 2, x.shape().end()); }

Tensor run_conv(const OpAttrs& a, const Tensor& x_in, const Tensor& w_in, const Tensor& b) {
  size_t spatial = w_in.dim() - 2;
  if (spatial != 1 && spatial != 2) a.fail("only 1-d and 2-d convolutions run");
  std::vector<int64_t> k(w_in.shape().begin() + 2, w_in.shape().end());
  if (a.has("kernel_shape") && a.ints("kernel_shape") != k) a.fail("kernel_shape does not match the weight");
  Window w = read_window(a, k, spatial);
  resolve_auto_pad(a, w, spatial_sizes(x_in));
  Tensor x = spatial == 1 ? x_in.unsqueeze(2) : x_in, wt = spatial == 1 ? w_in.unsqueeze(2) : w_in;
  Window w2 = as_2d(w);
  Conv2dParams p;
  for (int j = 0; j < 2; ++j) {
    p.stride[j] = w2.stride[j];
    p.dilation[j] = w2.dilation[j];
  }
  p.groups = a.i("group", 1);
  if (symmetric(w2)) {
    p.padding[0] = w2.pads[0];
    p.padding[1] = w2.pads[1];
  } else {
    x = pad_spatial(x, w2, 0.0);
  }
  Tensor y = conv2d(x, wt, b.defined() ? b : Tensor(), p);
  return spatial == 1 ? y.squeeze(2) : y;
}

// MaxPool's Indices output: for each output of y (N×C×OH×OW), where its maximum lies in x
// (N×C×H×W, unpadded), flattened over the whole input as ONNX defines it, row-major or, with
// storage_order = 1, column-major within each image. The first of equal maxima wins.
Tensor max_pool_indices(const OpAttrs& a, const Tensor& x_in, const Window& w, const Shape& y_shape) {
  Tensor x = x_in.to(Device::cpu()).to(DType::Float32).contiguous();  // searched on the host
  bool column_major = a.i("storage_order", 0) != 0;
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3), oh = y_shape[2], ow = y_shape[3];
  Tensor out = Tensor::empty(y_shape, DType::Int64);
  const float* px = x.data<float>();
  int64_t* po = out.data<int64_t>();
  for (int64_t img = 0; img < n * c; ++img) {
    const float* plane = px + img * h * wd;
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        int64_t best = -1;
        float best_v = -std::numeric_limits<float>::infinity();
        for (int64_t ky = 0; ky < w.kernel[0]; ++ky)
          for (int64_t kx = 0; kx < w.kernel[1]; ++kx) {
            int64_t iy = oy * w.stride[0] - w.pads[0] + ky * w.dilation[0];
            int64_t ix = ox * w.stride[1] - w.pads[1] + kx * w.dilation[1];
            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
            float v = plane[iy * wd + ix];
            if (best < 0 || v > best_v) {
              best_v = v;
              best = column_major ? ix * h + iy : iy * wd + ix;
            }
          }
        po[(img * oh + oy) * ow + ox] = img * h * wd + std::max<int64_t>(best, 0);
      }
  }
  return on_device(out, x_in.device());
}

// Pooling over 3 or more spatial dimensions, which the engine has no kernel for: the window
// is walked offset by offset, each a strided slice of the padded input, folded by maximum or
// sum (so gradients flow through the slices). Average divides by the window's share of real
// input, or of input and explicit padding with count_include_pad.
Tensor pool_nd(const OpAttrs& a, const Tensor& x, Window w, bool is_max) {
  size_t n = w.kernel.size();
  resolve_auto_pad(a, w, spatial_sizes(x));
  std::vector<int64_t> outs, regular(2 * x.dim(), 0), extra(2 * x.dim(), 0);
  for (size_t j = 0; j < n; ++j) {
    int64_t in = x.size(static_cast<int>(2 + j)), o = out_size(w, j, in);
    if (o <= 0) a.fail("the window is larger than the padded input");
    outs.push_back(o);
    regular[2 + j] = w.pads[j];
    regular[x.dim() + 2 + j] = w.pads[j + n];
    // ceil_mode's last window may reach past the end padding: pad that part too, as nothing.
    int64_t need = (o - 1) * w.stride[j] + (w.kernel[j] - 1) * w.dilation[j] + 1;
    extra[x.dim() + 2 + j] = std::max<int64_t>(0, need - (in + w.pads[j] + w.pads[j + n]));
  }
  double fill = is_max ? -std::numeric_limits<double>::infinity() : 0.0;
  Tensor xp = pad_constant(pad_constant(x, regular, fill), extra, fill);
  Tensor counts;  // for the average: how many elements of each window count
  if (!is_max) {
    Tensor real = ones(x.shape(), {.device = x.device()});
    counts = a.i("count_include_pad", 0) ? pad_constant(pad_constant(real, regular, 1.0), extra, 0.0)
                                         : pad_constant(pad_constant(real, regular, 0.0), extra, 0.0);
  }
  auto window_at = [&](const Tensor& t, const std::vector<int64_t>& offset) {
    Tensor v = t;
    for (size_t j = 0; j < n; ++j) {
      int dim = static_cast<int>(2 + j);
      int64_t start = offset[j] * w.dilation[j];
      v = v.slice(dim, start, start + (outs[j] - 1) * w.stride[j] + 1, w.stride[j]);
    }
    return v;
  };
  Tensor y, c;
  std::vector<int64_t> offset(n, 0);
  while (true) {
    Tensor v = window_at(xp, offset);
    y = !y.defined() ? v : is_max ? maximum(y, v) : add(y, v);
    if (!is_max) {
      Tensor m = window_at(counts, offset);
      c = c.defined() ? add(c, m) : m;
    }
    size_t j = n;  // next offset, the last dimension fastest
    while (j > 0 && ++offset[j - 1] == w.kernel[j - 1]) offset[--j] = 0;
    if (j == 0) break;
  }
  return is_max ? y : div(y, c);
}

// Pooling runs on float32: other element types (uint8 images) are pooled in float32 and
// converted back, which is exact for MaxPool. With `indices`, MaxPool's second output too.
Tensor run_pool(const OpAttrs& a, const Tensor& x_in, bool is_max, Tensor* indices = nullptr);

std::vector<Tensor> run_pool_outputs(const OpAttrs& a, const Tensor& x, bool is_max, int num_outputs) {
  if (x.dtype() != DType::Float32 && x.dtype() != DType::Int64 && x.dtype() != DType::Bool) {
    std::vector<Tensor> out = run_pool_outputs(a, x.to(DType::Float32), is_max, num_outputs);
    out[0] = x.dtype() == DType::UInt8 ? wrap_integer(round(out[0]), DType::UInt8) : out[0].to(x.dtype());
    return out;
  }
  Tensor indices;
  Tensor y = run_pool(a, x, is_max, num_outputs > 1 ? &indices : nullptr);
  if (num_outputs > 1) return {y, indices};
  return {y};
}

Tensor run_pool(const OpAttrs& a, const Tensor& x_in, bool is_max, Tensor* indices) {
  std::vector<int64_t> k = a.ints("kernel_shape");
  size_t spatial = k.size();
  if (spatial == 0) a.fail("kernel_shape is empty");
  if (x_in.dim() != static_cast<int>(spatial) + 2) a.fail("the input's rank does not match kernel_shape");
  Window w = read_window(a, k, spatial);
  if (!is_max) w.dilation.assign(spatial, 1);
  if (spatial > 2) {
    if (indices) a.fail("the Indices output runs for 1-d and 2-d pooling only");
    return pool_nd(a, x_in, w, is_max);
  }
  resolve_auto_pad(a, w, spatial_sizes(x_in));
  Tensor x = spatial == 1 ? x_in.unsqueeze(2) : x_in;
  Window w2 = as_2d(w);
  Pool2dParams p;
  for (int j = 0; j < 2; ++j) {
    p.kernel[j] = w2.kernel[j];
    p.stride[j] = w2.stride[j];
    p.dilation[j] = w2.dilation[j];
  }
  p.ceil_mode = w2.ceil_mode;
  bool include_pad = a.i("count_include_pad", 0) != 0;
  p.count_include_pad = include_pad;
  Tensor y;
  // The pooling kernels take symmetric padding of at most half the window; anything else is
  // padded explicitly.
  bool direct = symmetric(w2) && 2 * w2.pads[0] <= w2.kernel[0] && 2 * w2.pads[1] <= w2.kernel[1];
  if (direct) {
    p.padding[0] = w2.pads[0];
    p.padding[1] = w2.pads[1];
    y = is_max ? max_pool2d(x, p) : avg_pool2d(x, p);
  } else if (is_max) {
    y = max_pool2d(pad_spatial(x, w2, -std::numeric_limits<double>::infinity()), p);
  } else {
    // Explicit zero padding counts as input; without count_include_pad, divide by the share of
    // each window that is real input instead.
    p.count_include_pad = true;
    y = avg_pool2d(pad_spatial(x, w2, 0.0), p);
    if (!include_pad) {
      Tensor mask = pad_spatial(ones({1, 1, x.size(2), x.size(3)}, {.device = x.device()}), w2, 0.0);
      y = div(y, avg_pool2d(mask, p));
    }
  }
  if (indices) {
    *indices = max_pool_indices(a, x, w2, y.shape());
    if (spatial == 1) *indices = indices->squeeze(2);
  }
  return spatial == 1 ? y.squeeze(2) : y;
}

// Per-channel parameters of an N×C×… input, shaped to broadcast: C×1×…×1.
Tensor per_channel(const Tensor& v, size_t rank) {
  Shape s;
  s.resize(static_cast<int>(rank) - 1, 1);
  s[0] = v.numel();
  return v.reshape(s);
}

// ConvTranspose as ONNX defines it: the full transposed convolution (ConvTranspose2d without
// padding), then the pads cropped from each side (any padding, output_padding, output_shape,
// SAME_UPPER/SAME_LOWER), then the bias. 1-d runs as 2-d with a height of 1.
Tensor run_conv_transpose(const OpAttrs& a, const Tensor& x_in, const Tensor& w_in, const Tensor& bias) {
  size_t spatial = w_in.dim() - 2;
  if (spatial != 1 && spatial != 2) a.fail("only 1-d and 2-d transposed convolutions run");
  std::vector<int64_t> k(w_in.shape().begin() + 2, w_in.shape().end());
  std::vector<int64_t> stride = a.ints("strides", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> dil = a.ints("dilations", std::vector<int64_t>(spatial, 1));
  std::vector<int64_t> pads = a.ints("pads", std::vector<int64_t>(2 * spatial, 0));
  std::vector<int64_t> out_pad = a.ints("output_padding", std::vector<int64_t>(spatial, 0));
  std::vector<int64_t> out_shape = a.ints("output_shape");
  std::string mode = a.s("auto_pad", "NOTSET");
  int64_t group = a.i("group", 1);
  if (stride.size() != spatial || dil.size() != spatial || pads.size() != 2 * spatial || out_pad.size() != spatial)
    a.fail("strides, dilations, pads and output_padding do not match the spatial dimensions");
  for (size_t j = 0; j < spatial; ++j) {
    int64_t in = x_in.size(static_cast<int>(2 + j));
    int64_t full = stride[j] * (in - 1) + out_pad[j] + (k[j] - 1) * dil[j] + 1;
    if (!out_shape.empty() || mode == "SAME_UPPER" || mode == "SAME_LOWER") {
      int64_t target = !out_shape.empty() ? out_shape.at(out_shape.size() - spatial + j) : in * stride[j];
      int64_t total = full - target;
      bool upper = mode != "SAME_LOWER";
      pads[j] = upper ? total / 2 : total - total / 2;
      pads[j + spatial] = total - pads[j];
    } else if (mode == "VALID") {
      pads[j] = pads[j + spatial] = 0;
    }
  }
  Tensor x = spatial == 1 ? x_in.unsqueeze(2) : x_in, w = spatial == 1 ? w_in.unsqueeze(2) : w_in;
  std::array<int64_t, 2> kernel = {w.size(2), w.size(3)};
  nn::ConvTranspose2dOptions o;
  o.stride = {spatial == 1 ? 1 : stride[0], stride[spatial - 1]};
  o.dilation = {spatial == 1 ? 1 : dil[0], dil[spatial - 1]};
  o.groups = group;
  o.bias = false;
  nn::ConvTranspose2d conv(x.size(1), w.size(1) * group, kernel, o);
  conv.weight = w;  // the node's own weight, so gradients reach it
  Tensor y = conv.forward(x);
  // Crop the pads (and add output_padding rows) on each spatial side.
  std::vector<int64_t> crop(2 * 4, 0);
  for (size_t j = 0; j < spatial; ++j) {
    size_t d = spatial == 1 ? 3 : 2 + j;
    crop[d] = -pads[j];
    crop[d + 4] = out_pad[j] - pads[j + spatial];
  }
  y = pad_constant(y, crop, 0.0);
  if (bias.defined()) y = add(y, per_channel(bias, 4));
  return spatial == 1 ? y.squeeze(2) : y;
}

}  // namespace

void register_nn_ops(OpTable& t) {
  t["Conv"] = OpImpl{[](const InferArgs& a) {
                       const TensorInfo& x = a.input(0);
                       const TensorInfo& wt = a.input(1);
                       size_t spatial = wt.shape.size() - 2;
                       std::vector<int64_t> k;
                       for (size_t j = 0; j < spatial; ++j) {
                         if (!wt.shape[2 + j].is_known()) a.fail("the kernel size is unknown");
                         k.push_back(wt.shape[2 + j].size);
                       }
                       if (spatial != 1 && spatial != 2) a.fail("only 1-d and 2-d convolutions run");
                       Window w = read_window(a, k, spatial);
                       return std::vector<TensorInfo>{TensorInfo{x.dtype, window_out_shape(a, x, w, wt.shape[0])}};
                     },
                     [](const RunArgs& a, const std::vector<Tensor>& in) {
                       return one(run_conv(a, in.at(0), in.at(1), in.size() > 2 ? in[2] : Tensor()));
                     }};

  t["ConvTranspose"] =
      OpImpl{[](const InferArgs& a) {
               const TensorInfo& x = a.input(0);
               const TensorInfo& w = a.input(1);
               size_t spatial = w.shape.size() - 2;
               if (spatial != 1 && spatial != 2) a.fail("only 1-d and 2-d transposed convolutions run");
               if (x.rank() != w.rank()) a.fail("the input's rank does not match the weight's");
               SymShape out = {x.shape[0], w.shape[1].is_known() ? Dim::known(w.shape[1].size * a.i("group", 1))
                                                                 : Dim::symbolic()};
               std::vector<int64_t> stride = a.ints("strides", std::vector<int64_t>(spatial, 1));
               std::vector<int64_t> dil = a.ints("dilations", std::vector<int64_t>(spatial, 1));
               std::vector<int64_t> pads = a.ints("pads", std::vector<int64_t>(2 * spatial, 0));
               std::vector<int64_t> out_pad = a.ints("output_padding", std::vector<int64_t>(spatial, 0));
               std::vector<int64_t> out_shape = a.ints("output_shape");
               std::string mode = a.s("auto_pad", "NOTSET");
               if (stride.size() != spatial || dil.size() != spatial || pads.size() != 2 * spatial ||
                   out_pad.size() != spatial)
                 a.fail("strides, dilations, pads and output_padding do not match the spatial dimensions");
               for (size_t j = 0; j < spatial; ++j) {
                 const Dim& in = x.shape[2 + j];
                 const Dim& kd = w.shape[2 + j];
                 if (!out_shape.empty()) out.push_back(Dim::known(out_shape.at(out_shape.size() - spatial + j)));
                 else if (!in.is_known() || !kd.is_known()) out.push_back(Dim::symbolic());
                 else if (mode == "SAME_UPPER" || mode == "SAME_LOWER") out.push_back(Dim::known(in.size * stride[j]));
                 else {
                   int64_t p = mode == "VALID" ? 0 : pads[j] + pads[j + spatial];
                   out.push_back(Dim::known(stride[j] * (in.size - 1) + out_pad[j] + (kd.size - 1) * dil[j] + 1 - p));
                 }
               }
               return std::vector<TensorInfo>{TensorInfo{x.dtype, out}};
             },
             [](const RunArgs& a, const std::vector<Tensor>& in) {
               return one(run_conv_transpose(a, in.at(0), in.at(1), in.size() > 2 ? in[2] : Tensor()));
             }};

  for (bool is_max : {true, false}) {
    t[is_max ? "MaxPool" : "AveragePool"] =
        OpImpl{[is_max](const InferArgs& a) {
                 const TensorInfo& x = a.input(0);
                 std::vector<int64_t> k = a.ints("kernel_shape");
                 if (k.empty()) a.fail("kernel_shape is empty");
                 if (k.size() > 2 && a.num_outputs() > 1) a.fail("the Indices output runs for 1-d and 2-d pooling only");
                 Window w = read_window(a, k, k.size());
                 if (!is_max) w.dilation.assign(k.size(), 1);
                 if (a.num_outputs() > 1 && !is_max) a.fail("AveragePool has one output");
                 TensorInfo y{x.dtype, window_out_shape(a, x, w, x.shape.at(1))};
                 if (a.num_outputs() > 1) return std::vector<TensorInfo>{y, TensorInfo{DType::Int64, y.shape}};
                 return std::vector<TensorInfo>{y};
               },
               [is_max](const RunArgs& a, const std::vector<Tensor>& in) {
                 return run_pool_outputs(a, in.at(0), is_max, a.num_outputs());
               }};
  }

  for (bool is_max : {true, false}) {
    t[is_max ? "GlobalMaxPool" : "GlobalAveragePool"] =
        OpImpl{[](const InferArgs& a) {
                 TensorInfo x = a.input(0);
                 if (x.rank() < 3) a.fail("expects an N×C×… input");
                 for (size_t d = 2; d < x.shape.size(); ++d) x.shape[d] = Dim::known(1);
                 return std::vector<TensorInfo>{x};
               },
               [is_max](const RunArgs&, const std::vector<Tensor>& in) {
                 std::vector<int64_t> dims;
                 for (int64_t d = 2; d < static_cast<int64_t>(in.at(0).dim()); ++d) dims.push_back(d);
                 return one(is_max ? amax(in[0], dims, true) : mean(in[0], dims, true));
               }};
  }

  // With training_mode = 1 (opset 14+) the node normalizes by the batch's own statistics and
  // also gives the updated running mean and variance: running·momentum + batch·(1 − momentum),
  // with the biased (population) batch variance, as ONNX defines it.
  t["BatchNormalization"] = OpImpl{[](const InferArgs& a) {
                                     bool training = a.i("training_mode", 0) != 0;
                                     if (a.num_outputs() > 1 && !training)
                                       a.fail("the running mean and variance outputs need training_mode = 1");
                                     std::vector<TensorInfo> out{a.input(0)};
                                     for (int k = 1; k < a.num_outputs() && k < 3; ++k) out.push_back(a.input(3));
                                     if (a.num_outputs() > 3) a.fail("the saved mean and variance outputs (opset 9) are not supported");
                                     return out;
                                   },
                                   [](const RunArgs& a, const std::vector<Tensor>& in) {
                                     const Tensor& x = in.at(0);
                                     size_t r = x.dim();
                                     Tensor mu = in.at(3), var = in.at(4);
                                     bool training = a.i("training_mode", 0) != 0;
                                     if (training) {
                                       std::vector<int64_t> dims{0};
                                       for (int64_t d = 2; d < static_cast<int64_t>(r); ++d) dims.push_back(d);
                                       Tensor batch_mu = mean(x, dims, false);
                                       Tensor centered = sub(x, per_channel(batch_mu, r));
                                       Tensor batch_var = mean(square(centered), dims, false);
                                       double m = a.f("momentum", 0.9);
                                       Tensor run_mu = add(mul(in.at(3), m), mul(batch_mu, 1.0 - m));
                                       Tensor run_var = add(mul(in.at(4), m), mul(batch_var, 1.0 - m));
                                       mu = batch_mu;
                                       var = batch_var;
                                       Tensor inv = rsqrt(add(per_channel(var, r), a.f("epsilon", 1e-5)));
                                       Tensor y = add(mul(centered, mul(inv, per_channel(in.at(1), r))), per_channel(in.at(2), r));
                                       std::vector<Tensor> out{y, run_mu, run_var};
                                       out.resize(static_cast<size_t>(std::clamp(a.num_outputs(), 1, 3)));
                                       return out;
                                     }
                                     Tensor inv = rsqrt(add(per_channel(var, r), a.f("epsilon", 1e-5)));
                                     Tensor y = mul(sub(x, per_channel(mu, r)), mul(inv, per_channel(in.at(1), r)));
                                     return one(add(y, per_channel(in.at(2), r)));
                                   }};

  t["InstanceNormalization"] = OpImpl{[](const InferArgs& a) { return std::vector<TensorInfo>{a.input(0)}; },
                                      [](const RunArgs& a, const std::vector<Tensor>& in) {
                                        const Tensor& x = in.at(0);
                                        std::vector<int64_t> dims;
                                        for (int64_t d = 2; d < static_cast<int64_t>(x.dim()); ++d) dims.push_back(d);
                                        Tensor mu = mean(x, dims, true);
                                        Tensor centered = sub(x, mu);
                                        Tensor var = mean(square(centered), dims, true);
                                        Tensor y = mul(centered, rsqrt(add(var, a.f("epsilon", 1e-5))));
                                        return one(add(mul(y, per_channel(in.at(1), x.dim())), per_channel(in.at(2), x.dim())));
                                      }};

  t["LayerNormalization"] = OpImpl{[](const InferArgs& a) {
                                     const TensorInfo& x = a.input(0);
                                     int64_t axis = normalize_axis(a, a.i("axis", -1), x.rank());
                                     std::vector<TensorInfo> out{x};
                                     TensorInfo stat = x;
                                     stat.dtype = DType::Float32;
                                     for (int64_t d = axis; d < x.rank(); ++d) stat.shape[d] = Dim::known(1);
                                     for (int k = 1; k < a.num_outputs(); ++k) out.push_back(stat);
                                     return out;
                                   },
                                   [](const RunArgs& a, const std::vector<Tensor>& in) {
                                     const Tensor& x = in.at(0);
                                     int64_t rank = static_cast<int64_t>(x.dim());
                                     int64_t axis = normalize_axis(a, a.i("axis", -1), rank);
                                     std::vector<int64_t> dims;
                                     for (int64_t d = axis; d < rank; ++d) dims.push_back(d);
                                     Tensor mu = mean(x, dims, true);
                                     Tensor centered = sub(x, mu);
                                     Tensor inv = rsqrt(add(mean(square(centered), dims, true), a.f("epsilon", 1e-5)));
                                     Tensor y = mul(mul(centered, inv), in.at(1));
                                     if (in.size() > 2 && in[2].defined()) y = add(y, in[2]);
                                     std::vector<Tensor> out{y};
                                     if (a.num_outputs() > 1) out.push_back(mu);
                                     if (a.num_outputs() > 2) out.push_back(inv);
                                     return out;
                                   }};

  t["Gemm"] = OpImpl{[](const InferArgs& a) {
                       const TensorInfo &x = a.input(0), &w = a.input(1);
                       if (x.rank() != 2 || w.rank() != 2) a.fail("A and B must be 2-d");
                       Dim m = a.i("transA", 0) ? x.shape[1] : x.shape[0];
                       Dim n = a.i("transB", 0) ? w.shape[0] : w.shape[1];
                       return std::vector<TensorInfo>{TensorInfo{x.dtype, {m, n}}};
                     },
                     [](const RunArgs& a, const std::vector<Tensor>& in) {
                       Tensor x = a.i("transA", 0) ? in.at(0).t() : in.at(0);
                       Tensor w = a.i("transB", 0) ? in.at(1).t() : in.at(1);
                       Tensor y = matmul(x, w);
                       double alpha = a.f("alpha", 1.0), beta = a.f("beta", 1.0);
                       if (alpha != 1.0) y = mul(y, alpha);
                       if (in.size() > 2 && in[2].defined()) y = add(y, beta == 1.0 ? in[2] : mul(in[2], beta));
                       return one(y);
                     }};

  t["MatMul"] = OpImpl{[](const InferArgs& a) {
                         const TensorInfo &x = a.input(0), &y = a.input(1);
                         if (x.rank() < 1 || y.rank() < 1) a.fail("inputs must have rank 1 or more");
                         SymShape xs = x.shape, ys = y.shape;
                         bool x_vec = xs.size() == 1, y_vec = ys.size() == 1;
                         if (x_vec) xs.insert(xs.begin(), Dim::known(1));
                         if (y_vec) ys.push_back(Dim::known(1));
                         const Dim &k1 = xs.back(), &k2 = ys[ys.size() - 2];
                         if (k1.is_known() && k2.is_known() && k1.size != k2.size)
                           a.fail("inner sizes differ: " + shape_to_string(x.shape) + " @ " + shape_to_string(y.shape));
                         SymShape batch = broadcast_shapes(a, SymShape(xs.begin(), xs.end() - 2), SymShape(ys.begin(), ys.end() - 2));
                         if (!x_vec) batch.push_back(xs[xs.size() - 2]);
                         if (!y_vec) batch.push_back(ys.back());
                         return std::vector<TensorInfo>{TensorInfo{x.dtype, batch}};
                       },
                       [](const RunArgs&, const std::vector<Tensor>& in) { return one(matmul(in.at(0), in.at(1))); }};
}

}  // namespace nl::graph::onnx_ops
