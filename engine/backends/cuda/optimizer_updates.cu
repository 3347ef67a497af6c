// Fused optimiser updates (SGD, Adam/AdamW, RMSprop) and the gradient-clipping kernels of
// the CUDA backend, launched over lists of tensors (Note [Multi-tensor launches] in
// optimizer_updates.h).
//
// Note [Same bits as the CPU loops]: nvcc contracts a * b + c into one FMA by default,
// which rounds once where the CPU loops (built without FMA) round twice. The update rules
// therefore spell every operation with the round-to-nearest intrinsics (__fmul_rn,
// __fadd_rn, __fdiv_rn, __fsqrt_rn), which are never contracted, in the order of
// engine/optim/update_kernels.cpp (itself PyTorch 1.13's order): one float operation per
// PyTorch op, the Python scalars computed in double on the host and rounded to float.
// `c * g * g` is (c * g) * g there, as in PyTorch's addcmul, and so it is here.
#include "engine/backends/cuda/optimizer_updates.h"

#include <cmath>
#include <map>
#include <string>
#include <utility>

#include "engine/backends/cuda/kernel_utils.cuh"
#include "engine/core/error.h"

namespace nl::cuda {
namespace {

constexpr int kMaxTensors = 32;       // tensors per launch
constexpr int kSlots = 5;             // tensors per parameter: param, grad and up to 3 buffers
constexpr int kBlock = 256;           // threads per block
constexpr int64_t kChunk = 8192;      // elements per block (32 per thread)
constexpr int64_t kMaxBlocksPerLaunch = int64_t{1} << 30;  // well inside gridDim.x's limit

// The kernel argument describing one launch: which tensors, and which blocks go to which
// tensor (blocks block_start[t] .. block_start[t + 1] - 1 cover tensor t, kChunk elements
// each). About 2 KB, inside the 4 KB of kernel parameters every architecture accepts.
struct TensorList {
  float* ptr[kSlots][kMaxTensors];
  int64_t numel[kMaxTensors];
  int32_t block_start[kMaxTensors + 1];
  float scalar[2][kMaxTensors];  // per-tensor scalars (Adam: step size, sqrt of bias correction 2)
  uint8_t flag[kMaxTensors];     // per-tensor flag (SGD: first momentum step)
  int32_t index[kMaxTensors];    // the tensor's position in the caller's list
  int count;
};
static_assert(sizeof(TensorList) <= 3584, "TensorList must leave room for the other kernel arguments");

// What a block works on: tensor `t`, elements [begin, end).
struct Span {
  int t;
  int64_t begin, end;
};

__device__ inline Span block_span(const TensorList& l) {
  const int b = static_cast<int>(blockIdx.x);
  int t = 0;
  while (t + 1 < l.count && b >= l.block_start[t + 1]) ++t;  // ≤ 32 steps, the same in every thread
  const int64_t begin = static_cast<int64_t>(b - l.block_start[t]) * kChunk;
  const int64_t end = begin + kChunk < l.numel[t] ? begin + kChunk : l.numel[t];
  return {t, begin, end};
}

// ---- Update rules (Note [Same bits as the CPU loops]) --------------------------------------

struct SgdArgs {
  float sign, weight_decay, momentum, keep, neg_lr;  // keep = 1 - dampening
  bool decay, use_momentum, nesterov;
};

__global__ void __launch_bounds__(kBlock) sgd_kernel(const TensorList l, const SgdArgs a) {
  const Span s = block_span(l);
  float* __restrict__ p = l.ptr[0][s.t];
  const float* __restrict__ g = l.ptr[1][s.t];
  float* __restrict__ buf = l.ptr[2][s.t];
  const bool first = l.flag[s.t] != 0;  // the buffer is uninitialised memory: write, never read
#pragma unroll 4
  for (int64_t i = s.begin + threadIdx.x; i < s.end; i += kBlock) {
    const float pi = p[i];
    float d = __fmul_rn(a.sign, g[i]);
    if (a.decay) d = __fadd_rn(d, __fmul_rn(a.weight_decay, pi));
    if (a.use_momentum) {
      const float b = first ? d : __fadd_rn(__fmul_rn(buf[i], a.momentum), __fmul_rn(a.keep, d));
      buf[i] = b;
      d = a.nesterov ? __fadd_rn(d, __fmul_rn(a.momentum, b)) : b;
    }
    p[i] = __fadd_rn(pi, __fmul_rn(a.neg_lr, d));
  }
}

struct AdamArgs {
  float sign, beta1, beta2, one_minus_beta1, one_minus_beta2, weight_decay, eps, shrink;
  bool l2_decay, decoupled_decay, amsgrad;
};

// Adam with step counts in device memory (graph replays): the bias corrections are worked
// out per block from the count, as the host does (in double, then rounded to float).
struct AdamDeviceSteps {
  const int64_t* steps;  // indexed by TensorList::index; null: the host's scalars
  double lr, beta1, beta2;
};

__global__ void __launch_bounds__(kBlock) adam_kernel(const TensorList l, const AdamArgs a, const AdamDeviceSteps d) {
  const Span s = block_span(l);
  float* __restrict__ p = l.ptr[0][s.t];
  const float* __restrict__ g = l.ptr[1][s.t];
  float* __restrict__ m = l.ptr[2][s.t];
  float* __restrict__ v = l.ptr[3][s.t];
  float* __restrict__ vmax = l.ptr[4][s.t];
  float neg_step = -l.scalar[0][s.t], bc2_sqrt = l.scalar[1][s.t];
  if (d.steps) {
    const double step = static_cast<double>(d.steps[l.index[s.t]]);
    neg_step = -static_cast<float>(d.lr / (1 - pow(d.beta1, step)));
    bc2_sqrt = static_cast<float>(sqrt(1 - pow(d.beta2, step)));
  }
#pragma unroll 4
  for (int64_t i = s.begin + threadIdx.x; i < s.end; i += kBlock) {
    float pi = p[i];
    float gi = __fmul_rn(a.sign, g[i]);
    if (a.decoupled_decay) pi = __fmul_rn(pi, a.shrink);
    if (a.l2_decay) gi = __fadd_rn(gi, __fmul_rn(a.weight_decay, pi));
    const float mi = __fadd_rn(__fmul_rn(m[i], a.beta1), __fmul_rn(a.one_minus_beta1, gi));
    const float vi = __fadd_rn(__fmul_rn(v[i], a.beta2), __fmul_rn(__fmul_rn(a.one_minus_beta2, gi), gi));
    m[i] = mi;
    v[i] = vi;
    float second = vi;
    if (a.amsgrad) {
      // torch.maximum: NaN in either operand gives NaN.
      const float old = vmax[i];
      second = (old > vi || old != old) ? old : vi;
      vmax[i] = second;
    }
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(second), bc2_sqrt), a.eps);
    p[i] = __fadd_rn(pi, __fmul_rn(neg_step, __fdiv_rn(mi, denom)));
  }
}

// One more step for each count (before the update that reads them).
__global__ void increment_steps_kernel(int64_t* steps, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) steps[i] += 1;
}

struct RmspropArgs {
  float sign, alpha, one_minus_alpha, weight_decay, eps, momentum, neg_lr;
  bool decay, centered, use_momentum;
};

__global__ void __launch_bounds__(kBlock) rmsprop_kernel(const TensorList l, const RmspropArgs a) {
  const Span s = block_span(l);
  float* __restrict__ p = l.ptr[0][s.t];
  const float* __restrict__ g = l.ptr[1][s.t];
  float* __restrict__ sq = l.ptr[2][s.t];
  float* __restrict__ ga = l.ptr[3][s.t];
  float* __restrict__ buf = l.ptr[4][s.t];
#pragma unroll 4
  for (int64_t i = s.begin + threadIdx.x; i < s.end; i += kBlock) {
    const float pi = p[i];
    float gi = __fmul_rn(a.sign, g[i]);
    if (a.decay) gi = __fadd_rn(gi, __fmul_rn(a.weight_decay, pi));
    const float si = __fadd_rn(__fmul_rn(sq[i], a.alpha), __fmul_rn(__fmul_rn(a.one_minus_alpha, gi), gi));
    sq[i] = si;
    float avg;
    if (a.centered) {
      const float gai = __fadd_rn(__fmul_rn(ga[i], a.alpha), __fmul_rn(a.one_minus_alpha, gi));
      ga[i] = gai;
      avg = __fsqrt_rn(__fadd_rn(si, __fmul_rn(-gai, gai)));  // addcmul(value=-1): (-1 · gai) · gai
    } else {
      avg = __fsqrt_rn(si);
    }
    avg = __fadd_rn(avg, a.eps);
    if (a.use_momentum) {
      const float b = __fadd_rn(__fmul_rn(buf[i], a.momentum), __fdiv_rn(gi, avg));
      buf[i] = b;
      p[i] = __fadd_rn(pi, __fmul_rn(a.neg_lr, b));
    } else {
      p[i] = __fadd_rn(pi, __fmul_rn(a.neg_lr, __fdiv_rn(gi, avg)));
    }
  }
}

// ---- Clipping --------------------------------------------------------------------------------

enum class PowerMode : int { Two, One, General, Inf };

// Larger of a and b; NaN wins (as torch.max, and the CPU loop of clip_grad.cpp).
__device__ inline double max_nan(double a, double b) { return (b > a || b != b) ? b : a; }

template <PowerMode Mode>
__device__ inline double combine(double a, double b) {
  if constexpr (Mode == PowerMode::Inf) return max_nan(a, b);
  else return a + b;
}

// Sum (or NaN-propagating max) over the block; the result is valid in thread 0. The order
// of combination is fixed, so the result does not vary from run to run.
template <PowerMode Mode>
__device__ double block_reduce(double v) {
  __shared__ double warp_results[kBlock / 32];
  for (int off = 16; off > 0; off >>= 1) v = combine<Mode>(v, __shfl_down_sync(0xffffffffu, v, off));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_results[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kBlock / 32 ? warp_results[lane] : 0.0;
    for (int off = 16; off > 0; off >>= 1) v = combine<Mode>(v, __shfl_down_sync(0xffffffffu, v, off));
  }
  return v;
}

// One partial per block: partials[first_block + blockIdx.x].
template <PowerMode Mode>
__global__ void __launch_bounds__(kBlock)
    power_sum_kernel(const TensorList l, double p, double* __restrict__ partials, int64_t first_block) {
  const Span s = block_span(l);
  const float* __restrict__ x = l.ptr[0][s.t];
  double acc = 0;
  for (int64_t i = s.begin + threadIdx.x; i < s.end; i += kBlock) {
    const double xi = static_cast<double>(x[i]);
    double term;
    if constexpr (Mode == PowerMode::Two) term = xi * xi;
    else if constexpr (Mode == PowerMode::One) term = fabs(xi);
    else term = fabs(xi);
    if constexpr (Mode == PowerMode::General) term = pow(term, p);
    acc = combine<Mode>(acc, term);
  }
  acc = block_reduce<Mode>(acc);
  if (threadIdx.x == 0) partials[first_block + blockIdx.x] = acc;
}

// One block: out[0] = combination of partials[0 .. n).
template <PowerMode Mode>
__global__ void __launch_bounds__(kBlock)
    combine_partials_kernel(const double* __restrict__ partials, int64_t n, double* __restrict__ out) {
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += kBlock) acc = combine<Mode>(acc, partials[i]);
  acc = block_reduce<Mode>(acc);
  if (threadIdx.x == 0) out[0] = acc;
}

__global__ void __launch_bounds__(kBlock) scale_kernel(const TensorList l, float factor) {
  const Span s = block_span(l);
  float* __restrict__ x = l.ptr[0][s.t];
#pragma unroll 4
  for (int64_t i = s.begin + threadIdx.x; i < s.end; i += kBlock) x[i] = __fmul_rn(x[i], factor);
}

__global__ void __launch_bounds__(kBlock) clamp_kernel(const TensorList l, float lo, float hi) {
  const Span s = block_span(l);
  float* __restrict__ x = l.ptr[0][s.t];
#pragma unroll 4
  for (int64_t i = s.begin + threadIdx.x; i < s.end; i += kBlock) {
    const float v = x[i];
    x[i] = v < lo ? lo : (v > hi ? hi : v);  // NaN fails both tests and stays NaN
  }
}

// ---- Host side -------------------------------------------------------------------------------

// One tensor's part of a launch.
struct Entry {
  float* ptr[kSlots] = {};
  int64_t numel = 0;
  float scalar[2] = {0, 0};
  uint8_t flag = 0;
  int32_t index = 0;
};

int64_t blocks_for(int64_t numel) { return (numel + kChunk - 1) / kChunk; }

// Packs `entries` (all on device `index`) into launches of at most kMaxTensors tensors and
// calls launch(list, blocks, stream, first_block) for each, on the device's compute stream.
// Empty tensors are skipped. first_block counts the blocks of the earlier launches.
template <class Launch>
void launch_lists(const std::vector<Entry>& entries, int index, const char* op, Launch&& launch) {
  DeviceGuard guard(index);
  cudaStream_t stream = compute_stream(index);
  TensorList list{};
  int64_t blocks = 0, first_block = 0;
  auto flush = [&] {
    if (list.count == 0) return;
    list.block_start[list.count] = static_cast<int32_t>(blocks);
    launch(list, static_cast<unsigned>(blocks), stream, first_block);
    NL_CUDA_CHECK_LAUNCH(op);
    first_block += blocks;
    list = TensorList{};
    blocks = 0;
  };
  for (const Entry& e : entries) {
    if (e.numel == 0) continue;
    const int64_t nb = blocks_for(e.numel);
    NL_CHECK(nb <= kMaxBlocksPerLaunch, op, ": a tensor of ", e.numel, " elements is too large for one launch");
    if (list.count == kMaxTensors || blocks + nb > kMaxBlocksPerLaunch) flush();
    const int t = list.count++;
    for (int k = 0; k < kSlots; ++k) list.ptr[k][t] = e.ptr[k];
    list.numel[t] = e.numel;
    list.block_start[t] = static_cast<int32_t>(blocks);
    list.scalar[0][t] = e.scalar[0];
    list.scalar[1][t] = e.scalar[1];
    list.flag[t] = e.flag;
    list.index[t] = e.index;
    blocks += nb;
  }
  flush();
}

// The CUDA device of the first parameter; throws unless it is on one.
int device_of(const Tensor& param, const char* op) {
  NL_CHECK(param.defined(), op, ": parameter 0 is an undefined tensor");
  NL_CHECK(param.device().is_cuda(), op, ": parameter 0 is on ", param.device().str(), ", expected a CUDA device");
  return param.device().index;
}

// "parameter 3" or "gradient of parameter 3", for messages.
std::string describe(const char* role, size_t i) {
  std::string what = std::string(role) == "parameter" ? "" : std::string(role) + " of ";
  return what + "parameter " + std::to_string(i);
}

// Throws unless `t` (the `role` of parameter i) can be updated in place by the kernels
// next to `param`.
void check_operand(const Tensor& t, const Tensor& param, int index, const char* op, const char* role, size_t i) {
  const std::string who = describe(role, i);
  NL_CHECK(t.defined(), op, ": ", who, " is an undefined tensor");
  NL_CHECK(t.device() == Device::cuda(index), op, ": ", who, " is on ", t.device().str(), ", expected cuda:", index);
  NL_CHECK(t.dtype() == DType::Float32, op, ": ", who, " is ", dtype_name(t.dtype()),
           "; the fused CUDA updates handle float32 only");
  NL_CHECK(t.is_contiguous(), op, ": ", who, " is not contiguous");
  NL_CHECK(t.shape() == param.shape(), op, ": ", who, " has shape ", t.shape().str(), " but the parameter has ",
           param.shape().str());
}

void check_counts(size_t params, size_t other, const char* op, const char* what) {
  NL_CHECK(other == params, op, ": ", params, " parameters but ", other, " ", what);
}

float* ptr_of(const Tensor& t) { return t.numel() == 0 ? nullptr : device_ptr<float>(t); }

}  // namespace

// ---- SGD -------------------------------------------------------------------------------------

void fused_sgd_multi(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                     std::vector<Tensor>& momentum_buffers, const optim::SgdHyper& h) {
  const char* op = "SGD step (CUDA)";
  check_counts(params.size(), grads.size(), op, "gradients");
  check_counts(params.size(), momentum_buffers.size(), op, "momentum buffers");
  if (params.empty()) return;
  const int index = device_of(params[0], op);
  const bool momentum = h.momentum != 0;
  // Every check before any change, so a step that throws leaves everything as it was.
  for (size_t i = 0; i < params.size(); ++i) {
    check_operand(params[i], params[i], index, op, "parameter", i);
    check_operand(grads[i], params[i], index, op, "gradient", i);
    if (momentum && momentum_buffers[i].defined())
      check_operand(momentum_buffers[i], params[i], index, op, "momentum buffer", i);
  }
  std::vector<Entry> entries(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    Entry& e = entries[i];
    if (momentum && !momentum_buffers[i].defined()) {
      // PyTorch's first step: the buffer becomes a copy of the direction (the kernel writes it).
      momentum_buffers[i] = Tensor::empty(params[i].shape(), DType::Float32, params[i].device());
      e.flag = 1;
    }
    e.ptr[0] = ptr_of(params[i]);
    e.ptr[1] = ptr_of(grads[i]);
    e.ptr[2] = momentum ? ptr_of(momentum_buffers[i]) : nullptr;
    e.numel = params[i].numel();
  }
  const SgdArgs a{.sign = h.maximize ? -1.0f : 1.0f,
                  .weight_decay = (float)h.weight_decay,
                  .momentum = (float)h.momentum,
                  .keep = (float)(1 - h.dampening),
                  .neg_lr = (float)-h.lr,
                  .decay = h.weight_decay != 0,
                  .use_momentum = momentum,
                  .nesterov = h.nesterov};
  launch_lists(entries, index, op, [&](const TensorList& l, unsigned blocks, cudaStream_t stream, int64_t) {
    sgd_kernel<<<blocks, kBlock, 0, stream>>>(l, a);
  });
}

void fused_sgd(Tensor& param, const Tensor& grad, Tensor& momentum_buffer, const optim::SgdHyper& h) {
  std::vector<Tensor> params{param}, grads{grad}, buffers{momentum_buffer};
  fused_sgd_multi(params, grads, buffers, h);
  momentum_buffer = buffers[0];
}

// ---- Adam / AdamW ----------------------------------------------------------------------------

namespace {
// `device_steps` undefined: the host's `steps`; else an Int64 tensor of one count per
// parameter on the device, incremented here and read by the kernel.
void adam_multi(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
                std::vector<Tensor>& exp_avg_sqs, std::vector<Tensor>& max_exp_avg_sqs,
                const std::vector<int64_t>& steps, Tensor* device_steps, const optim::AdamHyper& h) {
  const char* op = h.decoupled_weight_decay ? "AdamW step (CUDA)" : "Adam step (CUDA)";
  check_counts(params.size(), grads.size(), op, "gradients");
  check_counts(params.size(), exp_avgs.size(), op, "exp_avg buffers");
  check_counts(params.size(), exp_avg_sqs.size(), op, "exp_avg_sq buffers");
  if (!device_steps) check_counts(params.size(), steps.size(), op, "step counts");
  if (h.amsgrad) check_counts(params.size(), max_exp_avg_sqs.size(), op, "max_exp_avg_sq buffers");
  if (params.empty()) return;
  const int index = device_of(params[0], op);
  for (size_t i = 0; i < params.size(); ++i) {
    check_operand(params[i], params[i], index, op, "parameter", i);
    check_operand(grads[i], params[i], index, op, "gradient", i);
    check_operand(exp_avgs[i], params[i], index, op, "exp_avg", i);
    check_operand(exp_avg_sqs[i], params[i], index, op, "exp_avg_sq", i);
    if (h.amsgrad) check_operand(max_exp_avg_sqs[i], params[i], index, op, "max_exp_avg_sq", i);
    if (!device_steps)
      NL_CHECK(steps[i] >= 1, op, ": step count of parameter ", i, " is ", steps[i], "; steps count from 1");
  }
  std::vector<Entry> entries(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    Entry& e = entries[i];
    e.ptr[0] = ptr_of(params[i]);
    e.ptr[1] = ptr_of(grads[i]);
    e.ptr[2] = ptr_of(exp_avgs[i]);
    e.ptr[3] = ptr_of(exp_avg_sqs[i]);
    e.ptr[4] = h.amsgrad ? ptr_of(max_exp_avg_sqs[i]) : nullptr;
    e.numel = params[i].numel();
    e.index = static_cast<int32_t>(i);
    if (device_steps) continue;  // the kernel works the scalars out from the device's counts
    // As adam_scalars() in update_kernels.cpp: in double, then rounded to float.
    const double bc1 = 1 - std::pow(h.beta1, (double)steps[i]);
    const double bc2 = 1 - std::pow(h.beta2, (double)steps[i]);
    e.scalar[0] = (float)(h.lr / bc1);
    e.scalar[1] = (float)std::sqrt(bc2);
  }
  const bool decay = h.weight_decay != 0;
  const AdamArgs a{.sign = h.maximize ? -1.0f : 1.0f,
                   .beta1 = (float)h.beta1,
                   .beta2 = (float)h.beta2,
                   .one_minus_beta1 = (float)(1 - h.beta1),
                   .one_minus_beta2 = (float)(1 - h.beta2),
                   .weight_decay = (float)h.weight_decay,
                   .eps = (float)h.eps,
                   .shrink = (float)(1 - h.lr * h.weight_decay),
                   .l2_decay = decay && !h.decoupled_weight_decay,
                   .decoupled_decay = decay && h.decoupled_weight_decay,
                   .amsgrad = h.amsgrad};
  AdamDeviceSteps d{nullptr, h.lr, h.beta1, h.beta2};
  if (device_steps) {
    Tensor& counts = *device_steps;
    NL_CHECK(counts.dtype() == DType::Int64 && counts.is_contiguous() && counts.numel() == (int64_t)params.size() &&
                 counts.device() == params[0].device(),
             op, ": the device step counts must be ", params.size(), " contiguous int64 values on ",
             params[0].device().str(), ", got ", counts.str());
    d.steps = static_cast<const int64_t*>(static_cast<void*>(static_cast<char*>(counts.storage()->data()) +
                                                             counts.offset() * 8));
    DeviceGuard guard(index);
    const int64_t n = counts.numel();
    increment_steps_kernel<<<static_cast<unsigned>((n + 255) / 256), 256, 0, compute_stream(index)>>>(
        const_cast<int64_t*>(d.steps), n);
    NL_CUDA_CHECK_LAUNCH(op);
  }
  launch_lists(entries, index, op, [&](const TensorList& l, unsigned blocks, cudaStream_t stream, int64_t) {
    adam_kernel<<<blocks, kBlock, 0, stream>>>(l, a, d);
  });
}
}  // namespace

void fused_adam_multi(std::vector<Tensor>& params, const std::vector<Tensor>& grads, std::vector<Tensor>& exp_avgs,
                      std::vector<Tensor>& exp_avg_sqs, std::vector<Tensor>& max_exp_avg_sqs,
                      const std::vector<int64_t>& steps, const optim::AdamHyper& h) {
  adam_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, nullptr, h);
}

void fused_adam_multi_device_steps(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                                   std::vector<Tensor>& exp_avgs, std::vector<Tensor>& exp_avg_sqs,
                                   std::vector<Tensor>& max_exp_avg_sqs, Tensor& device_steps,
                                   const optim::AdamHyper& h) {
  adam_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, {}, &device_steps, h);
}



void fused_adam(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, Tensor& max_exp_avg_sq,
                const optim::AdamHyper& h) {
  std::vector<Tensor> params{param}, grads{grad}, m{exp_avg}, v{exp_avg_sq}, vmax{max_exp_avg_sq};
  fused_adam_multi(params, grads, m, v, vmax, {h.step}, h);
}

// ---- RMSprop ---------------------------------------------------------------------------------

void fused_rmsprop_multi(std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                         std::vector<Tensor>& square_avgs, std::vector<Tensor>& grad_avgs,
                         std::vector<Tensor>& momentum_buffers, const optim::RmspropHyper& h) {
  const char* op = "RMSprop step (CUDA)";
  const bool momentum = h.momentum > 0;
  check_counts(params.size(), grads.size(), op, "gradients");
  check_counts(params.size(), square_avgs.size(), op, "square_avg buffers");
  if (h.centered) check_counts(params.size(), grad_avgs.size(), op, "grad_avg buffers");
  if (momentum) check_counts(params.size(), momentum_buffers.size(), op, "momentum buffers");
  if (params.empty()) return;
  const int index = device_of(params[0], op);
  for (size_t i = 0; i < params.size(); ++i) {
    check_operand(params[i], params[i], index, op, "parameter", i);
    check_operand(grads[i], params[i], index, op, "gradient", i);
    check_operand(square_avgs[i], params[i], index, op, "square_avg", i);
    if (h.centered) check_operand(grad_avgs[i], params[i], index, op, "grad_avg", i);
    if (momentum) check_operand(momentum_buffers[i], params[i], index, op, "momentum buffer", i);
  }
  std::vector<Entry> entries(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    Entry& e = entries[i];
    e.ptr[0] = ptr_of(params[i]);
    e.ptr[1] = ptr_of(grads[i]);
    e.ptr[2] = ptr_of(square_avgs[i]);
    e.ptr[3] = h.centered ? ptr_of(grad_avgs[i]) : nullptr;
    e.ptr[4] = momentum ? ptr_of(momentum_buffers[i]) : nullptr;
    e.numel = params[i].numel();
  }
  const RmspropArgs a{.sign = h.maximize ? -1.0f : 1.0f,
                      .alpha = (float)h.alpha,
                      .one_minus_alpha = (float)(1 - h.alpha),
                      .weight_decay = (float)h.weight_decay,
                      .eps = (float)h.eps,
                      .momentum = (float)h.momentum,
                      .neg_lr = (float)-h.lr,
                      .decay = h.weight_decay != 0,
                      .centered = h.centered,
                      .use_momentum = momentum};
  launch_lists(entries, index, op, [&](const TensorList& l, unsigned blocks, cudaStream_t stream, int64_t) {
    rmsprop_kernel<<<blocks, kBlock, 0, stream>>>(l, a);
  });
}

void fused_rmsprop(Tensor& param, const Tensor& grad, Tensor& square_avg, Tensor& grad_avg, Tensor& momentum_buffer,
                   const optim::RmspropHyper& h) {
  std::vector<Tensor> params{param}, grads{grad}, sq{square_avg}, ga{grad_avg}, buf{momentum_buffer};
  fused_rmsprop_multi(params, grads, sq, ga, buf, h);
}

// ---- Clipping --------------------------------------------------------------------------------

namespace {

// The tensors of `tensors` grouped by CUDA device index, as kernel entries (slot 0).
std::map<int, std::vector<Entry>> entries_by_device(const std::vector<Tensor>& tensors, const char* op) {
  std::map<int, std::vector<Entry>> by_device;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    NL_CHECK(t.defined(), op, ": tensor ", i, " is undefined");
    NL_CHECK(t.device().is_cuda(), op, ": tensor ", i, " is on ", t.device().str(), ", expected a CUDA device");
    NL_CHECK(t.dtype() == DType::Float32, op, ": tensor ", i, " is ", dtype_name(t.dtype()),
             "; the fused CUDA kernels handle float32 only");
    NL_CHECK(t.is_contiguous(), op, ": tensor ", i, " is not contiguous");
    Entry e;
    e.ptr[0] = ptr_of(t);
    e.numel = t.numel();
    by_device[t.device().index].push_back(e);
  }
  return by_device;
}

template <PowerMode Mode>
double power_sum_on(const std::vector<Entry>& entries, int index, double p) {
  const char* op = "clip_grad_norm_ (CUDA)";
  int64_t total_blocks = 0;
  for (const Entry& e : entries) total_blocks += blocks_for(e.numel);
  if (total_blocks == 0) return 0.0;
  // Partials, then the combined value in the last slot: one allocation, one read back.
  Tensor scratch = Tensor::empty({total_blocks + 1}, DType::Float64, Device::cuda(index));
  double* partials = device_ptr<double>(scratch);
  launch_lists(entries, index, op, [&](const TensorList& l, unsigned blocks, cudaStream_t stream, int64_t first) {
    power_sum_kernel<Mode><<<blocks, kBlock, 0, stream>>>(l, p, partials, first);
  });
  DeviceGuard guard(index);
  cudaStream_t stream = compute_stream(index);
  combine_partials_kernel<Mode><<<1, kBlock, 0, stream>>>(partials, total_blocks, partials + total_blocks);
  NL_CUDA_CHECK_LAUNCH(op);
  double result = 0;
  NL_CUDA_CHECK(cudaMemcpyAsync(&result, partials + total_blocks, sizeof(double), cudaMemcpyDeviceToHost, stream), op);
  NL_CUDA_CHECK(cudaStreamSynchronize(stream), op);
  return result;
}

}  // namespace

double power_sum(const std::vector<Tensor>& tensors, double norm_type) {
  NL_CHECK(norm_type > 0, "clip_grad_norm_ (CUDA): norm_type must be > 0 or infinity, got ", norm_type);
  const bool inf = std::isinf(norm_type);
  double total = 0;
  for (const auto& [index, entries] : entries_by_device(tensors, "clip_grad_norm_ (CUDA)")) {
    double part;
    if (inf) part = power_sum_on<PowerMode::Inf>(entries, index, norm_type);
    else if (norm_type == 2) part = power_sum_on<PowerMode::Two>(entries, index, norm_type);
    else if (norm_type == 1) part = power_sum_on<PowerMode::One>(entries, index, norm_type);
    else part = power_sum_on<PowerMode::General>(entries, index, norm_type);
    total = inf ? ((part > total || part != part) ? part : total) : total + part;
  }
  return total;
}

void scale_(std::vector<Tensor>& tensors, double factor) {
  const char* op = "clip_grad_norm_ scaling (CUDA)";
  const float f = (float)factor;
  for (const auto& [index, entries] : entries_by_device(tensors, op)) {
    launch_lists(entries, index, op, [&](const TensorList& l, unsigned blocks, cudaStream_t stream, int64_t) {
      scale_kernel<<<blocks, kBlock, 0, stream>>>(l, f);
    });
  }
}

void clamp_abs_(std::vector<Tensor>& tensors, double limit) {
  const char* op = "clip_grad_value_ (CUDA)";
  const float hi = (float)limit, lo = -hi;  // beyond float range: inf, no clamping (as the CPU loop)
  for (const auto& [index, entries] : entries_by_device(tensors, op)) {
    launch_lists(entries, index, op, [&](const TensorList& l, unsigned blocks, cudaStream_t stream, int64_t) {
      clamp_kernel<<<blocks, kBlock, 0, stream>>>(l, lo, hi);
    });
  }
}

}  // namespace nl::cuda
