// CPU conv2d kernels (forward, input gradient, weight gradient): im2col turns each image
// into a column matrix and OpenBLAS's sgemm does the arithmetic, one GEMM per group.
// Ungrouped convolutions with a kernel go to conv_direct.cpp (vector tiles, where the CPU
// and the channel counts allow) or conv_pixel_major.cpp instead; depthwise ones run as
// direct loops here.
#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/backends/cpu/cpu_backend.h"
#include "engine/backends/cpu/conv_plan.h"
#include "engine/backends/cpu/im2col.h"

namespace nl {
namespace {

using cpu::BatchSchedule;
using cpu::ConvGeometry;
using cpu::kParallelMinWork;
using cpu::scratch;
using cpu::sgemm;

void im2col_image(const float* image, const ConvGeometry& g, float* col) {
  const int64_t rows_per_channel = g.kernel_area() * g.col_ld();
  for (int64_t c = 0; c < g.in_channels; ++c)
    cpu::im2col_channel(image + c * g.in_plane(), g, col + c * rows_per_channel);
}

// Overwrites `image` with the col2im sum of `col` (each channel plane is zeroed first).
void col2im_image(const float* col, const ConvGeometry& g, float* image) {
  const int64_t rows_per_channel = g.kernel_area() * g.col_ld();
  std::memset(image, 0, sizeof(float) * g.in_channels * g.in_plane());
  for (int64_t c = 0; c < g.in_channels; ++c)
    cpu::col2im_channel(col + c * rows_per_channel, g, image + c * g.in_plane());
}

// Note [Depthwise]: with one input channel per group (groups == C > 1), im2col would copy
// every input value kH*kW times only to feed GEMMs of a single row: memory-bound and far
// slower than direct loops. Each output plane reads a single input plane, so the loops
// below go tap by tap over whole rows (contiguous and vectorisable when the stride is 1)
// and spread planes over OpenMP threads (no BLAS is involved, see Note [Conv threading]).
bool is_depthwise(const ConvGeometry& g) { return g.groups > 1 && g.groups == g.in_channels; }

bool worth_threads(const ConvGeometry& g) {
  return double(g.batch) * double(g.out_channels) * double(g.out_plane()) * double(g.kernel_area()) >=
         kParallelMinWork;
}

// Calls tap(i, j, oh, ih, offset, r) for every kernel tap (i, j) and output row oh whose input
// row ih is inside the image; input column = ow * stride + offset, inside for ow in r.
template <class Tap>
void for_each_depthwise_tap(const ConvGeometry& g, Tap&& tap) {
  for (int64_t i = 0; i < g.kernel_h; ++i)
    for (int64_t j = 0; j < g.kernel_w; ++j) {
      const int64_t col_offset = j * g.dil_w - g.pad_w;
      const cpu::ValidRange r = cpu::valid_output_range(col_offset, g.stride_w, g.in_w, g.out_w);
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dil_h;
        if (ih >= 0 && ih < g.in_h) tap(i, j, oh, ih, col_offset, r);
      }
    }
}

void depthwise_forward(const ConvGeometry& g, const float* X, const float* W, const float* B, float* Y) {
  const int64_t Og = g.out_channels_per_group(), L = g.out_plane(), sw = g.stride_w;
#pragma omp parallel for schedule(static) if (worth_threads(g))
  for (int64_t plane = 0; plane < g.batch * g.out_channels; ++plane) {
    const int64_t n = plane / g.out_channels, o = plane % g.out_channels;
    const float* x = X + (n * g.in_channels + o / Og) * g.in_plane();
    const float* w = W + o * g.kernel_area();
    float* y = Y + plane * L;
    std::fill(y, y + L, B ? B[o] : 0.f);
    for_each_depthwise_tap(g, [&](int64_t i, int64_t j, int64_t oh, int64_t ih, int64_t off, cpu::ValidRange r) {
      const float wv = w[i * g.kernel_w + j];
      const float* x_row = x + ih * g.in_w;
      float* y_row = y + oh * g.out_w;
      if (sw == 1) {
        for (int64_t ow = r.lo; ow < r.hi; ++ow) y_row[ow] += wv * x_row[ow + off];
      } else {
        for (int64_t ow = r.lo; ow < r.hi; ++ow) y_row[ow] += wv * x_row[ow * sw + off];
      }
    });
  }
}

// grad_x plane (n, c) gathers from the Og output planes that read it: no races.
void depthwise_backward_input(const ConvGeometry& g, const float* GO, const float* W, float* GX) {
  const int64_t Og = g.out_channels_per_group(), L = g.out_plane(), sw = g.stride_w;
#pragma omp parallel for schedule(static) if (worth_threads(g))
  for (int64_t plane = 0; plane < g.batch * g.in_channels; ++plane) {
    const int64_t n = plane / g.in_channels, c = plane % g.in_channels;
    float* gx = GX + plane * g.in_plane();
    std::memset(gx, 0, sizeof(float) * g.in_plane());
    for (int64_t o = c * Og; o < (c + 1) * Og; ++o) {
      const float* go = GO + (n * g.out_channels + o) * L;
      const float* w = W + o * g.kernel_area();
      for_each_depthwise_tap(g, [&](int64_t i, int64_t j, int64_t oh, int64_t ih, int64_t off, cpu::ValidRange r) {
        const float wv = w[i * g.kernel_w + j];
        float* gx_row = gx + ih * g.in_w;
        const float* go_row = go + oh * g.out_w;
        if (sw == 1) {
          for (int64_t ow = r.lo; ow < r.hi; ++ow) gx_row[ow + off] += wv * go_row[ow];
        } else {
          for (int64_t ow = r.lo; ow < r.hi; ++ow) gx_row[ow * sw + off] += wv * go_row[ow];
        }
      });
    }
  }
}

// grad_w[o] is a kH x kW block of dot products summed over the batch; one thread per o.
// Each row's dot product is summed in float (vectorised), the totals in double.
void depthwise_backward_weight(const ConvGeometry& g, const float* GO, const float* X, float* GW) {
  const int64_t Og = g.out_channels_per_group(), L = g.out_plane(), sw = g.stride_w, area = g.kernel_area();
#pragma omp parallel if (worth_threads(g))
  {
    std::vector<double> sums(static_cast<size_t>(area));
#pragma omp for schedule(static)
    for (int64_t o = 0; o < g.out_channels; ++o) {
      std::fill(sums.begin(), sums.end(), 0.0);
      for (int64_t n = 0; n < g.batch; ++n) {
        const float* go = GO + (n * g.out_channels + o) * L;
        const float* x = X + (n * g.in_channels + o / Og) * g.in_plane();
        for_each_depthwise_tap(g, [&](int64_t i, int64_t j, int64_t oh, int64_t ih, int64_t off, cpu::ValidRange r) {
          const float* x_row = x + ih * g.in_w;
          const float* go_row = go + oh * g.out_w;
          float dot = 0.f;
          if (sw == 1) {
#pragma omp simd reduction(+ : dot)
            for (int64_t ow = r.lo; ow < r.hi; ++ow) dot += go_row[ow] * x_row[ow + off];
          } else {
            for (int64_t ow = r.lo; ow < r.hi; ++ow) dot += go_row[ow] * x_row[ow * sw + off];
          }
          sums[size_t(i * g.kernel_w + j)] += dot;
        });
      }
      for (int64_t k = 0; k < area; ++k) GW[o * area + k] = float(sums[size_t(k)]);
    }
  }
}

}  // namespace

// out[n, g*Og + o, :] = W_g[o, :] · col_g(x[n]) + bias[g*Og + o]
void CpuBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out, const Conv2dParams& p) {
  const ConvGeometry g = ConvGeometry::from(x.shape(), w.shape(), out.shape(), p);
  if (out.numel() == 0) return;
  const float* X = x.data<float>();
  const float* W = w.data<float>();
  const float* B = bias.defined() ? bias.data<float>() : nullptr;
  float* Y = out.data<float>();
  if (is_depthwise(g)) return depthwise_forward(g, X, W, B, Y);
  if (cpu::use_direct(g, cpu::ConvPass::Forward)) return cpu::conv2d_direct(g, X, W, B, Y);
  if (cpu::use_pixel_major(g)) return cpu::conv2d_pixel_major(g, X, W, B, Y);

  const int64_t Og = g.out_channels_per_group(), K = g.patch_size(), L = g.out_plane();
  const bool pointwise = g.is_pointwise();
  const int64_t ld = pointwise ? L : g.col_ld();  // between rows of the column matrix
  const BatchSchedule schedule(g);
  auto col_buffer = pointwise ? nullptr : scratch(schedule.slots() * g.col_size());

  schedule.run([&](int64_t n, int slot) {
    const float* image = X + n * g.in_channels * g.in_plane();
    float* y = Y + n * g.out_channels * L;
    const float* col = image;  // pointwise: the image already is the column matrix
    if (!pointwise) {
      float* own = col_buffer.get() + slot * g.col_size();
      im2col_image(image, g, own);
      col = own;
    }
    // The bias is written first and the GEMM adds onto it (beta = 1): one pass over y.
    if (B) {
      for (int64_t o = 0; o < g.out_channels; ++o) std::fill(y + o * L, y + (o + 1) * L, B[o]);
    }
    for (int64_t grp = 0; grp < g.groups; ++grp)
      sgemm(false, false, Og, L, K, W + grp * Og * K, K, col + grp * K * ld, ld, B ? 1.f : 0.f, y + grp * Og * L, L);
  });
}

// grad_x[n] = col2im(W_g^T · grad_out_g[n]) for each group g.
void CpuBackend::conv2d_backward_input(const Tensor& grad_out, const Tensor& w, Tensor& grad_x,
                                       const Conv2dParams& p) {
  const ConvGeometry g = ConvGeometry::from(grad_x.shape(), w.shape(), grad_out.shape(), p);
  if (grad_x.numel() == 0) return;
  const float* GO = grad_out.data<float>();
  const float* W = w.data<float>();
  float* GX = grad_x.data<float>();
  if (is_depthwise(g)) return depthwise_backward_input(g, GO, W, GX);
  if (cpu::use_direct(g, cpu::ConvPass::BackwardInput)) return cpu::conv2d_backward_input_direct(g, GO, W, GX);
  if (cpu::use_pixel_major(g)) return cpu::conv2d_backward_input_pixel_major(g, GO, W, GX);

  const int64_t Og = g.out_channels_per_group(), K = g.patch_size(), L = g.out_plane();
  const bool pointwise = g.is_pointwise();
  const int64_t ld = pointwise ? L : g.col_ld();  // between rows of the column matrix
  const BatchSchedule schedule(g);
  auto col_buffer = pointwise ? nullptr : scratch(schedule.slots() * g.col_size());

  schedule.run([&](int64_t n, int slot) {
    const float* go = GO + n * g.out_channels * L;
    float* gx = GX + n * g.in_channels * g.in_plane();
    // Pointwise: the column matrix is the input image, so the GEMM writes grad_x directly.
    float* col = pointwise ? gx : col_buffer.get() + slot * g.col_size();
    for (int64_t grp = 0; grp < g.groups; ++grp)
      sgemm(true, false, K, L, Og, W + grp * Og * K, K, go + grp * Og * L, L, 0.f, col + grp * K * ld, ld);
    if (!pointwise) col2im_image(col, g, gx);
  });
}

// grad_w_g = sum over n of grad_out_g[n] · col_g(x[n])^T.
void CpuBackend::conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, Tensor& grad_w,
                                        const Conv2dParams& p) {
  const ConvGeometry g = ConvGeometry::from(x.shape(), grad_w.shape(), grad_out.shape(), p);
  float* GW = grad_w.data<float>();
  const int64_t weight_numel = grad_w.numel();
  if (weight_numel == 0) return;
  if (g.batch == 0 || g.out_plane() == 0) {
    std::fill(GW, GW + weight_numel, 0.f);
    return;
  }
  const float* GO = grad_out.data<float>();
  const float* X = x.data<float>();
  if (is_depthwise(g)) return depthwise_backward_weight(g, GO, X, GW);
  if (cpu::use_direct(g, cpu::ConvPass::BackwardWeight)) return cpu::conv2d_backward_weight_direct(g, GO, X, GW);
  if (cpu::use_pixel_major(g)) return cpu::conv2d_backward_weight_pixel_major(g, GO, X, GW);

  const int64_t Og = g.out_channels_per_group(), K = g.patch_size(), L = g.out_plane();
  const bool pointwise = g.is_pointwise();
  const int64_t ld = pointwise ? L : g.col_ld();  // between rows of the column matrix
  const BatchSchedule schedule(g);
  auto col_buffer = pointwise ? nullptr : scratch(schedule.slots() * g.col_size());
  // Slot 0 accumulates straight into grad_w; other threads into private partial sums
  // that are added in at the end (no locking in the hot loop).
  auto partials = scratch((schedule.slots() - 1) * weight_numel);
  std::vector<char> slot_started(schedule.slots(), 0);

  schedule.run([&](int64_t n, int slot) {
    const float* image = X + n * g.in_channels * g.in_plane();
    const float* go = GO + n * g.out_channels * L;
    const float* col = image;
    if (!pointwise) {
      float* own = col_buffer.get() + slot * g.col_size();
      im2col_image(image, g, own);
      col = own;
    }
    float* acc = slot == 0 ? GW : partials.get() + (slot - 1) * weight_numel;
    const float beta = slot_started[slot] ? 1.f : 0.f;  // the first image overwrites
    for (int64_t grp = 0; grp < g.groups; ++grp)
      sgemm(false, true, Og, K, L, go + grp * Og * L, L, col + grp * K * ld, ld, beta, acc + grp * Og * K, K);
    slot_started[slot] = 1;
  });

  const int slots = schedule.slots();
  if (slots == 1) return;  // images in turn: everything went straight into grad_w
  const float* partial = partials.get();
#pragma omp parallel for schedule(static) if (weight_numel * slots >= kParallelMinWork)
  for (int64_t i = 0; i < weight_numel; ++i) {
    float s = GW[i];
    for (int t = 1; t < slots; ++t)
      if (slot_started[t]) s += partial[(t - 1) * weight_numel + i];
    GW[i] = s;
  }
}

}  // namespace nl
