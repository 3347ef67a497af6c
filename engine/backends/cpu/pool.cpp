// CPU max and average pooling over NCHW planes, forward and backward. Every (n, c)
// plane is independent, so the planes are spread over OpenMP threads.
//
// Note [Pooling by rows]: the kernels compute a whole output row at a time, visiting the
// window taps (i, j) in the outer loops and the output columns in the inner one. The
// windows of one row are independent, so the inner loop has no dependency chain (a
// per-window loop is bound by the latency of its running max) and vectorises when the
// stride is 1; each tap's range of in-bounds output columns is computed once, so the
// inner loop does no bounds tests.
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/backends/cpu/cpu_backend.h"
#include "engine/backends/cpu/im2col.h"

namespace nl {
namespace {

// Below about this many inner-loop steps a kernel runs on the calling thread: waking the
// OpenMP team costs more than it saves, and tiny tensors are common (per-op overhead).
constexpr int64_t kParallelWork = 1 << 15;

// Sizes of one pooling call, read from the input and output the op allocated.
struct PoolGeometry {
  int64_t planes, in_h, in_w, out_h, out_w;

  PoolGeometry(const Shape& in, const Shape& out)
      : planes(in[0] * in[1]), in_h(in[2]), in_w(in[3]), out_h(out[2]), out_w(out[3]) {}
  int64_t in_plane() const { return in_h * in_w; }
  int64_t out_plane() const { return out_h * out_w; }
  // Whether a loop over planes doing `work` steps in all is worth spreading over threads.
  bool parallel(int64_t work) const { return planes > 1 && work >= kParallelWork; }
};

// The window's column taps: tap j reads input column ow * stride + offset[j], which is
// inside the input for the output columns ow in range[j].
struct ColumnTaps {
  std::vector<int64_t> offset;
  std::vector<cpu::ValidRange> range;

  ColumnTaps(const PoolGeometry& g, const Pool2dParams& p) {
    for (int64_t j = 0; j < p.kernel[1]; ++j) {
      offset.push_back(j * p.dilation[1] - p.padding[1]);
      range.push_back(cpu::valid_output_range(offset.back(), p.stride[1], g.in_w, g.out_w));
    }
  }
  size_t size() const { return offset.size(); }
};

// Calls row(ih) for every input row that window row `oh` reads (taps outside skipped).
template <class Row>
void for_each_window_row(int64_t oh, const PoolGeometry& g, const Pool2dParams& p, Row&& row) {
  for (int64_t i = 0; i < p.kernel[0]; ++i) {
    const int64_t ih = oh * p.stride[0] - p.padding[0] + i * p.dilation[0];
    if (ih >= 0 && ih < g.in_h) row(ih);
  }
}

// Number of taps of a window along one axis that PyTorch's average pooling divides by:
// the window is clipped to the padded input (so with ceil_mode a window hanging past
// the padding counts only the padded part) for count_include_pad, and to the real input
// otherwise. The count of a 2-D window is the product of its two axes' counts.
std::vector<int64_t> avg_axis_counts(int64_t out_size, int64_t in_size, int64_t kernel, int64_t stride,
                                     int64_t pad, bool count_include_pad) {
  std::vector<int64_t> counts(size_t(out_size), 0);
  for (int64_t o = 0; o < out_size; ++o) {
    const int64_t start = o * stride - pad;
    const int64_t end = std::min(start + kernel, in_size + pad);
    counts[size_t(o)] = count_include_pad ? end - start : std::min(end, in_size) - std::max<int64_t>(start, 0);
  }
  return counts;
}

// The divisor of every output cell of a plane. A window holding no cells counts 1: its
// sum is 0 and PyTorch outputs 0 there.
std::vector<float> avg_divisors(const PoolGeometry& g, const Pool2dParams& p) {
  const auto rows = avg_axis_counts(g.out_h, g.in_h, p.kernel[0], p.stride[0], p.padding[0], p.count_include_pad);
  const auto cols = avg_axis_counts(g.out_w, g.in_w, p.kernel[1], p.stride[1], p.padding[1], p.count_include_pad);
  std::vector<float> divisors(size_t(g.out_plane()));
  for (int64_t oh = 0; oh < g.out_h; ++oh)
    for (int64_t ow = 0; ow < g.out_w; ++ow)
      divisors[size_t(oh * g.out_w + ow)] = float(std::max<int64_t>(rows[size_t(oh)] * cols[size_t(ow)], 1));
  return divisors;
}

// A cell wins its window, by PyTorch's rule, when it is the window's first in-bounds cell,
// greater than the best so far, or NaN: padded cells (-inf) never win, the first of
// equal maxima is kept, and a NaN is kept unless a later NaN follows. A window whose
// taps all fall in the padding (possible only with dilation) outputs -inf with index -1,
// which backward skips: no input produced it.
//
// One tap over one output row: output column ow reads in_row[ow * stride + offset]. The
// selects are written with bit masks because which cell wins is data-dependent: GCC
// turns a plain `wins ? v : best` into branches, which mispredict (measured 1.5x slower).
// (take ? a : b) computed with masks instead of a branch.
inline int64_t select_bits(bool take, int64_t a, int64_t b) {
  const int64_t mask = -int64_t(take);
  return (a & mask) | (b & ~mask);
}
inline float select_bits(bool take, float a, float b) {
  const int32_t mask = -int32_t(take);
  return std::bit_cast<float>((std::bit_cast<int32_t>(a) & mask) | (std::bit_cast<int32_t>(b) & ~mask));
}

template <int64_t kStride>
void max_pool_row_tap(const float* __restrict in_row, float* __restrict best, int64_t* __restrict best_index,
                      cpu::ValidRange r, int64_t stride, int64_t offset, int64_t row_start) {
  const int64_t step = kStride > 0 ? kStride : stride;
  for (int64_t ow = r.lo; ow < r.hi; ++ow) {
    const int64_t iw = ow * step + offset;
    const float v = in_row[iw];
    const bool wins = (best_index[ow] < 0) | (v > best[ow]) | std::isunordered(v, v);
    best[ow] = select_bits(wins, v, best[ow]);
    best_index[ow] = select_bits(wins, row_start + iw, best_index[ow]);
  }
}

}  // namespace

void CpuBackend::max_pool2d(const Tensor& x, Tensor& out, Tensor& indices, const Pool2dParams& p) {
  const PoolGeometry g(x.shape(), out.shape());
  const ColumnTaps taps(g, p);
  const float* X = x.data<float>();
  float* Y = out.data<float>();
  int64_t* I = indices.data<int64_t>();
  const int64_t sw = p.stride[1];
  const int64_t work = out.numel() * p.kernel[0] * p.kernel[1];

#pragma omp parallel for schedule(static) if (g.parallel(work))
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const float* in = X + plane * g.in_plane();
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      float* best = Y + plane * g.out_plane() + oh * g.out_w;
      int64_t* best_index = I + plane * g.out_plane() + oh * g.out_w;
      std::fill(best, best + g.out_w, -std::numeric_limits<float>::infinity());
      std::fill(best_index, best_index + g.out_w, int64_t(-1));
      for_each_window_row(oh, g, p, [&](int64_t ih) {
        const float* in_row = in + ih * g.in_w;
        for (size_t j = 0; j < taps.size(); ++j) {
          // Strides 1 and 2 (nearly every network) get constant-stride loops.
          if (sw == 1) {
            max_pool_row_tap<1>(in_row, best, best_index, taps.range[j], sw, taps.offset[j], ih * g.in_w);
          } else if (sw == 2) {
            max_pool_row_tap<2>(in_row, best, best_index, taps.range[j], sw, taps.offset[j], ih * g.in_w);
          } else {
            max_pool_row_tap<0>(in_row, best, best_index, taps.range[j], sw, taps.offset[j], ih * g.in_w);
          }
        }
      });
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
  const ColumnTaps taps(g, p);
  const std::vector<float> divisors = avg_divisors(g, p);
  const float* X = x.data<float>();
  float* Y = out.data<float>();
  const int64_t sw = p.stride[1];
  const int64_t work = out.numel() * p.kernel[0] * p.kernel[1];

#pragma omp parallel for schedule(static) if (g.parallel(work))
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const float* in = X + plane * g.in_plane();
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      float* sum = Y + plane * g.out_plane() + oh * g.out_w;
      std::fill(sum, sum + g.out_w, 0.f);
      for_each_window_row(oh, g, p, [&](int64_t ih) {
        const float* in_row = in + ih * g.in_w;
        for (size_t j = 0; j < taps.size(); ++j) {
          const int64_t offset = taps.offset[j];
          const cpu::ValidRange r = taps.range[j];
          for (int64_t ow = r.lo; ow < r.hi; ++ow) sum[ow] += in_row[ow * sw + offset];
        }
      });
      const float* divisor = divisors.data() + oh * g.out_w;
      for (int64_t ow = 0; ow < g.out_w; ++ow) sum[ow] /= divisor[ow];
    }
  }
}

// Each output gradient is spread evenly (by the forward's divisor) over its window.
void CpuBackend::avg_pool2d_backward(const Tensor& grad_out, Tensor& grad_x, const Pool2dParams& p) {
  const PoolGeometry g(grad_x.shape(), grad_out.shape());
  const ColumnTaps taps(g, p);
  const std::vector<float> divisors = avg_divisors(g, p);
  const float* GO = grad_out.data<float>();
  float* GX = grad_x.data<float>();
  const int64_t sw = p.stride[1];
  const int64_t work = grad_x.numel() + grad_out.numel() * p.kernel[0] * p.kernel[1];

#pragma omp parallel if (g.parallel(work))
  {
    std::vector<float> share(size_t(g.out_w));  // one output row's gradient / divisor
#pragma omp for schedule(static)
    for (int64_t plane = 0; plane < g.planes; ++plane) {
      float* gx = GX + plane * g.in_plane();
      std::memset(gx, 0, sizeof(float) * g.in_plane());
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const float* go = GO + plane * g.out_plane() + oh * g.out_w;
        const float* divisor = divisors.data() + oh * g.out_w;
        for (int64_t ow = 0; ow < g.out_w; ++ow) share[size_t(ow)] = go[ow] / divisor[ow];
        for_each_window_row(oh, g, p, [&](int64_t ih) {
          float* gx_row = gx + ih * g.in_w;
          for (size_t j = 0; j < taps.size(); ++j) {
            const int64_t offset = taps.offset[j];
            const cpu::ValidRange r = taps.range[j];
            for (int64_t ow = r.lo; ow < r.hi; ++ow) gx_row[ow * sw + offset] += share[size_t(ow)];
          }
        });
      }
    }
  }
}

}  // namespace nl
