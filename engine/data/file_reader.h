// Sequential reading of dataset files that may or may not be gzip-compressed (zlib's gzread
// passes plain files through), with every failure reported as an nl::Error naming the file.
//
// Readers never size a buffer from a header they have not verified: read_rest() grows its
// buffer only as data actually arrives, up to a caller-chosen limit, so a header that claims
// 10^12 images costs nothing but an error message.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nl::data {

class FileReader {
 public:
  // Throws when the path is missing, not a regular file or unreadable.
  explicit FileReader(std::string path);
  ~FileReader();
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  const std::string& path() const { return path_; }
  bool compressed() const { return compressed_; }

  // Up to n bytes; fewer only at the end of the data. Throws on I/O or gzip errors.
  size_t read(void* destination, size_t n);
  // Exactly n bytes, else throws "<path>: file ends inside <what> (…)".
  void read_exact(void* destination, size_t n, const std::string& what);
  // Everything left, but at most `limit` bytes; `more_follows` tells whether data remained.
  std::vector<uint8_t> read_rest(size_t limit, bool* more_follows);

 private:
  std::string path_;
  void* gz_ = nullptr;  // gzFile; kept opaque so users of this header need not include zlib.h
  bool compressed_ = false;
  uint64_t on_disk_size_ = 0;
};

// The whole file (gunzipped if compressed), refusing files above `limit` bytes with an error
// that names `what` ("CSV text", "image").
std::vector<uint8_t> read_whole_file(const std::string& path, size_t limit, const std::string& what);

// "1.5 MB"-style sizes for error messages.
std::string describe_bytes(uint64_t bytes);

}  // namespace nl::data
