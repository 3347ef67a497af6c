// TFRecord framing with masked CRC-32C (see record_io.h).
#include "app/tensorboard/record_io.h"

#include <array>
#include <cstring>

#include "engine/core/error.h"

namespace nl::tensorboard {

namespace {

std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // reflected Castagnoli
    t[i] = c;
  }
  return t;
}

void put_le(char* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_le(const unsigned char* in, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(in[i]) << (8 * i);
  return v;
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  static const std::array<uint32_t, 256> table = make_table();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(std::string_view data) {
  uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

void write_record(std::FILE* file, std::string_view data) {
  char header[12];
  put_le(header, data.size(), 8);
  put_le(header + 8, masked_crc32c(std::string_view(header, 8)), 4);
  char footer[4];
  put_le(footer, masked_crc32c(data), 4);
  std::fwrite(header, 1, sizeof header, file);
  std::fwrite(data.data(), 1, data.size(), file);
  std::fwrite(footer, 1, sizeof footer, file);
}

std::vector<std::string> read_records(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  NL_CHECK(f, path, ": cannot open");
  std::vector<std::string> out;
  try {
    while (true) {
      unsigned char header[12];
      size_t got = std::fread(header, 1, sizeof header, f);
      if (got == 0) break;
      NL_CHECK(got == sizeof header, path, ": record ", out.size(), ": truncated header");
      uint64_t length = get_le(header, 8);
      NL_CHECK(get_le(header + 8, 4) == masked_crc32c(std::string_view(reinterpret_cast<char*>(header), 8)), path,
               ": record ", out.size(), ": length checksum does not match");
      NL_CHECK(length < (uint64_t(1) << 31), path, ": record ", out.size(), ": length ", length, " is implausible");
      std::string data(length, '\0');
      NL_CHECK(std::fread(data.data(), 1, length, f) == length, path, ": record ", out.size(), ": truncated data");
      unsigned char footer[4];
      NL_CHECK(std::fread(footer, 1, 4, f) == 4, path, ": record ", out.size(), ": truncated checksum");
      NL_CHECK(get_le(footer, 4) == masked_crc32c(data), path, ": record ", out.size(), ": data checksum does not match");
      out.push_back(std::move(data));
    }
  } catch (...) {
    std::fclose(f);
    throw;
  }
  std::fclose(f);
  return out;
}

}  // namespace nl::tensorboard
