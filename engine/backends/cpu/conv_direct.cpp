// Direct conv2d on the CPU (forward, input gradient, weight gradient) for ungrouped
// convolutions: channels-last zero-padded images and register-blocked AVX-512 or AVX2
// tiles chosen at run time. See Note [Direct convolution].
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>
#include <vector>

#include "engine/backends/cpu/conv_plan.h"

namespace nl::cpu {

// Note [Direct convolution]: on the 2-core AVX-512 development VM (one core: 2 FMA units
// x 16 floats at 2.6 GHz, ~166 GFLOP/s in theory) the pixel-major GEMM path ran a small
// ResNet's 32-channel 3x3 convolution at ~75 GFLOP/s all included (k = 288, 32 columns),
// and the rows it multiplies have to be built (im2col) and packed first. The direct
// kernels here run it at ~140 (bench_resnet_ops: 8.2-8.8 against 15-16 ms per pass over a
// batch of 64, one thread; 64-channel layers 8-9.5 against 11-14 ms). They skip
// both: every image is copied once to channels-last with its zero padding around it, and
// a tile keeps a block of outputs in vector registers while it walks the taps and
// channels, reading the image in place (implicit GEMM, as oneDNN does):
// - forward: PB output pixels of one row x NV vectors of output channels; per (tap,
//   channel) NV weight loads and PB broadcasts feed NV*PB FMAs;
// - input gradient (stride 1): the same tile on the padded output gradient with the
//   kernel flipped and its channel axes swapped, since for stride 1
//   grad_x[ih][iw] = sum over taps (i', j') of grad_out[ih + i' - P'][iw + j' - P'] . W[kH-1-i'][kW-1-j']^T
//   with P' = (k - 1) * dilation - padding on each side;
// - weight gradient: CB input channels of one tap x NV vectors of output channels,
//   summed over all output pixels of an image, then over images.
// Stride-1 convolutions whose output rows are whole vectors (32 or 16 pixels wide) use
// plane tiles for the forward and input-gradient passes instead: the vectors run along the
// output pixels of NCHW planes and the weights are broadcast, so the image is only copied
// into zero-padded planes (a memcpy per row) and the result is written where it belongs;
// in a 1-thread ResNet step that cut the layout transposes from ~12% to ~6% of the time
// (perf), at the same kernel speed. The weight gradient keeps the channels-last tile: on
// NCHW planes each (tap, channel, output channel) sum would end in a horizontal add per
// pass, and a 16x16 plane has only 16 vectors to amortise it over.
// Images spread over OpenMP threads, each with its own buffers (no BLAS is involved, so
// Note [Conv threading]'s pool conflicts do not arise). Each tile set is compiled twice,
// for AVX-512 and for AVX2+FMA, with GCC's target pragmas: the build stays portable x86-64
// and __builtin_cpu_supports picks a set at run time; other CPUs keep the GEMM paths.

namespace {

using ForwardTile = void (*)(const float* in, int64_t ps, const int64_t* toff, int64_t T, int64_t C, const float* w,
                             int64_t ldw, float* out, int64_t ldo);
using WeightTile = void (*)(const float* x, int64_t xps, int64_t xrs, const float* go, int64_t ldg, int64_t OH,
                            int64_t OW, float* acc, int64_t lda);

// One instruction set's tiles: `forward(nv, width)` for nv <= max_vectors vectors of vl
// floats and width <= width_for(nv) pixels (`weight` likewise, width in channels).
struct TileSet {
  int vl, max_vectors, accumulators;
  ForwardTile (*forward)(int nv, int width);
  WeightTile (*weight)(int nv, int width);
  int width_for(int nv) const { return std::min(accumulators / nv, 12); }
};

using PlaneTile = void (*)(const float* in, int64_t ldc, const int64_t* in_off, const int64_t* toff, int64_t T,
                           int64_t C, const float* w, int64_t ldw, const float* bias, float* out, int64_t ldo,
                           const int64_t* out_off);

// One instruction set's plane tiles: `tile(pv, ob)` for pv <= vectors pixel vectors of vl
// floats and ob <= channels output channels.
struct PlaneTileSet {
  int vl, vectors, channels;
  PlaneTile (*tile)(int pv, int ob);
};

struct Kernels {
  TileSet tiles;
  PlaneTileSet plane;
};

}  // namespace

#if defined(__GNUC__) && defined(__x86_64__)
#define NL_DIRECT_CONV 1

#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
namespace {
using vec = __m512;
constexpr int kVL = 16, kAccumulators = 24, kMaxVectors = 4;  // 32 registers: 24 sums, weights, a broadcast
// Plane tiles of 3 pixel vectors x 8 channels: 2 x 12 measured 0-4% slower, 4 x 6 3-10%
// slower (bench_resnet_ops, 32- and 64-channel layers, one thread).
constexpr int kPlaneVectors = 3;
inline vec vzero() { return _mm512_setzero_ps(); }
inline vec vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, vec v) { _mm512_storeu_ps(p, v); }
inline vec vbcast(float x) { return _mm512_set1_ps(x); }
inline vec vfma(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
#include "engine/backends/cpu/conv_direct_tiles.inc"
}  // namespace
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
namespace {
using vec = __m256;
constexpr int kVL = 8, kAccumulators = 12, kMaxVectors = 2;  // 16 registers: 12 sums, weights, a broadcast
constexpr int kPlaneVectors = 2;
inline vec vzero() { return _mm256_setzero_ps(); }
inline vec vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vec v) { _mm256_storeu_ps(p, v); }
inline vec vbcast(float x) { return _mm256_set1_ps(x); }
inline vec vfma(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
#include "engine/backends/cpu/conv_direct_tiles.inc"
}  // namespace
}  // namespace avx2
#pragma GCC pop_options
#endif

namespace {

std::atomic<DirectConvIsa> g_isa{DirectConvIsa::Best};

const Kernels* active_kernels() {
#ifdef NL_DIRECT_CONV
  static const bool has_avx512 = __builtin_cpu_supports("avx512f");
  static const bool has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  switch (g_isa.load(std::memory_order_relaxed)) {
    case DirectConvIsa::Best:
      return has_avx512 ? &avx512::kKernels : has_avx2 ? &avx2::kKernels : nullptr;
    case DirectConvIsa::Avx512:
      return has_avx512 ? &avx512::kKernels : nullptr;
    case DirectConvIsa::Avx2:
      return has_avx2 ? &avx2::kKernels : nullptr;
    case DirectConvIsa::Off:
      return nullptr;
  }
#endif
  return nullptr;
}

// Calls work(n, slot) for every image n, images with the same slot on the same thread in
// increasing order; `slots` threads at most (1: all on the calling thread).
template <class Work>
void over_images(int64_t batch, int slots, Work&& work) {
  if (slots <= 1) {
    for (int64_t n = 0; n < batch; ++n) work(n, 0);
    return;
  }
#pragma omp parallel num_threads(slots)
  {
    const int64_t team = omp_get_num_threads(), t = omp_get_thread_num();
    for (int64_t n = batch * t / team; n < batch * (t + 1) / team; ++n) work(n, int(t));
  }
}

int image_slots(const ConvGeometry& g) {
  const double work = double(g.batch) * double(g.out_plane()) * double(g.out_channels) * double(g.col_rows());
  const int threads = omp_get_max_threads();
  return g.batch > 1 && threads > 1 && work >= kParallelMinWork ? int(std::min<int64_t>(threads, g.batch)) : 1;
}

// A channels-last image with zero borders: `top` rows and `left` columns of zeros before
// the data, and enough after it for every tap a kernel reads.
struct PaddedImage {
  int64_t rows, cols, channels, top, left;
  int64_t size() const { return rows * cols * channels; }
  // Copies the planes [channels][h][w] in; the borders are left as they are (zeroed once
  // when the buffer is made, and never written).
  void fill(const float* planes, int64_t h, int64_t w, float* dst) const {
    for (int64_t y = 0; y < h; ++y)
      transpose(planes + y * w, channels, w, h * w, dst + ((top + y) * cols + left) * channels, channels);
  }
};

// Per-thread buffers, `per_slot` floats each, zeroed once.
struct SlotBuffers {
  int64_t per_slot;
  std::unique_ptr<float[]> data;
  SlotBuffers(int slots, int64_t floats) : per_slot(floats), data(scratch(slots * floats)) {
    std::memset(data.get(), 0, sizeof(float) * size_t(slots * floats));
  }
  float* of(int slot) const { return data.get() + slot * per_slot; }
};

// Tap offsets in a channels-last padded image: toff[i * kW + j] = (i * dH * cols + j * dW) * channels.
std::vector<int64_t> tap_offsets(const ConvGeometry& g, int64_t cols, int64_t channels) {
  std::vector<int64_t> toff(size_t(g.kernel_area()));
  for (int64_t i = 0; i < g.kernel_h; ++i)
    for (int64_t j = 0; j < g.kernel_w; ++j) toff[size_t(i * g.kernel_w + j)] = (i * g.dil_h * cols + j * g.dil_w) * channels;
  return toff;
}

// The padded input image of the forward and weight-gradient passes: padding on the top
// and left, and below and right as far as the last tap of the last output pixel reaches.
PaddedImage padded_input(const ConvGeometry& g) {
  const int64_t rows = std::max(g.pad_h + g.in_h, (g.out_h - 1) * g.stride_h + (g.kernel_h - 1) * g.dil_h + 1);
  const int64_t cols = std::max(g.pad_w + g.in_w, (g.out_w - 1) * g.stride_w + (g.kernel_w - 1) * g.dil_w + 1);
  return {rows, cols, g.in_channels, g.pad_h, g.pad_w};
}

// out[l][o] (channels-last, `O` channels) for one image, tiles of up to `width` pixels
// along each output row, `vl * nv` output channels at a time.
void forward_image(const TileSet& ts, const ConvGeometry& g, const PaddedImage& pi, const float* xp,
                   const int64_t* toff, int64_t reduce_channels, const float* w, int64_t O, float* out) {
  const int64_t T = g.kernel_area(), OW = g.out_w, sw = g.stride_w;
  for (int64_t ob = 0; ob < O;) {
    const int nv = int(std::min<int64_t>(ts.max_vectors, (O - ob) / ts.vl));
    const int width = ts.width_for(nv);
    for (int64_t oh = 0; oh < g.out_h; ++oh) {
      const float* row = xp + oh * g.stride_h * pi.cols * pi.channels;
      for (int64_t ow = 0; ow < OW; ow += width) {
        const int pb = int(std::min<int64_t>(width, OW - ow));
        ts.forward(nv, pb)(row + ow * sw * pi.channels, sw * pi.channels, toff, T, reduce_channels, w + ob, O,
                           out + (oh * OW + ow) * O + ob, O);
      }
    }
    ob += int64_t(nv) * ts.vl;
  }
}

// Stride-1 convolutions whose output rows are whole vectors run on NCHW planes (plane
// tiles): no channels-last copies of the input or the output.
bool plane_layout(const PlaneTileSet& ps, const ConvGeometry& g) {
  return g.stride_h == 1 && g.stride_w == 1 && g.out_w % ps.vl == 0;
}

// NCHW planes with zero borders: `top` rows and `left` columns before each plane's data
// and enough after it for every tap a kernel reads.
struct PaddedPlanes {
  int64_t rows, cols, channels, top, left;
  int64_t plane() const { return rows * cols; }
  int64_t size() const { return channels * plane(); }
  // Copies the planes [channels][h][w] in; the borders are left as they are (zeroed once).
  void fill(const float* planes, int64_t h, int64_t w, float* dst) const {
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t y = 0; y < h; ++y)
        std::memcpy(dst + c * plane() + (top + y) * cols + left, planes + (c * h + y) * w, sizeof(float) * size_t(w));
  }
};

PaddedPlanes padded_planes(const ConvGeometry& g) {
  const PaddedImage pi = padded_input(g);
  return {pi.rows, pi.cols, pi.channels, pi.top, pi.left};
}

// out (NCHW, O planes of the output size) of one image from its padded planes `xp` with
// weights w[(c * T + t) * O + o], reducing over `reduce_channels` planes.
void plane_image(const PlaneTileSet& ps, const ConvGeometry& g, const PaddedPlanes& pp, const float* xp,
                 const int64_t* toff, int64_t reduce_channels, const float* w, const float* bias, int64_t O,
                 float* out) {
  const int64_t T = g.kernel_area(), L = g.out_plane(), vectors = L / ps.vl;
  int64_t in_off[8], out_off[8];
  for (int64_t ob = 0; ob < O; ob += ps.channels) {
    const int obn = int(std::min<int64_t>(ps.channels, O - ob));
    for (int64_t q = 0; q < vectors; q += ps.vectors) {
      const int pv = int(std::min<int64_t>(ps.vectors, vectors - q));
      for (int k = 0; k < pv; ++k) {
        const int64_t p = (q + k) * ps.vl;
        in_off[k] = (p / g.out_w) * pp.cols + p % g.out_w;
        out_off[k] = p;
      }
      ps.tile(pv, obn)(xp, pp.plane(), in_off, toff, T, reduce_channels, w + ob, O, bias ? bias + ob : nullptr,
                       out + ob * L, L, out_off);
    }
  }
}

// Runs the tiles over every image of the batch: `geo` is the convolution as the tiles see it
// (for the input gradient, the flipped stride-1 one), `w` the weights packed for the layout
// `planes` chose, `bias` added per output channel when given. in/out are NCHW.
void run_images(const Kernels& kernels, const ConvGeometry& geo, bool planes, int64_t batch, int slots,
                const float* in, const float* w, const float* bias, float* out) {
  const int64_t Cin = geo.in_channels, Cout = geo.out_channels;
  const int64_t in_plane = geo.in_plane(), L = geo.out_plane();
  if (planes) {
    const PaddedPlanes pp = padded_planes(geo);
    const std::vector<int64_t> toff = tap_offsets(geo, pp.cols, 1);
    const SlotBuffers buffers(slots, pp.size());
    over_images(batch, slots, [&](int64_t n, int slot) {
      pp.fill(in + n * Cin * in_plane, geo.in_h, geo.in_w, buffers.of(slot));
      plane_image(kernels.plane, geo, pp, buffers.of(slot), toff.data(), Cin, w, bias, Cout, out + n * Cout * L);
    });
    return;
  }
  const PaddedImage pi = padded_input(geo);
  const std::vector<int64_t> toff = tap_offsets(geo, pi.cols, Cin);
  const SlotBuffers buffers(slots, pi.size() + L * Cout);
  over_images(batch, slots, [&](int64_t n, int slot) {
    float *xp = buffers.of(slot), *yt = xp + pi.size();
    pi.fill(in + n * Cin * in_plane, geo.in_h, geo.in_w, xp);
    forward_image(kernels.tiles, geo, pi, xp, toff.data(), Cin, w, Cout, yt);
    float* y = out + n * Cout * L;
    from_channels_last(yt, Cout, L, y);
    if (bias)
      for (int64_t o = 0; o < Cout; ++o)
        for (int64_t l = 0; l < L; ++l) y[o * L + l] += bias[o];
  });
}

}  // namespace

bool use_direct(const ConvGeometry& g, ConvPass pass) {
  const Kernels* k = active_kernels();
  const TileSet* ts = k ? &k->tiles : nullptr;
  // Below 16 input channels (a 3-channel stem) the tiles' reductions are too short: the
  // im2col path was faster there (bench_resnet_ops conv3to32: 1.2 against 1.9 ms forward,
  // 1.5 against 3.2 weight gradient).
  if (!ts || g.groups != 1 || g.in_channels < 16 || g.is_pointwise() || g.batch == 0 || g.out_plane() == 0)
    return false;
  switch (pass) {
    case ConvPass::Forward:
    case ConvPass::BackwardWeight:
      return g.out_channels % ts->vl == 0;
    case ConvPass::BackwardInput:
      return g.in_channels % ts->vl == 0 && g.stride_h == 1 && g.stride_w == 1 &&
             g.pad_h <= (g.kernel_h - 1) * g.dil_h && g.pad_w <= (g.kernel_w - 1) * g.dil_w;
  }
  return false;
}

DirectConvIsa set_direct_conv_isa(DirectConvIsa isa) { return g_isa.exchange(isa); }

void conv2d_direct(const ConvGeometry& g, const float* X, const float* W, const float* B, float* Y) {
  const Kernels& kernels = *active_kernels();
  const int64_t C = g.in_channels, O = g.out_channels, T = g.kernel_area();
  const bool planes = plane_layout(kernels.plane, g);
  // Output channels contiguous (the tiles' vector loads or broadcasts run along them):
  // wf[(c * T + t) * O + o] (plane tiles) or wf[(t * C + c) * O + o] = W[o][c][t].
  auto wf = scratch(T * C * O);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < T; ++t) wf[(planes ? c * T + t : t * C + c) * O + o] = W[(o * C + c) * T + t];
  run_images(kernels, g, planes, g.batch, image_slots(g), X, wf.get(), B, Y);
}

void conv2d_backward_input_direct(const ConvGeometry& g, const float* GO, const float* W, float* GX) {
  const Kernels& kernels = *active_kernels();
  const int64_t C = g.in_channels, O = g.out_channels, T = g.kernel_area();
  // The output gradient padded by P' = (k - 1) * dilation - padding on every side makes a
  // stride-1 "forward" convolution whose output is grad_x (Note [Direct convolution]).
  ConvGeometry gt = g;
  gt.in_channels = O, gt.out_channels = C, gt.in_h = g.out_h, gt.in_w = g.out_w, gt.out_h = g.in_h, gt.out_w = g.in_w;
  gt.pad_h = (g.kernel_h - 1) * g.dil_h - g.pad_h, gt.pad_w = (g.kernel_w - 1) * g.dil_w - g.pad_w;
  const bool planes = plane_layout(kernels.plane, gt);
  // The flipped kernel with input channels contiguous: wb[(o * T + t') * C + c] (plane
  // tiles) or wb[(t' * O + o) * C + c] = W[o][c][T - 1 - t'].
  auto wb = scratch(T * C * O);
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < T; ++t) {
        const int64_t flipped = T - 1 - t;
        wb[(planes ? o * T + flipped : flipped * O + o) * C + c] = W[(o * C + c) * T + t];
      }
  run_images(kernels, gt, planes, g.batch, image_slots(g), GO, wb.get(), nullptr, GX);
}

void conv2d_backward_weight_direct(const ConvGeometry& g, const float* GO, const float* X, float* GW) {
  const Kernels& kernels = *active_kernels();
  const TileSet& ts = kernels.tiles;
  const int64_t C = g.in_channels, O = g.out_channels, T = g.kernel_area(), L = g.out_plane(), P = g.in_plane();
  const PaddedImage pi = padded_input(g);
  const std::vector<int64_t> toff = tap_offsets(g, pi.cols, C);
  const int slots = image_slots(g);
  // Per thread: the padded image, the channels-last output gradient, and its sums
  // acc[(t * C + c) * O + o] over its images (zeroed once with the buffer).
  const SlotBuffers buffers(slots, pi.size() + L * O + T * C * O);
  const int64_t xps = g.stride_w * C, xrs = g.stride_h * pi.cols * C;
  // Output-gradient bands of ~16 KiB: against whole images, 5-15% less time for the
  // 64-channel, strided and CNN layers (bench_resnet_ops); 32 KiB was no better.
  const int64_t band_rows = std::max<int64_t>(1, (int64_t(16) << 10) / int64_t(sizeof(float) * g.out_w * O));

  over_images(g.batch, slots, [&](int64_t n, int slot) {
    float *xp = buffers.of(slot), *got = xp + pi.size(), *acc = got + L * O;
    pi.fill(X + n * C * P, g.in_h, g.in_w, xp);
    to_channels_last(GO + n * O * L, O, L, got);
    // Bands of output rows, so that a band's output gradient stays in the L1 cache while
    // every (tap, channel block) tile passes over it.
    for (int64_t oh = 0; oh < g.out_h; oh += band_rows) {
      const int64_t rows = std::min(band_rows, g.out_h - oh);
      for (int64_t ob = 0; ob < O;) {
        const int nv = int(std::min<int64_t>(ts.max_vectors, (O - ob) / ts.vl));
        const int width = ts.width_for(nv);
        for (int64_t t = 0; t < T; ++t)
          for (int64_t c = 0; c < C; c += width) {
            const int cb = int(std::min<int64_t>(width, C - c));
            ts.weight(nv, cb)(xp + oh * xrs + toff[size_t(t)] + c, xps, xrs, got + oh * g.out_w * O + ob, O, rows,
                              g.out_w, acc + (t * C + c) * O + ob, O);
          }
        ob += int64_t(nv) * ts.vl;
      }
    }
  });

  // GW[o][c][t] = sum over threads of acc[(t * C + c) * O + o]
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t t = 0; t < T; ++t) {
        float s = 0.f;
        for (int slot = 0; slot < slots; ++slot) s += buffers.of(slot)[pi.size() + L * O + (t * C + c) * O + o];
        GW[(o * C + c) * T + t] = s;
      }
}

}  // namespace nl::cpu
