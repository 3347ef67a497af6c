// CIFAR-10 from its binary distribution (cifar-10-batches-bin/data_batch_1.bin … _5.bin and
// test_batch.bin): records of one label byte followed by 3072 pixel bytes (1024 red, 1024
// green, 1024 blue, each 32×32 row-major).
//
//   auto train = nl::data::load_cifar10_folder("cifar-10-batches-bin", /*train=*/true);
//   // 50000 samples, input [3, 32, 32] in [0, 1], classes "airplane" … "truck"
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/data/dataset.h"

namespace nl::data {

inline constexpr int64_t kCifarRecordBytes = 1 + 3 * 32 * 32;

// The records of all the given batch files, in order. Files may be gzip-compressed.
std::shared_ptr<TensorDataset> load_cifar10(const std::vector<std::string>& batch_files);
// data_batch_1.bin … data_batch_5.bin (train) or test_batch.bin from `folder`.
std::shared_ptr<TensorDataset> load_cifar10_folder(const std::string& folder, bool train);

}  // namespace nl::data
