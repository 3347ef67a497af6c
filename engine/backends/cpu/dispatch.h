// Maps a runtime DType to a C++ element type for templated CPU kernels, and converts
// between element types (half and bfloat16 go through float).
#pragma once
#include <cstdint>
#include <type_traits>

#include "engine/core/dtype.h"
#include "engine/core/error.h"

namespace nl::cpu {

struct Half {
  uint16_t bits;
  Half() = default;
  explicit Half(float f) : bits(float_to_half(f)) {}
  operator float() const { return half_to_float(bits); }
};
struct BFloat16 {
  uint16_t bits;
  BFloat16() = default;
  explicit BFloat16(float f) : bits(float_to_bfloat16(f)) {}
  operator float() const { return bfloat16_to_float(bits); }
};

template <class T>
struct Tag {
  using type = T;
};

template <class D, class S>
inline D convert(S s) {
  if constexpr (std::is_same_v<D, S>) {
    return s;
  } else if constexpr (std::is_same_v<S, Half> || std::is_same_v<S, BFloat16>) {
    return convert<D>(static_cast<float>(s));
  } else if constexpr (std::is_same_v<D, Half> || std::is_same_v<D, BFloat16>) {
    return D(static_cast<float>(s));
  } else if constexpr (std::is_same_v<D, bool>) {
    return s != S(0);
  } else {
    return static_cast<D>(s);
  }
}

// Calls fn(Tag<T>{}) with T matching `t`.
template <class F>
decltype(auto) dispatch_all(DType t, F&& fn) {
  switch (t) {
    case DType::Float32: return fn(Tag<float>{});
    case DType::Float64: return fn(Tag<double>{});
    case DType::Float16: return fn(Tag<Half>{});
    case DType::BFloat16: return fn(Tag<BFloat16>{});
    case DType::Int64: return fn(Tag<int64_t>{});
    case DType::Int32: return fn(Tag<int32_t>{});
    case DType::UInt8: return fn(Tag<uint8_t>{});
    case DType::Bool: return fn(Tag<bool>{});
  }
  fail("unknown dtype");
}

}  // namespace nl::cpu
