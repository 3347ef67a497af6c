// Bounds-checked byte sources (file, memory) and the atomic file writer used by the
// npy and safetensors readers and writers.
#include "engine/io/file_bytes.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <system_error>

#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#include <sys/stat.h>
#else
#include <fcntl.h>
#include <unistd.h>
#endif

namespace nl::io {
namespace fs = std::filesystem;

namespace {

// Paths travel through the engine as UTF-8 std::strings; going through u8string makes
// that hold on Windows too, where a narrow path would be read in the ANSI code page.
fs::path path_from_utf8(const std::string& s) { return fs::path(std::u8string(s.begin(), s.end())); }

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

// Random enough that two processes saving the same file at once never pick the same
// temporary; O_EXCL below makes a collision an error rather than shared writes anyway.
std::string random_suffix() {
  static thread_local std::mt19937_64 rng(
      std::random_device{}() ^ static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s = ".tmp-";
  for (int i = 0; i < 6; ++i) s += digits[rng() % 36];
  return s;
}

int open_exclusive(const std::string& path) {
#ifdef _WIN32
  return _wopen(path_from_utf8(path).c_str(), _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
#else
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
#endif
}

}  // namespace

// ---- Sources -------------------------------------------------------------------------------

MemorySource::MemorySource(const uint8_t* data, size_t size, std::string name)
    : ByteSource(std::move(name)), data_(data), size_(size) {
  if (size_ > 0 && data_ == nullptr) fail("buffer of ", size_, " bytes has a null data pointer");
}

void MemorySource::read(uint64_t offset, void* dst, size_t n, const char* what) const {
  if (offset > size_ || n > size_ - offset)
    fail(what, " needs bytes ", offset, "..", offset + n, " but there are only ", size_, " bytes");
  if (n) std::memcpy(dst, data_ + offset, n);
}

FileSource::FileSource(const std::string& path) : ByteSource(path) {
  fs::path p = path_from_utf8(path);
  std::error_code ec;
  fs::file_status status = fs::status(p, ec);
  if (ec || !fs::exists(status)) fail("cannot open: ", ec ? ec.message() : "no such file");
  if (!fs::is_regular_file(status)) fail("cannot open: not a regular file");
  uintmax_t size = fs::file_size(p, ec);
  if (ec) fail("cannot read the file size: ", ec.message());
  size_ = size;
  stream_.open(p, std::ios::binary);
  if (!stream_) fail("cannot open for reading: ", errno_text(errno));
}

void FileSource::read(uint64_t offset, void* dst, size_t n, const char* what) const {
  if (offset > size_ || n > size_ - offset)
    fail(what, " needs bytes ", offset, "..", offset + n, " but the file has only ", size_, " bytes");
  if (n == 0) return;
  stream_.clear();
  stream_.seekg(static_cast<std::streamoff>(offset));
  // Read in pieces: std::streamsize may be narrower than size_t on some platforms.
  char* out = static_cast<char*>(dst);
  size_t done = 0;
  while (done < n && stream_) {
    size_t piece = std::min<size_t>(n - done, size_t(1) << 30);
    stream_.read(out + done, static_cast<std::streamsize>(piece));
    done += static_cast<size_t>(stream_.gcount());
  }
  if (done != n) fail(what, ": the file ended after ", offset + done, " bytes (it changed while being read?)");
}

// ---- Atomic writer -------------------------------------------------------------------------

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  for (int attempt = 0; attempt < 16 && fd_ < 0; ++attempt) {
    temp_path_ = path_ + random_suffix();
    fd_ = open_exclusive(temp_path_);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) fail(path_, ": cannot create the temporary file ", temp_path_, ": ", errno_text(errno));
  // Replacing a file should not change who may read it: carry its permissions over.
  std::error_code ec;
  fs::file_status existing = fs::status(path_from_utf8(path_), ec);
  if (!ec && fs::is_regular_file(existing))
    fs::permissions(path_from_utf8(temp_path_), existing.permissions(), fs::perm_options::replace, ec);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (committed_) return;
  if (fd_ >= 0) {
#ifdef _WIN32
    _close(fd_);
#else
    ::close(fd_);
#endif
  }
  std::error_code ignored;  // a destructor must not throw; the temporary is best-effort litter
  fs::remove(path_from_utf8(temp_path_), ignored);
}

void AtomicFileWriter::write(const void* data, size_t n) {
  NL_CHECK(fd_ >= 0 && !committed_, path_, ": write after the file was committed");
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    unsigned piece = static_cast<unsigned>(std::min<size_t>(n, size_t(1) << 30));
#ifdef _WIN32
    int written = _write(fd_, p, piece);
#else
    ssize_t written = ::write(fd_, p, piece);
    if (written < 0 && errno == EINTR) continue;
#endif
    if (written <= 0) fail(path_, ": writing failed: ", written < 0 ? errno_text(errno) : "no progress");
    p += written;
    n -= static_cast<size_t>(written);
  }
}

void AtomicFileWriter::commit() {
  NL_CHECK(fd_ >= 0 && !committed_, path_, ": commit called twice");
#ifdef _WIN32
  bool synced = _commit(fd_) == 0;
  bool closed = _close(fd_) == 0;
#else
  bool synced = ::fsync(fd_) == 0;
  int sync_errno = errno;
  bool closed = ::close(fd_) == 0;
  if (!synced) errno = sync_errno;
#endif
  fd_ = -1;
  if (!synced || !closed) fail(path_, ": flushing to disk failed: ", errno_text(errno));
  std::error_code ec;
  fs::rename(path_from_utf8(temp_path_), path_from_utf8(path_), ec);
  if (ec) fail(path_, ": cannot replace the file with ", temp_path_, ": ", ec.message());
  committed_ = true;
#ifndef _WIN32
  // Make the rename itself durable; some file systems refuse fsync on a directory, which
  // does not make the save any less complete, so failures here are not reported.
  fs::path dir = path_from_utf8(path_).parent_path();
  int dir_fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
#endif
}

// ---- Small helpers -------------------------------------------------------------------------

bool checked_mul(uint64_t a, uint64_t b, uint64_t limit, uint64_t* out) {
  if (a != 0 && b > limit / a) return false;
  *out = a * b;
  return true;
}

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

CheckedShape check_header_shape(const ByteSource& source, const std::string& what, const std::vector<int64_t>& dims,
                                DType dtype) {
  if (dims.size() > static_cast<size_t>(Shape::kMaxRank))
    source.fail(what, " has ", dims.size(), " dimensions; at most ", Shape::kMaxRank, " are supported");
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  uint64_t numel = 1, stride_span = 1;  // stride_span: product of max(d, 1), what strides reach
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) source.fail(what, " ", dims_str(dims), ": dimension ", i, " is negative");
    uint64_t d = static_cast<uint64_t>(dims[i]);
    if (!checked_mul(stride_span, std::max<uint64_t>(d, 1), limit, &stride_span))
      source.fail(what, " ", dims_str(dims), ": the element count overflows int64");
    numel *= d;  // cannot overflow: numel <= stride_span
  }
  CheckedShape out;
  if (!checked_mul(numel, dtype_size(dtype), limit, &out.nbytes))
    source.fail(what, " ", dims_str(dims), ": ", dtype_name(dtype), " data would exceed 2^63 bytes");
  out.shape = Shape(dims);
  return out;
}

Tensor contiguous_cpu(const Tensor& t) {
  NL_CHECK(t.defined(), "cannot save an undefined tensor");
  Tensor cpu = t.device().is_cpu() ? t : t.to(Device::cpu());
  return cpu.is_contiguous() ? cpu : cpu.contiguous();
}

void byteswap_elements(void* data, size_t count, size_t element_size) {
  uint8_t* p = static_cast<uint8_t*>(data);
  for (size_t i = 0; i < count; ++i, p += element_size) std::reverse(p, p + element_size);
}

int64_t first_invalid_bool(const uint8_t* data, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (data[i] > 1) return static_cast<int64_t>(i);
  return -1;
}

}  // namespace nl::io
