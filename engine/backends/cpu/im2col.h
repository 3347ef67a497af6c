// Private to the CPU convolution kernels: the geometry of one conv2d call and the
// im2col / col2im transforms that turn a convolution into GEMMs.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "engine/backends/backend.h"
#include "engine/core/tensor.h"

namespace nl::cpu {

// Sizes of one conv2d call, read from the (already validated) tensors the op allocated.
struct ConvGeometry {
  int64_t batch = 0, in_channels = 0, in_h = 0, in_w = 0;
  int64_t out_channels = 0, kernel_h = 0, kernel_w = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
  int64_t groups = 1;

  int64_t in_channels_per_group() const { return in_channels / groups; }
  int64_t out_channels_per_group() const { return out_channels / groups; }
  int64_t in_plane() const { return in_h * in_w; }
  int64_t out_plane() const { return out_h * out_w; }  // GEMM "N": one column per output pixel
  int64_t kernel_area() const { return kernel_h * kernel_w; }
  // GEMM "K" of one group: the rows of the column matrix that one group's filters read.
  int64_t patch_size() const { return in_channels_per_group() * kernel_area(); }
  // Rows of the whole column matrix of one image (all groups stacked).
  int64_t col_rows() const { return in_channels * kernel_area(); }
  // Distance between rows of the column matrix: out_plane(), plus one cache line when that
  // is a multiple of 2 KiB. See Note [Column padding].
  int64_t col_ld() const { return out_plane() % 512 == 0 ? out_plane() + 16 : out_plane(); }
  int64_t col_size() const { return col_rows() * col_ld(); }
  // A 1x1, stride-1, unpadded convolution reads the input as it is: its column matrix
  // is the input image itself, so im2col is skipped (dilation is meaningless for 1x1).
  bool is_pointwise() const {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_h == 0 && pad_w == 0;
  }

  // x [N, C, H, W], weight [O, C/groups, kH, kW], output [N, O, OH, OW].
  static ConvGeometry from(const Shape& x, const Shape& weight, const Shape& out, const Conv2dParams& p) {
    ConvGeometry g;
    g.batch = x[0], g.in_channels = x[1], g.in_h = x[2], g.in_w = x[3];
    g.out_channels = weight[0], g.kernel_h = weight[2], g.kernel_w = weight[3];
    g.out_h = out[2], g.out_w = out[3];
    g.stride_h = p.stride[0], g.stride_w = p.stride[1];
    g.pad_h = p.padding[0], g.pad_w = p.padding[1];
    g.dil_h = p.dilation[0], g.dil_w = p.dilation[1];
    g.groups = p.groups;
    return g;
  }
};

// For kernel column offset `offset` (= j * dilation - padding), the output columns
// [lo, hi) whose input column ow * stride + offset lies inside [0, width). Computing the
// range once per kernel tap keeps the bounds test out of the innermost loop.
struct ValidRange {
  int64_t lo, hi;
};
inline ValidRange valid_output_range(int64_t offset, int64_t stride, int64_t width, int64_t out_size) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = width - offset <= 0 ? 0 : (width - offset + stride - 1) / stride;
  lo = std::min(lo, out_size);
  hi = std::max(std::min(hi, out_size), lo);
  return {lo, hi};
}

// Note [Column padding]: rows of the column matrix exactly 4 KiB apart (32x32 output
// pixels) fall into the same L1 cache set, and OpenBLAS, which reads several rows at a time
// when it packs them, then misses the L1 on nearly every load: measured on the 2-core Zen
// VM for the 32-channel 3x3 layer of a CIFAR ResNet, sgemm of W[32 x 288] . col[288 x 1024]
// ran at 67-80 GFLOP/s with rows 1024 floats apart and 76-89 with 1040; the weight
// gradient's grad_out . col^T at 46-52 against 70-79; the input gradient's W^T . grad_out
// writing col at 61-75 against 81-87. One cache line of padding spreads the rows over sets.

// Writes the kH*kW rows of the column matrix that come from one input channel:
// row (i*kW + j), column (oh*OW + ow) = plane[oh*sH - pH + i*dH][ow*sW - pW + j*dW],
// zero where that position falls in the padding.
inline void im2col_channel(const float* plane, const ConvGeometry& g, float* rows) {
  const int64_t L = g.col_ld();
  for (int64_t i = 0; i < g.kernel_h; ++i) {
    for (int64_t j = 0; j < g.kernel_w; ++j) {
      float* row = rows + (i * g.kernel_w + j) * L;
      const int64_t col_offset = j * g.dil_w - g.pad_w;
      const ValidRange r = valid_output_range(col_offset, g.stride_w, g.in_w, g.out_w);
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        float* dst = row + oh * g.out_w;
        const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dil_h;
        if (ih < 0 || ih >= g.in_h) {
          std::memset(dst, 0, sizeof(float) * g.out_w);
          continue;
        }
        const float* src_row = plane + ih * g.in_w;
        for (int64_t ow = 0; ow < r.lo; ++ow) dst[ow] = 0.f;
        if (g.stride_w == 1) {
          if (r.hi > r.lo) std::memcpy(dst + r.lo, src_row + r.lo + col_offset, sizeof(float) * (r.hi - r.lo));
        } else {
          for (int64_t ow = r.lo; ow < r.hi; ++ow) dst[ow] = src_row[ow * g.stride_w + col_offset];
        }
        for (int64_t ow = r.hi; ow < g.out_w; ++ow) dst[ow] = 0.f;
      }
    }
  }
}

// The adjoint of im2col_channel: adds each column-matrix entry back onto the input
// position it was read from. `plane` must be zeroed (or hold what is to be added to).
inline void col2im_channel(const float* rows, const ConvGeometry& g, float* plane) {
  const int64_t L = g.col_ld();
  for (int64_t i = 0; i < g.kernel_h; ++i) {
    for (int64_t j = 0; j < g.kernel_w; ++j) {
      const float* row = rows + (i * g.kernel_w + j) * L;
      const int64_t col_offset = j * g.dil_w - g.pad_w;
      const ValidRange r = valid_output_range(col_offset, g.stride_w, g.in_w, g.out_w);
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const int64_t ih = oh * g.stride_h - g.pad_h + i * g.dil_h;
        if (ih < 0 || ih >= g.in_h) continue;
        const float* src = row + oh * g.out_w;
        float* dst_row = plane + ih * g.in_w;
        for (int64_t ow = r.lo; ow < r.hi; ++ow) dst_row[ow * g.stride_w + col_offset] += src[ow];
      }
    }
  }
}

}  // namespace nl::cpu
