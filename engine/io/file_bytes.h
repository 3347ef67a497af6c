// Byte-level plumbing shared by the tensor file readers and writers: bounds-checked random
// access to a file or an in-memory buffer, and atomic replacement of a file on save.
#pragma once
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "engine/core/tensor.h"

namespace nl::io {

// Where a reader takes its bytes from. Readers learn the true size first and check every
// offset and length a header claims against it, so a lying header is refused before any
// allocation; read() is then only asked for ranges already known to exist.
class ByteSource {
 public:
  explicit ByteSource(std::string name) : name_(std::move(name)) {}
  virtual ~ByteSource() = default;
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  // The file path or the caller's name for a buffer; every error message starts with it.
  const std::string& name() const { return name_; }
  virtual uint64_t size() const = 0;
  // Copies exactly `n` bytes starting at `offset` into `dst`; throws nl::Error naming the
  // source and `what` when the range is not there (e.g. the file shrank while being read).
  virtual void read(uint64_t offset, void* dst, size_t n, const char* what) const = 0;

  // nl::fail with the source name in front, so messages read "x.npy: shape ...".
  template <class... A>
  [[noreturn]] void fail(const A&... parts) const {
    ::nl::fail(name_, ": ", parts...);
  }

 private:
  std::string name_;
};

class MemorySource final : public ByteSource {
 public:
  MemorySource(const uint8_t* data, size_t size, std::string name);
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, void* dst, size_t n, const char* what) const override;

 private:
  const uint8_t* data_;
  size_t size_;
};

// Reads through a stream opened once; the size is taken at open time and the file must be a
// regular file (a directory or a pipe has no meaningful size to validate against).
class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::string& path);
  uint64_t size() const override { return size_; }
  void read(uint64_t offset, void* dst, size_t n, const char* what) const override;

 private:
  mutable std::ifstream stream_;
  uint64_t size_ = 0;
};

// Writes a file so that readers only ever see the old contents or the complete new ones:
// bytes go to "<path>.tmp-XXXXXX" in the same folder (same file system, so the rename is
// atomic), are flushed to disk, and commit() renames the temporary over `path`. If commit()
// is never reached (an exception, a full disk), the destructor removes the temporary and
// the previous file is untouched.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t n);
  void commit();
  const std::string& temp_path() const { return temp_path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

// Sizes taken from untrusted headers are multiplied with this: false when a × b > limit.
bool checked_mul(uint64_t a, uint64_t b, uint64_t limit, uint64_t* out);

// A shape read from an untrusted header, checked so that nothing downstream can overflow:
// rank <= Shape::kMaxRank, no negative dimension, and the element count, the row-major
// strides and the byte size all fit in int64. `what` names the field for messages (e.g.
// "tensor 'fc.weight': shape"). The caller still compares `nbytes` with the bytes present.
struct CheckedShape {
  Shape shape;
  uint64_t nbytes = 0;
};
CheckedShape check_header_shape(const ByteSource& source, const std::string& what, const std::vector<int64_t>& dims,
                                DType dtype);
std::string dims_str(const std::vector<int64_t>& dims);

// A CPU, row-major copy of `t` (or `t` itself when it already is one), for writers.
Tensor contiguous_cpu(const Tensor& t);

// Reverses the byte order of each `element_size`-byte element, for big-endian files.
void byteswap_elements(void* data, size_t count, size_t element_size);

// Bool tensors must hold 0 or 1 in every byte (anything else is undefined behaviour for
// C++ bool); returns the index of the first other byte, or -1 when all are valid.
int64_t first_invalid_bool(const uint8_t* data, size_t count);

}  // namespace nl::io
