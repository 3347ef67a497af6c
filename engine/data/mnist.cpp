// IDX reading for MNIST-style datasets: header checks first, then data whose length must
// match the header exactly (see file_reader.h for why a lying header allocates nothing).
#include "engine/data/mnist.h"

#include <cstdio>
#include <cstring>

#include "engine/core/error.h"
#include "engine/data/file_reader.h"

namespace nl::data {
namespace {

// IDX files this size and above are refused before reading: the largest real ones (EMNIST)
// are well under a gigabyte.
constexpr uint64_t kMaxIdxDataBytes = uint64_t{16} << 30;

enum class IdxKind { Any, Images, Labels };

struct IdxFile {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

const char* idx_type_name(uint8_t type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return "unknown";
  }
}

std::string hex8(uint8_t b) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", b);
  return text;
}

std::string hex32(const uint8_t* b) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%02X%02X%02X%02X", b[0], b[1], b[2], b[3]);
  return text;
}

std::string describe_length_mismatch(const std::string& path, IdxKind kind, const std::vector<int64_t>& dims,
                                     uint64_t expected, uint64_t held, bool more) {
  std::string claim;
  switch (kind) {
    case IdxKind::Images:
      claim = std::to_string(dims[0]) + " images of " + std::to_string(dims[1]) + "×" + std::to_string(dims[2]);
      break;
    case IdxKind::Labels: claim = std::to_string(dims[0]) + " labels"; break;
    case IdxKind::Any: {
      claim = "dimensions [";
      for (size_t i = 0; i < dims.size(); ++i) claim += (i ? ", " : "") + std::to_string(dims[i]);
      claim += "]";
    }
  }
  const char* data_name = kind == IdxKind::Images ? "pixel data" : kind == IdxKind::Labels ? "label data" : "data";
  if (more)
    return path + ": header says " + claim + " (" + std::to_string(expected) + " bytes) but the file holds more " +
           data_name + " than that";
  return path + ": header says " + claim + " but the file holds " + std::to_string(held) + " bytes of " + data_name +
         " (" + std::to_string(expected) + " expected)";
}

IdxFile read_idx(const std::string& path, IdxKind kind) {
  FileReader file(path);
  uint8_t magic[4];
  file.read_exact(magic, 4, "the IDX magic number");
  NL_CHECK(magic[0] == 0 && magic[1] == 0, path, ": not an IDX file: magic number ", hex32(magic),
           " should start with two zero bytes");
  NL_CHECK(magic[2] == 0x08, path, ": magic number ", hex32(magic), " gives data type ", hex8(magic[2]), " (",
           idx_type_name(magic[2]), "); only unsigned-byte IDX files (0x08) are supported");
  const int rank = magic[3];
  const int wanted_rank = kind == IdxKind::Images ? 3 : kind == IdxKind::Labels ? 1 : 0;
  if (wanted_rank)
    NL_CHECK(rank == wanted_rank, path, ": magic number ", hex32(magic), " gives ", rank, " dimension(s) but ",
             kind == IdxKind::Images ? "an images" : "a labels", " file has ", wanted_rank,
             rank == 4 - wanted_rank ? " (images and labels files swapped?)" : "");
  NL_CHECK(rank >= 1 && rank <= Shape::kMaxRank, path, ": magic number ", hex32(magic), " gives ", rank,
           " dimensions; 1 to ", Shape::kMaxRank, " are supported");

  IdxFile idx;
  uint64_t expected = 1;
  for (int d = 0; d < rank; ++d) {
    uint8_t b[4];
    file.read_exact(b, 4, "the size of dimension " + std::to_string(d));
    const uint64_t size = (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | b[3];
    if (kind == IdxKind::Images && d > 0)
      NL_CHECK(size > 0, path, ": header gives image ", d == 1 ? "height" : "width", " 0");
    idx.dims.push_back(static_cast<int64_t>(size));
    // Each factor is below 2^32, so checking after every step cannot overflow.
    expected *= size;
    NL_CHECK(expected <= kMaxIdxDataBytes, path, ": header's dimensions describe more than ",
             describe_bytes(kMaxIdxDataBytes), " of data, which is not a real dataset");
  }
  bool more = false;
  idx.data = file.read_rest(static_cast<size_t>(expected), &more);
  NL_CHECK(idx.data.size() == expected && !more,
           describe_length_mismatch(path, kind, idx.dims, expected, idx.data.size(), more));
  return idx;
}

}  // namespace

Tensor load_idx(const std::string& path) {
  IdxFile idx = read_idx(path, IdxKind::Any);
  return from_buffer(idx.data.data(), idx.data.size(), Shape(idx.dims), DType::UInt8);
}

std::shared_ptr<TensorDataset> load_idx_classification(const std::string& images_path, const std::string& labels_path,
                                                       std::vector<std::string> class_names) {
  IdxFile images = read_idx(images_path, IdxKind::Images);
  IdxFile labels = read_idx(labels_path, IdxKind::Labels);
  const int64_t n = images.dims[0], height = images.dims[1], width = images.dims[2];
  NL_CHECK(labels.dims[0] == n, labels_path, ": holds ", labels.dims[0], " labels but ", images_path, " holds ", n,
           " images");
  const int64_t classes = static_cast<int64_t>(class_names.size());
  Tensor targets = Tensor::empty({n}, DType::Int64);
  int64_t* t = targets.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    t[i] = labels.data[i];
    NL_CHECK(t[i] < classes, labels_path, ": label ", i, " is ", t[i], " but the dataset has ", classes, " classes");
  }
  Tensor inputs = Tensor::empty({n, 1, height, width});
  float* x = inputs.data<float>();
  for (size_t i = 0; i < images.data.size(); ++i) x[i] = images.data[i] * (1.0f / 255.0f);
  return std::make_shared<TensorDataset>(inputs, targets, std::move(class_names));
}

std::shared_ptr<TensorDataset> load_mnist(const std::string& images_path, const std::string& labels_path) {
  return load_idx_classification(images_path, labels_path, {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
}

std::shared_ptr<TensorDataset> load_fashion_mnist(const std::string& images_path, const std::string& labels_path) {
  return load_idx_classification(images_path, labels_path,
                                 {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                  "Sneaker", "Bag", "Ankle boot"});
}

}  // namespace nl::data
