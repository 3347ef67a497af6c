// FileReader: gzip-transparent sequential reads through zlib, with checked lengths.
#include "engine/data/file_reader.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/core/error.h"

namespace nl::data {
namespace {

gzFile handle(void* gz) { return static_cast<gzFile>(gz); }

}  // namespace

std::string describe_bytes(uint64_t bytes) {
  char text[64];
  if (bytes < 10 * 1024) return std::to_string(bytes) + " bytes";
  if (bytes < 10 * 1024 * 1024) std::snprintf(text, sizeof text, "%.1f KiB", bytes / 1024.0);
  else if (bytes < 10ull * 1024 * 1024 * 1024) std::snprintf(text, sizeof text, "%.1f MiB", bytes / 1048576.0);
  else std::snprintf(text, sizeof text, "%.1f GiB", bytes / 1073741824.0);
  return text;
}

FileReader::FileReader(std::string path) : path_(std::move(path)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::file_status status = fs::status(path_, ec);
  NL_CHECK(!ec && fs::exists(status), path_, ": no such file");
  NL_CHECK(fs::is_regular_file(status), path_, ": not a regular file");
  on_disk_size_ = fs::file_size(path_, ec);
  gz_ = gzopen(path_.c_str(), "rb");
  NL_CHECK(gz_ != nullptr, path_, ": cannot open: ", std::strerror(errno));
  gzbuffer(handle(gz_), 256 * 1024);  // fewer system calls on the multi-megabyte datasets
  // Called right after gzopen, gzdirect() reads ahead to see whether the data is gzip.
  compressed_ = gzdirect(handle(gz_)) == 0;
}

FileReader::~FileReader() {
  if (gz_) gzclose(handle(gz_));
}

size_t FileReader::read(void* destination, size_t n) {
  size_t total = 0;
  char* out = static_cast<char*>(destination);
  while (total < n) {
    // gzread takes an unsigned int count.
    unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - total, 1u << 30));
    int got = gzread(handle(gz_), out + total, chunk);
    if (got < 0) {
      int code = 0;
      const char* message = gzerror(handle(gz_), &code);
      fail(path_, ": ", compressed_ ? "corrupt gzip data: " : "read error: ", message);
    }
    total += static_cast<size_t>(got);
    if (static_cast<unsigned>(got) < chunk) {
      // A short read is the end of the data, unless zlib hit a truncated or damaged stream.
      int code = Z_OK;
      const char* message = gzerror(handle(gz_), &code);
      NL_CHECK(code == Z_OK || code == Z_STREAM_END, path_, ": ", compressed_ ? "corrupt gzip data: " : "read error: ",
               message);
      break;
    }
  }
  return total;
}

void FileReader::read_exact(void* destination, size_t n, const std::string& what) {
  size_t got = read(destination, n);
  NL_CHECK(got == n, path_, ": file ends inside ", what, " (", n, " bytes needed, ", got, " present)");
}

std::vector<uint8_t> FileReader::read_rest(size_t limit, bool* more_follows) {
  std::vector<uint8_t> out;
  // A plain file's size is known and bounds the buffer; compressed data grows as it inflates.
  if (!compressed_) out.reserve(static_cast<size_t>(std::min<uint64_t>(limit, on_disk_size_)));
  size_t chunk = 1 << 20;
  while (out.size() < limit) {
    const size_t want = std::min(chunk, limit - out.size());
    const size_t old = out.size();
    out.resize(old + want);
    const size_t got = read(out.data() + old, want);
    out.resize(old + got);
    if (got < want) {
      if (more_follows) *more_follows = false;
      return out;
    }
    chunk = std::min<size_t>(chunk * 2, 64 << 20);
  }
  unsigned char probe;
  if (more_follows) *more_follows = read(&probe, 1) == 1;
  return out;
}

std::vector<uint8_t> read_whole_file(const std::string& path, size_t limit, const std::string& what) {
  FileReader reader(path);
  bool more = false;
  std::vector<uint8_t> bytes = reader.read_rest(limit, &more);
  NL_CHECK(!more, path, ": ", what, " is larger than the ", describe_bytes(limit), " this reader accepts");
  return bytes;
}

}  // namespace nl::data
