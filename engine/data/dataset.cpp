// TensorDataset, Subset, random splits, collation and the index shuffling they share.
#include "engine/data/dataset.h"

#include <cmath>
#include <cstring>
#include <numeric>

#include "engine/core/error.h"

namespace nl::data {
namespace {

void check_index(int64_t index, int64_t size, const char* who) {
  NL_CHECK(index >= 0 && index < size, who, ": sample index ", index, " is out of range for ", size, " samples");
}

bool is_integer(DType t) { return t == DType::Int64 || t == DType::Int32 || t == DType::UInt8; }

// A batch-shaped tensor: `rows` samples of `sample` shape.
Tensor batch_tensor(int64_t rows, const Shape& sample, DType dtype) {
  Shape shape = sample;
  shape.insert(0, rows);
  return Tensor::empty(shape, dtype);
}

}  // namespace

// ---- Dataset ----------------------------------------------------------------------------

Batch Dataset::get_batch(std::span<const int64_t> indices) const {
  std::vector<Example> examples;
  examples.reserve(indices.size());
  for (int64_t i : indices) {
    check_index(i, size(), "Dataset::get_batch");
    examples.push_back(get(i));
  }
  Batch batch = collate(examples);
  batch.indices.assign(indices.begin(), indices.end());
  return batch;
}

// ---- TensorDataset ----------------------------------------------------------------------

TensorDataset::TensorDataset(Tensor inputs, Tensor targets, std::vector<std::string> class_names) {
  NL_CHECK(inputs.defined() && targets.defined(), "TensorDataset: inputs and targets must both be given");
  NL_CHECK(inputs.dim() >= 1 && targets.dim() >= 1, "TensorDataset: inputs ", inputs.shape().str(), " and targets ",
           targets.shape().str(), " need a leading sample dimension");
  NL_CHECK(inputs.size(0) == targets.size(0), "TensorDataset: ", inputs.size(0), " inputs but ", targets.size(0),
           " targets");
  NL_CHECK(is_integer(inputs.dtype()) || is_floating(inputs.dtype()), "TensorDataset: inputs of dtype ",
           dtype_name(inputs.dtype()), " are not numeric");
  // Stored detached, on the CPU and contiguous so get_batch can copy whole rows.
  inputs_ = inputs.detach().to(Device::cpu()).to(DType::Float32).contiguous();

  if (is_integer(targets.dtype())) {
    NL_CHECK(targets.dim() == 1, "TensorDataset: class-index targets must be [N], not ", targets.shape().str());
    targets_ = targets.detach().to(Device::cpu()).to(DType::Int64).contiguous();
    const int64_t* labels = targets_.data<int64_t>();
    int64_t max_label = -1;
    for (int64_t i = 0; i < targets_.numel(); ++i) {
      NL_CHECK(labels[i] >= 0, "TensorDataset: target ", i, " is ", labels[i], "; class indices cannot be negative");
      if (!class_names.empty())
        NL_CHECK(labels[i] < static_cast<int64_t>(class_names.size()), "TensorDataset: target ", i, " is class ",
                 labels[i], " but only ", class_names.size(), " class names were given");
      max_label = std::max(max_label, labels[i]);
    }
    if (class_names.empty())
      for (int64_t c = 0; c <= max_label; ++c) class_names.push_back(std::to_string(c));
    class_names_ = std::move(class_names);
  } else {
    NL_CHECK(is_floating(targets.dtype()), "TensorDataset: targets of dtype ", dtype_name(targets.dtype()),
             " are neither class indices nor regression values");
    NL_CHECK(class_names.empty(), "TensorDataset: class names were given but the targets are floating point "
             "(regression); pass integer class indices for classification");
    targets_ = targets.detach().to(Device::cpu()).to(DType::Float32).contiguous();
  }
}

Shape TensorDataset::sample_shape(const Tensor& t) {
  Shape s = t.shape();
  s.erase(0);
  return s;
}

Example TensorDataset::get(int64_t index) const {
  check_index(index, size(), "TensorDataset::get");
  auto row = [index](const Tensor& t) {
    Shape shape = sample_shape(t);
    size_t bytes = static_cast<size_t>(shape.numel()) * t.element_size();
    return from_buffer(static_cast<const char*>(t.raw_data()) + index * bytes, bytes, shape, t.dtype());
  };
  return {row(inputs_), row(targets_)};
}

Batch TensorDataset::get_batch(std::span<const int64_t> indices) const {
  const int64_t rows = static_cast<int64_t>(indices.size());
  Batch batch{batch_tensor(rows, input_shape(), DType::Float32), batch_tensor(rows, target_shape(), targets_.dtype()),
              std::vector<int64_t>(indices.begin(), indices.end())};
  auto gather = [&](const Tensor& source, Tensor& dest) {
    size_t row_bytes = static_cast<size_t>(sample_shape(source).numel()) * source.element_size();
    const char* from = static_cast<const char*>(source.raw_data());
    char* to = static_cast<char*>(dest.raw_data());
    for (int64_t r = 0; r < rows; ++r) {
      check_index(indices[r], size(), "TensorDataset::get_batch");
      std::memcpy(to + r * row_bytes, from + indices[r] * row_bytes, row_bytes);
    }
  };
  gather(inputs_, batch.inputs);
  gather(targets_, batch.targets);
  return batch;
}

// ---- Subset -----------------------------------------------------------------------------

Subset::Subset(DatasetPtr base, std::vector<int64_t> indices) : base_(std::move(base)), indices_(std::move(indices)) {
  NL_CHECK(base_ != nullptr, "Subset: no base dataset");
  for (int64_t i : indices_) check_index(i, base_->size(), "Subset");
}

Example Subset::get(int64_t index) const {
  check_index(index, size(), "Subset::get");
  return base_->get(indices_[index]);
}

Batch Subset::get_batch(std::span<const int64_t> indices) const {
  std::vector<int64_t> mapped;
  mapped.reserve(indices.size());
  for (int64_t i : indices) {
    check_index(i, size(), "Subset::get_batch");
    mapped.push_back(indices_[i]);
  }
  Batch batch = base_->get_batch(mapped);
  batch.indices.assign(indices.begin(), indices.end());
  return batch;
}

// ---- Splits -----------------------------------------------------------------------------

std::vector<std::shared_ptr<Subset>> random_split_counts(DatasetPtr dataset, const std::vector<int64_t>& counts,
                                                         uint64_t seed) {
  NL_CHECK(dataset != nullptr, "random_split: no dataset");
  NL_CHECK(!counts.empty(), "random_split: no parts requested");
  int64_t total = 0;
  for (int64_t c : counts) {
    NL_CHECK(c >= 0, "random_split: part size ", c, " is negative");
    total += c;
  }
  NL_CHECK(total == dataset->size(), "random_split: part sizes add up to ", total, " but the dataset has ",
           dataset->size(), " samples");
  Generator gen(seed);
  std::vector<int64_t> order = random_permutation(dataset->size(), gen);
  std::vector<std::shared_ptr<Subset>> parts;
  auto first = order.begin();
  for (int64_t c : counts) {
    parts.push_back(std::make_shared<Subset>(dataset, std::vector<int64_t>(first, first + c)));
    first += c;
  }
  return parts;
}

std::vector<std::shared_ptr<Subset>> random_split(DatasetPtr dataset, const std::vector<double>& fractions,
                                                  uint64_t seed) {
  NL_CHECK(dataset != nullptr, "random_split: no dataset");
  NL_CHECK(!fractions.empty(), "random_split: no parts requested");
  double sum = 0;
  for (double f : fractions) {
    NL_CHECK(f >= 0 && f <= 1, "random_split: fraction ", f, " is outside [0, 1]");
    sum += f;
  }
  NL_CHECK(std::fabs(sum - 1) < 1e-6, "random_split: fractions add up to ", sum,
           ", not 1 (use random_split_counts to split by sample counts)");
  const int64_t n = dataset->size();
  std::vector<int64_t> counts;
  int64_t assigned = 0;
  for (double f : fractions) {
    counts.push_back(static_cast<int64_t>(std::floor(f * static_cast<double>(n))));
    assigned += counts.back();
  }
  for (size_t i = 0; assigned < n; i = (i + 1) % counts.size(), ++assigned) ++counts[i];
  return random_split_counts(std::move(dataset), counts, seed);
}

// ---- Collation and statistics -----------------------------------------------------------

Batch collate(const std::vector<Example>& examples) {
  NL_CHECK(!examples.empty(), "collate: no samples to stack");
  const Example& first = examples.front();
  NL_CHECK(first.input.defined() && first.target.defined(), "collate: sample 0 lacks an input or a target");
  Batch batch{batch_tensor(static_cast<int64_t>(examples.size()), first.input.shape(), first.input.dtype()),
              batch_tensor(static_cast<int64_t>(examples.size()), first.target.shape(), first.target.dtype()),
              {}};
  auto place = [](const Tensor& sample, const Tensor& reference, Tensor& dest, size_t row, const char* what) {
    NL_CHECK(sample.defined(), "collate: sample ", row, " has no ", what);
    NL_CHECK(sample.shape() == reference.shape() && sample.dtype() == reference.dtype(), "collate: sample ", row,
             "'s ", what, " is ", sample.shape().str(), " ", dtype_name(sample.dtype()), " but sample 0's is ",
             reference.shape().str(), " ", dtype_name(reference.dtype()));
    Tensor c = sample.to(Device::cpu()).contiguous();
    size_t bytes = static_cast<size_t>(c.numel()) * c.element_size();
    std::memcpy(static_cast<char*>(dest.raw_data()) + row * bytes, c.raw_data(), bytes);
  };
  for (size_t i = 0; i < examples.size(); ++i) {
    place(examples[i].input, first.input, batch.inputs, i, "input");
    place(examples[i].target, first.target, batch.targets, i, "target");
  }
  return batch;
}

ChannelStatistics channel_statistics(const Dataset& dataset, int64_t max_samples) {
  int64_t n = dataset.size();
  if (max_samples > 0) n = std::min(n, max_samples);
  NL_CHECK(n > 0, "channel_statistics: the dataset is empty");
  Shape shape = dataset.input_shape();
  const int64_t channels = shape.empty() ? 1 : shape[0];
  const int64_t per_channel = shape.empty() ? 1 : shape.numel() / std::max<int64_t>(channels, 1);
  std::vector<double> sum(channels, 0.0), sum_sq(channels, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    Tensor x = dataset.get(i).input.to(DType::Float32).contiguous();
    NL_CHECK(x.shape() == shape, "channel_statistics: sample ", i, " is ", x.shape().str(), ", not ", shape.str());
    const float* p = x.data<float>();
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t k = 0; k < per_channel; ++k) {
        double v = p[c * per_channel + k];
        sum[c] += v;
        sum_sq[c] += v * v;
      }
  }
  ChannelStatistics stats;
  const double count = static_cast<double>(n) * static_cast<double>(per_channel);
  for (int64_t c = 0; c < channels; ++c) {
    double mean = sum[c] / count;
    stats.mean.push_back(static_cast<float>(mean));
    stats.stddev.push_back(static_cast<float>(std::sqrt(std::max(0.0, sum_sq[c] / count - mean * mean))));
  }
  return stats;
}

uint64_t random_below(Generator& gen, uint64_t bound) {
  NL_CHECK(bound > 0, "random_below: bound must be positive");
  // Rejecting the top sliver of the 64-bit range removes modulo bias.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    uint64_t r = gen.next_u64();
    if (r >= threshold) return r % bound;
  }
}

std::vector<int64_t> random_permutation(int64_t n, Generator& gen) {
  NL_CHECK(n >= 0, "random_permutation: negative length ", n);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(order[i], order[random_below(gen, static_cast<uint64_t>(i) + 1)]);
  return order;
}

}  // namespace nl::data
