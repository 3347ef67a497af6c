// CIFAR-10 binary batches: each file must be a whole number of 3073-byte records with labels
// below 10, checked before any tensor is allocated.
#include "engine/data/cifar.h"

#include <filesystem>

#include "engine/core/error.h"
#include "engine/data/file_reader.h"

namespace nl::data {
namespace {

// A real batch file is 30.7 MB (10000 records); anything past this is not CIFAR.
constexpr size_t kMaxBatchFileBytes = size_t{1} << 30;
constexpr int64_t kPixelsPerImage = kCifarRecordBytes - 1;

}  // namespace

std::shared_ptr<TensorDataset> load_cifar10(const std::vector<std::string>& batch_files) {
  NL_CHECK(!batch_files.empty(), "load_cifar10: no batch files given");
  std::vector<std::vector<uint8_t>> contents;
  int64_t records = 0;
  for (const std::string& path : batch_files) {
    std::vector<uint8_t> bytes = read_whole_file(path, kMaxBatchFileBytes, "a CIFAR batch file");
    const int64_t size = static_cast<int64_t>(bytes.size());
    NL_CHECK(size > 0, path, ": empty file; a CIFAR-10 batch holds records of ", kCifarRecordBytes, " bytes");
    if (size % kCifarRecordBytes != 0) {
      const bool looks_like_cifar100 = size % (kCifarRecordBytes + 1) == 0;
      fail(path, ": file size ", size, " bytes is not a multiple of the ", kCifarRecordBytes,
           "-byte CIFAR-10 record (1 label byte + 3072 pixel bytes); ",
           looks_like_cifar100 ? "it matches CIFAR-100's 3074-byte records, which this reader does not read"
                               : "the last record is cut off after " + std::to_string(size % kCifarRecordBytes) +
                                     " bytes");
    }
    const int64_t n = size / kCifarRecordBytes;
    for (int64_t r = 0; r < n; ++r) {
      const int label = bytes[r * kCifarRecordBytes];
      NL_CHECK(label < 10, path, ": record ", r, " has label byte ", label, "; CIFAR-10 labels are 0 to 9");
    }
    records += n;
    contents.push_back(std::move(bytes));
  }

  Tensor inputs = Tensor::empty({records, 3, 32, 32});
  Tensor targets = Tensor::empty({records}, DType::Int64);
  float* x = inputs.data<float>();
  int64_t* y = targets.data<int64_t>();
  int64_t row = 0;
  for (const std::vector<uint8_t>& bytes : contents) {
    for (size_t offset = 0; offset < bytes.size(); offset += kCifarRecordBytes, ++row) {
      y[row] = bytes[offset];
      // The record's pixels are already planar R, G, B: the [3, 32, 32] layout.
      const uint8_t* pixels = bytes.data() + offset + 1;
      float* out = x + row * kPixelsPerImage;
      for (int64_t i = 0; i < kPixelsPerImage; ++i) out[i] = pixels[i] * (1.0f / 255.0f);
    }
  }
  return std::make_shared<TensorDataset>(
      inputs, targets,
      std::vector<std::string>{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                               "truck"});
}

std::shared_ptr<TensorDataset> load_cifar10_folder(const std::string& folder, bool train) {
  NL_CHECK(std::filesystem::is_directory(folder), folder, ": not a folder (expected cifar-10-batches-bin)");
  std::vector<std::string> files;
  const std::filesystem::path dir(folder);
  if (train)
    for (int i = 1; i <= 5; ++i) files.push_back((dir / ("data_batch_" + std::to_string(i) + ".bin")).string());
  else
    files.push_back((dir / "test_batch.bin").string());
  return load_cifar10(files);
}

}  // namespace nl::data
