// Private to the CPU convolution kernels: how a conv2d call spreads images over threads
// (see Note [Conv threading]), scratch buffers, a row-major sgemm wrapper, and the
// pixel-major kernels of conv_pixel_major.cpp.
#pragma once
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <memory>

#include "engine/backends/cpu/conv_direct.h"
#include "engine/backends/cpu/im2col.h"

namespace nl::cpu {

// Note [Conv threading]: with OpenMP-built OpenBLAS (openblas_get_parallel() == 2, what
// the build prefers) a GEMM inside an OpenMP team runs on its caller's thread, so images
// always go across threads. With the pthreads build, OpenBLAS has its own thread pool
// whose workers spin for a while after each GEMM. OpenMP loops run between threaded
// GEMMs fight those spinning workers for the cores (measured: 3-30x slower on a busy
// 2-core machine), so a kernel uses one of two plans and never mixes them:
// - Across images: OpenMP threads take whole images, each with its own workspace, and
//   every GEMM stays on its calling thread. Chosen when each GEMM is small enough that
//   OpenBLAS runs it single-threaded anyway (m*n*k at most 65536 *
//   GEMM_MULTITHREAD_THRESHOLD, 4 by default), or when OpenBLAS is limited to one thread.
// - Within an image: images one after another on the calling thread, im2col/col2im
//   included; OpenBLAS threads each (large) GEMM.
// Tiny convolutions stay on the calling thread altogether: waking the OpenMP team costs
// more than it saves there.
constexpr double kBlasSingleThreadMnk = 65536.0 * 4.0;
constexpr double kParallelMinWork = 1 << 17;

class BatchSchedule {
 public:
  explicit BatchSchedule(const ConvGeometry& g) : batch_(g.batch) {
    const int threads = omp_get_max_threads();
    const double mnk = double(g.out_channels_per_group()) * double(g.patch_size()) * double(g.out_plane());
    const double total_mnk = mnk * double(g.groups) * double(g.batch);
    across_images_ = g.batch > 1 && threads > 1 && total_mnk >= kParallelMinWork &&
                     (openblas_get_parallel() == 2 || openblas_get_num_threads() <= 1 || mnk <= kBlasSingleThreadMnk);
    slots_ = across_images_ ? int(std::min<int64_t>(threads, g.batch)) : 1;
  }

  // Number of per-thread workspaces the work needs.
  int slots() const { return slots_; }

  // Calls work(n, slot) once for every image n; images given the same slot run on the
  // same thread, in increasing order.
  template <class Work>
  void run(Work&& work) const {
    if (!across_images_) {
      for (int64_t n = 0; n < batch_; ++n) work(n, 0);
      return;
    }
#pragma omp parallel num_threads(slots_)
    {
      // A static split by hand: every thread of the team gets a non-empty, contiguous
      // range of images (the team may be smaller than requested).
      const int64_t team = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t begin = batch_ * t / team, end = batch_ * (t + 1) / team;
      for (int64_t n = begin; n < end; ++n) work(n, int(t));
    }
  }

 private:
  int64_t batch_;
  bool across_images_ = false;
  int slots_ = 1;
};

// Uninitialised scratch floats, allocated once per kernel call (never inside loops).
inline std::unique_ptr<float[]> scratch(int64_t count) {
  return std::unique_ptr<float[]>(new float[size_t(std::max<int64_t>(count, 1))]);
}

// Row-major sgemm: C[m, n] = alpha * op(A) op(B) + beta * C.
inline void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m), int(n),
              int(k), 1.0f, a, int(std::max<int64_t>(lda, 1)), b, int(std::max<int64_t>(ldb, 1)), beta, c,
              int(std::max<int64_t>(ldc, 1)));
}

// dst[c * ld_dst + r] = src[r * ld_src + c] for r < rows, c < cols.
void transpose(const float* src, int64_t rows, int64_t cols, int64_t ld_src, float* dst, int64_t ld_dst);
// C planes of P values [C][P] to channels-last [P][C], and back.
void to_channels_last(const float* src, int64_t C, int64_t P, float* dst);
void from_channels_last(const float* src, int64_t C, int64_t P, float* dst);

// Groups == 1 convolutions computed with the pixels as the GEMMs' long dimension (see
// Note [Pixel-major convolution] in conv_pixel_major.cpp). Same contracts as the
// CpuBackend entry points; `use_pixel_major` says when they are the faster choice.
bool use_pixel_major(const ConvGeometry& g);
void conv2d_pixel_major(const ConvGeometry& g, const float* X, const float* W, const float* B, float* Y);
void conv2d_backward_input_pixel_major(const ConvGeometry& g, const float* GO, const float* W, float* GX);
void conv2d_backward_weight_pixel_major(const ConvGeometry& g, const float* GO, const float* X, float* GW);

// Direct convolutions on channels-last padded images with register-blocked AVX-512 or
// AVX2 tiles (Note [Direct convolution] in conv_direct.cpp). `use_direct` says whether
// this CPU and this geometry can take the direct kernel for that pass.
enum class ConvPass { Forward, BackwardInput, BackwardWeight };
bool use_direct(const ConvGeometry& g, ConvPass pass);
void conv2d_direct(const ConvGeometry& g, const float* X, const float* W, const float* B, float* Y);
void conv2d_backward_input_direct(const ConvGeometry& g, const float* GO, const float* W, float* GX);
void conv2d_backward_weight_direct(const ConvGeometry& g, const float* GO, const float* X, float* GW);

}  // namespace nl::cpu
