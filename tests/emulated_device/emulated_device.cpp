// The emulated GPU of emulated_device.h: a Backend for cuda:0 whose kernels check their
// tensors' device and run the CPU backend's kernels on host aliases of the same bytes.
#include "tests/emulated_device/emulated_device.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "engine/backends/backend.h"
#include "engine/backends/cpu/cpu_backend.h"
#include "engine/core/error.h"
#include "engine/core/storage.h"

namespace nl::testing {
namespace {

std::atomic<long> g_kernel_calls{0};
std::atomic<long long> g_memory_limit{0};  // 0: none
std::atomic<long long> g_out_of_memory_errors{0};
std::atomic<long> g_reduced_precision_calls{0};
std::atomic<long long> g_allocated{0};

// Host memory labelled as cuda:0, so Storage and Tensor report that device.
class EmulatedAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    const long long limit = g_memory_limit.load();
    if (limit > 0 && g_allocated.load() + static_cast<long long>(nbytes) > limit) {
      // As the CUDA allocator words it (engine/backends/cuda/cuda_allocator.cpp).
      ++g_out_of_memory_errors;
      auto mib = [](long long b) { return std::to_string(b / (1024 * 1024)) + " MiB"; };
      throw OutOfMemoryError("cuda:0 is out of memory: tried to allocate " + mib(static_cast<long long>(nbytes)) +
                             "; tensors hold " + mib(g_allocated.load()) + ", the GPU has " + mib(limit) +
                             " (emulated). Use a smaller batch or model, or free tensors you keep.");
    }
    void* p = std::aligned_alloc(64, (nbytes + 63) / 64 * 64);
    if (!p) throw OutOfMemoryError("cuda:0 (emulated) is out of memory: the host refused " + std::to_string(nbytes) + " bytes");
    g_allocated += static_cast<long long>(nbytes);
    return p;
  }
  void deallocate(void* ptr, size_t nbytes) override {
    g_allocated -= static_cast<long long>(nbytes);
    std::free(ptr);
  }
  Device device() const override { return Device::cuda(0); }
};

EmulatedAllocator& emulated_allocator() {
  static auto* a = new EmulatedAllocator;  // never destroyed: tensors may outlive the tests' objects
  return *a;
}

// A CPU tensor over the same bytes, shape, strides and offset as `t` (which must be on the
// emulated device: a host tensor reaching a device kernel is the bug this backend exists to
// catch). Undefined stays undefined (optional arguments).
Tensor host_alias(const Tensor& t, const char* kernel, const char* what) {
  if (!t.defined()) return t;
  NL_CHECK(t.device() == Device::cuda(0), "emulated cuda:0: kernel ", kernel, " got ", what, " on ",
           t.device().str(), " (", t.shape().str(), " ", dtype_name(t.dtype()),
           "); on a GPU this reads host memory from the device");
  auto storage = std::make_shared<Storage>(t.storage()->data(), t.storage()->nbytes(), Device::cpu(), t.storage());
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = t.shape();
  impl->strides = t.strides();
  impl->offset = t.offset();
  impl->dtype = t.dtype();
  return Tensor(std::move(impl));
}

// An output argument: the kernel writes through the alias into the device tensor's bytes.
// Kernels must not replace their outputs (the Backend contract: outputs are allocated by
// the op); one that did would leave the device tensor unwritten, so that fails here.
class Out {
 public:
  Out(Tensor& device_tensor, const char* kernel, const char* what)
      : device_(device_tensor), host_(host_alias(device_tensor, kernel, what)), kernel_(kernel), what_(what) {}
  ~Out() noexcept(false) {
    if (std::uncaught_exceptions() == 0 && device_.defined())
      NL_CHECK(host_.defined() && host_.storage()->data() == device_.storage()->data(), "emulated cuda:0: kernel ",
               kernel_, " replaced its output ", what_, " instead of writing it");
  }
  operator Tensor&() { return host_; }

 private:
  Tensor& device_;
  Tensor host_;
  const char* kernel_;
  const char* what_;
};

Backend& cpu() {
  ++g_kernel_calls;
  return cpu_backend();
}

// The CPU's matrix kernels are float32 only; a GPU's also take float64, float16 and bfloat16
// (cuBLAS/cuDNN accumulate in float32). The emulation computes those in float32 on host
// copies and rounds the result into the output's dtype, so autocast (bf16) runs end to end.
bool float32(const Tensor& t) { return !t.defined() || t.dtype() == DType::Float32; }
Tensor as_float32(const Tensor& host) {
  if (float32(host)) return host;
  Tensor f = Tensor::empty(host.shape(), DType::Float32);
  cpu_backend().copy(host, f);
  return f;
}
// Runs `kernel` writing a float32 version of `out` (holding out's values when `keep`), then
// rounds it into out.
template <class Kernel>
void into(Tensor& out_host, bool keep, Kernel kernel) {
  if (out_host.dtype() == DType::BFloat16 || out_host.dtype() == DType::Float16) ++g_reduced_precision_calls;
  if (float32(out_host)) return kernel(out_host);
  Tensor f = keep ? as_float32(out_host) : Tensor::empty(out_host.shape(), DType::Float32);
  kernel(f);
  cpu_backend().copy(f, out_host);
}

#define IN(t) host_alias(t, __func__, #t)
#define OUT(t) Out(t, __func__, #t)

class EmulatedBackend final : public Backend {
 public:
  Device device() const override { return Device::cuda(0); }
  Allocator* allocator() override { return &emulated_allocator(); }
  std::string graph_capture_blocker() const override {
    return "the emulated cuda:0 of tests without a GPU runs kernels as they are called; it cannot capture graphs";
  }
  DeviceMemoryStats memory_stats() override {
    DeviceMemoryStats s;
    s.allocated_bytes = s.reserved_bytes = g_allocated.load();
    s.device_total_bytes = g_memory_limit.load();
    s.device_free_bytes = s.device_total_bytes > 0 ? s.device_total_bytes - s.allocated_bytes : 0;
    s.out_of_memory_errors = g_out_of_memory_errors.load();
    return s;
  }

  void copy(const Tensor& src, Tensor& dst) override { cpu().copy(IN(src), OUT(dst)); }
  void copy_to_host(const Tensor& t, void* host) override { cpu().copy_to_host(IN(t), host); }
  void copy_from_host(const void* host, Tensor& t) override { cpu().copy_from_host(host, OUT(t)); }
  void fill(Tensor& dst, double value) override { cpu().fill(OUT(dst), value); }
  void arange(Tensor& dst, double start, double step) override { cpu().arange(OUT(dst), start, step); }
  void uniform(Tensor& dst, double low, double high, Generator& gen) override {
    cpu().uniform(OUT(dst), low, high, gen);
  }
  void normal(Tensor& dst, double mean, double std, Generator& gen) override { cpu().normal(OUT(dst), mean, std, gen); }

  void unary(UnaryOp op, const Tensor& x, Tensor& out, float alpha, float beta) override {
    cpu().unary(op, IN(x), OUT(out), alpha, beta);
  }
  void unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& y, Tensor& out, float alpha,
                      float beta) override {
    cpu().unary_backward(op, IN(grad), IN(x), IN(y), OUT(out), alpha, beta);
  }
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) override {
    cpu().binary(op, IN(a), IN(b), OUT(out));
  }
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) override {
    cpu().where(IN(cond), IN(a), IN(b), OUT(out));
  }
  void reduce(ReduceOp op, const Tensor& x, const std::vector<bool>& dims, Tensor& out) override {
    cpu().reduce(op, IN(x), dims, OUT(out));
  }
  void matmul(const Tensor& a, const Tensor& b, Tensor& out, bool accumulate) override {
    Tensor fa = as_float32(IN(a)), fb = as_float32(IN(b));
    into(OUT(out), accumulate, [&](Tensor& o) { cpu().matmul(fa, fb, o, accumulate); });
  }

  void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out, const Conv2dParams& p) override {
    Tensor fx = as_float32(IN(x)), fw = as_float32(IN(w)), fb = as_float32(IN(bias));
    into(OUT(out), false, [&](Tensor& o) { cpu().conv2d(fx, fw, fb, o, p); });
  }
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, Tensor& grad_x, const Conv2dParams& p) override {
    Tensor fg = as_float32(IN(grad_out)), fw = as_float32(IN(w));
    into(OUT(grad_x), false, [&](Tensor& o) { cpu().conv2d_backward_input(fg, fw, o, p); });
  }
  void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, Tensor& grad_w,
                              const Conv2dParams& p) override {
    Tensor fg = as_float32(IN(grad_out)), fx = as_float32(IN(x));
    into(OUT(grad_w), false, [&](Tensor& o) { cpu().conv2d_backward_weight(fg, fx, o, p); });
  }

  void max_pool2d(const Tensor& x, Tensor& out, Tensor& indices, const Pool2dParams& p) override {
    cpu().max_pool2d(IN(x), OUT(out), OUT(indices), p);
  }
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_x) override {
    cpu().max_pool2d_backward(IN(grad_out), IN(indices), OUT(grad_x));
  }
  void avg_pool2d(const Tensor& x, Tensor& out, const Pool2dParams& p) override {
    cpu().avg_pool2d(IN(x), OUT(out), p);
  }
  void avg_pool2d_backward(const Tensor& grad_out, Tensor& grad_x, const Pool2dParams& p) override {
    cpu().avg_pool2d_backward(IN(grad_out), OUT(grad_x), p);
  }

  void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                  Tensor& running_var, bool training, double momentum, double eps, Tensor& out, Tensor& save_mean,
                  Tensor& save_invstd) override {
    cpu().batch_norm(IN(x), IN(weight), IN(bias), OUT(running_mean), OUT(running_var), training, momentum, eps,
                     OUT(out), OUT(save_mean), OUT(save_invstd));
  }
  void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                           const Tensor& save_invstd, bool training, double eps, Tensor& grad_x, Tensor& grad_weight,
                           Tensor& grad_bias) override {
    cpu().batch_norm_backward(IN(grad_out), IN(x), IN(weight), IN(save_mean), IN(save_invstd), training, eps,
                              OUT(grad_x), OUT(grad_weight), OUT(grad_bias));
  }
  void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_numel, double eps,
                  Tensor& out, Tensor& mean, Tensor& rstd) override {
    cpu().layer_norm(IN(x), IN(weight), IN(bias), normalized_numel, eps, OUT(out), OUT(mean), OUT(rstd));
  }
  void layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& mean,
                           const Tensor& rstd, int64_t normalized_numel, Tensor& grad_x, Tensor& grad_weight,
                           Tensor& grad_bias) override {
    cpu().layer_norm_backward(IN(grad_out), IN(x), IN(weight), IN(mean), IN(rstd), normalized_numel, OUT(grad_x),
                              OUT(grad_weight), OUT(grad_bias));
  }

  void softmax(const Tensor& x, int dim, bool log, Tensor& out) override { cpu().softmax(IN(x), dim, log, OUT(out)); }
  void softmax_backward(const Tensor& grad_out, const Tensor& y, int dim, bool log, Tensor& grad_x) override {
    cpu().softmax_backward(IN(grad_out), IN(y), dim, log, OUT(grad_x));
  }
  void cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, double label_smoothing,
                     Tensor& losses, Tensor& lse) override {
    cpu().cross_entropy(IN(logits), IN(target), ignore_index, label_smoothing, OUT(losses), OUT(lse));
  }
  void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& scale,
                              int64_t ignore_index, double label_smoothing, Tensor& grad_logits) override {
    cpu().cross_entropy_backward(IN(logits), IN(target), IN(lse), IN(scale), ignore_index, label_smoothing,
                                 OUT(grad_logits));
  }

  void embedding(const Tensor& weight, const Tensor& indices, Tensor& out) override {
    cpu().embedding(IN(weight), IN(indices), OUT(out));
  }
  void embedding_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_weight) override {
    cpu().embedding_backward(IN(grad_out), IN(indices), OUT(grad_weight));
  }
  void gather(const Tensor& x, int dim, const Tensor& index, Tensor& out) override {
    cpu().gather(IN(x), dim, IN(index), OUT(out));
  }
  void scatter_add(const Tensor& grad_out, int dim, const Tensor& index, Tensor& grad_x) override {
    cpu().scatter_add(IN(grad_out), dim, IN(index), OUT(grad_x));
  }
  void dropout_mask(Tensor& mask, double p, Generator& gen) override { cpu().dropout_mask(OUT(mask), p, gen); }
};

#undef IN
#undef OUT

Backend* emulated_backend_for(int index) {
  static auto* backend = new EmulatedBackend;
  return index == 0 ? backend : nullptr;
}

}  // namespace

EmulatedDevice::EmulatedDevice() {
  if (backend_available(Device::cuda(0))) return;  // a real GPU: test on it
  register_backend(DeviceType::CUDA, &emulated_backend_for);
  emulated_ = true;
}

EmulatedDevice::~EmulatedDevice() {
  if (emulated_) register_backend(DeviceType::CUDA, nullptr);
}

long EmulatedDevice::kernel_calls() { return g_kernel_calls.load(); }
long EmulatedDevice::reduced_precision_calls() { return g_reduced_precision_calls.load(); }
long long EmulatedDevice::allocated_bytes() { return g_allocated.load(); }
void EmulatedDevice::set_memory_limit(long long bytes) { g_memory_limit = bytes; }

}  // namespace nl::testing
