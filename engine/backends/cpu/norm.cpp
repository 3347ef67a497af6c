// CPU kernels for batch normalisation and layer normalisation, forward and fused backward.
// Statistics take two passes (mean, then squared deviations), so a large common offset in
// the data does not cancel the variance away, and totals are kept in double.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/backends/cpu/cpu_backend.h"

namespace nl {
namespace {

// Below this many elements the OpenMP fork/join costs more than it saves.
constexpr int64_t kParallelElements = 1 << 15;

float* data_or_null(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

// x viewed as [N, C, S] (S = product of the trailing dims).
struct ChannelLayout {
  int64_t n, c, s;
  explicit ChannelLayout(const Tensor& x) : n(x.size(0)), c(x.size(1)), s(x.numel() / std::max<int64_t>(x.size(0) * x.size(1), 1)) {}
  int64_t per_channel() const { return n * s; }
  const float* plane(const float* base, int64_t i, int64_t ch) const { return base + (i * c + ch) * s; }
  float* plane(float* base, int64_t i, int64_t ch) const { return base + (i * c + ch) * s; }
};

// Note [Plane sums]: the per-channel sums below add each [H, W] plane in float (a loop the
// compiler vectorises four or eight wide) and the plane totals in double. Summing every
// element in double instead ran at half the width and made the batch-norm kernels
// compute-bound (3x slower on the ResNet benchmark's 32x32 planes); a float sum over one
// plane loses nothing that matters next to the float data it sums.

float plane_sum(const float* p, int64_t s) {
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 0; k < s; ++k) sum += p[k];
  return sum;
}

// Mean and biased variance of one channel, two-pass (mean, then squared deviations).
void channel_moments(const float* x, const ChannelLayout& L, int64_t ch, double& mean, double& var) {
  double sum = 0;
  for (int64_t i = 0; i < L.n; ++i) sum += plane_sum(L.plane(x, i, ch), L.s);
  const double count = static_cast<double>(L.per_channel());
  mean = sum / count;
  const float meanf = static_cast<float>(mean);
  double sq = 0;
  for (int64_t i = 0; i < L.n; ++i) {
    const float* p = L.plane(x, i, ch);
    float plane_sq = 0;
#pragma omp simd reduction(+ : plane_sq)
    for (int64_t k = 0; k < L.s; ++k) {
      const float d = p[k] - meanf;
      plane_sq += d * d;
    }
    sq += plane_sq;
  }
  // Deviations from the rounded mean: add back n·(mean - meanf)², which they miss.
  const double shift = mean - static_cast<double>(meanf);
  var = sq / count - shift * shift;
  var = var > 0 ? var : 0;
}

}  // namespace

namespace {

// Batch norm forward, with ReLU applied to the output when kRelu (one pass over the output
// instead of two: Backend::batch_norm_relu).
template <bool kRelu>
void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                        Tensor& running_var, bool training, double momentum, double eps, Tensor& out,
                        Tensor& save_mean, Tensor& save_invstd) {
  const ChannelLayout L(x);
  const float* xd = x.data<float>();
  const float* w = data_or_null(weight);
  const float* b = data_or_null(bias);
  float* rm = data_or_null(running_mean);
  float* rv = data_or_null(running_var);
  float* y = out.data<float>();
  float* sm = save_mean.data<float>();
  float* si = save_invstd.data<float>();
  const int64_t count = L.per_channel();

#pragma omp parallel for schedule(static) if (x.numel() > kParallelElements && L.c > 1)
  for (int64_t ch = 0; ch < L.c; ++ch) {
    double mean, var;
    if (training) {
      channel_moments(xd, L, ch, mean, var);
      if (rm) rm[ch] = static_cast<float>((1 - momentum) * rm[ch] + momentum * mean);
      if (rv) {
        double unbiased = count > 1 ? var * count / (count - 1) : var;
        rv[ch] = static_cast<float>((1 - momentum) * rv[ch] + momentum * unbiased);
      }
    } else {
      mean = rm[ch];
      var = rv[ch];
    }
    const double invstd = 1.0 / std::sqrt(var + eps);
    sm[ch] = static_cast<float>(mean);
    si[ch] = static_cast<float>(invstd);
    // y = (x - μ)·scale + shift. Subtracting μ first (rather than folding it into shift)
    // keeps precision when the data sit on a large offset.
    const float meanf = static_cast<float>(mean);
    // With ReLU, from the stored σ⁻¹, so the backward pass recomputes the same mask.
    const double used_invstd = kRelu ? static_cast<double>(si[ch]) : invstd;
    const float scale = static_cast<float>(used_invstd * (w ? w[ch] : 1.0));
    const float shift = b ? b[ch] : 0.0f;
    for (int64_t i = 0; i < L.n; ++i) {
      const float* p = L.plane(xd, i, ch);
      float* q = L.plane(y, i, ch);
      if constexpr (kRelu) {
        for (int64_t k = 0; k < L.s; ++k) q[k] = std::max((p[k] - meanf) * scale + shift, 0.0f);
      } else {
        for (int64_t k = 0; k < L.s; ++k) q[k] = (p[k] - meanf) * scale + shift;
      }
    }
  }
}

// Training: x̂ = (x - μ)·σ⁻¹ depends on every sample of the channel through μ and σ, so
//   dx = w·σ⁻¹·(g - mean(g) - x̂·mean(g·x̂)).
// Eval: μ and σ are constants (running stats), so dx = w·σ⁻¹·g.
// With kRelu the incoming gradient is that of relu(y): g is used where y > 0 and 0
// elsewhere, y recomputed from x as the forward computed it (no pass over a saved y).
template <bool kRelu>
void batch_norm_backward_impl(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const Tensor& save_mean, const Tensor& save_invstd, bool training, Tensor& grad_x,
                              Tensor& grad_weight, Tensor& grad_bias) {
  const ChannelLayout L(x);
  const float* g = grad_out.data<float>();
  const float* xd = x.data<float>();
  const float* w = data_or_null(weight);
  const float* sm = save_mean.data<float>();
  const float* si = save_invstd.data<float>();
  float* gx = data_or_null(grad_x);
  float* gw = data_or_null(grad_weight);
  float* gb = data_or_null(grad_bias);
  const float* bd = data_or_null(bias);
  const double count = static_cast<double>(L.per_channel());

#pragma omp parallel for schedule(static) if (x.numel() > kParallelElements && L.c > 1)
  for (int64_t ch = 0; ch < L.c; ++ch) {
    const double mean = sm[ch];
    const double invstd = si[ch];
    // sum(g) and sum(g·(x - μ)); the latter times σ⁻¹ is sum(g·x̂).
    // Plane sums in float, totals in double: Note [Plane sums].
    double sum_g = 0, sum_gxc = 0;
    const float meanf = static_cast<float>(mean);
    // The forward's output transform, for the ReLU mask.
    const float scale = static_cast<float>(invstd * (w ? w[ch] : 1.0));
    const float shift = bd ? bd[ch] : 0.0f;
    for (int64_t i = 0; i < L.n; ++i) {
      const float* gp = L.plane(g, i, ch);
      const float* xp = L.plane(xd, i, ch);
      float plane_g = 0, plane_gxc = 0;
#pragma omp simd reduction(+ : plane_g, plane_gxc)
      for (int64_t k = 0; k < L.s; ++k) {
        float gk = gp[k];
        if constexpr (kRelu) gk = (xp[k] - meanf) * scale + shift > 0.0f ? gk : 0.0f;
        plane_g += gk;
        plane_gxc += gk * (xp[k] - meanf);
      }
      sum_g += plane_g;
      sum_gxc += plane_gxc;
    }
    const double sum_gxhat = sum_gxc * invstd;
    if (gw) gw[ch] = static_cast<float>(sum_gxhat);
    if (gb) gb[ch] = static_cast<float>(sum_g);
    if (!gx) continue;
    const double wi = (w ? w[ch] : 1.0) * invstd;
    for (int64_t i = 0; i < L.n; ++i) {
      const float* gp = L.plane(g, i, ch);
      const float* xp = L.plane(xd, i, ch);
      float* out = L.plane(gx, i, ch);
      if (training) {
        // dx = wi·g - wi·σ⁻¹·mean(g·x̂)·(x - μ) - wi·mean(g), as a·g + b·(x - μ) + c.
        const float a = static_cast<float>(wi);
        const float bx = static_cast<float>(-wi * invstd * sum_gxhat / count);
        const float c = static_cast<float>(-wi * sum_g / count);
        for (int64_t k = 0; k < L.s; ++k) {
          float gk = gp[k];
          if constexpr (kRelu) gk = (xp[k] - meanf) * scale + shift > 0.0f ? gk : 0.0f;
          out[k] = a * gk + bx * (xp[k] - meanf) + c;
        }
      } else {
        const float a = static_cast<float>(wi);
        for (int64_t k = 0; k < L.s; ++k) {
          float gk = gp[k];
          if constexpr (kRelu) gk = (xp[k] - meanf) * scale + shift > 0.0f ? gk : 0.0f;
          out[k] = a * gk;
        }
      }
    }
  }
}

}  // namespace

void CpuBackend::batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                           Tensor& running_var, bool training, double momentum, double eps, Tensor& out,
                           Tensor& save_mean, Tensor& save_invstd) {
  batch_norm_forward<false>(x, weight, bias, running_mean, running_var, training, momentum, eps, out, save_mean,
                            save_invstd);
}

void CpuBackend::batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                    const Tensor& save_mean, const Tensor& save_invstd, bool training, double,
                                    Tensor& grad_x, Tensor& grad_weight, Tensor& grad_bias) {
  batch_norm_backward_impl<false>(grad_out, x, weight, Tensor(), save_mean, save_invstd, training, grad_x,
                                  grad_weight, grad_bias);
}

void CpuBackend::batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                                 Tensor& running_var, bool training, double momentum, double eps, Tensor& out,
                                 Tensor& save_mean, Tensor& save_invstd) {
  batch_norm_forward<true>(x, weight, bias, running_mean, running_var, training, momentum, eps, out, save_mean,
                           save_invstd);
}

void CpuBackend::batch_norm_relu_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                          const Tensor& bias, const Tensor& save_mean, const Tensor& save_invstd,
                                          bool training, Tensor& grad_x, Tensor& grad_weight, Tensor& grad_bias) {
  batch_norm_backward_impl<true>(grad_out, x, weight, bias, save_mean, save_invstd, training, grad_x, grad_weight,
                                 grad_bias);
}



void CpuBackend::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_numel,
                           double eps, Tensor& out, Tensor& mean, Tensor& rstd) {
  const int64_t d = normalized_numel;
  const int64_t rows = d > 0 ? x.numel() / d : 0;
  const float* xd = x.data<float>();
  const float* w = data_or_null(weight);
  const float* b = data_or_null(bias);
  float* y = out.data<float>();
  float* md = mean.data<float>();
  float* rd = rstd.data<float>();

#pragma omp parallel for schedule(static) if (x.numel() > kParallelElements && rows > 1)
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = xd + r * d;
    float* q = y + r * d;
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < d; ++k) sum += p[k];
    const double mu = sum / d;
    double sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t k = 0; k < d; ++k) {
      double dev = p[k] - mu;
      sq += dev * dev;
    }
    const double rs = 1.0 / std::sqrt(sq / d + eps);
    md[r] = static_cast<float>(mu);
    rd[r] = static_cast<float>(rs);
    const float muf = static_cast<float>(mu), rsf = static_cast<float>(rs);
    if (w && b) {
      for (int64_t k = 0; k < d; ++k) q[k] = (p[k] - muf) * rsf * w[k] + b[k];
    } else if (w) {
      for (int64_t k = 0; k < d; ++k) q[k] = (p[k] - muf) * rsf * w[k];
    } else if (b) {
      for (int64_t k = 0; k < d; ++k) q[k] = (p[k] - muf) * rsf + b[k];
    } else {
      for (int64_t k = 0; k < d; ++k) q[k] = (p[k] - muf) * rsf;
    }
  }
}

// Per row, with ĝ = g·w and x̂ = (x - μ)·ρ:  dx = ρ·(ĝ - mean(ĝ) - x̂·mean(ĝ·x̂)).
// dw = Σ_rows g·x̂ and db = Σ_rows g are column sums: each thread sums its rows into a
// private buffer, and the buffers are added at the end, so no two threads write one column.
void CpuBackend::layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                    const Tensor& mean, const Tensor& rstd, int64_t normalized_numel,
                                    Tensor& grad_x, Tensor& grad_weight, Tensor& grad_bias) {
  const int64_t d = normalized_numel;
  const int64_t rows = d > 0 ? x.numel() / d : 0;
  const float* g = grad_out.data<float>();
  const float* xd = x.data<float>();
  const float* w = data_or_null(weight);
  const float* md = mean.data<float>();
  const float* rd = rstd.data<float>();
  float* gx = data_or_null(grad_x);
  float* gw = data_or_null(grad_weight);
  float* gb = data_or_null(grad_bias);
  const bool column_sums = gw || gb;
  const bool parallel = x.numel() > kParallelElements && rows > 1;
  const int threads = parallel ? omp_get_max_threads() : 1;
  std::vector<double> partial_w(column_sums ? threads * d : 0, 0.0);
  std::vector<double> partial_b(column_sums ? threads * d : 0, 0.0);

#pragma omp parallel num_threads(threads) if (parallel)
  {
    const int tid = omp_get_thread_num();
    double* pw = column_sums ? partial_w.data() + tid * d : nullptr;
    double* pb = column_sums ? partial_b.data() + tid * d : nullptr;
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const float* gp = g + r * d;
      const float* xp = xd + r * d;
      const float mu = md[r], rs = rd[r];
      if (column_sums) {
        for (int64_t k = 0; k < d; ++k) {
          pw[k] += gp[k] * ((xp[k] - mu) * rs);
          pb[k] += gp[k];
        }
      }
      if (!gx) continue;
      double sum_gw = 0, sum_gw_xhat = 0;
#pragma omp simd reduction(+ : sum_gw, sum_gw_xhat)
      for (int64_t k = 0; k < d; ++k) {
        const float gwk = gp[k] * (w ? w[k] : 1.0f);
        sum_gw += gwk;
        sum_gw_xhat += gwk * ((xp[k] - mu) * rs);
      }
      const float mean_gw = static_cast<float>(sum_gw / d);
      const float mean_gw_xhat = static_cast<float>(sum_gw_xhat / d);
      float* out = gx + r * d;
      for (int64_t k = 0; k < d; ++k) {
        const float xhat = (xp[k] - mu) * rs;
        out[k] = rs * (gp[k] * (w ? w[k] : 1.0f) - mean_gw - xhat * mean_gw_xhat);
      }
    }
  }
  if (!column_sums) return;
  for (int64_t k = 0; k < d; ++k) {
    double sw = 0, sb = 0;
    for (int t = 0; t < threads; ++t) {
      sw += partial_w[t * d + k];
      sb += partial_b[t * d + k];
    }
    if (gw) gw[k] = static_cast<float>(sw);
    if (gb) gb[k] = static_cast<float>(sb);
  }
}

}  // namespace nl
