// Datasets saved from NumPy as two .npy files: inputs [N, ...] and targets [N] (class
// indices) or [N, ...] floating (regression), e.g. np.save("inputs.npy", X); np.save(
// "targets.npy", y). Parsing and header checks are engine/io/npy.h's; this pairs the arrays.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/data/dataset.h"

namespace nl::data {

// Inputs of any numeric dtype become Float32; integer targets are class indices (named by
// class_names when given), floating targets regression values.
std::shared_ptr<TensorDataset> load_npy_pair(const std::string& inputs_path, const std::string& targets_path,
                                             std::vector<std::string> class_names = {});

}  // namespace nl::data
