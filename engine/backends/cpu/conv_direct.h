// Run-time choice of the CPU convolution's direct vector tiles (conv_direct.cpp), for
// tests and benchmarks that compare them with the GEMM paths in one process.
#pragma once

namespace nl::cpu {

// Which vector tiles the direct kernels may use: Best = the widest this CPU has (the
// default), Off = never (the GEMM paths). Avx512 or Avx2 on a CPU without it behaves as
// Off. Returns the previous setting. Not meant to be changed while convolutions run.
enum class DirectConvIsa { Off, Avx2, Avx512, Best };
DirectConvIsa set_direct_conv_isa(DirectConvIsa isa);

}  // namespace nl::cpu
