// Engine-wide numeric settings that trade precision for speed on accelerators. Plain
// globals (no CUDA types) so the trainer, the CLI and the GUI can switch them on any build.
#pragma once

namespace nl {

// Note [TF32]: on Ampere and later GPUs, float32 matmuls and convolutions can run on tensor
// cores with TF32 inputs (10-bit mantissa, float32 range and accumulation): about 8x the
// throughput of plain float32 FMA, with relative errors around 1e-3 instead of 1e-6. Like
// PyTorch's cudnn default it is ON; switch it off for float32-exact results (tight
// comparisons, finite-difference checks). The CPU backend ignores it. The setting is read
// when a kernel is launched, so a change applies to the next op.
void set_allow_tf32(bool allow);
bool allow_tf32();

}  // namespace nl
