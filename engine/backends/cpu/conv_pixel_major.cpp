// Ungrouped conv2d on the CPU with the output pixels as the long dimension of every GEMM
// (forward, input gradient, weight gradient). See Note [Pixel-major convolution].
#ifdef __SSE__
#include <xmmintrin.h>
#endif
#include <cstring>
#include <vector>

#include "engine/backends/cpu/conv_plan.h"

namespace nl::cpu {

// Note [Pixel-major convolution]: OpenBLAS runs a convolution's GEMMs much faster when the
// pixels are the GEMM's row dimension than when they are its column dimension, for layers
// with few channels. Measured (1 thread, 2-core Zen VM, sgemm peak ~100 GFLOP/s) on the
// 32-channel 3x3 layer of a CIFAR ResNet (K = 288 = 32*9, L = 1024 pixels):
//   forward          W[O x K] . col[K x L]       64 GFLOP/s   rows[L x K] . W'^T     83
//   input gradient   W^T . grad_out[O x L]       63           grad_out^T . W'        85
//   weight gradient  grad_out . col^T            46           rows^T . grad_out^T    82
// (64-channel layers: the same or a few per cent better; build/tests/benchmarks/
// bench_conv_gemm). Part of the left column's loss is the 4 KiB row distance of Note
// [Column padding]; padded, it reaches 82-89, 82-87 and 72-79, yet over a whole step the
// pixel-major kernels still took ~12% less time (bench_resnet_ops: all convolutions 229 ms
// against 259, 1 thread). So these kernels build "rows":
// one row per output pixel, holding its receptive field in (kernel row, kernel column,
// channel) order, read from a channels-last copy of the image where every tap of a pixel
// is a contiguous run of C floats. W' is the weight reordered to that (i, j, c) order. The
// GEMMs' [pixels x channels] results go to and from NCHW through small transposes. Images
// spread over threads as in Note [Conv threading]; rows are built a chunk of pixels at a
// time so that a chunk stays in the L2 cache while its GEMM reads it (chunks of 16 KiB to
// whole images measured the same). With fewer than 16 input channels (a 3-channel stem:
// K = 27, taps of 3 floats) the im2col path was faster: 2.3 against 4.4 ms.

bool use_pixel_major(const ConvGeometry& g) {
  return g.groups == 1 && !g.is_pointwise() && g.in_channels >= 16;
}

// 4x4 SSE blocks (SSE is part of baseline x86-64), scalar at the edges and elsewhere.
void transpose(const float* src, int64_t rows, int64_t cols, int64_t ld_src, float* dst, int64_t ld_dst) {
  int64_t r = 0;
#ifdef __SSE__
  for (; r + 4 <= rows; r += 4) {
    const float* s = src + r * ld_src;
    int64_t c = 0;
    for (; c + 4 <= cols; c += 4) {
      __m128 a = _mm_loadu_ps(s + c), b = _mm_loadu_ps(s + ld_src + c);
      __m128 e = _mm_loadu_ps(s + 2 * ld_src + c), f = _mm_loadu_ps(s + 3 * ld_src + c);
      _MM_TRANSPOSE4_PS(a, b, e, f);
      float* d = dst + c * ld_dst + r;
      _mm_storeu_ps(d, a);
      _mm_storeu_ps(d + ld_dst, b);
      _mm_storeu_ps(d + 2 * ld_dst, e);
      _mm_storeu_ps(d + 3 * ld_dst, f);
    }
    for (; c < cols; ++c)
      for (int64_t k = 0; k < 4; ++k) dst[c * ld_dst + r + k] = s[k * ld_src + c];
  }
#endif
  for (; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ld_dst + r] = src[r * ld_src + c];
}

// Both sweep four planes at a time from end to end: touching more planes at once would,
// for planes a multiple of 4 KiB apart (32x32 pixels), keep more lines in one L1 cache
// set than it has ways.
void to_channels_last(const float* src, int64_t C, int64_t P, float* dst) { transpose(src, C, P, P, dst, C); }
void from_channels_last(const float* src, int64_t C, int64_t P, float* dst) {
  for (int64_t c0 = 0; c0 < C; c0 += 4) transpose(src + c0, P, std::min<int64_t>(4, C - c0), C, dst + c0 * P, P);
}

namespace {

// Pixels per chunk of rows: about 256 KiB of rows, and at least one pixel.
int64_t pixel_chunk(const ConvGeometry& g) {
  return std::clamp<int64_t>((int64_t(1) << 16) / std::max<int64_t>(g.col_rows(), 1), 1, g.out_plane());
}

// W'[o][(i * kW + j) * C + c] = W[o][c][i][j]
void reorder_weight(const ConvGeometry& g, const float* W, float* Wr) {
  const int64_t C = g.in_channels, T = g.kernel_area(), K = g.col_rows();
  for (int64_t o = 0; o < g.out_channels; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < T; ++t) Wr[o * K + t * C + c] = W[o * K + c * T + t];
}

// Calls run(l, t, pos, count) for every output pixel l in [l0, l1) and kernel tap t = i * kW
// + j, where the tap reads `count` consecutive taps' worth of channels-last input starting
// at input pixel `pos`, or pos < 0 when that tap falls in the padding (count = 1 then).
// With dilation 1 a pixel's taps along a kernel row are adjacent input pixels, so they are
// handed over as one run (kW * C contiguous floats) when all of them are inside the image.
template <class Run>
void for_each_tap_run(const ConvGeometry& g, int64_t l0, int64_t l1, Run&& run) {
  const int64_t kW = g.kernel_w;
  for (int64_t l = l0; l < l1; ++l) {
    const int64_t oh = l / g.out_w, ow = l % g.out_w;
    const int64_t iw0 = ow * g.stride_w - g.pad_w;
    const bool whole_row = g.dil_w == 1 && iw0 >= 0 && iw0 + kW <= g.in_w;
    for (int64_t i = 0; i < g.kernel_h; ++i) {
      const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dil_h;
      if (ih < 0 || ih >= g.in_h) {
        for (int64_t j = 0; j < kW; ++j) run(l, i * kW + j, int64_t(-1), int64_t(1));
        continue;
      }
      if (whole_row) {
        run(l, i * kW, ih * g.in_w + iw0, kW);
        continue;
      }
      for (int64_t j = 0; j < kW; ++j) {
        const int64_t iw = iw0 + j * g.dil_w;
        run(l, i * kW + j, iw >= 0 && iw < g.in_w ? ih * g.in_w + iw : int64_t(-1), int64_t(1));
      }
    }
  }
}

// rows[(l - l0) * K + t * C + c] = input pixel of tap t of output pixel l, channel c (0 in
// the padding), from the channels-last image xt.
void build_rows(const ConvGeometry& g, const float* xt, int64_t l0, int64_t l1, float* rows) {
  const int64_t C = g.in_channels, K = g.col_rows();
  for_each_tap_run(g, l0, l1, [&](int64_t l, int64_t t, int64_t pos, int64_t count) {
    float* dst = rows + (l - l0) * K + t * C;
    if (pos < 0) std::memset(dst, 0, sizeof(float) * C);
    else std::memcpy(dst, xt + pos * C, sizeof(float) * C * count);
  });
}

// The adjoint of build_rows: adds every row entry onto the channels-last image gxt.
void add_rows(const ConvGeometry& g, const float* rows, int64_t l0, int64_t l1, float* gxt) {
  const int64_t C = g.in_channels, K = g.col_rows();
  for_each_tap_run(g, l0, l1, [&](int64_t l, int64_t t, int64_t pos, int64_t count) {
    if (pos < 0) return;
    const float* src = rows + (l - l0) * K + t * C;
    float* dst = gxt + pos * C;
    for (int64_t k = 0; k < C * count; ++k) dst[k] += src[k];
  });
}

// One thread's buffers: a channels-last image, a chunk of rows, a [pixels x channels] matrix.
struct Workspace {
  int64_t image, rows, pixels;
  std::unique_ptr<float[]> data;
  Workspace(const ConvGeometry& g, int slots)
      : image(g.in_plane() * g.in_channels), rows(pixel_chunk(g) * g.col_rows()), pixels(g.out_plane() * g.out_channels),
        data(scratch(slots * (image + rows + pixels))) {}
  float* image_of(int slot) const { return data.get() + slot * (image + rows + pixels); }
  float* rows_of(int slot) const { return image_of(slot) + image; }
  float* pixels_of(int slot) const { return rows_of(slot) + rows; }
};

}  // namespace

void conv2d_pixel_major(const ConvGeometry& g, const float* X, const float* W, const float* B, float* Y) {
  const int64_t C = g.in_channels, O = g.out_channels, K = g.col_rows(), L = g.out_plane(), P = g.in_plane();
  const int64_t chunk = pixel_chunk(g);
  auto Wr = scratch(O * K);
  reorder_weight(g, W, Wr.get());
  const BatchSchedule schedule(g);
  const Workspace ws(g, schedule.slots());

  schedule.run([&](int64_t n, int slot) {
    float *xt = ws.image_of(slot), *rows = ws.rows_of(slot), *yt = ws.pixels_of(slot);
    to_channels_last(X + n * C * P, C, P, xt);
    for (int64_t l0 = 0; l0 < L; l0 += chunk) {
      const int64_t l1 = std::min(L, l0 + chunk);
      build_rows(g, xt, l0, l1, rows);
      // yt[l0:l1, :] = rows · W'^T
      sgemm(false, true, l1 - l0, O, K, rows, K, Wr.get(), K, 0.f, yt + l0 * O, O);
    }
    float* y = Y + n * O * L;
    from_channels_last(yt, O, L, y);
    if (B)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t l = 0; l < L; ++l) y[o * L + l] += B[o];
  });
}

void conv2d_backward_input_pixel_major(const ConvGeometry& g, const float* GO, const float* W, float* GX) {
  const int64_t C = g.in_channels, O = g.out_channels, K = g.col_rows(), L = g.out_plane(), P = g.in_plane();
  const int64_t chunk = pixel_chunk(g);
  auto Wr = scratch(O * K);
  reorder_weight(g, W, Wr.get());
  const BatchSchedule schedule(g);
  const Workspace ws(g, schedule.slots());

  schedule.run([&](int64_t n, int slot) {
    float *gxt = ws.image_of(slot), *rows = ws.rows_of(slot), *got = ws.pixels_of(slot);
    to_channels_last(GO + n * O * L, O, L, got);
    std::memset(gxt, 0, sizeof(float) * P * C);
    for (int64_t l0 = 0; l0 < L; l0 += chunk) {
      const int64_t l1 = std::min(L, l0 + chunk);
      // rows = grad_out^T[l0:l1, :] · W'
      sgemm(false, false, l1 - l0, K, O, got + l0 * O, O, Wr.get(), K, 0.f, rows, K);
      add_rows(g, rows, l0, l1, gxt);
    }
    from_channels_last(gxt, C, P, GX + n * C * P);
  });
}

void conv2d_backward_weight_pixel_major(const ConvGeometry& g, const float* GO, const float* X, float* GW) {
  const int64_t C = g.in_channels, O = g.out_channels, K = g.col_rows(), L = g.out_plane(), P = g.in_plane();
  const int64_t T = g.kernel_area(), chunk = pixel_chunk(g);
  const BatchSchedule schedule(g);
  const int slots = schedule.slots();
  const Workspace ws(g, slots);
  // Each thread sums W'-ordered, transposed gradients [K x O] of its images; summed at the end.
  auto sums = scratch(slots * K * O);
  std::vector<char> started(slots, 0);

  schedule.run([&](int64_t n, int slot) {
    float *xt = ws.image_of(slot), *rows = ws.rows_of(slot), *got = ws.pixels_of(slot);
    float* acc = sums.get() + slot * K * O;
    to_channels_last(X + n * C * P, C, P, xt);
    to_channels_last(GO + n * O * L, O, L, got);
    for (int64_t l0 = 0; l0 < L; l0 += chunk) {
      const int64_t l1 = std::min(L, l0 + chunk);
      build_rows(g, xt, l0, l1, rows);
      // acc += rows^T · grad_out^T[l0:l1, :]  (the first chunk of a thread overwrites)
      sgemm(true, false, K, O, l1 - l0, rows, K, got + l0 * O, O, started[slot] ? 1.f : 0.f, acc, O);
      started[slot] = 1;
    }
  });

  // GW[o][c][t] = sum over threads of acc[(t * C + c) * O + o]
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < T; ++t) {
        float s = 0.f;
        for (int slot = 0; slot < slots; ++slot)
          if (started[slot]) s += sums[slot * K * O + (t * C + c) * O + o];
        GW[(o * C + c) * T + t] = s;
      }
}

}  // namespace nl::cpu
