// Reading and writing NumPy .npy files. The header is a Python dict literal; it is parsed
// here by a small strict parser that accepts what NumPy (and Python 2 era NumPy) writes
// and nothing that would need a Python interpreter to understand.
#include "engine/io/npy.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "engine/io/file_bytes.h"

namespace nl {
namespace {

using io::ByteSource;
using io::CheckedShape;
using io::byteswap_elements;
using io::check_header_shape;
using io::dims_str;
using io::first_invalid_bool;

static_assert(std::endian::native == std::endian::little,
              "the readers copy little-endian file data straight into tensors");

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// np.save pads the header so the data starts on a 64-byte boundary, and leaves room for the
// leading dimension to grow to 21 digits so the file can be appended to in place.
constexpr size_t kArrayAlign = 64;
constexpr size_t kGrowthAxisMaxDigits = 21;

struct NpyType {
  const char* code;  // descr without the byte-order character, e.g. "f4"
  DType dtype;
};
constexpr NpyType kNpyTypes[] = {
    {"f4", DType::Float32}, {"f8", DType::Float64}, {"f2", DType::Float16}, {"i8", DType::Int64},
    {"i4", DType::Int32},   {"u1", DType::UInt8},   {"b1", DType::Bool},
};
constexpr const char* kReadableTypes = "<f4 <f8 <f2 <i8 <i4 |u1 |b1 (and the big-endian '>' forms)";

struct NpyHeader {
  std::string descr;
  DType dtype = DType::Float32;
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<int64_t> dims;
};

// Parses the header dict, e.g. "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }".
// Exactly the keys descr, fortran_order and shape, each once, in any order.
class HeaderDictParser {
 public:
  HeaderDictParser(const ByteSource& source, std::string_view text) : source_(source), text_(text) {}

  NpyHeader parse() {
    NpyHeader header;
    bool seen_descr = false, seen_fortran = false, seen_shape = false;
    skip_space();
    expect('{', "the header must be a Python dict starting with '{'");
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      std::string key = parse_string("a key");
      skip_space();
      expect(':', "expected ':' after key '" + key + "'");
      skip_space();
      if (key == "descr") {
        mark_seen(seen_descr, key);
        parse_descr(header);
      } else if (key == "fortran_order") {
        mark_seen(seen_fortran, key);
        header.fortran_order = parse_bool(key);
      } else if (key == "shape") {
        mark_seen(seen_shape, key);
        header.dims = parse_shape();
      } else {
        error("unexpected key '" + key + "' (a .npy header has exactly 'descr', 'fortran_order' and 'shape')");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') error("expected ',' or '}' after the value of '" + key + "'");
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) error("unexpected text after the closing '}'");
    if (!seen_descr) source_.fail("header dict has no 'descr' key");
    if (!seen_fortran) source_.fail("header dict has no 'fortran_order' key");
    if (!seen_shape) source_.fail("header dict has no 'shape' key");
    return header;
  }

 private:
  [[noreturn]] void error(const std::string& message) const {
    source_.fail("bad header dict at character ", pos_, ": ", message);
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void expect(char c, const std::string& message) {
    if (peek() != c) error(message);
    ++pos_;
  }
  // NumPy pads with spaces and ends with '\n'; Python would accept any whitespace.
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }
  void mark_seen(bool& seen, const std::string& key) {
    if (seen) error("key '" + key + "' appears twice");
    seen = true;
  }

  // A quoted string without escapes (no NumPy header needs one).
  std::string parse_string(const std::string& what) {
    char quote = peek();
    if (quote != '\'' && quote != '"') error("expected a quoted string for " + what);
    size_t start = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '\\') error("escape sequences are not supported in header strings");
      if (c < 0x20 || c >= 0x7f) error("unexpected byte " + std::to_string(c) + " in a string");
      ++pos_;
    }
    if (pos_ == text_.size()) error("unterminated string");
    return std::string(text_.substr(start, pos_++ - start));
  }

  bool parse_bool(const std::string& key) {
    if (text_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (text_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    error("header field '" + key + "' must be True or False");
  }

  void parse_descr(NpyHeader& header) {
    if (peek() == '[' || peek() == '(')
      source_.fail("header field 'descr': structured and sub-array dtypes are not supported; readable types are ",
                   kReadableTypes);
    header.descr = parse_string("'descr'");
    const std::string& d = header.descr;
    if (d.size() >= 2) {
      char order = d[0];
      std::string_view code = std::string_view(d).substr(1);
      for (const NpyType& t : kNpyTypes) {
        if (code != t.code) continue;
        bool one_byte = dtype_size(t.dtype) == 1;
        if (order == '<' || order == '>' || (order == '|' && one_byte)) {
          header.dtype = t.dtype;
          header.big_endian = order == '>' && !one_byte;
          return;
        }
        if (order == '|')
          source_.fail("header field 'descr': '", d, "' has no byte order; a multi-byte type needs '<' or '>'");
        break;
      }
    }
    source_.fail("header field 'descr': dtype '", d, "' is not supported; readable types are ", kReadableTypes);
  }

  // A Python tuple of non-negative ints: "()", "(3,)", "(3, 4)", "(3, 4,)"; Python 2 wrote "3L".
  std::vector<int64_t> parse_shape() {
    expect('(', "header field 'shape' must be a tuple such as (3, 4)");
    std::vector<int64_t> dims;
    skip_space();
    bool trailing_comma = false;
    while (peek() != ')') {
      if (dims.size() >= static_cast<size_t>(Shape::kMaxRank))
        source_.fail("header field 'shape' has more than ", Shape::kMaxRank,
                     " dimensions; at most ", Shape::kMaxRank, " are supported");
      dims.push_back(parse_dim(dims.size()));
      skip_space();
      trailing_comma = peek() == ',';
      if (trailing_comma) {
        ++pos_;
        skip_space();
      } else if (peek() != ')') {
        error("expected ',' or ')' in header field 'shape'");
      }
    }
    ++pos_;
    if (dims.size() == 1 && !trailing_comma)
      error("header field 'shape': (" + std::to_string(dims[0]) + ") is a number, not a tuple; write (" +
            std::to_string(dims[0]) + ",)");
    return dims;
  }

  int64_t parse_dim(size_t index) {
    std::string field = "header field 'shape': dimension " + std::to_string(index);
    bool negative = peek() == '-';
    if (negative) ++pos_;
    size_t start = pos_;
    uint64_t magnitude = 0;
    bool too_big = false;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      uint64_t digit = static_cast<uint64_t>(text_[pos_++] - '0');
      if (magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) too_big = true;
      else magnitude = magnitude * 10 + digit;
    }
    if (pos_ == start || peek() == '.' || peek() == 'e' || peek() == 'E') error(field + " is not an integer");
    if (pos_ - start > 1 && text_[start] == '0') error(field + " has a leading zero");
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long suffix, as NumPy's own reader allows
    std::string_view literal = text_.substr(negative ? start - 1 : start, pos_ - start + (negative ? 1 : 0));
    if (negative && magnitude != 0) source_.fail(field, " is ", literal, "; dimensions must be non-negative");
    if (too_big || magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      source_.fail(field, " is ", literal, ", which does not fit in int64");
    return static_cast<int64_t>(magnitude);
  }

  const ByteSource& source_;
  std::string_view text_;
  size_t pos_ = 0;
};

uint64_t read_le(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

Tensor load_npy_from(const ByteSource& source) {
  const uint64_t file_size = source.size();
  uint8_t preamble[12];
  if (file_size < kMagicSize + 4)
    source.fail("not a .npy file: only ", file_size, " bytes, too short for the magic string and version");
  source.read(0, preamble, kMagicSize + 2, "the magic string");
  if (std::memcmp(preamble, kMagic, kMagicSize) != 0)
    source.fail("not a .npy file: bad magic bytes (expected \\x93NUMPY at the start)");
  int major = preamble[6], minor = preamble[7];
  if (major < 1 || major > 3 || minor != 0)
    source.fail("unsupported .npy format version ", major, ".", minor, " (1.0, 2.0 and 3.0 are readable)");

  const size_t length_size = major == 1 ? 2 : 4;
  if (file_size < kMagicSize + 2 + length_size)
    source.fail("truncated: the file ends inside the header length field");
  source.read(kMagicSize + 2, preamble + 8, length_size, "the header length");
  const uint64_t header_size = read_le(preamble + 8, length_size);
  if (header_size > kNpyMaxHeaderBytes)
    source.fail("header length ", header_size, " exceeds the limit of ", kNpyMaxHeaderBytes, " bytes");
  const uint64_t data_offset = kMagicSize + 2 + length_size + header_size;
  if (data_offset > file_size)
    source.fail("truncated: the header length says ", header_size, " bytes but only ",
                file_size - (kMagicSize + 2 + length_size), " follow");
  std::string text(header_size, '\0');
  source.read(kMagicSize + 2 + length_size, text.data(), header_size, "the header");

  NpyHeader header = HeaderDictParser(source, text).parse();
  CheckedShape checked = check_header_shape(source, "header field 'shape'", header.dims, header.dtype);
  const uint64_t data_size = file_size - data_offset;
  if (checked.nbytes > data_size)
    source.fail("truncated data: shape ", dims_str(header.dims), " of '", header.descr, "' needs ", checked.nbytes,
                " bytes but the file has ", data_size, " after the header");
  if (checked.nbytes < data_size)
    source.fail(data_size - checked.nbytes, " unexpected bytes after the data (shape ", dims_str(header.dims),
                " of '", header.descr, "' needs ", checked.nbytes, " bytes)");

  // Fortran order stores the transpose row-major: read it as such, then permute back.
  std::vector<int64_t> stored_dims = header.dims;
  if (header.fortran_order) std::reverse(stored_dims.begin(), stored_dims.end());
  Tensor t = Tensor::empty(Shape(stored_dims), header.dtype);
  if (checked.nbytes > 0) source.read(data_offset, t.raw_data(), checked.nbytes, "the array data");
  if (header.big_endian) byteswap_elements(t.raw_data(), t.numel(), t.element_size());
  if (header.dtype == DType::Bool) {
    int64_t bad = first_invalid_bool(t.data<uint8_t>(), t.numel());
    if (bad >= 0)
      source.fail("element ", bad, " of the bool data has byte value ", int(t.data<uint8_t>()[bad]),
                  " (must be 0 or 1)");
  }
  if (header.fortran_order && t.dim() > 1) {
    std::vector<int64_t> reverse_dims;
    for (int d = t.dim() - 1; d >= 0; --d) reverse_dims.push_back(d);
    t = t.permute(reverse_dims).contiguous();
  }
  return t;
}

const char* npy_descr(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "<f4";
    case DType::Float64: return "<f8";
    case DType::Float16: return "<f2";
    case DType::Int64: return "<i8";
    case DType::Int32: return "<i4";
    case DType::UInt8: return "|u1";
    case DType::Bool: return "|b1";
    case DType::BFloat16: break;
  }
  return nullptr;
}

// The same bytes np.save writes for a C-ordered array (NumPy >= 1.24, format 1.0).
std::string npy_preamble_and_header(DType dtype, const Shape& shape) {
  std::string dict = std::string("{'descr': '") + npy_descr(dtype) + "', 'fortran_order': False, 'shape': (";
  for (int i = 0; i < shape.size(); ++i) dict += (i ? ", " : "") + std::to_string(shape[i]);
  dict += shape.size() == 1 ? ",), }" : "), }";
  if (shape.size() > 0) dict += std::string(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');
  size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;  // + 1 for the final '\n'
  dict += std::string(kArrayAlign - unpadded % kArrayAlign, ' ');
  dict += '\n';
  std::string out(kMagic, kMagicSize);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>(dict.size() >> 8);
  return out + dict;
}

}  // namespace

Tensor load_npy(const std::string& path) { return load_npy_from(io::FileSource(path)); }

Tensor load_npy_bytes(const uint8_t* data, size_t size, const std::string& name_for_errors) {
  return load_npy_from(io::MemorySource(data, size, name_for_errors));
}

void save_npy(const std::string& path, const Tensor& t) {
  NL_CHECK(t.defined(), path, ": cannot save an undefined tensor");
  NL_CHECK(npy_descr(t.dtype()) != nullptr, path, ": .npy has no ", dtype_name(t.dtype()),
           " type; convert the tensor (e.g. to float32) before saving");
  Tensor data = io::contiguous_cpu(t);
  std::string header = npy_preamble_and_header(data.dtype(), data.shape());
  io::AtomicFileWriter file(path);
  file.write(header.data(), header.size());
  file.write(data.raw_data(), static_cast<size_t>(data.numel()) * data.element_size());
  file.commit();
}

}  // namespace nl
