// CPU conv2d kernels (forward, input gradient, weight gradient): im2col turns each image
// into a column matrix and OpenBLAS's sgemm does the arithmetic, one GEMM per group.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/backends/cpu/cpu_backend.h"
#include "engine/backends/cpu/im2col.h"

namespace nl {
namespace {

using cpu::ConvGeometry;

// Note [Conv threading]: there are two ways to use the cores, and mixing them badly
// oversubscribes (OpenBLAS here is the pthreads build, with its own thread pool).
// - Across images: each OpenMP thread takes whole images with its own workspace. Best
//   when each image's GEMMs are small, because OpenBLAS runs a GEMM with m*n*k at most
//   65536 * GEMM_MULTITHREAD_THRESHOLD (4 by default) on the calling thread anyway, and
//   when OpenBLAS is limited to one thread.
// - Within an image: images one after another; im2col/col2im split channels over OpenMP
//   threads and OpenBLAS threads each (large) GEMM.
// Tiny convolutions (and tiny im2col copies) stay on the calling thread altogether:
// waking the OpenMP team costs more than it saves there.
constexpr double kBlasSingleThreadMnk = 65536.0 * 4.0;
constexpr double kSplitBatchMinMnk = 1 << 17;
constexpr int64_t kParallelCopyMin = 1 << 15;

class BatchSchedule {
 public:
  BatchSchedule(const ConvGeometry& g) : batch_(g.batch) {
    const int threads = omp_get_max_threads();
    const double mnk = double(g.out_channels_per_group()) * double(g.patch_size()) * double(g.out_plane());
    const double total_mnk = mnk * double(g.groups) * double(g.batch);
    across_images_ = g.batch > 1 && threads > 1 && total_mnk >= kSplitBatchMinMnk &&
                     (openblas_get_num_threads() <= 1 || mnk <= kBlasSingleThreadMnk);
    slots_ = across_images_ ? int(std::min<int64_t>(threads, g.batch)) : 1;
  }

  // Number of per-thread workspaces the work needs.
  int slots() const { return slots_; }

  // Calls work(n, slot, parallel_inside) once for every image n; images given the same
  // slot run on the same thread, in increasing order. parallel_inside says whether the
  // work may open its own OpenMP loop (only when images are processed one at a time).
  template <class Work>
  void run(Work&& work) const {
    if (!across_images_) {
      for (int64_t n = 0; n < batch_; ++n) work(n, 0, true);
      return;
    }
#pragma omp parallel num_threads(slots_)
    {
      // A static split by hand: every thread of the team gets a non-empty, contiguous
      // range of images (the team may be smaller than requested).
      const int64_t team = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t begin = batch_ * t / team, end = batch_ * (t + 1) / team;
      for (int64_t n = begin; n < end; ++n) work(n, int(t), false);
    }
  }

 private:
  int64_t batch_;
  bool across_images_ = false;
  int slots_ = 1;
};

// Uninitialised scratch floats, allocated once per kernel call (never inside loops).
std::unique_ptr<float[]> scratch(int64_t count) {
  return std::unique_ptr<float[]>(new float[size_t(std::max<int64_t>(count, 1))]);
}

bool worth_parallel_copy(const ConvGeometry& g) { return g.in_channels > 1 && g.col_size() >= kParallelCopyMin; }

void im2col_image(const float* image, const ConvGeometry& g, float* col, bool parallel) {
  const int64_t rows_per_channel = g.kernel_area() * g.out_plane();
#pragma omp parallel for schedule(static) if (parallel && worth_parallel_copy(g))
  for (int64_t c = 0; c < g.in_channels; ++c)
    cpu::im2col_channel(image + c * g.in_plane(), g, col + c * rows_per_channel);
}

// Overwrites `image` with the col2im sum of `col` (each channel plane is zeroed first).
void col2im_image(const float* col, const ConvGeometry& g, float* image, bool parallel) {
  const int64_t rows_per_channel = g.kernel_area() * g.out_plane();
#pragma omp parallel for schedule(static) if (parallel && worth_parallel_copy(g))
  for (int64_t c = 0; c < g.in_channels; ++c) {
    float* plane = image + c * g.in_plane();
    std::memset(plane, 0, sizeof(float) * g.in_plane());
    cpu::col2im_channel(col + c * rows_per_channel, g, plane);
  }
}

// Row-major sgemm: C[m, n] = alpha * op(A) op(B) + beta * C.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
           int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(m), int(n),
              int(k), 1.0f, a, int(std::max<int64_t>(lda, 1)), b, int(std::max<int64_t>(ldb, 1)), beta, c,
              int(std::max<int64_t>(ldc, 1)));
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

  const int64_t Og = g.out_channels_per_group(), K = g.patch_size(), L = g.out_plane();
  const bool pointwise = g.is_pointwise();
  const BatchSchedule schedule(g);
  auto col_buffer = pointwise ? nullptr : scratch(schedule.slots() * g.col_size());

  schedule.run([&](int64_t n, int slot, bool parallel_inside) {
    const float* image = X + n * g.in_channels * g.in_plane();
    float* y = Y + n * g.out_channels * L;
    const float* col = image;  // pointwise: the image already is the column matrix
    if (!pointwise) {
      float* own = col_buffer.get() + slot * g.col_size();
      im2col_image(image, g, own, parallel_inside);
      col = own;
    }
    // The bias is written first and the GEMM adds onto it (beta = 1): one pass over y.
    if (B) {
      for (int64_t o = 0; o < g.out_channels; ++o) std::fill(y + o * L, y + (o + 1) * L, B[o]);
    }
    for (int64_t grp = 0; grp < g.groups; ++grp)
      sgemm(false, false, Og, L, K, W + grp * Og * K, K, col + grp * K * L, L, B ? 1.f : 0.f, y + grp * Og * L, L);
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

  const int64_t Og = g.out_channels_per_group(), K = g.patch_size(), L = g.out_plane();
  const bool pointwise = g.is_pointwise();
  const BatchSchedule schedule(g);
  auto col_buffer = pointwise ? nullptr : scratch(schedule.slots() * g.col_size());

  schedule.run([&](int64_t n, int slot, bool parallel_inside) {
    const float* go = GO + n * g.out_channels * L;
    float* gx = GX + n * g.in_channels * g.in_plane();
    // Pointwise: the column matrix is the input image, so the GEMM writes grad_x directly.
    float* col = pointwise ? gx : col_buffer.get() + slot * g.col_size();
    for (int64_t grp = 0; grp < g.groups; ++grp)
      sgemm(true, false, K, L, Og, W + grp * Og * K, K, go + grp * Og * L, L, 0.f, col + grp * K * L, L);
    if (!pointwise) col2im_image(col, g, gx, parallel_inside);
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

  const int64_t Og = g.out_channels_per_group(), K = g.patch_size(), L = g.out_plane();
  const bool pointwise = g.is_pointwise();
  const BatchSchedule schedule(g);
  auto col_buffer = pointwise ? nullptr : scratch(schedule.slots() * g.col_size());
  // Slot 0 accumulates straight into grad_w; other threads into private partial sums
  // that are added in at the end (no locking in the hot loop).
  auto partials = scratch((schedule.slots() - 1) * weight_numel);
  std::vector<char> slot_started(schedule.slots(), 0);

  schedule.run([&](int64_t n, int slot, bool parallel_inside) {
    const float* image = X + n * g.in_channels * g.in_plane();
    const float* go = GO + n * g.out_channels * L;
    const float* col = image;
    if (!pointwise) {
      float* own = col_buffer.get() + slot * g.col_size();
      im2col_image(image, g, own, parallel_inside);
      col = own;
    }
    float* acc = slot == 0 ? GW : partials.get() + (slot - 1) * weight_numel;
    const float beta = slot_started[slot] ? 1.f : 0.f;  // the first image overwrites
    for (int64_t grp = 0; grp < g.groups; ++grp)
      sgemm(false, true, Og, K, L, go + grp * Og * L, L, col + grp * K * L, L, beta, acc + grp * Og * K, K);
    slot_started[slot] = 1;
  });

  const float* partial = partials.get();
  const int slots = schedule.slots();
#pragma omp parallel for schedule(static) if (weight_numel > 16384)
  for (int64_t i = 0; i < weight_numel; ++i) {
    float s = GW[i];
    for (int t = 1; t < slots; ++t)
      if (slot_started[t]) s += partial[(t - 1) * weight_numel + i];
    GW[i] = s;
  }
}

}  // namespace nl
