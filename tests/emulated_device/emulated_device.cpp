// The emulated GPU of emulated_device.h: a Backend for cuda:0 whose kernels check their
// tensors' device and run the CPU backend's kernels on host aliases of the same bytes.
#include "tests/emulated_device/emulated_device.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "engine/backends/backend.h"
#include "engine/backends/cpu/cpu_backend.h"
#include "engine/backends/graph_capture.h"
#include "engine/optim/fused_updates.h"
#include "engine/core/error.h"
#include "engine/core/storage.h"

namespace nl::testing {
namespace {

std::atomic<long> g_kernel_calls{0};
std::atomic<long long> g_memory_limit{0};  // 0: none
std::atomic<long long> g_out_of_memory_errors{0};
std::atomic<long> g_reduced_precision_calls{0};
std::atomic<long> g_captures{0};
std::atomic<long> g_replays{0};
std::atomic<long> g_host_waits{0};  // reads back and synchronisations: where a GPU's host waits
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
// the op); one that did would leave the device tensor unwritten, so check() fails then.
struct Output {
  Tensor alias;
  const void* bytes = nullptr;  // the device tensor's, or null when it is undefined
  const char* kernel = "";
  const char* what = "";
  void check() const {
    if (bytes)
      NL_CHECK(alias.defined() && alias.storage()->data() == bytes, "emulated cuda:0: kernel ", kernel,
               " replaced its output ", what, " instead of writing it");
  }
};
Output output(const Tensor& t, const char* kernel, const char* what) {
  return {host_alias(t, kernel, what), t.defined() ? t.storage()->data() : nullptr, kernel, what};
}

// ---- Graph capture ----------------------------------------------------------------------
// Note [Emulated graph capture]: while a thread captures, kernels are recorded instead of
// run, as a GPU queues them into a graph, and replay() runs the record. The host aliases a
// recorded kernel holds keep its tensors' memory alive for as long as the graph lives, as a
// CUDA graph's private memory pool does. What a GPU cannot capture is refused with an
// nl::Error, so the capture fails as it would there: reading device memory back, reading
// host memory into the device, random numbers (the seed would be frozen), synchronising.
class EmulatedGraph final : public CapturedGraph {
 public:
  std::vector<std::function<void()>> kernels;
  void replay() override {
    ++g_replays;
    for (auto& k : kernels) k();
  }
};
thread_local EmulatedGraph* t_capture = nullptr;

void refuse_while_capturing(const char* what) {
  NL_CHECK(t_capture == nullptr, "emulated cuda:0: ", what, " cannot be captured in a graph");
}

// Runs a kernel now, or records it while this thread captures.
void launch(std::function<void()> kernel) {
  ++g_kernel_calls;
  if (t_capture) {
    t_capture->kernels.push_back(std::move(kernel));
  } else {
    kernel();
  }
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
  if (float32(out_host)) return kernel(out_host);
  Tensor f = keep ? as_float32(out_host) : Tensor::empty(out_host.shape(), DType::Float32);
  kernel(f);
  cpu_backend().copy(f, out_host);
}
void count_precision(const Tensor& out) {
  if (out.dtype() == DType::BFloat16 || out.dtype() == DType::Float16) ++g_reduced_precision_calls;
}

// ---- Fused optimiser kernels ------------------------------------------------------------
// Offered when set_fused_updates(true): each update runs the CPU's fused loop
// (engine/optim/update_kernels.cpp) on host aliases, recorded like any kernel while
// capturing, so graphs replay optimiser steps as on a GPU. Adam's device step counts are
// read and advanced when the kernel runs, as the CUDA kernel does on the device.
std::atomic<bool> g_fused_updates{false};

std::vector<Tensor> aliases(const std::vector<Tensor>& ts, const char* kernel, const char* what) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(host_alias(t, kernel, what));
  return out;
}

class EmulatedFusedUpdates final : public optim::FusedUpdateKernels {
 public:
  void sgd(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& bufs,
           const optim::SgdHyper& h) override {
    // A first step with momentum creates the buffers (on the device) from the update direction.
    std::vector<bool> first(bufs.size());
    for (size_t i = 0; i < bufs.size(); ++i)
      if (h.momentum != 0 && !bufs[i].defined()) {
        first[i] = true;
        bufs[i] = Tensor::empty(params[i].shape(), params[i].dtype(), params[i].device());
      }
    launch([p = aliases(params, "sgd", "params"), g = aliases(grads, "sgd", "grads"),
            b = aliases(bufs, "sgd", "momentum_buffers"), first, h]() mutable {
      for (size_t i = 0; i < p.size(); ++i) {
        Tensor buf = first[i] ? Tensor() : b[i];
        optim::sgd_update(p[i], g[i], buf, h, optim::UpdateKernel::Auto);
        if (first[i]) cpu_backend().copy(buf, b[i]);
      }
    });
  }
  void adam(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& m,
            std::vector<Tensor>& v, std::vector<Tensor>& vmax, const std::vector<int64_t>& steps,
            const optim::AdamHyper& h) override {
    launch([p = aliases(params, "adam", "params"), g = aliases(grads, "adam", "grads"),
            m = aliases(m, "adam", "exp_avgs"), v = aliases(v, "adam", "exp_avg_sqs"),
            vmax = aliases(vmax, "adam", "max_exp_avg_sqs"), steps, h]() mutable {
      for (size_t i = 0; i < p.size(); ++i) {
        optim::AdamHyper hi = h;
        hi.step = steps[i];
        optim::adam_update(p[i], g[i], m[i], v[i], vmax[i], hi, optim::UpdateKernel::Auto);
      }
    });
  }
  void adam_device_steps(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& m,
                         std::vector<Tensor>& v, std::vector<Tensor>& vmax, Tensor& device_steps,
                         const optim::AdamHyper& h) override {
    launch([p = aliases(params, "adam", "params"), g = aliases(grads, "adam", "grads"),
            m = aliases(m, "adam", "exp_avgs"), v = aliases(v, "adam", "exp_avg_sqs"),
            vmax = aliases(vmax, "adam", "max_exp_avg_sqs"),
            counts = host_alias(device_steps, "adam", "device_steps"), h]() mutable {
      int64_t* step = counts.data<int64_t>();
      for (size_t i = 0; i < p.size(); ++i) {
        optim::AdamHyper hi = h;
        hi.step = ++step[i];  // advanced before it is read, as on the GPU
        optim::adam_update(p[i], g[i], m[i], v[i], vmax[i], hi, optim::UpdateKernel::Auto);
      }
    });
  }
  void rmsprop(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& sq,
               std::vector<Tensor>& ga, std::vector<Tensor>& bufs, const optim::RmspropHyper& h) override {
    launch([p = aliases(params, "rmsprop", "params"), g = aliases(grads, "rmsprop", "grads"),
            sq = aliases(sq, "rmsprop", "square_avgs"), ga = aliases(ga, "rmsprop", "grad_avgs"),
            b = aliases(bufs, "rmsprop", "momentum_buffers"), h]() mutable {
      for (size_t i = 0; i < p.size(); ++i) optim::rmsprop_update(p[i], g[i], sq[i], ga[i], b[i], h, optim::UpdateKernel::Auto);
    });
  }
  double power_sum(const std::vector<Tensor>& tensors, double p) override {
    refuse_while_capturing("reading a norm back");
    ++g_kernel_calls;
    ++g_host_waits;
    double total = 0;
    for (const Tensor& t : aliases(tensors, "power_sum", "tensors")) {
      const float* x = t.data<float>();
      for (int64_t i = 0; i < t.numel(); ++i) {
        const double a = std::fabs(static_cast<double>(x[i]));
        if (std::isinf(p)) total = (a > total || a != a) ? a : total;
        else total += p == 2 ? a * a : p == 1 ? a : std::pow(a, p);
      }
    }
    return total;
  }
  void scale_(std::vector<Tensor>& tensors, double factor) override {
    launch([ts = aliases(tensors, "scale_", "tensors"), f = static_cast<float>(factor)]() mutable {
      for (Tensor& t : ts)
        for (float *x = t.data<float>(), *end = x + t.numel(); x < end; ++x) *x *= f;
    });
  }
  void clamp_abs_(std::vector<Tensor>& tensors, double limit) override {
    launch([ts = aliases(tensors, "clamp_abs_", "tensors"), hi = static_cast<float>(limit)]() mutable {
      for (Tensor& t : ts)
        for (float *x = t.data<float>(), *end = x + t.numel(); x < end; ++x) *x = *x < -hi ? -hi : (*x > hi ? hi : *x);
    });
  }
};

#define IN(t) host_alias(t, __func__, #t)
#define OUT(t) output(t, __func__, #t)

class EmulatedBackend final : public Backend {
 public:
  Device device() const override { return Device::cuda(0); }
  std::string description() const override { return "emulated GPU (tests)"; }
  Allocator* allocator() override { return &emulated_allocator(); }
  void synchronize() override {
    refuse_while_capturing("waiting for the device");
    ++g_host_waits;
  }
  optim::FusedUpdateKernels* fused_updates() override {
    static EmulatedFusedUpdates kernels;
    return g_fused_updates ? &kernels : nullptr;
  }
  std::string graph_capture_blocker() const override { return {}; }
  std::unique_ptr<CapturedGraph> capture_graph(const std::function<void()>& work) override {
    NL_CHECK(t_capture == nullptr, "emulated cuda:0: this thread is already capturing a graph");
    auto graph = std::make_unique<EmulatedGraph>();
    t_capture = graph.get();
    try {
      work();
    } catch (...) {
      t_capture = nullptr;
      throw;
    }
    t_capture = nullptr;
    ++g_captures;
    return graph;
  }
  bool is_capturing() const override { return t_capture != nullptr; }
  DeviceMemoryStats memory_stats() override {
    DeviceMemoryStats s;
    s.allocated_bytes = s.reserved_bytes = g_allocated.load();
    s.device_total_bytes = g_memory_limit.load();
    s.device_free_bytes = s.device_total_bytes > 0 ? s.device_total_bytes - s.allocated_bytes : 0;
    s.out_of_memory_errors = g_out_of_memory_errors.load();
    return s;
  }

  void copy(const Tensor& src, Tensor& dst) override {
    launch([src = IN(src), dst = OUT(dst)]() mutable {
      cpu_backend().copy(src, dst.alias);
      dst.check();
    });
  }
  void copy_to_host(const Tensor& t, void* host) override {
    refuse_while_capturing("reading device memory back");
    ++g_host_waits;
    launch([t = IN(t), host] { cpu_backend().copy_to_host(t, host); });
  }
  void copy_from_host(const void* host, Tensor& t) override {
    refuse_while_capturing("a copy from host memory");
    launch([host, t = OUT(t)]() mutable {
      cpu_backend().copy_from_host(host, t.alias);
      t.check();
    });
  }
  void fill(Tensor& dst, double value) override {
    launch([dst = OUT(dst), value]() mutable {
      cpu_backend().fill(dst.alias, value);
      dst.check();
    });
  }
  void arange(Tensor& dst, double start, double step) override {
    launch([dst = OUT(dst), start, step]() mutable {
      cpu_backend().arange(dst.alias, start, step);
      dst.check();
    });
  }
  // Random numbers run at once: they are refused while capturing.
  void uniform(Tensor& dst, double low, double high, Generator& gen) override {
    refuse_while_capturing("drawing random numbers");
    launch([&gen, dst = OUT(dst), low, high]() mutable { cpu_backend().uniform(dst.alias, low, high, gen); });
  }
  void normal(Tensor& dst, double mean, double std, Generator& gen) override {
    refuse_while_capturing("drawing random numbers");
    launch([&gen, dst = OUT(dst), mean, std]() mutable { cpu_backend().normal(dst.alias, mean, std, gen); });
  }
  void dropout_mask(Tensor& mask, double p, Generator& gen) override {
    refuse_while_capturing("drawing random numbers (dropout)");
    launch([&gen, mask = OUT(mask), p]() mutable { cpu_backend().dropout_mask(mask.alias, p, gen); });
  }

  void unary(UnaryOp op, const Tensor& x, Tensor& out, float alpha, float beta) override {
    launch([op, x = IN(x), out = OUT(out), alpha, beta]() mutable {
      cpu_backend().unary(op, x, out.alias, alpha, beta);
      out.check();
    });
  }
  void unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& y, Tensor& out, float alpha,
                      float beta) override {
    launch([op, grad = IN(grad), x = IN(x), y = IN(y), out = OUT(out), alpha, beta]() mutable {
      cpu_backend().unary_backward(op, grad, x, y, out.alias, alpha, beta);
      out.check();
    });
  }
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) override {
    launch([op, a = IN(a), b = IN(b), out = OUT(out)]() mutable {
      cpu_backend().binary(op, a, b, out.alias);
      out.check();
    });
  }
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) override {
    launch([cond = IN(cond), a = IN(a), b = IN(b), out = OUT(out)]() mutable {
      cpu_backend().where(cond, a, b, out.alias);
      out.check();
    });
  }
  void reduce(ReduceOp op, const Tensor& x, const std::vector<bool>& dims, Tensor& out) override {
    launch([op, x = IN(x), dims, out = OUT(out)]() mutable {
      cpu_backend().reduce(op, x, dims, out.alias);
      out.check();
    });
  }
  void matmul(const Tensor& a, const Tensor& b, Tensor& out, bool accumulate) override {
    count_precision(out);
    launch([a = IN(a), b = IN(b), out = OUT(out), accumulate]() mutable {
      Tensor fa = as_float32(a), fb = as_float32(b);
      into(out.alias, accumulate, [&](Tensor& o) { cpu_backend().matmul(fa, fb, o, accumulate); });
      out.check();
    });
  }

  void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out, const Conv2dParams& p) override {
    count_precision(out);
    launch([x = IN(x), w = IN(w), bias = IN(bias), out = OUT(out), p]() mutable {
      Tensor fx = as_float32(x), fw = as_float32(w), fb = as_float32(bias);
      into(out.alias, false, [&](Tensor& o) { cpu_backend().conv2d(fx, fw, fb, o, p); });
      out.check();
    });
  }
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, Tensor& grad_x, const Conv2dParams& p) override {
    count_precision(grad_x);
    launch([g = IN(grad_out), w = IN(w), gx = OUT(grad_x), p]() mutable {
      Tensor fg = as_float32(g), fw = as_float32(w);
      into(gx.alias, false, [&](Tensor& o) { cpu_backend().conv2d_backward_input(fg, fw, o, p); });
      gx.check();
    });
  }
  void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, Tensor& grad_w,
                              const Conv2dParams& p) override {
    count_precision(grad_w);
    launch([g = IN(grad_out), x = IN(x), gw = OUT(grad_w), p]() mutable {
      Tensor fg = as_float32(g), fx = as_float32(x);
      into(gw.alias, false, [&](Tensor& o) { cpu_backend().conv2d_backward_weight(fg, fx, o, p); });
      gw.check();
    });
  }

  void max_pool2d(const Tensor& x, Tensor& out, Tensor& indices, const Pool2dParams& p) override {
    launch([x = IN(x), out = OUT(out), idx = OUT(indices), p]() mutable {
      cpu_backend().max_pool2d(x, out.alias, idx.alias, p);
      out.check();
      idx.check();
    });
  }
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_x) override {
    launch([g = IN(grad_out), idx = IN(indices), gx = OUT(grad_x)]() mutable {
      cpu_backend().max_pool2d_backward(g, idx, gx.alias);
      gx.check();
    });
  }
  void avg_pool2d(const Tensor& x, Tensor& out, const Pool2dParams& p) override {
    launch([x = IN(x), out = OUT(out), p]() mutable {
      cpu_backend().avg_pool2d(x, out.alias, p);
      out.check();
    });
  }
  void avg_pool2d_backward(const Tensor& grad_out, Tensor& grad_x, const Pool2dParams& p) override {
    launch([g = IN(grad_out), gx = OUT(grad_x), p]() mutable {
      cpu_backend().avg_pool2d_backward(g, gx.alias, p);
      gx.check();
    });
  }

  void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                  Tensor& running_var, bool training, double momentum, double eps, Tensor& out, Tensor& save_mean,
                  Tensor& save_invstd) override {
    launch([x = IN(x), w = IN(weight), b = IN(bias), rm = OUT(running_mean), rv = OUT(running_var), training,
            momentum, eps, out = OUT(out), sm = OUT(save_mean), si = OUT(save_invstd)]() mutable {
      cpu_backend().batch_norm(x, w, b, rm.alias, rv.alias, training, momentum, eps, out.alias, sm.alias, si.alias);
      for (const Output* o : {&rm, &rv, &out, &sm, &si}) o->check();
    });
  }
  void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                           const Tensor& save_invstd, bool training, double eps, Tensor& grad_x, Tensor& grad_weight,
                           Tensor& grad_bias) override {
    launch([g = IN(grad_out), x = IN(x), w = IN(weight), sm = IN(save_mean), si = IN(save_invstd), training, eps,
            gx = OUT(grad_x), gw = OUT(grad_weight), gb = OUT(grad_bias)]() mutable {
      cpu_backend().batch_norm_backward(g, x, w, sm, si, training, eps, gx.alias, gw.alias, gb.alias);
      for (const Output* o : {&gx, &gw, &gb}) o->check();
    });
  }
  void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_numel, double eps,
                  Tensor& out, Tensor& mean, Tensor& rstd) override {
    launch([x = IN(x), w = IN(weight), b = IN(bias), normalized_numel, eps, out = OUT(out), mean = OUT(mean),
            rstd = OUT(rstd)]() mutable {
      cpu_backend().layer_norm(x, w, b, normalized_numel, eps, out.alias, mean.alias, rstd.alias);
      for (const Output* o : {&out, &mean, &rstd}) o->check();
    });
  }
  void layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& mean,
                           const Tensor& rstd, int64_t normalized_numel, Tensor& grad_x, Tensor& grad_weight,
                           Tensor& grad_bias) override {
    launch([g = IN(grad_out), x = IN(x), w = IN(weight), mean = IN(mean), rstd = IN(rstd), normalized_numel,
            gx = OUT(grad_x), gw = OUT(grad_weight), gb = OUT(grad_bias)]() mutable {
      cpu_backend().layer_norm_backward(g, x, w, mean, rstd, normalized_numel, gx.alias, gw.alias, gb.alias);
      for (const Output* o : {&gx, &gw, &gb}) o->check();
    });
  }

  void softmax(const Tensor& x, int dim, bool log, Tensor& out) override {
    launch([x = IN(x), dim, log, out = OUT(out)]() mutable {
      cpu_backend().softmax(x, dim, log, out.alias);
      out.check();
    });
  }
  void softmax_backward(const Tensor& grad_out, const Tensor& y, int dim, bool log, Tensor& grad_x) override {
    launch([g = IN(grad_out), y = IN(y), dim, log, gx = OUT(grad_x)]() mutable {
      cpu_backend().softmax_backward(g, y, dim, log, gx.alias);
      gx.check();
    });
  }
  void cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, double label_smoothing,
                     Tensor& losses, Tensor& lse) override {
    launch([logits = IN(logits), target = IN(target), ignore_index, label_smoothing, losses = OUT(losses),
            lse = OUT(lse)]() mutable {
      cpu_backend().cross_entropy(logits, target, ignore_index, label_smoothing, losses.alias, lse.alias);
      losses.check();
      lse.check();
    });
  }
  void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& scale,
                              int64_t ignore_index, double label_smoothing, Tensor& grad_logits) override {
    launch([logits = IN(logits), target = IN(target), lse = IN(lse), scale = IN(scale), ignore_index,
            label_smoothing, g = OUT(grad_logits)]() mutable {
      cpu_backend().cross_entropy_backward(logits, target, lse, scale, ignore_index, label_smoothing, g.alias);
      g.check();
    });
  }

  void embedding(const Tensor& weight, const Tensor& indices, Tensor& out) override {
    launch([w = IN(weight), idx = IN(indices), out = OUT(out)]() mutable {
      cpu_backend().embedding(w, idx, out.alias);
      out.check();
    });
  }
  void embedding_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_weight) override {
    launch([g = IN(grad_out), idx = IN(indices), gw = OUT(grad_weight)]() mutable {
      cpu_backend().embedding_backward(g, idx, gw.alias);
      gw.check();
    });
  }
  void gather(const Tensor& x, int dim, const Tensor& index, Tensor& out) override {
    launch([x = IN(x), dim, idx = IN(index), out = OUT(out)]() mutable {
      cpu_backend().gather(x, dim, idx, out.alias);
      out.check();
    });
  }
  void scatter_add(const Tensor& grad_out, int dim, const Tensor& index, Tensor& grad_x) override {
    launch([g = IN(grad_out), dim, idx = IN(index), gx = OUT(grad_x)]() mutable {
      cpu_backend().scatter_add(g, dim, idx, gx.alias);
      gx.check();
    });
  }
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
long EmulatedDevice::graphs_captured() { return g_captures.load(); }
long EmulatedDevice::graph_replays() { return g_replays.load(); }
long EmulatedDevice::host_waits() { return g_host_waits.load(); }
void EmulatedDevice::set_fused_updates(bool on) { g_fused_updates = on; }
long long EmulatedDevice::allocated_bytes() { return g_allocated.load(); }
void EmulatedDevice::set_memory_limit(long long bytes) { g_memory_limit = bytes; }

}  // namespace nl::testing
