// Element types a Tensor can hold, their sizes and names.
// Compute kernels cover Float32 (and Int64/Bool where an op makes sense for them);
// the others exist so files (npy, safetensors, ONNX) load without loss and convert.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nl {

enum class DType : uint8_t { Float32, Float64, Float16, BFloat16, Int64, Int32, UInt8, Bool };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Float16: return 2;
    case DType::BFloat16: return 2;
    case DType::Int64: return 8;
    case DType::Int32: return 4;
    case DType::UInt8: return 1;
    case DType::Bool: return 1;
  }
  return 0;
}

constexpr bool is_floating(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}

const char* dtype_name(DType t);

// Half-precision conversions done in software (round to nearest even), used by casts and readers.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);
float bfloat16_to_float(uint16_t b);
uint16_t float_to_bfloat16(float f);

}  // namespace nl
