// The Backend interface: one plain virtual function per kernel, implemented by cpu/ and
// (when the toolkit is found and a device answers) cuda/. Ops in engine/ops/ validate
// arguments, allocate outputs and call these; kernels never see autograd.
//
// Conventions for every kernel:
// - Inputs may have any strides (including 0 for broadcast views) for copy, elementwise,
//   reduction and matmul kernels. Kernels of the convolution, pooling, normalisation,
//   softmax/loss and indexing families receive contiguous inputs (their ops call contiguous()).
// - Outputs are freshly allocated, contiguous tensors of the right shape and dtype, unless
//   the kernel says it accumulates.
// - All tensors are on this backend's device.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace nl {

class Generator;
class CapturedGraph;  // engine/backends/graph_capture.h
namespace optim {
class FusedUpdateKernels;  // engine/optim/fused_updates.h
}

enum class UnaryOp : uint8_t {
  Neg, Exp, Log, Sqrt, Rsqrt, Abs, Relu, LeakyRelu /*alpha = slope*/, Sigmoid, Tanh,
  GeluErf, GeluTanh, Silu, Erf, PowScalar /*alpha = exponent*/, Clamp /*alpha = lo, beta = hi*/,
  AddScalar /*alpha*/, MulScalar /*alpha*/, RSubScalar /*alpha - x*/, Reciprocal, Square,
  Sign, Sin, Cos, Floor, Ceil, Round, LogicalNot, IsNan, Softplus
};

enum class BinaryOp : uint8_t {
  Add, Sub, Mul, Div, Maximum, Minimum, Pow, Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr
};

enum class ReduceOp : uint8_t { Sum, Mean, Max, Min, Prod, ArgMax, ArgMin };

// Memory use of a device's allocator (the CUDA caching allocator; zeros on the CPU).
struct DeviceMemoryStats {
  int64_t allocated_bytes = 0;       // held by live tensors (rounded to the allocator's size classes)
  int64_t reserved_bytes = 0;        // obtained from the driver (allocated + cached)
  int64_t peak_allocated_bytes = 0;  // highest allocated_bytes since start or reset
  int64_t device_total_bytes = 0;    // the device's memory, and what the driver says is free
  int64_t device_free_bytes = 0;
  int64_t allocations = 0;           // allocate() calls
  int64_t cache_hits = 0;            // of those, served from the cache
  int64_t driver_allocations = 0;    // cudaMalloc calls
  int64_t out_of_memory_errors = 0;  // times the driver refused even after the cache was freed
};

struct Conv2dParams {
  int64_t stride[2] = {1, 1};
  int64_t padding[2] = {0, 0};  // symmetric (top/bottom, left/right)
  int64_t dilation[2] = {1, 1};
  int64_t groups = 1;
};

struct Pool2dParams {
  int64_t kernel[2] = {2, 2};
  int64_t stride[2] = {2, 2};
  int64_t padding[2] = {0, 0};
  int64_t dilation[2] = {1, 1};  // max pool only
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg pool only
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;
  // What the device is, for people choosing one ("NVIDIA H200, 140 GiB"); the CPU's is "CPU".
  virtual std::string description() const { return device().is_cpu() ? "CPU" : device().str(); }
  virtual Allocator* allocator() = 0;
  // Waits until every queued kernel and copy on this device has finished (a no-op on the
  // CPU, whose kernels run synchronously); throws on an asynchronous device error.
  virtual void synchronize() {}
  virtual DeviceMemoryStats memory_stats() { return {}; }
  // Returns cached, unused device memory to the driver.
  virtual void empty_cache() {}
  // Multi-tensor optimiser and gradient-clipping kernels for this device, or null: then the
  // optimisers run tensor ops here (the CPU has its own fused loops in engine/optim/).
  virtual optim::FusedUpdateKernels* fused_updates() { return nullptr; }
  // Graph capture and replay (engine/backends/graph_capture.h, CUDA graphs): empty when this
  // device can capture, else why not; capture_graph fails unless it can.
  virtual std::string graph_capture_blocker() const { return device().str() + " cannot capture graphs"; }
  virtual std::unique_ptr<CapturedGraph> capture_graph(const std::function<void()>& work);
  virtual bool is_capturing() const { return false; }  // on this thread

  // ---- Memory ----
  // dst[i] = cast(src[i]); same shape, any strides on both sides, any dtypes.
  virtual void copy(const Tensor& src, Tensor& dst) = 0;
  // Whole-buffer copies between this device and host memory (contiguous `t`).
  virtual void copy_to_host(const Tensor& t, void* host) = 0;
  virtual void copy_from_host(const void* host, Tensor& t) = 0;
  virtual void fill(Tensor& dst, double value) = 0;
  virtual void arange(Tensor& dst, double start, double step) = 0;
  virtual void uniform(Tensor& dst, double low, double high, Generator& gen) = 0;
  virtual void normal(Tensor& dst, double mean, double std, Generator& gen) = 0;

  // ---- Elementwise ----
  virtual void unary(UnaryOp op, const Tensor& x, Tensor& out, float alpha, float beta) = 0;
  // out = grad * d op(x) / dx; `y` is the forward output (some rules use it), may be undefined.
  virtual void unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& y,
                              Tensor& out, float alpha, float beta) = 0;
  // a and b already broadcast (stride-0 views) to out's shape.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) = 0;
  // cond (Bool), a, b already broadcast to out's shape.
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) = 0;

  // ---- Reductions ----
  // Reduces the dims flagged in `reduce` (size x.dim()); out has those dims set to 1.
  virtual void reduce(ReduceOp op, const Tensor& x, const std::vector<bool>& reduce, Tensor& out) = 0;

  // ---- Linear algebra ----
  // out[b] = a[b] @ b[b] (+ out[b] when accumulate). a: [B,M,K], b: [B,K,N], out: [B,M,N]
  // contiguous. a and b may be transposed in their last two dims or broadcast over B (stride 0).
  virtual void matmul(const Tensor& a, const Tensor& b, Tensor& out, bool accumulate) = 0;

  // ---- Convolution (NCHW) ----
  virtual void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out,
                      const Conv2dParams& p) = 0;
  virtual void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, Tensor& grad_x,
                                     const Conv2dParams& p) = 0;
  virtual void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, Tensor& grad_w,
                                      const Conv2dParams& p) = 0;

  // ---- Pooling (NCHW) ----
  // indices (Int64, flat index into each H*W plane) are written for the backward pass.
  virtual void max_pool2d(const Tensor& x, Tensor& out, Tensor& indices, const Pool2dParams& p) = 0;
  virtual void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_x) = 0;
  virtual void avg_pool2d(const Tensor& x, Tensor& out, const Pool2dParams& p) = 0;
  virtual void avg_pool2d_backward(const Tensor& grad_out, Tensor& grad_x, const Pool2dParams& p) = 0;

  // ---- Normalisation ----
  // x: [N, C, *]. Training: uses batch statistics, writes save_mean/save_invstd ([C]) and
  // updates running stats in place (when defined) with `momentum`. Eval: running stats.
  // The backward pass gets the forward's eps too (save_invstd already holds it; libraries
  // such as cuDNN ask for it).
  virtual void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                          Tensor& running_var, bool training, double momentum, double eps, Tensor& out,
                          Tensor& save_mean, Tensor& save_invstd) = 0;
  virtual void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                   const Tensor& save_mean, const Tensor& save_invstd, bool training, double eps,
                                   Tensor& grad_x, Tensor& grad_weight, Tensor& grad_bias) = 0;
  // BatchNorm then ReLU in one kernel each way (the backward pass masks the gradient with
  // y > 0, y recomputed from x, weight and bias). Only backends that say so with
  // fuses_batch_norm_relu() implement them; for the others the op runs the two kernels.
  virtual bool fuses_batch_norm_relu() const { return false; }
  virtual void batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                               Tensor& running_var, bool training, double momentum, double eps, Tensor& out,
                               Tensor& save_mean, Tensor& save_invstd);
  virtual void batch_norm_relu_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                        const Tensor& bias, const Tensor& save_mean, const Tensor& save_invstd,
                                        bool training, Tensor& grad_x, Tensor& grad_weight, Tensor& grad_bias);
  // Normalises over the trailing `normalized_numel` elements; mean/rstd: [outer].
  virtual void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_numel,
                          double eps, Tensor& out, Tensor& mean, Tensor& rstd) = 0;
  virtual void layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, int64_t normalized_numel,
                                   Tensor& grad_x, Tensor& grad_weight, Tensor& grad_bias) = 0;

  // ---- Softmax and losses ----
  virtual void softmax(const Tensor& x, int dim, bool log, Tensor& out) = 0;
  virtual void softmax_backward(const Tensor& grad_out, const Tensor& y, int dim, bool log, Tensor& grad_x) = 0;
  // logits [N, C] (contiguous), target Int64 [N]. losses[i] (per sample, 0 where ignored);
  // lse[i] = logsumexp of row i (saved for backward).
  virtual void cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                             double label_smoothing, Tensor& losses, Tensor& lse) = 0;
  // grad_logits[i] = scale[i] * (softmax(row i) - smoothed one-hot(target i)); scale [N].
  virtual void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse,
                                      const Tensor& scale, int64_t ignore_index, double label_smoothing,
                                      Tensor& grad_logits) = 0;

  // ---- Indexing ----
  // out[i..., :] = weight[indices[i...], :]
  virtual void embedding(const Tensor& weight, const Tensor& indices, Tensor& out) = 0;
  // grad_weight (zeroed, contiguous) += scatter of grad_out rows by indices.
  virtual void embedding_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_weight) = 0;
  // out[...i...] = x[...index[...i...]...] along `dim` (torch.gather).
  virtual void gather(const Tensor& x, int dim, const Tensor& index, Tensor& out) = 0;
  // grad_x (zeroed, contiguous) += scatter of grad_out along dim by index.
  virtual void scatter_add(const Tensor& grad_out, int dim, const Tensor& index, Tensor& grad_x) = 0;

  // ---- Random ----
  // mask = (uniform >= p) * 1/(1-p), Float32.
  virtual void dropout_mask(Tensor& mask, double p, Generator& gen) = 0;
};

// The backend for a device; throws nl::Error when none is available for it.
Backend& backend_for(Device device);
// Registers a backend (the CUDA backend does this when a device is present).
void register_backend(DeviceType type, Backend* (*get)(int index));
bool backend_available(Device device);
// Why `device` has no backend ("this build of Netloom has no CUDA backend", the driver's
// message, "2 CUDA devices, no cuda:5"); empty when it has one.
std::string device_unavailable_reason(Device device);
// Free-function forms of the Backend calls above, for code that holds only a Device.
void synchronize(Device device);
DeviceMemoryStats memory_stats(Device device);
void empty_cache(Device device);
// Pinned (page-locked) host memory when a CUDA device answers, so host → device copies of
// batches run asynchronously; the plain CPU allocator otherwise.
Allocator* pinned_host_allocator();

}  // namespace nl
