// safetensors files (Hugging Face's weight format) to and from named engine tensors.
//
//   std::map<std::string, std::string> meta;
//   auto weights = nl::load_safetensors("model.safetensors", &meta);
//   nl::Tensor w = weights.at("fc.weight");
//   nl::save_safetensors("copy.safetensors", weights, {{"format", "pt"}});
//
// Layout: an 8-byte little-endian length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [3, 4], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// then the data buffer, in which each tensor's row-major bytes sit at [begin, end).
// Element types: F32 F64 F16 BF16 I64 I32 U8 BOOL.
//
// The reader trusts nothing: the JSON is parsed strictly, and every tensor's dtype, shape
// and offsets are checked (in bounds, sized to match, regions neither overlapping nor
// leaving holes) before any tensor is allocated, so a lying header costs no memory. Errors
// are nl::Error naming the file and the tensor or field, e.g.
//   "w.safetensors: tensor 'fc.weight': data_offsets [0, 40] give 40 bytes but float32 × [3, 4] needs 48"
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "engine/core/tensor.h"

namespace nl {

// Largest JSON header accepted, as in the reference implementation.
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// Loads every tensor (as CPU tensors). When `metadata` is given it receives the
// "__metadata__" entries (and is cleared when the file has none).
std::map<std::string, Tensor> load_safetensors(const std::string& path,
                                               std::map<std::string, std::string>* metadata = nullptr);
// Same, from an in-memory file image; `name_for_errors` stands in for the path in messages.
std::map<std::string, Tensor> load_safetensors_bytes(const uint8_t* data, size_t size,
                                                     const std::string& name_for_errors,
                                                     std::map<std::string, std::string>* metadata = nullptr);

// Writes tensors in name order with contiguous offsets from 0 and the JSON padded with
// spaces to a multiple of 8 bytes, atomically (a failed save leaves an existing file at
// `path` untouched). Tensors may have any strides and live on any device. Names and
// metadata must be valid UTF-8; "__metadata__" is reserved and cannot name a tensor.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace nl
