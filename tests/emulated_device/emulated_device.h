// An emulated GPU for tests on machines without one: it serves cuda:0 through the engine's
// backend registry, keeps its tensors in host memory that only its own kernels touch, and
// runs each kernel as the CPU backend's kernel on aliases of that memory.
//
//   nl::testing::EmulatedDevice device;   // registers it, unless a real cuda:0 answers
//   Tensor x = randn({4, 3}).to(device.device());
//   x.data<float>();                       // throws, as for real device memory
//
// Why: everything above the kernels (ops, autograd, optimisers, the trainer, the graph
// executor, generic ONNX ops) must work unchanged on a GPU. The two mistakes that only a GPU
// would show are reading device memory on the host (Tensor::data() refuses any non-CPU
// tensor, so these throw here as they do there) and handing a host tensor to a device
// kernel (an illegal memory access on a GPU; here every kernel checks that each tensor it
// gets is on its device and fails naming the kernel). Kernel arithmetic is not tested here:
// the tests of tests/gpu/ compare the real kernels with the CPU.
//
// Matrix products and convolutions also take float64, float16 and bfloat16, as on a GPU
// (computed in float32 and rounded to the output's dtype), so bf16 autocast runs. Graphs
// are captured and replayed as on a GPU (Note [Emulated graph capture] in the .cpp), so the
// trainer's CUDA-graph steps run. Fused optimiser kernels are offered only when asked for
// (set_fused_updates): by default the optimisers' portable fallback runs. There is no fused
// BatchNorm → ReLU, as on CUDA.
#pragma once
#include <string>

#include "engine/core/device.h"

namespace nl::testing {

class EmulatedDevice {
 public:
  // Registers the emulated backend for cuda:0 when no real CUDA device answers; with a real
  // GPU present the tests run on it instead (is_emulated() false).
  EmulatedDevice();
  ~EmulatedDevice();
  EmulatedDevice(const EmulatedDevice&) = delete;
  EmulatedDevice& operator=(const EmulatedDevice&) = delete;

  Device device() const { return Device::cuda(0); }
  bool is_emulated() const { return emulated_; }
  // Kernels run on the emulated device since it was registered (0 on a real GPU).
  static long kernel_calls();
  // Of those, matrix products and convolutions with a float16 or bfloat16 result.
  static long reduced_precision_calls();
  // Graphs captured and replays run so far.
  static long graphs_captured();
  static long graph_replays();
  // Times the host would wait for a GPU: values read back (copies to the host) and
  // synchronisations.
  static long host_waits();
  // Offer multi-tensor optimiser kernels (Backend::fused_updates), as the CUDA backend does;
  // they run the CPU's fused loops. Off by default.
  static void set_fused_updates(bool on);
  // Bytes held by live tensors on the emulated device.
  static long long allocated_bytes();
  // The emulated GPU's memory: allocations beyond it throw nl::OutOfMemoryError worded as
  // the CUDA allocator's, so out-of-memory handling above the allocator can be tested.
  // 0 (the default): no limit.
  static void set_memory_limit(long long bytes);

 private:
  bool emulated_ = false;
};

}  // namespace nl::testing
