// MNIST and Fashion-MNIST from their IDX files (train-images-idx3-ubyte, train-labels-
// idx1-ubyte, …), plain or gzip-compressed as distributed.
//
//   auto train = nl::data::load_mnist("mnist/train-images-idx3-ubyte.gz", "mnist/train-labels-idx1-ubyte.gz");
//   // 60000 samples, input [1, 28, 28] in [0, 1], classes "0" … "9"
//
// IDX layout: two zero bytes, a type byte (0x08 = unsigned byte, the only type these sets
// use), a dimension count, one big-endian uint32 per dimension, then the row-major data.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/data/dataset.h"

namespace nl::data {

// Any unsigned-byte IDX file as a UInt8 tensor of the dimensions its header gives.
Tensor load_idx(const std::string& path);

// Images (3-D IDX) become Float32 [N, 1, H, W] scaled to [0, 1]; labels (1-D IDX) must be
// below class_names.size() and as many as the images.
std::shared_ptr<TensorDataset> load_idx_classification(const std::string& images_path, const std::string& labels_path,
                                                       std::vector<std::string> class_names);
std::shared_ptr<TensorDataset> load_mnist(const std::string& images_path, const std::string& labels_path);
std::shared_ptr<TensorDataset> load_fashion_mnist(const std::string& images_path, const std::string& labels_path);

}  // namespace nl::data
