// CPU max and average pooling over NCHW planes, forward and backward. Every (n, c)
// plane is independent, so the planes are spread over OpenMP threads.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/backends/cpu/cpu_backend.h"

namespace nl {
namespace {

// Below about this many inner-loop steps a kernel runs on the calling thread: waking the
// OpenMP team costs more than it saves, and tiny tensors are common (per-op overhead).
constexpr int64_t kParallelWork = 1 << 15;

// Plane sizes of one pooling call, read from the input and output the op allocated.
struct PoolGeometry {
  int64_t planes, in_h, in_w, out_h, out_w;

  PoolGeometry(const Shape& in, const Shape& out)
      : planes(in[0] * in[1]), in_h(in[2]), in_w(in[3]), out_h(out[2]), out_w(out[3]) {}
  int64_t in_plane() const { return in_h * in_w; }
  int64_t out_plane() const { return out_h * out_w; }
  // Whether a loop over planes doing `work` steps in all is worth spreading over threads.
  bool parallel(int64_t work) const { return planes > 1 && work >= kParallelWork; }
};

// The input cells an average-pooling window covers and the number it divides by,
// following PyTorch: the window is first clipped to the padded input (so with ceil_mode
// a window hanging past the padding counts only the padded part), which gives the
// count_include_pad divisor; then clipped to the real input, which gives the other one.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  float divisor;
};
AvgWindow avg_window(int64_t oh, int64_t ow, const PoolGeometry& g, const Pool2dParams& p) {
  int64_t h0 = oh * p.stride[0] - p.padding[0];
  int64_t w0 = ow * p.stride[1] - p.padding[1];
  int64_t h1 = std::min(h0 + p.kernel[0], g.in_h + p.padding[0]);
  int64_t w1 = std::min(w0 + p.kernel[1], g.in_w + p.padding[1]);
  const int64_t padded_count = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.in_h);
  w1 = std::min(w1, g.in_w);
  const int64_t real_count = std::max<int64_t>(h1 - h0, 0) * std::max<int64_t>(w1 - w0, 0);
  return {h0, h1, w0, w1, float(p.count_include_pad ? padded_count : real_count)};
}

// The winning cell of one max-pooling window starting at (h_start, w_start): padded cells
// act as -inf, so they never win; NaN wins over everything (as in PyTorch), and among
// equal values the first in row-major window order is kept. Returns -1 when every tap of
// the window falls in the padding (possible only with dilation); such an output is -inf
// and sends no gradient anywhere.
int64_t max_window_argmax(const float* plane, int64_t h_start, int64_t w_start, const PoolGeometry& g,
                          const Pool2dParams& p) {
  float best = -std::numeric_limits<float>::infinity();
  int64_t best_index = -1;
  for (int64_t i = 0; i < p.kernel[0]; ++i) {
    const int64_t ih = h_start + i * p.dilation[0];
    if (ih < 0 || ih >= g.in_h) continue;
    for (int64_t j = 0; j < p.kernel[1]; ++j) {
      const int64_t iw = w_start + j * p.dilation[1];
      if (iw < 0 || iw >= g.in_w) continue;
      const float v = plane[ih * g.in_w + iw];
      if (std::isnan(v)) return ih * g.in_w + iw;
      if (best_index < 0 || v > best) {
        best = v;
        best_index = ih * g.in_w + iw;
      }
    }
  }
  return best_index;
}

}  // namespace

void CpuBackend::max_pool2d(const Tensor& x, Tensor& out, Tensor& indices, const Pool2dParams& p) {
  const PoolGeometry g(x.shape(), out.shape());
  const float* X = x.data<float>();
  float* Y = out.data<float>();
  int64_t* I = indices.data<int64_t>();
  const int64_t work = out.numel() * p.kernel[0] * p.kernel[1];

#pragma omp parallel for schedule(static) if (g.parallel(work))
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const float* in = X + plane * g.in_plane();
    float* y = Y + plane * g.out_plane();
    int64_t* idx = I + plane * g.out_plane();
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        const int64_t k = oh * g.out_w + ow;
        idx[k] = max_window_argmax(in, oh * p.stride[0] - p.padding[0], ow * p.stride[1] - p.padding[1], g, p);
        y[k] = idx[k] < 0 ? -std::numeric_limits<float>::infinity() : in[idx[k]];
      }
    }
  }
}

// Scatters each output gradient onto the input cell that won its window (several
// windows may pick the same cell, so it accumulates).
void CpuBackend::max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_x) {
  const PoolGeometry g(grad_x.shape(), grad_out.shape());
  const float* GO = grad_out.data<float>();
  const int64_t* I = indices.data<int64_t>();
  float* GX = grad_x.data<float>();

#pragma omp parallel for schedule(static) if (g.parallel(grad_x.numel() + grad_out.numel()))
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    float* gx = GX + plane * g.in_plane();
    const float* go = GO + plane * g.out_plane();
    const int64_t* idx = I + plane * g.out_plane();
    std::memset(gx, 0, sizeof(float) * g.in_plane());
    for (int64_t k = 0; k < g.out_plane(); ++k)
      if (idx[k] >= 0) gx[idx[k]] += go[k];
  }
}

void CpuBackend::avg_pool2d(const Tensor& x, Tensor& out, const Pool2dParams& p) {
  const PoolGeometry g(x.shape(), out.shape());
  const float* X = x.data<float>();
  float* Y = out.data<float>();
  const int64_t work = out.numel() * p.kernel[0] * p.kernel[1];

#pragma omp parallel for schedule(static) if (g.parallel(work))
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const float* in = X + plane * g.in_plane();
    float* y = Y + plane * g.out_plane();
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        const AvgWindow win = avg_window(oh, ow, g, p);
        float sum = 0.f;
        for (int64_t ih = win.h0; ih < win.h1; ++ih)
          for (int64_t iw = win.w0; iw < win.w1; ++iw) sum += in[ih * g.in_w + iw];
        y[oh * g.out_w + ow] = win.divisor > 0 ? sum / win.divisor : 0.f;
      }
    }
  }
}

// Each output gradient is spread evenly (by the forward's divisor) over its window.
void CpuBackend::avg_pool2d_backward(const Tensor& grad_out, Tensor& grad_x, const Pool2dParams& p) {
  const PoolGeometry g(grad_x.shape(), grad_out.shape());
  const float* GO = grad_out.data<float>();
  float* GX = grad_x.data<float>();
  const int64_t work = grad_x.numel() + grad_out.numel() * p.kernel[0] * p.kernel[1];

#pragma omp parallel for schedule(static) if (g.parallel(work))
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    float* gx = GX + plane * g.in_plane();
    const float* go = GO + plane * g.out_plane();
    std::memset(gx, 0, sizeof(float) * g.in_plane());
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      for (int64_t ow = 0; ow < g.out_w; ++ow) {
        const AvgWindow win = avg_window(oh, ow, g, p);
        if (win.divisor <= 0) continue;
        const float share = go[oh * g.out_w + ow] / win.divisor;
        for (int64_t ih = win.h0; ih < win.h1; ++ih)
          for (int64_t iw = win.w0; iw < win.w1; ++iw) gx[ih * g.in_w + iw] += share;
      }
    }
  }
}

}  // namespace nl
