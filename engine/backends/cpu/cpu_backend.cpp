// The CPU backend instance, thread settings, and its memory kernels (copy with casting,
// fill, arange, random fills, dropout masks).
#include "engine/backends/cpu/cpu_backend.h"

#include <cblas.h>
#include <omp.h>

#include <cstring>

#include "engine/backends/cpu/dispatch.h"
#include "engine/backends/cpu/strided_loop.h"
#include "engine/core/generator.h"

namespace nl {

CpuBackend& cpu_backend() {
  static CpuBackend backend;
  return backend;
}

void set_num_threads(int n) {
  NL_CHECK(n >= 1, "set_num_threads: need at least one thread, got ", n);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}
int num_threads() { return omp_get_max_threads(); }

void CpuBackend::copy(const Tensor& src, Tensor& dst) {
  NL_CHECK(src.shape() == dst.shape(), "copy: shapes differ: ", src.shape().str(), " → ", dst.shape().str());
  if (src.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    std::memcpy(dst.raw_data(), src.raw_data(), static_cast<size_t>(src.numel()) * src.element_size());
    return;
  }
  auto L = cpu::make_layout<2>(dst.shape(), {&dst.strides(), &src.strides()});
  cpu::dispatch_all(src.dtype(), [&](auto stag) {
    using S = typename decltype(stag)::type;
    cpu::dispatch_all(dst.dtype(), [&](auto dtag) {
      using D = typename decltype(dtag)::type;
      D* d = dst.data<D>();
      const S* s = src.data<S>();
      cpu::for_each_run<2>(L, [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
        D* dp = d + off[0];
        const S* sp = s + off[1];
        if (st[0] == 1 && st[1] == 1) {
          for (int64_t i = 0; i < n; ++i) dp[i] = cpu::convert<D>(sp[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) dp[i * st[0]] = cpu::convert<D>(sp[i * st[1]]);
        }
      });
    });
  });
}

void CpuBackend::copy_to_host(const Tensor& t, void* host) {
  std::memcpy(host, t.raw_data(), static_cast<size_t>(t.numel()) * t.element_size());
}
void CpuBackend::copy_from_host(const void* host, Tensor& t) {
  std::memcpy(t.raw_data(), host, static_cast<size_t>(t.numel()) * t.element_size());
}

void CpuBackend::fill(Tensor& dst, double value) {
  cpu::dispatch_all(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v = cpu::convert<T>(value);
    T* d = dst.data<T>();
    auto L = cpu::make_layout<1>(dst.shape(), {&dst.strides()});
    cpu::for_each_run<1>(L, [&](const std::array<int64_t, 1>& off, int64_t n, const std::array<int64_t, 1>& st) {
      for (int64_t i = 0; i < n; ++i) d[off[0] + i * st[0]] = v;
    });
  });
}

void CpuBackend::arange(Tensor& dst, double start, double step) {
  cpu::dispatch_all(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = dst.data<T>();
    for (int64_t i = 0; i < dst.numel(); ++i) d[i] = cpu::convert<T>(start + step * static_cast<double>(i));
  });
}

// Random fills draw sequentially from one generator so results depend only on the seed,
// not on the thread count.
void CpuBackend::uniform(Tensor& dst, double low, double high, Generator& gen) {
  NL_CHECK(dst.is_contiguous(), "uniform: destination must be contiguous");
  cpu::dispatch_all(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = dst.data<T>();
    double span = high - low;
    for (int64_t i = 0; i < dst.numel(); ++i) d[i] = cpu::convert<T>(low + span * gen.next_double());
  });
}

void CpuBackend::normal(Tensor& dst, double mean, double std, Generator& gen) {
  NL_CHECK(dst.is_contiguous(), "normal: destination must be contiguous");
  cpu::dispatch_all(dst.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* d = dst.data<T>();
    for (int64_t i = 0; i < dst.numel(); ++i) d[i] = cpu::convert<T>(mean + std * gen.next_normal());
  });
}

void CpuBackend::dropout_mask(Tensor& mask, double p, Generator& gen) {
  NL_CHECK(mask.dtype() == DType::Float32 && mask.is_contiguous(), "dropout: mask must be contiguous float32");
  float* m = mask.data<float>();
  float scale = static_cast<float>(1.0 / (1.0 - p));
  float threshold = static_cast<float>(p);
  for (int64_t i = 0; i < mask.numel(); ++i) m[i] = gen.next_float() >= threshold ? scale : 0.0f;
}

}  // namespace nl
