// Reading and writing safetensors files. The JSON header is read by a small strict pull
// parser driven by the expected layout, so memory stays proportional to what is accepted
// (a shape longer than the maximum rank is refused while it is being read) and every
// error can name the tensor and field it concerns.
#include "engine/io/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>
#include <vector>

#include "engine/io/file_bytes.h"

namespace nl {
namespace {

using io::ByteSource;

static_assert(std::endian::native == std::endian::little,
              "the readers copy little-endian file data straight into tensors");

constexpr const char* kMetadataKey = "__metadata__";

struct SafetensorsType {
  const char* name;
  DType dtype;
};
constexpr SafetensorsType kSupportedTypes[] = {
    {"F32", DType::Float32}, {"F64", DType::Float64}, {"F16", DType::Float16}, {"BF16", DType::BFloat16},
    {"I64", DType::Int64},   {"I32", DType::Int32},   {"U8", DType::UInt8},    {"BOOL", DType::Bool},
};
// Valid in the format but with no engine DType; named so the error says so rather than "unknown".
constexpr const char* kUnsupportedTypes[] = {"I8",      "I16",     "U16",     "U32",     "U64",
                                             "F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2",
                                             "F4",      "C64"};
constexpr const char* kSupportedList = "F32, F64, F16, BF16, I64, I32, U8, BOOL";

const char* safetensors_dtype_name(DType dtype) {
  for (const SafetensorsType& t : kSupportedTypes)
    if (t.dtype == dtype) return t.name;
  return nullptr;
}

// Length of the valid UTF-8 sequence starting at s[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when it is invalid.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0u; };
  unsigned c = byte(i);
  auto cont = [&](size_t k) { return (byte(k) & 0xC0) == 0x80; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned c1 = byte(i + 1);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return 0;
    return cont(i + 1) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned c1 = byte(i + 1);
    if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return 0;
    return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// A JSON number as written, checked against the RFC 8259 grammar; converted on demand so
// the caller can say "shape[1] is -3" or "is 1.5, not an integer" in its own terms.
struct JsonNumber {
  std::string text;
  bool negative = false;
  bool integral = true;   // no fraction and no exponent
  bool overflow = false;  // magnitude above 2^64 - 1
  uint64_t magnitude = 0;
};

// Reads the header JSON strictly (RFC 8259: no comments, no trailing commas, no raw control
// characters in strings, valid UTF-8) in the order the caller asks for values.
class JsonCursor {
 public:
  JsonCursor(const ByteSource& source, std::string_view text) : source_(source), text_(text) {}

  // Tracks commas between the members or elements of one object or array.
  struct Container {
    bool first = true;
  };

  [[noreturn]] void syntax_error(const std::string& message) const {
    source_.fail("bad JSON in header at byte ", pos_, ": ", message);
  }

  // What the next value is, for "expected an array but found a string" messages.
  const char* next_kind() {
    skip_space();
    switch (peek()) {
      case '{': return "an object";
      case '[': return "an array";
      case '"': return "a string";
      case 't': case 'f': return "a boolean";
      case 'n': return "null";
      case '\0': return "the end of the header";
      default: return (peek() == '-' || (peek() >= '0' && peek() <= '9')) ? "a number" : "an invalid token";
    }
  }
  bool next_is(char c) {
    skip_space();
    return peek() == c;
  }

  void begin(char open) {
    skip_space();
    if (peek() != open) syntax_error(std::string("expected '") + open + "'");
    ++pos_;
  }
  // Steps to the next member of an object; false (consuming '}') when there is none.
  bool next_member(Container& c, std::string& key) {
    if (!next_item(c, '}')) return false;
    if (peek() != '"') syntax_error("expected a string key");
    key = read_string();
    skip_space();
    if (peek() != ':') syntax_error("expected ':' after key \"" + key + "\"");
    ++pos_;
    return true;
  }
  // Steps to the next element of an array; false (consuming ']') when there is none.
  bool next_element(Container& c) { return next_item(c, ']'); }

  std::string read_string() {
    skip_space();
    if (peek() != '"') syntax_error("expected a string");
    ++pos_;
    std::string out;
    for (;;) {
      if (pos_ >= text_.size()) syntax_error("unterminated string");
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') break;
      if (c < 0x20) syntax_error("raw control character " + std::to_string(c) + " in a string");
      if (c == '\\') {
        read_escape(out);
        continue;
      }
      size_t n = utf8_sequence_length(text_, pos_);
      if (n == 0) syntax_error("invalid UTF-8 in a string");
      out.append(text_.substr(pos_, n));
      pos_ += n;
    }
    ++pos_;
    return out;
  }

  JsonNumber read_number() {
    skip_space();
    JsonNumber num;
    size_t start = pos_;
    if (peek() == '-') {
      num.negative = true;
      ++pos_;
    }
    if (!is_digit(peek())) syntax_error("expected a number");
    if (peek() == '0' && is_digit(peek_at(1))) syntax_error("numbers must not have leading zeros");
    while (is_digit(peek())) {
      uint64_t digit = static_cast<uint64_t>(text_[pos_++] - '0');
      if (num.magnitude > (std::numeric_limits<uint64_t>::max() - digit) / 10) num.overflow = true;
      else num.magnitude = num.magnitude * 10 + digit;
    }
    if (peek() == '.') {
      num.integral = false;
      ++pos_;
      if (!is_digit(peek())) syntax_error("expected digits after '.'");
      while (is_digit(peek())) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      num.integral = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (!is_digit(peek())) syntax_error("expected digits in the exponent");
      while (is_digit(peek())) ++pos_;
    }
    num.text = std::string(text_.substr(start, pos_ - start));
    return num;
  }

  void expect_end() {
    skip_space();
    if (pos_ != text_.size()) syntax_error("unexpected text after the top-level object");
  }

 private:
  char peek() const { return peek_at(0); }
  char peek_at(size_t k) const { return pos_ + k < text_.size() ? text_[pos_ + k] : '\0'; }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r'))
      ++pos_;
  }

  bool next_item(Container& c, char close) {
    skip_space();
    if (peek() == close) {
      ++pos_;
      return false;
    }
    if (!c.first) {
      if (peek() != ',') syntax_error(std::string("expected ',' or '") + close + "'");
      ++pos_;
      skip_space();
      if (peek() == close) syntax_error("trailing comma");
    }
    c.first = false;
    return true;
  }

  uint32_t read_hex4() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = peek();
      int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (d < 0) syntax_error("\\u must be followed by four hex digits");
      v = v * 16 + static_cast<uint32_t>(d);
      ++pos_;
    }
    return v;
  }

  void read_escape(std::string& out) {
    ++pos_;  // the backslash
    char e = peek();
    ++pos_;
    switch (e) {
      case '"': out += '"'; return;
      case '\\': out += '\\'; return;
      case '/': out += '/'; return;
      case 'b': out += '\b'; return;
      case 'f': out += '\f'; return;
      case 'n': out += '\n'; return;
      case 'r': out += '\r'; return;
      case 't': out += '\t'; return;
      case 'u': break;
      default: syntax_error("invalid escape sequence");
    }
    uint32_t cp = read_hex4();
    if (cp >= 0xDC00 && cp <= 0xDFFF) syntax_error("unpaired low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (peek() != '\\' || peek_at(1) != 'u') syntax_error("unpaired high surrogate in \\u escape");
      pos_ += 2;
      uint32_t low = read_hex4();
      if (low < 0xDC00 || low > 0xDFFF) syntax_error("unpaired high surrogate in \\u escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, cp);
  }

  const ByteSource& source_;
  std::string_view text_;
  size_t pos_ = 0;
};

struct TensorEntry {
  std::string name;
  DType dtype = DType::Float32;
  std::vector<int64_t> dims;
  uint64_t begin = 0, end = 0;
  Shape shape;
  uint64_t nbytes = 0;
};

// Parses the header into tensor entries and metadata, checking types and names; sizes are
// checked afterwards against the data buffer by check_layout().
class HeaderReader {
 public:
  HeaderReader(const ByteSource& source, std::string_view json) : source_(source), json_(source, json) {}

  void read(std::vector<TensorEntry>& entries, std::map<std::string, std::string>& metadata) {
    json_.begin('{');
    JsonCursor::Container top;
    std::string key;
    std::set<std::string> names;
    bool seen_metadata = false;
    while (json_.next_member(top, key)) {
      if (key == kMetadataKey) {
        if (seen_metadata) source_.fail("\"", kMetadataKey, "\" appears twice in the header");
        seen_metadata = true;
        read_metadata(metadata);
        continue;
      }
      if (!names.insert(key).second) source_.fail("tensor '", key, "' appears twice in the header");
      entries.push_back(read_entry(key));
    }
    json_.expect_end();
  }

 private:
  void expect_kind(char open, const std::string& what, const char* kind) {
    if (!json_.next_is(open)) source_.fail(what, " must be ", kind, " but is ", json_.next_kind());
  }

  void read_metadata(std::map<std::string, std::string>& metadata) {
    expect_kind('{', std::string("\"") + kMetadataKey + "\"", "an object of strings");
    json_.begin('{');
    JsonCursor::Container c;
    std::string key;
    while (json_.next_member(c, key)) {
      std::string what = std::string(kMetadataKey) + " entry '" + key + "'";
      expect_kind('"', what, "a string");
      if (!metadata.emplace(key, json_.read_string()).second) source_.fail(what, " appears twice");
    }
  }

  TensorEntry read_entry(const std::string& name) {
    TensorEntry e;
    e.name = name;
    const std::string who = "tensor '" + name + "'";
    expect_kind('{', who, "an object with dtype, shape and data_offsets");
    json_.begin('{');
    JsonCursor::Container c;
    std::string key;
    bool seen_dtype = false, seen_shape = false, seen_offsets = false;
    while (json_.next_member(c, key)) {
      std::string field = who + ": '" + key + "'";
      if (key == "dtype") {
        mark_seen(seen_dtype, field);
        expect_kind('"', field, "a string");
        e.dtype = parse_dtype(who, json_.read_string());
      } else if (key == "shape") {
        mark_seen(seen_shape, field);
        for (uint64_t d : read_unsigned_array(field, Shape::kMaxRank, /*exact=*/false)) {
          if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            source_.fail(field, "[", e.dims.size(), "] is ", d, ", which does not fit in int64");
          e.dims.push_back(static_cast<int64_t>(d));
        }
      } else if (key == "data_offsets") {
        mark_seen(seen_offsets, field);
        std::vector<uint64_t> offsets = read_unsigned_array(field, 2, /*exact=*/true);
        e.begin = offsets[0];
        e.end = offsets[1];
      } else {
        source_.fail(who, ": unexpected field '", key, "' (expected dtype, shape and data_offsets)");
      }
    }
    if (!seen_dtype) source_.fail(who, " has no 'dtype'");
    if (!seen_shape) source_.fail(who, " has no 'shape'");
    if (!seen_offsets) source_.fail(who, " has no 'data_offsets'");
    return e;
  }

  void mark_seen(bool& seen, const std::string& field) {
    if (seen) source_.fail(field, " appears twice");
    seen = true;
  }

  DType parse_dtype(const std::string& who, const std::string& text) {
    for (const SafetensorsType& t : kSupportedTypes)
      if (text == t.name) return t.dtype;
    for (const char* name : kUnsupportedTypes)
      if (text == name)
        source_.fail(who, ": dtype '", text, "' is not supported by Netloom (supported: ", kSupportedList, ")");
    source_.fail(who, ": unknown dtype '", text, "' (supported: ", kSupportedList, ")");
  }

  // Non-negative integers that fit in 64 bits: at most `max_count` of them, or exactly that
  // many when `exact`. The array is refused as soon as it runs long, before storing more.
  std::vector<uint64_t> read_unsigned_array(const std::string& field, size_t max_count, bool exact) {
    expect_kind('[', field, "an array of integers");
    json_.begin('[');
    JsonCursor::Container c;
    std::vector<uint64_t> values;
    while (json_.next_element(c)) {
      if (values.size() == max_count) {
        if (exact) source_.fail(field, " must have exactly ", max_count, " entries");
        source_.fail(field, " has more than ", max_count, " entries; at most ", max_count,
                     " dimensions are supported");
      }
      std::string item = field + "[" + std::to_string(values.size()) + "]";
      if (std::strcmp(json_.next_kind(), "a number") != 0)
        source_.fail(item, " must be an integer but is ", json_.next_kind());
      JsonNumber n = json_.read_number();
      if (!n.integral) source_.fail(item, " is ", n.text, ", not an integer");
      if (n.negative && (n.magnitude != 0 || n.overflow)) source_.fail(item, " is ", n.text, ", which is negative");
      if (n.overflow) source_.fail(item, " is ", n.text, ", which does not fit in 64 bits");
      values.push_back(n.magnitude);
    }
    if (exact && values.size() != max_count) source_.fail(field, " must have exactly ", max_count, " entries");
    return values;
  }

  const ByteSource& source_;
  JsonCursor json_;
};

std::string offsets_str(const TensorEntry& e) {
  std::string s = "[";
  s += std::to_string(e.begin);
  s += ", ";
  s += std::to_string(e.end);
  return s + "]";
}

// Every tensor's bytes must match its dtype and shape and lie in the buffer, and together the
// regions must tile the buffer exactly: the format allows no overlap and no unused bytes.
void check_layout(const ByteSource& source, std::vector<TensorEntry>& entries, uint64_t buffer_size) {
  for (TensorEntry& e : entries) {
    const std::string who = "tensor '" + e.name + "'";
    io::CheckedShape checked = io::check_header_shape(source, who + ": 'shape'", e.dims, e.dtype);
    e.shape = checked.shape;
    e.nbytes = checked.nbytes;
    if (e.begin > e.end) source.fail(who, ": data_offsets ", offsets_str(e), " are reversed (begin > end)");
    if (e.end > buffer_size)
      source.fail(who, ": data_offsets ", offsets_str(e), " run past the end of the data buffer (", buffer_size,
                  " bytes)");
    if (e.end - e.begin != e.nbytes)
      source.fail(who, ": data_offsets ", offsets_str(e), " give ", e.end - e.begin, " bytes but ",
                  dtype_name(e.dtype), " × ", io::dims_str(e.dims), " needs ", e.nbytes);
  }
  std::vector<const TensorEntry*> by_offset;
  for (const TensorEntry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry* e : by_offset) {
    if (e->begin < covered)
      source.fail("tensors '", previous->name, "' ", offsets_str(*previous), " and '", e->name, "' ",
                  offsets_str(*e), " overlap");
    if (e->begin > covered)
      source.fail("bytes [", covered, ", ", e->begin, ") of the data buffer belong to no tensor (a hole before '",
                  e->name, "')");
    covered = e->end;
    previous = e;
  }
  if (covered != buffer_size)
    source.fail("bytes [", covered, ", ", buffer_size, ") at the end of the data buffer belong to no tensor");
}

std::map<std::string, Tensor> load_safetensors_from(const ByteSource& source,
                                                    std::map<std::string, std::string>* metadata_out) {
  const uint64_t file_size = source.size();
  if (file_size < 8)
    source.fail("not a safetensors file: only ", file_size, " bytes, less than the 8-byte header length");
  uint8_t length_bytes[8];
  source.read(0, length_bytes, 8, "the header length");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(length_bytes[i]) << (8 * i);
  if (header_size > kSafetensorsMaxHeaderBytes)
    source.fail("header length ", header_size, " exceeds the limit of ", kSafetensorsMaxHeaderBytes, " bytes");
  if (header_size > file_size - 8)
    source.fail("truncated: the header length says ", header_size, " bytes but only ", file_size - 8, " follow");
  std::string json(header_size, '\0');
  source.read(8, json.data(), header_size, "the header");

  // The reference implementation insists on '{' as the very first byte; so do we.
  if (json.empty() || json[0] != '{')
    source.fail("bad JSON in header at byte 0: the header must be a JSON object starting with '{'");
  std::vector<TensorEntry> entries;
  std::map<std::string, std::string> metadata;
  HeaderReader(source, json).read(entries, metadata);
  const uint64_t data_start = 8 + header_size;
  check_layout(source, entries, file_size - data_start);

  // Only now, with every size proven to fit in the file, is memory allocated.
  std::map<std::string, Tensor> tensors;
  for (const TensorEntry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.nbytes > 0) source.read(data_start + e.begin, t.raw_data(), e.nbytes, "tensor data");
    if (e.dtype == DType::Bool) {
      int64_t bad = io::first_invalid_bool(t.data<uint8_t>(), e.nbytes);
      if (bad >= 0)
        source.fail("tensor '", e.name, "': element ", bad, " has byte value ", int(t.data<uint8_t>()[bad]),
                    " (BOOL must be 0 or 1)");
    }
    tensors.emplace(e.name, std::move(t));
  }
  if (metadata_out) *metadata_out = std::move(metadata);
  return tensors;
}

void append_json_string(std::string& out, const std::string& s) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  out += '"';
}

}  // namespace

std::map<std::string, Tensor> load_safetensors(const std::string& path,
                                               std::map<std::string, std::string>* metadata) {
  return load_safetensors_from(io::FileSource(path), metadata);
}

std::map<std::string, Tensor> load_safetensors_bytes(const uint8_t* data, size_t size,
                                                     const std::string& name_for_errors,
                                                     std::map<std::string, std::string>* metadata) {
  return load_safetensors_from(io::MemorySource(data, size, name_for_errors), metadata);
}

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  // Everything that can be refused is checked before the temporary file exists.
  std::string header = "{";
  if (!metadata.empty()) {
    append_json_string(header, kMetadataKey);
    header += ":{";
    bool first = true;
    for (const auto& [key, value] : metadata) {
      NL_CHECK(is_valid_utf8(key) && is_valid_utf8(value), path, ": metadata entry '", key,
               "' is not valid UTF-8");
      if (!first) header += ',';
      first = false;
      append_json_string(header, key);
      header += ':';
      append_json_string(header, value);
    }
    header += '}';
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    NL_CHECK(name != kMetadataKey, path, ": \"", kMetadataKey, "\" is reserved and cannot name a tensor");
    NL_CHECK(is_valid_utf8(name), path, ": tensor name '", name, "' is not valid UTF-8");
    NL_CHECK(t.defined(), path, ": tensor '", name, "' is undefined");
    const char* dtype = safetensors_dtype_name(t.dtype());
    NL_CHECK(dtype != nullptr, path, ": tensor '", name, "' has dtype ", dtype_name(t.dtype()),
             " which safetensors cannot store");
    uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    if (header.size() > 1) header += ',';
    append_json_string(header, name);
    header += ":{\"dtype\":\"";
    header += dtype;
    header += "\",\"shape\":[";
    for (int i = 0; i < t.dim(); ++i) {
      if (i) header += ',';
      header += std::to_string(t.size(i));
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + nbytes) + "]}";
    offset += nbytes;
  }
  header += '}';
  // Padding to a multiple of 8 keeps the data buffer 8-byte aligned for memory mapping.
  header.append((8 - header.size() % 8) % 8, ' ');
  uint8_t length_bytes[8];
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));

  io::AtomicFileWriter file(path);
  file.write(length_bytes, 8);
  file.write(header.data(), header.size());
  // One tensor at a time, so at most one extra host copy (of a strided or GPU tensor) exists.
  for (const auto& [name, t] : tensors) {
    Tensor data = io::contiguous_cpu(t);
    file.write(data.raw_data(), static_cast<size_t>(data.numel()) * data.element_size());
  }
  file.commit();
}

}  // namespace nl
