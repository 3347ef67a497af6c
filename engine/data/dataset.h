// Datasets: the interface the DataLoader reads samples through, the in-memory TensorDataset
// that the file readers and synthetic generators produce, index views (Subset) and seeded
// train/validation splits.
//
//   auto digits = nl::data::load_csv("digits.csv.gz");             // TensorDataset, 10 classes
//   auto parts = nl::data::random_split(digits, {0.8, 0.2}, 1);    // [0]: train, [1]: validation
//   nl::data::DataLoader loader(parts[0], {.batch_size = 64, .shuffle = true});
//   for (const nl::data::Batch& b : loader) { /* b.inputs [64, 64], b.targets [64] Int64 */ }
//
// Note [Sample layout]: a sample's input is Float32 of input_shape() (e.g. [1, 28, 28] or
// [4]); its target is an Int64 scalar class index in [0, num_classes()) for classification,
// or a Float32 tensor of target_shape() for regression (num_classes() == 0). A Batch stacks
// samples along a new leading dimension: inputs [B, ...input], targets [B, ...target].
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/core/generator.h"
#include "engine/core/tensor.h"

namespace nl::data {

struct Example {
  Tensor input;
  Tensor target;
};

struct Batch {
  Tensor inputs;
  Tensor targets;
  std::vector<int64_t> indices;  // which samples of the dataset the rows are, in row order
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Sample `index` in [0, size()), owning its tensors (callers may modify them). Must be
  // safe to call from several threads at once: loaders read on their worker threads.
  virtual Example get(int64_t index) const = 0;
  virtual Shape input_shape() const = 0;
  virtual Shape target_shape() const = 0;  // {} for class indices
  virtual int64_t num_classes() const = 0;  // 0 for regression
  virtual const std::vector<std::string>& class_names() const = 0;
  // The samples at `indices`, stacked (Note [Sample layout]). The default stacks get(i);
  // in-memory datasets override it to copy whole rows.
  virtual Batch get_batch(std::span<const int64_t> indices) const;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

// Samples held in two tensors: inputs [N, ...] and targets [N] (class indices, any integer
// dtype, stored as Int64) or [N, ...] floating (regression, stored as Float32). Inputs are
// stored as contiguous Float32. For classification the class count is class_names.size()
// when names are given (labels must lie below it), else max label + 1 with names "0", "1", ….
class TensorDataset final : public Dataset {
 public:
  TensorDataset(Tensor inputs, Tensor targets, std::vector<std::string> class_names = {});

  int64_t size() const override { return inputs_.size(0); }
  Example get(int64_t index) const override;
  Shape input_shape() const override { return sample_shape(inputs_); }
  Shape target_shape() const override { return sample_shape(targets_); }
  int64_t num_classes() const override { return static_cast<int64_t>(class_names_.size()); }
  const std::vector<std::string>& class_names() const override { return class_names_; }
  // One memcpy per sample row into the batch tensors.
  Batch get_batch(std::span<const int64_t> indices) const override;

  const Tensor& inputs() const { return inputs_; }
  const Tensor& targets() const { return targets_; }

 private:
  static Shape sample_shape(const Tensor& t);
  Tensor inputs_;
  Tensor targets_;
  std::vector<std::string> class_names_;
};

// A view of some samples of another dataset, in the given order (repeats allowed).
class Subset final : public Dataset {
 public:
  Subset(DatasetPtr base, std::vector<int64_t> indices);

  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index) const override;
  Shape input_shape() const override { return base_->input_shape(); }
  Shape target_shape() const override { return base_->target_shape(); }
  int64_t num_classes() const override { return base_->num_classes(); }
  const std::vector<std::string>& class_names() const override { return base_->class_names(); }
  // Maps the indices and asks the base, so a subset of a TensorDataset keeps its fast path.
  Batch get_batch(std::span<const int64_t> indices) const override;

  const DatasetPtr& base() const { return base_; }
  const std::vector<int64_t>& indices() const { return indices_; }

 private:
  DatasetPtr base_;
  std::vector<int64_t> indices_;
};

// Splits a dataset into disjoint random subsets by fractions that sum to 1 (e.g. {0.9, 0.1});
// rounding leftovers go one each to the first parts. The same seed gives the same split.
std::vector<std::shared_ptr<Subset>> random_split(DatasetPtr dataset, const std::vector<double>& fractions,
                                                  uint64_t seed);
// Same, by sample counts that sum to the dataset's size.
std::vector<std::shared_ptr<Subset>> random_split_counts(DatasetPtr dataset, const std::vector<int64_t>& counts,
                                                         uint64_t seed);

// Stacks samples into a batch; all inputs (and all targets) must share shape and dtype.
Batch collate(const std::vector<Example>& examples);

// Per-channel (dimension 0 of the input) mean and standard deviation over the first
// `max_samples` samples (all when <= 0), e.g. to build a normalize() transform.
struct ChannelStatistics {
  std::vector<float> mean;
  std::vector<float> stddev;
};
ChannelStatistics channel_statistics(const Dataset& dataset, int64_t max_samples = 0);

// A uniformly random permutation of 0..n-1 (Fisher–Yates), and an unbiased integer in
// [0, bound): what shuffles and splits draw, so they repeat exactly for a seed.
std::vector<int64_t> random_permutation(int64_t n, Generator& gen);
uint64_t random_below(Generator& gen, uint64_t bound);

}  // namespace nl::data
