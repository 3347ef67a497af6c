// load_npy_pair: reads both arrays through nl::load_npy and checks they describe one dataset.
#include "engine/data/npy_pair.h"

#include "engine/core/error.h"
#include "engine/io/npy.h"

namespace nl::data {

std::shared_ptr<TensorDataset> load_npy_pair(const std::string& inputs_path, const std::string& targets_path,
                                             std::vector<std::string> class_names) {
  Tensor inputs = load_npy(inputs_path);
  Tensor targets = load_npy(targets_path);
  NL_CHECK(inputs.dim() >= 1, inputs_path, ": inputs must have a leading sample dimension, not shape ",
           inputs.shape().str());
  NL_CHECK(inputs.dtype() != DType::Bool, inputs_path, ": boolean inputs are not numeric features");
  NL_CHECK(targets.dim() >= 1, targets_path, ": targets must have a leading sample dimension, not shape ",
           targets.shape().str());
  NL_CHECK(targets.size(0) == inputs.size(0), targets_path, ": holds ", targets.size(0), " targets but ", inputs_path,
           " holds ", inputs.size(0), " samples (the first dimensions must match)");
  NL_CHECK(targets.dtype() != DType::Bool, targets_path, ": boolean targets; save class indices as integers");
  const bool class_indices = !is_floating(targets.dtype());
  if (class_indices)
    NL_CHECK(targets.dim() == 1, targets_path, ": class-index targets must be 1-D [N], not ", targets.shape().str(),
             " (save floating-point targets for regression)");
  try {
    return std::make_shared<TensorDataset>(inputs, targets, std::move(class_names));
  } catch (const Error& e) {
    // TensorDataset's checks (negative or out-of-range labels) concern the targets file.
    fail(targets_path, ": ", e.what());
  }
}

}  // namespace nl::data
