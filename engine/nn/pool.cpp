// Pooling layers over the pool ops (see pool.h).
#include "engine/nn/pool.h"

#include "engine/core/error.h"
#include "engine/ops/movement.h"
#include "engine/ops/pool.h"
#include "engine/ops/reduce.h"

namespace nl::nn {
namespace {

Pool2dParams square_params(int64_t kernel, int64_t stride, int64_t padding) {
  Pool2dParams p;
  p.kernel[0] = p.kernel[1] = kernel;
  p.stride[0] = p.stride[1] = stride > 0 ? stride : kernel;
  p.padding[0] = p.padding[1] = padding;
  return p;
}

void check_nchw(const char* layer, const Tensor& x) {
  NL_CHECK(x.dim() == 4, layer, ": expected input [N, C, H, W], got ", x.shape().str());
}

}  // namespace

MaxPool2d::MaxPool2d(int64_t kernel, int64_t stride, int64_t padding) : params(square_params(kernel, stride, padding)) {}

Tensor MaxPool2d::forward(const Tensor& x) {
  check_nchw("MaxPool2d", x);
  return max_pool2d(x, params);
}

AvgPool2d::AvgPool2d(int64_t kernel, int64_t stride, int64_t padding) : params(square_params(kernel, stride, padding)) {}

Tensor AvgPool2d::forward(const Tensor& x) {
  check_nchw("AvgPool2d", x);
  return avg_pool2d(x, params);
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  check_nchw("AdaptiveAvgPool2d", x);
  int64_t h = x.size(2), w = x.size(3), oh = output_size[0], ow = output_size[1];
  NL_CHECK(oh > 0 && ow > 0, "AdaptiveAvgPool2d: output size must be positive, got [", oh, ", ", ow, "]");
  if (oh == 1 && ow == 1) return mean(x, {2, 3}, true);
  if (h % oh == 0 && w % ow == 0) {  // equal, non-overlapping windows: one plain average pool
    Pool2dParams p;
    p.kernel[0] = p.stride[0] = h / oh;
    p.kernel[1] = p.stride[1] = w / ow;
    return avg_pool2d(x, p);
  }
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < oh; ++i) {
    int64_t h0 = i * h / oh, h1 = ((i + 1) * h + oh - 1) / oh;
    std::vector<Tensor> cells;
    for (int64_t j = 0; j < ow; ++j) {
      int64_t w0 = j * w / ow, w1 = ((j + 1) * w + ow - 1) / ow;
      cells.push_back(mean(x.slice(2, h0, h1).slice(3, w0, w1), {2, 3}));  // [N, C]
    }
    rows.push_back(stack(cells, 2));  // [N, C, ow]
  }
  return stack(rows, 2);  // [N, C, oh, ow]
}

}  // namespace nl::nn
