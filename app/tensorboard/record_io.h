// TFRecord framing, as TensorBoard's event files use it: each record is
//   uint64 length, uint32 masked_crc32c(length), bytes data, uint32 masked_crc32c(data)
// little-endian, where masked_crc32c(x) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 over
// CRC-32C (Castagnoli).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace nl::tensorboard {

uint32_t crc32c(std::string_view data);
uint32_t masked_crc32c(std::string_view data);

// Appends one framed record to an open file.
void write_record(std::FILE* file, std::string_view data);

// Every record of a file, with both checksums verified. Throws nl::Error naming the file and
// the record's index on a short read or a checksum that does not match.
std::vector<std::string> read_records(const std::string& path);

}  // namespace nl::tensorboard
