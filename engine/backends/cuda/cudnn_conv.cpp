// CudaBackend's conv2d kernels (forward with bias, input gradient, weight gradient) through
// cuDNN's legacy convolution API: NCHW tensors, OIHW filters, groups, stride, padding and
// dilation. Float32 (TF32 tensor cores per allow_tf32()), float64, float16 and bfloat16
// (float compute).
//
// Note [Conv algorithms]: the first call for a given (pass, shapes, params, dtype, TF32)
// runs cudnnFind*AlgorithmEx on the real buffers, which times every algorithm that fits a
// trial workspace; the successful ones, fastest first, are cached for the process. Each
// call then takes the first algorithm whose workspace the caching allocator can give; when
// it cannot (OutOfMemoryError), the next, slower one — so a convolution that fits in memory
// at all still runs. When the search itself runs out of memory or finds nothing, cuDNN's
// heuristics (cudnnGet*Algorithm_v7) give the list instead. The math type of each result is set on the descriptor before running:
// with TF32 off a float32 convolution is always pinned to CUDNN_FMA_MATH.
//
// Note [Large convolutions]: the legacy API takes int sizes and at most 2^31 - 1 elements
// per tensor, so a batch whose input or output is larger runs in chunks of images (the
// weight gradient accumulating over the chunks with beta = 1).
#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backends/cuda/channel_kernels.h"
#include "engine/backends/cuda/cuda_backend.h"
#include "engine/backends/cuda/cuda_check.h"
#include "engine/backends/cuda/cuda_context.h"
#include "engine/backends/cuda/cudnn_common.h"
#include "engine/core/math_settings.h"
#include "engine/core/storage.h"

namespace nl::cuda {
namespace {

enum class Pass { Forward = 0, BackwardData = 1, BackwardFilter = 2 };

const char* pass_op(Pass pass) {
  switch (pass) {
    case Pass::Forward: return "conv2d";
    case Pass::BackwardData: return "conv2d_backward_input";
    case Pass::BackwardFilter: return "conv2d_backward_weight";
  }
  return "conv2d";
}

char* device_bytes(const Tensor& t) {
  return static_cast<char*>(t.storage()->data()) + t.offset() * static_cast<int64_t>(t.element_size());
}

// The geometry of one convolution: x [n, c, h, w], weight [o, c / groups, kh, kw],
// y [n, o, oh, ow]. Sizes come from the tensors the op allocated.
struct Geometry {
  int64_t n, c, h, w, o, cg, kh, kw, oh, ow;
  static Geometry from(const Shape& x, const Shape& wt, const Shape& y) {
    return {x[0], x[1], x[2], x[3], wt[0], wt[1], wt[2], wt[3], y[2], y[3]};
  }
  int64_t in_image() const { return c * h * w; }
  int64_t out_image() const { return o * oh * ow; }
};

int to_int(int64_t v, const char* op, const char* what) {
  NL_CHECK(v >= 0 && v <= INT_MAX, op, ": ", what, " (", v, ") exceeds cuDNN's 32-bit limit");
  return static_cast<int>(v);
}

// Images per cuDNN call (Note [Large convolutions]).
int64_t images_per_call(const Geometry& g, const char* op) {
  const int64_t per_image = std::max<int64_t>({g.in_image(), g.out_image(), 1});
  NL_CHECK(per_image <= INT_MAX, op, ": one image of the input or output has ", per_image,
           " elements, more than cuDNN's 32-bit limit");
  NL_CHECK(g.o * g.cg * g.kh * g.kw <= INT_MAX, op, ": the weight has more elements than cuDNN's 32-bit limit");
  return std::max<int64_t>(std::min<int64_t>(g.n, INT_MAX / per_image), 1);
}

struct Precision {
  cudnnDataType_t data;
  cudnnDataType_t compute;
  cudnnMathType_t math;  // requested before the search
  bool pin_fma;          // float32 with TF32 off: never tensor-op math
};

Precision precision_for(DType t, const char* op) {
  const cudnnDataType_t data = cudnn_data_type(t, op);
  switch (t) {
    case DType::Float32:
      // Note [TF32] in engine/core/math_settings.h: CUDNN_DEFAULT_MATH would allow TF32 too,
      // so "off" must be CUDNN_FMA_MATH.
      if (allow_tf32()) return {data, CUDNN_DATA_FLOAT, CUDNN_TENSOR_OP_MATH, false};
      return {data, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH, true};
    case DType::Float64: return {data, CUDNN_DATA_DOUBLE, CUDNN_DEFAULT_MATH, false};
    default: return {data, CUDNN_DATA_FLOAT, CUDNN_TENSOR_OP_MATH, false};  // half types
  }
}

// Descriptors of one cuDNN call over `images` images.
struct ConvCall {
  TensorDescriptor x, y;
  FilterDescriptor w;
  ConvolutionDescriptor conv;
  ConvCall(const Geometry& g, int64_t images, const Conv2dParams& p, const Precision& prec, const char* op) {
    x.set_nchw(prec.data, to_int(images, op, "batch"), to_int(g.c, op, "channels"), to_int(g.h, op, "height"),
               to_int(g.w, op, "width"), op);
    y.set_nchw(prec.data, to_int(images, op, "batch"), to_int(g.o, op, "output channels"),
               to_int(g.oh, op, "output height"), to_int(g.ow, op, "output width"), op);
    w.set_oihw(prec.data, to_int(g.o, op, "output channels"), to_int(g.cg, op, "channels per group"),
               to_int(g.kh, op, "kernel height"), to_int(g.kw, op, "kernel width"), op);
    NL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
                       conv.get(), to_int(p.padding[0], op, "padding"), to_int(p.padding[1], op, "padding"),
                       to_int(p.stride[0], op, "stride"), to_int(p.stride[1], op, "stride"),
                       to_int(p.dilation[0], op, "dilation"), to_int(p.dilation[1], op, "dilation"),
                       CUDNN_CROSS_CORRELATION, prec.compute),
                   op);
    NL_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv.get(), to_int(p.groups, op, "groups")), op);
    NL_CUDNN_CHECK(cudnnSetConvolutionMathType(conv.get(), prec.math), op);
  }
};

struct AlgoChoice {
  int algo;
  size_t memory;
  cudnnMathType_t math;
};

using AlgoKey = std::array<int64_t, 22>;

// Some algorithms need aligned buffers, and the search ran on buffers of a given
// alignment: it is part of the key (as in PyTorch), capped at 16 bytes.
int64_t alignment(const void* a, const void* b, const void* c) {
  const auto bits = reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b) | reinterpret_cast<uintptr_t>(c) | 16;
  return static_cast<int64_t>(bits & (~bits + 1));  // lowest set bit
}

AlgoKey make_key(Pass pass, int device, DType dtype, const Precision& prec, const Geometry& g, int64_t images,
                 const Conv2dParams& p, int64_t align) {
  return {static_cast<int64_t>(pass), device, static_cast<int64_t>(dtype), static_cast<int64_t>(prec.math),
          images, g.c, g.h, g.w, g.o, g.cg, g.kh, g.kw,
          p.stride[0], p.stride[1], p.padding[0], p.padding[1], p.dilation[0], p.dilation[1], p.groups,
          g.oh, g.ow, align};
}

std::mutex& cache_mutex() {
  static std::mutex m;
  return m;
}
std::map<AlgoKey, std::vector<AlgoChoice>>& algo_cache() {
  static auto* cache = new std::map<AlgoKey, std::vector<AlgoChoice>>();  // leaked, like the handles
  return *cache;
}

// The trial workspace for the search: as much as the largest algorithm asks for, capped,
// halved while the allocator refuses (algorithms that need more are then skipped).
constexpr size_t kMaxSearchWorkspace = size_t(512) << 20;

Tensor search_workspace(size_t wanted, int device, size_t& got) {
  size_t size = std::min(wanted, kMaxSearchWorkspace);
  while (size > 0) {
    try {
      Tensor ws = Tensor::empty(Shape{static_cast<int64_t>(size)}, DType::UInt8, Device::cuda(device));
      got = size;
      return ws;
    } catch (const OutOfMemoryError&) {
      size /= 2;
      if (size < (size_t(1) << 20)) size = 0;
    }
  }
  got = 0;
  return Tensor();
}

void* bytes_or_null(const Tensor& t) { return t.defined() ? t.storage()->data() : nullptr; }

// Pointers of one call: x, w, y for the forward; w, dy, dx for the input gradient;
// x, dy, dw for the weight gradient (named by role).
struct Buffers {
  void* x;
  void* w;
  void* y;
};

// Runs the search of Note [Conv algorithms] for one pass; the output buffer is scribbled on.
std::vector<AlgoChoice> find_algorithms(Pass pass, cudnnHandle_t handle, ConvCall& call, const Buffers& buf,
                                        int device, const char* op) {
  std::vector<AlgoChoice> found;
  size_t largest = 0, got = 0;
  Tensor ws;
  if (pass == Pass::Forward) {
    for (int a = 0; a < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; ++a) {
      size_t s = 0;
      if (cudnnGetConvolutionForwardWorkspaceSize(handle, call.x.get(), call.w.get(), call.conv.get(), call.y.get(),
                                                  static_cast<cudnnConvolutionFwdAlgo_t>(a), &s) ==
          CUDNN_STATUS_SUCCESS)
        largest = std::max(largest, s);
    }
    ws = search_workspace(largest, device, got);
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int n = 0;
    NL_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(handle, call.x.get(), buf.x, call.w.get(), buf.w,
                                                          call.conv.get(), call.y.get(), buf.y,
                                                          CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf,
                                                          bytes_or_null(ws), got),
                   op);
    for (int i = 0; i < n; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) found.push_back({perf[i].algo, perf[i].memory, perf[i].mathType});
  } else if (pass == Pass::BackwardData) {
    for (int a = 0; a < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT; ++a) {
      size_t s = 0;
      if (cudnnGetConvolutionBackwardDataWorkspaceSize(handle, call.w.get(), call.y.get(), call.conv.get(),
                                                       call.x.get(), static_cast<cudnnConvolutionBwdDataAlgo_t>(a),
                                                       &s) == CUDNN_STATUS_SUCCESS)
        largest = std::max(largest, s);
    }
    ws = search_workspace(largest, device, got);
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int n = 0;
    NL_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(handle, call.w.get(), buf.w, call.y.get(), buf.y,
                                                               call.conv.get(), call.x.get(), buf.x,
                                                               CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n, perf,
                                                               bytes_or_null(ws), got),
                   op);
    for (int i = 0; i < n; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) found.push_back({perf[i].algo, perf[i].memory, perf[i].mathType});
  } else {
    for (int a = 0; a < CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT; ++a) {
      size_t s = 0;
      if (cudnnGetConvolutionBackwardFilterWorkspaceSize(handle, call.x.get(), call.y.get(), call.conv.get(),
                                                         call.w.get(),
                                                         static_cast<cudnnConvolutionBwdFilterAlgo_t>(a),
                                                         &s) == CUDNN_STATUS_SUCCESS)
        largest = std::max(largest, s);
    }
    ws = search_workspace(largest, device, got);
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int n = 0;
    NL_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(handle, call.x.get(), buf.x, call.y.get(), buf.y,
                                                                 call.conv.get(), call.w.get(), buf.w,
                                                                 CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &n, perf,
                                                                 bytes_or_null(ws), got),
                   op);
    for (int i = 0; i < n; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) found.push_back({perf[i].algo, perf[i].memory, perf[i].mathType});
  }
  return found;
}

// cuDNN's heuristics (no timing, no memory): the fallback when the search itself could not
// run for want of memory or found nothing.
std::vector<AlgoChoice> heuristic_algorithms(Pass pass, cudnnHandle_t handle, ConvCall& call, const char* op) {
  std::vector<AlgoChoice> found;
  int n = 0;
  if (pass == Pass::Forward) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    NL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, call.x.get(), call.w.get(), call.conv.get(),
                                                          call.y.get(), CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &n, perf),
                   op);
    for (int i = 0; i < n; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) found.push_back({perf[i].algo, perf[i].memory, perf[i].mathType});
  } else if (pass == Pass::BackwardData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    NL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, call.w.get(), call.y.get(), call.conv.get(),
                                                               call.x.get(), CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &n,
                                                               perf),
                   op);
    for (int i = 0; i < n; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) found.push_back({perf[i].algo, perf[i].memory, perf[i].mathType});
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    NL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle, call.x.get(), call.y.get(), call.conv.get(),
                                                                 call.w.get(), CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                 &n, perf),
                   op);
    for (int i = 0; i < n; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) found.push_back({perf[i].algo, perf[i].memory, perf[i].mathType});
  }
  return found;
}

std::string describe(const Geometry& g, const Conv2dParams& p, DType dtype) {
  std::ostringstream os;
  os << "input [" << g.n << ", " << g.c << ", " << g.h << ", " << g.w << "], weight [" << g.o << ", " << g.cg
     << ", " << g.kh << ", " << g.kw << "], stride [" << p.stride[0] << ", " << p.stride[1] << "], padding ["
     << p.padding[0] << ", " << p.padding[1] << "], dilation [" << p.dilation[0] << ", " << p.dilation[1]
     << "], groups " << p.groups << ", " << dtype_name(dtype);
  return os.str();
}

// Runs one pass over the whole batch in chunks of images (Note [Large convolutions]).
// Roles: Forward reads x, w and writes y; BackwardData reads w, y (= dy) and writes
// x (= dx); BackwardFilter reads x, y (= dy) and writes w (= dw), overwriting it.
void run_pass(Pass pass, int device, const Geometry& g, const Conv2dParams& p, const Tensor& x, const Tensor& w,
              const Tensor& y) {
  const char* op = pass_op(pass);
  const DType dtype = w.dtype();
  const Precision prec = precision_for(dtype, op);
  const int64_t chunk = images_per_call(g, op);
  const int64_t esize = static_cast<int64_t>(w.element_size());
  CudnnSession session(device, op);
  cudnnHandle_t handle = session.handle();

  for (int64_t first = 0; first < g.n; first += chunk) {
    const int64_t images = std::min(chunk, g.n - first);
    ConvCall call(g, images, p, prec, op);
    Buffers buf{device_bytes(x) + first * g.in_image() * esize, device_bytes(w),
                device_bytes(y) + first * g.out_image() * esize};

    const AlgoKey key = make_key(pass, device, dtype, prec, g, images, p, alignment(buf.x, buf.w, buf.y));
    std::vector<AlgoChoice> choices;
    {
      std::lock_guard<std::mutex> lock(cache_mutex());
      auto it = algo_cache().find(key);
      if (it != algo_cache().end()) choices = it->second;
    }
    if (choices.empty()) {
      // The search writes its output buffer; the weight gradient may already hold the sum
      // of earlier chunks, so its search writes a scratch tensor instead.
      Tensor scratch;
      Buffers search = buf;
      if (pass == Pass::BackwardFilter && first > 0) {
        scratch = Tensor::empty(w.shape(), dtype, Device::cuda(device));
        search.w = device_bytes(scratch);
      }
      try {
        choices = find_algorithms(pass, handle, call, search, device, op);
      } catch (const OutOfMemoryError&) {
        choices.clear();  // the search's own buffers did not fit: fall back to heuristics
      }
      const bool searched = !choices.empty();
      if (!searched) choices = heuristic_algorithms(pass, handle, call, op);
      Geometry gc = g;
      gc.n = images;
      NL_CHECK(!choices.empty(), op, ": cuDNN has no algorithm for ", describe(gc, p, dtype));
      // The search may have left the descriptor's math type at its own choice.
      NL_CUDNN_CHECK(cudnnSetConvolutionMathType(call.conv.get(), prec.math), op);
      // Heuristic picks stand in for one call only: the search is tried again next time,
      // when memory may have been freed.
      if (searched) {
        std::lock_guard<std::mutex> lock(cache_mutex());
        algo_cache()[key] = choices;
      }
    }

    const double one_d = 1.0, zero_d = 0.0;
    const float one_f = 1.0f, zero_f = 0.0f;
    const bool dbl = prec.compute == CUDNN_DATA_DOUBLE;
    const bool accumulate = pass == Pass::BackwardFilter && first > 0;
    const void* alpha = dbl ? static_cast<const void*>(&one_d) : static_cast<const void*>(&one_f);
    const void* beta = accumulate ? alpha : (dbl ? static_cast<const void*>(&zero_d) : static_cast<const void*>(&zero_f));

    bool ran = false, short_of_memory = false;
    std::string refused;
    for (const AlgoChoice& choice : choices) {
      Tensor ws;
      if (choice.memory > 0) {
        try {
          ws = Tensor::empty(Shape{static_cast<int64_t>(choice.memory)}, DType::UInt8, Device::cuda(device));
        } catch (const OutOfMemoryError& e) {
          refused = e.what();
          short_of_memory = true;
          continue;  // a slower algorithm with a smaller workspace
        }
      }
      NL_CUDNN_CHECK(cudnnSetConvolutionMathType(call.conv.get(), prec.pin_fma ? CUDNN_FMA_MATH : choice.math), op);
      void* ws_ptr = bytes_or_null(ws);
      cudnnStatus_t status;
      if (pass == Pass::Forward) {
        status = cudnnConvolutionForward(handle, alpha, call.x.get(), buf.x, call.w.get(), buf.w, call.conv.get(),
                                         static_cast<cudnnConvolutionFwdAlgo_t>(choice.algo), ws_ptr, choice.memory,
                                         beta, call.y.get(), buf.y);
      } else if (pass == Pass::BackwardData) {
        status = cudnnConvolutionBackwardData(handle, alpha, call.w.get(), buf.w, call.y.get(), buf.y,
                                              call.conv.get(), static_cast<cudnnConvolutionBwdDataAlgo_t>(choice.algo),
                                              ws_ptr, choice.memory, beta, call.x.get(), buf.x);
      } else {
        status = cudnnConvolutionBackwardFilter(handle, alpha, call.x.get(), buf.x, call.y.get(), buf.y,
                                                call.conv.get(),
                                                static_cast<cudnnConvolutionBwdFilterAlgo_t>(choice.algo), ws_ptr,
                                                choice.memory, beta, call.w.get(), buf.w);
      }
      // A heuristic pick may turn out not to support these shapes: try the next one.
      if (status == CUDNN_STATUS_NOT_SUPPORTED || status == CUDNN_STATUS_BAD_PARAM) {
        refused = std::string("algorithm ") + std::to_string(choice.algo) + ": " + cudnnGetErrorString(status);
        continue;
      }
      if (status != CUDNN_STATUS_SUCCESS) raise_cudnn_error(status, op, "cudnnConvolution (run)");
      ran = true;
      break;
    }
    if (!ran && short_of_memory)
      throw OutOfMemoryError(std::string(op) + ": no cuDNN algorithm's workspace fits in memory (last: " + refused + ")");
    if (!ran) fail(op, ": cuDNN refused every algorithm for ", describe(g, p, dtype), " (last: ", refused, ")");
  }
}

void zero_fill(const Tensor& t, int device, const char* op) {
  if (t.numel() == 0) return;
  NL_CUDA_CHECK(cudaMemsetAsync(device_bytes(t), 0, static_cast<size_t>(t.numel()) * t.element_size(),
                                compute_stream(device)),
                op);
}

void check_dtypes(const char* op, const Tensor& a, const Tensor& b, const Tensor& c) {
  cudnn_data_type(a.dtype(), op);  // throws for the types cuDNN is not used for
  NL_CHECK(a.dtype() == b.dtype() && a.dtype() == c.dtype(), op, ": tensors must share one dtype, got ",
           dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), " and ", dtype_name(c.dtype()));
}

}  // namespace

void CudaBackend::conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out, const Conv2dParams& p) {
  check_dtypes("conv2d", x, w, out);
  const Geometry g = Geometry::from(x.shape(), w.shape(), out.shape());
  if (out.numel() == 0) return;
  DeviceGuard guard(index_);
  if (x.numel() == 0) {
    // Empty images with padding: every tap reads padding, so the output is the bias alone.
    zero_fill(out, index_, "conv2d");
  } else {
    run_pass(Pass::Forward, index_, g, p, x, w, out);
  }
  if (bias.defined()) add_channel_bias(bias, out, index_, "conv2d");
}

void CudaBackend::conv2d_backward_input(const Tensor& grad_out, const Tensor& w, Tensor& grad_x,
                                        const Conv2dParams& p) {
  check_dtypes("conv2d_backward_input", grad_out, w, grad_x);
  const Geometry g = Geometry::from(grad_x.shape(), w.shape(), grad_out.shape());
  if (grad_x.numel() == 0) return;
  DeviceGuard guard(index_);
  run_pass(Pass::BackwardData, index_, g, p, grad_x, w, grad_out);
}

void CudaBackend::conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, Tensor& grad_w,
                                         const Conv2dParams& p) {
  check_dtypes("conv2d_backward_weight", grad_out, x, grad_w);
  const Geometry g = Geometry::from(x.shape(), grad_w.shape(), grad_out.shape());
  if (grad_w.numel() == 0) return;
  DeviceGuard guard(index_);
  // No images (or empty ones): an empty sum.
  if (x.numel() == 0 || grad_out.numel() == 0) return zero_fill(grad_w, index_, "conv2d_backward_weight");
  run_pass(Pass::BackwardFilter, index_, g, p, x, grad_w, grad_out);
}

}  // namespace nl::cuda
