// Datasets, optimisers and schedulers from training settings.
#include "engine/run/training_setup.h"

#include <filesystem>

#include "engine/core/error.h"
#include "engine/data/data.h"
#include "engine/optim/optim.h"

namespace nl::run {

namespace fs = std::filesystem;
using project::DatasetSettings;

namespace {

constexpr const char* kDatasetField = "training.dataset";

std::string resolve(const std::string& base_dir, const std::string& path) {
  fs::path p(std::u8string(path.begin(), path.end()));
  if (p.is_relative() && !base_dir.empty()) p = fs::path(std::u8string(base_dir.begin(), base_dir.end())) / p;
  std::u8string s = p.lexically_normal().u8string();
  return std::string(s.begin(), s.end());
}

// The dataset's path resolved, refused with the field's name when it is not there.
std::string existing_path(const DatasetSettings& s, const std::string& base_dir, const std::string& relative) {
  std::string full = resolve(base_dir, relative);
  std::error_code ec;
  if (!fs::exists(fs::path(std::u8string(full.begin(), full.end())), ec))
    fail(kDatasetField, ".path: ", full, " does not exist");
  return full;
}

// "<folder>/<name>" or "<folder>/<name>.gz", whichever exists.
std::string idx_file(const std::string& folder, const std::string& name) {
  for (const char* suffix : {"", ".gz"}) {
    std::string candidate = folder + "/" + name + suffix;
    std::error_code ec;
    if (fs::is_regular_file(fs::path(std::u8string(candidate.begin(), candidate.end())), ec)) return candidate;
  }
  fail(kDatasetField, ".path: ", folder, ": no ", name, "[.gz]");
}

data::CsvHeader csv_header(const std::string& h) {
  if (h == "names") return data::CsvHeader::ColumnNames;
  if (h == "sklearn") return data::CsvHeader::SklearnCounts;
  if (h == "none") return data::CsvHeader::None;
  return data::CsvHeader::Detect;  // validate() has refused anything else
}

// The whole dataset before splitting.
std::shared_ptr<data::TensorDataset> build_dataset(const DatasetSettings& s, const std::string& base_dir,
                                                   uint64_t seed) {
  const std::string& k = s.kind;
  auto noise_or = [&](double fallback) { return s.noise >= 0 ? s.noise : fallback; };
  if (k == "spirals")
    return data::make_spirals({.samples_per_class = std::max<int64_t>(1, s.samples / s.num_classes),
                               .classes = s.num_classes,
                               .noise = noise_or(0.02),
                               .seed = seed});
  if (k == "blobs")
    return data::make_blobs({.samples = s.samples, .centers = s.num_classes, .spread = noise_or(1.0), .seed = seed});
  if (k == "shapes")
    return data::make_shapes({.samples = s.samples,
                              .image_size = s.image_size,
                              .channels = s.channels == 0 ? 1 : s.channels,
                              .classes = s.num_classes,
                              .noise = noise_or(0.03),
                              .seed = seed});
  if (k == "sequences")
    return data::make_sequences({.samples = s.samples,
                                 .length = s.sequence_length,
                                 .features = s.sequence_features,
                                 .classes = s.num_classes,
                                 .noise = noise_or(0.1),
                                 .seed = seed});
  if (k == "npy") {
    std::string folder = resolve(base_dir, s.path);
    return data::load_npy_pair(existing_path(s, folder, s.features_file), existing_path(s, folder, s.labels_file));
  }
  const std::string path = existing_path(s, base_dir, s.path);
  if (k == "mnist" || k == "fashion_mnist") {
    std::string images = idx_file(path, "train-images-idx3-ubyte"), labels = idx_file(path, "train-labels-idx1-ubyte");
    return k == "mnist" ? data::load_mnist(images, labels) : data::load_fashion_mnist(images, labels);
  }
  if (k == "cifar10") return data::load_cifar10_folder(path, /*train=*/true);
  if (k == "csv")
    return data::load_csv(path, {.label_column = s.label_column,
                                 .label_column_name = s.label_column_name,
                                 .header = csv_header(s.header),
                                 .regression = s.regression});
  if (k == "image_folder")
    return data::load_image_folder(path, {.height = s.image_size, .width = s.image_size, .channels = s.channels});
  fail(kDatasetField, ".kind: unknown dataset '", k, "'");  // unreachable after validate()
}

bool normalizes(const DatasetSettings& s) {
  return s.normalize && s.kind != "spirals" && s.kind != "blobs" && s.kind != "sequences";
}

// A copy of `base` with every input channel (dimension 0 of a sample) standardised by the
// statistics of `train`, the training part only, so validation data leaks nothing into them.
std::shared_ptr<data::TensorDataset> standardized(const data::TensorDataset& base, const data::Dataset& train) {
  data::ChannelStatistics stats = data::channel_statistics(train);
  Tensor x = base.inputs().clone();
  const int64_t n = x.size(0), channels = static_cast<int64_t>(stats.mean.size());
  const int64_t inner = n == 0 ? 0 : x.numel() / (n * channels);
  float* p = x.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      // A constant channel (a blank image border, a constant CSV column) has no spread to divide by.
      const float mean = stats.mean[c], scale = stats.stddev[c] > 1e-12f ? 1.0f / stats.stddev[c] : 1.0f;
      float* q = p + (i * channels + c) * inner;
      for (int64_t j = 0; j < inner; ++j) q[j] = (q[j] - mean) * scale;
    }
  return std::make_shared<data::TensorDataset>(x, base.targets(), base.class_names());
}

}  // namespace

PreparedData load_dataset(const DatasetSettings& s, const std::string& base_dir, uint64_t seed) {
  project::validate(s, kDatasetField);
  std::shared_ptr<data::TensorDataset> all;
  try {
    all = build_dataset(s, base_dir, seed);
  } catch (const Error& e) {
    std::string what = e.what();
    if (what.rfind(kDatasetField, 0) == 0) throw;
    // Reader messages start with the file; generator messages with the generator.
    throw Error(std::string(kDatasetField) + (s.path.empty() ? ": " : ".path: ") + what);
  }
  NL_CHECK(all->size() >= 2, kDatasetField, ": the dataset has ", all->size(), " samples; training needs at least 2");

  PreparedData out;
  std::shared_ptr<data::Subset> train, validation;
  const uint64_t split_seed = seed ^ 0x9e3779b97f4a7c15ULL;  // independent of the generator's draws
  if (s.validation_split > 0) {
    auto parts = data::random_split(all, {1 - s.validation_split, s.validation_split}, split_seed);
    NL_CHECK(parts[0]->size() > 0 && parts[1]->size() > 0, kDatasetField, ".validation_split: ", s.validation_split,
             " of ", all->size(), " samples leaves an empty part");
    train = parts[0];
    validation = parts[1];
  } else {
    train = data::random_split(all, {1.0}, split_seed)[0];
  }
  if (normalizes(s)) {
    auto normalized = standardized(*all, *train);
    train = std::make_shared<data::Subset>(normalized, train->indices());
    if (validation) validation = std::make_shared<data::Subset>(normalized, validation->indices());
  }
  out.train = train;
  out.validation = validation;
  out.num_classes = all->num_classes();
  Shape shape = all->input_shape();
  out.sample_shape.assign(shape.begin(), shape.end());
  out.sample_dtype = DType::Float32;  // Note [Sample layout] in dataset.h
  out.class_names = all->class_names();
  return out;
}

std::shared_ptr<optim::Optimizer> make_optimizer(const project::OptimizerSettings& s, std::vector<Tensor> params) {
  project::validate(s);
  if (s.kind == "sgd")
    return std::make_shared<optim::SGD>(
        std::move(params),
        optim::SGDOptions{.lr = s.lr, .momentum = s.momentum, .weight_decay = s.weight_decay, .nesterov = s.nesterov});
  if (s.kind == "adam")
    return std::make_shared<optim::Adam>(
        std::move(params),
        optim::AdamOptions{.lr = s.lr, .beta1 = s.beta1, .beta2 = s.beta2, .eps = s.eps, .weight_decay = s.weight_decay});
  if (s.kind == "adamw")
    return std::make_shared<optim::AdamW>(std::move(params), optim::AdamWOptions{.lr = s.lr,
                                                                                 .beta1 = s.beta1,
                                                                                 .beta2 = s.beta2,
                                                                                 .eps = s.eps,
                                                                                 .weight_decay = s.weight_decay});
  return std::make_shared<optim::RMSprop>(
      std::move(params),
      optim::RMSpropOptions{.lr = s.lr, .alpha = s.alpha, .eps = s.eps, .weight_decay = s.weight_decay});
}

std::shared_ptr<optim::LRScheduler> make_scheduler(const project::ScheduleSettings& s, optim::Optimizer& opt,
                                                   int64_t steps_per_epoch, int64_t epochs) {
  project::validate(s);
  NL_CHECK(steps_per_epoch >= 1, "training.schedule: steps_per_epoch must be at least 1, got ", steps_per_epoch);
  NL_CHECK(epochs >= 1, "training.epochs: must be at least 1, got ", epochs);
  const int64_t total = steps_per_epoch * epochs;
  if (s.kind == "none") return nullptr;
  if (s.kind == "step")
    return std::make_shared<optim::StepLR>(opt, optim::StepLROptions{s.step_size * steps_per_epoch, s.gamma});
  if (s.kind == "multistep") {
    std::vector<int64_t> steps;
    for (int64_t epoch : s.milestones) steps.push_back(epoch * steps_per_epoch);
    return std::make_shared<optim::MultiStepLR>(opt, optim::MultiStepLROptions{steps, s.gamma});
  }
  if (s.kind == "exponential")
    return std::make_shared<optim::StepLR>(opt, optim::StepLROptions{steps_per_epoch, s.gamma});
  if (s.kind == "cosine") {
    NL_CHECK(s.warmup_epochs < epochs, "training.schedule.warmup_epochs: ", s.warmup_epochs,
             " leaves no epochs to decay over (training has ", epochs, ")");
    return std::make_shared<optim::CosineAnnealingLR>(
        opt, optim::CosineAnnealingLROptions{
                 .total_steps = total, .warmup_steps = s.warmup_epochs * steps_per_epoch, .eta_min = s.eta_min});
  }
  if (s.kind == "onecycle")
    return std::make_shared<optim::OneCycleLR>(
        opt, optim::OneCycleLROptions{
                 .max_lr = {s.max_lr > 0 ? s.max_lr : opt.lr()}, .total_steps = total, .pct_start = s.pct_start});
  return std::make_shared<PlateauSchedule>(
      opt, optim::ReduceLROnPlateauOptions{.factor = s.factor, .patience = s.patience, .min_lr = s.min_lr});
}

PlateauSchedule::PlateauSchedule(optim::Optimizer& optimizer, const optim::ReduceLROnPlateauOptions& options)
    : optim::LRScheduler(optimizer, "ReduceLROnPlateau"), plateau_(optimizer, options) {
  start();
}

double PlateauSchedule::lr_at(size_t group, int64_t) const { return optimizer_.lr(group); }

}  // namespace nl::run
