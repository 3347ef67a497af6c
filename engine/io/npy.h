// NumPy `.npy` files (format versions 1.0, 2.0 and 3.0) to and from engine tensors.
//
//   nl::Tensor x = nl::load_npy("inputs.npy");   // e.g. written by np.save in Python
//   nl::save_npy("outputs.npy", y);               // np.load("outputs.npy") reads it back
//
// Readable element types: <f4 <f8 <f2 <i8 <i4 |u1 |b1, and their big-endian forms (">f4",
// ...), which are byte-swapped on load. Fortran-ordered files load as row-major tensors.
// Every reader error is an nl::Error that starts with the file (or buffer) name and names
// the field at fault; sizes are checked against the file before anything is allocated.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/core/tensor.h"

namespace nl {

// The header dictionary is capped at this many bytes (NumPy writes well under 200).
inline constexpr size_t kNpyMaxHeaderBytes = 64 * 1024;

Tensor load_npy(const std::string& path);
// Same, from an in-memory file image; `name_for_errors` stands in for the path in messages.
Tensor load_npy_bytes(const uint8_t* data, size_t size, const std::string& name_for_errors);

// Writes a format 1.0 file with NumPy's 64-byte header alignment, atomically (a failed save
// leaves an existing file at `path` untouched). Any strides and any device are accepted;
// the data is written row-major. Float32, Float64, Float16, Int64, Int32, UInt8 and Bool
// are supported; BFloat16 has no NumPy type and is refused (convert it first).
void save_npy(const std::string& path, const Tensor& t);

}  // namespace nl
