// Automatic mixed precision (bf16 autocast): while an AutocastGuard(true) is alive on a
// thread, the matmul-like ops (matmul, linear, conv2d) of that thread run float32 inputs
// on CUDA devices in bfloat16 and hand back float32 results. Device-agnostic: no CUDA types.
//
// Worked example (a training step):
//   {
//     nl::AutocastGuard autocast(true);
//     nl::Tensor loss = criterion(model.forward(x.to(cuda)), y);  // GEMMs and convs in bf16
//     loss.backward();  // gradients land in the float32 parameters
//   }
//   optimizer.step();
//
// Note [Autocast]: the cast is done by the ops themselves (engine/ops/matmul.cpp and
// engine/ops/conv.cpp), not by the modules, so every path that reaches those ops — layers,
// the executor's graph nodes, user code — is covered in one place. The rules:
// - Only CUDA devices autocast: on the CPU the guard changes nothing (the CPU kernels are
//   float32 only and there is no bf16 tensor-core speed to gain).
// - Only float32 inputs are cast; float64 (explicitly asked for precision) and inputs that
//   already are bf16/fp16 run as they are.
// - The inputs are cast with the differentiable Tensor::to(DType), so the backward casts
//   the gradients back and they accumulate in the float32 master weights; the optimiser and
//   its state never see bf16.
// - The op's result is cast back to float32, so everything else in the network (norms,
//   softmax, losses, reductions) stays float32 and needs no rules of its own. This costs
//   one elementwise pass per op compared with PyTorch's bf16 outputs, and buys numerically
//   safe losses and statistics without an op list to maintain.
// - conv2d's bias is added after the cast back, in float32 (its gradient is a float32 sum).
// - The flag is thread-local: a data-loader or UI thread is never affected by the training
//   thread's guard. Guards nest; each restores the previous state.
#pragma once
#include "engine/core/device.h"

namespace nl {

class AutocastGuard {
 public:
  explicit AutocastGuard(bool enabled);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool previous_;
};

// Whether this thread is inside an enabled AutocastGuard, regardless of device.
bool autocast_requested();
// Whether ops on `device` autocast now: requested on this thread and `device` is CUDA.
bool autocast_enabled(Device device);

}  // namespace nl
