// Training settings of a project: the dataset, optimiser, learning-rate schedule and loop
// options, as plain data with their JSON form and one validation that names the field at
// fault. engine/run/training_setup.h turns them into datasets, optimisers and schedulers.
//
// JSON (inside a project's "training"; every member optional, defaults as below):
//   {"dataset": {"kind": "mnist", "path": "data/mnist", "validation_split": 0.1, "normalize": true},
//    "batch_size": 128, "epochs": 5,
//    "optimizer": {"kind": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true},
//    "schedule": {"kind": "cosine", "warmup_epochs": 1},
//    "loss": "cross_entropy", "device": "cpu", "seed": 1, "checkpoint_dir": "", "clip_grad_norm": 0,
//    "early_stopping_patience": 0}
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nl::io {
class JsonField;
}

namespace nl::project {

// Known values of the kind fields, in the order the UI lists them.
const std::vector<std::string>& dataset_kinds();   // spirals blobs shapes sequences mnist fashion_mnist cifar10 csv image_folder npy
const std::vector<std::string>& optimizer_kinds();  // sgd adam adamw rmsprop
const std::vector<std::string>& schedule_kinds();   // none step multistep exponential cosine onecycle plateau
const std::vector<std::string>& loss_kinds();       // cross_entropy mse l1 bce_with_logits nll
const std::vector<std::string>& csv_header_kinds(); // detect names sklearn none

struct DatasetSettings {
  std::string kind = "spirals";
  // File-based kinds, relative to the project file's folder (or absolute): mnist and
  // fashion_mnist: the folder with train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz];
  // cifar10: the cifar-10-batches-bin folder; csv: the file; image_folder: the root folder;
  // npy: the folder holding features_file and labels_file (empty: the project's folder).
  std::string path;
  // Synthetic sets (spirals, blobs, shapes, sequences).
  int64_t samples = 1000;    // in total, split evenly over the classes
  int64_t num_classes = 3;   // spirals: arms, blobs: centres, shapes: 2–5, sequences: 2–8
  double noise = -1;         // jitter of the set; negative: the set's own default
  int64_t image_size = 28;   // shapes: 28 or 32 (16–256); image_folder: resize to this square, 0 keeps sizes
  int64_t channels = 0;      // shapes: 1 or 3 (0: 1); image_folder: 1 or 3 (0: from the images)
  int64_t sequence_length = 32;   // sequences: time steps
  int64_t sequence_features = 1;  // sequences: features per step
  // csv
  int64_t label_column = -1;      // negative counts from the end
  std::string label_column_name;  // chooses the label column by its header name when set
  std::string header = "detect";  // detect, names, sklearn, none
  bool regression = false;        // csv, npy: float targets rather than classes
  // npy
  std::string features_file = "inputs.npy";
  std::string labels_file = "targets.npy";

  double validation_split = 0.2;  // fraction held out, in [0, 1); 0: no validation set
  // Standardise each input channel (images) or feature (csv, npy) with the training split's
  // mean and standard deviation. spirals, blobs and sequences are centred already and left alone.
  bool normalize = true;
  bool operator==(const DatasetSettings&) const = default;
};

struct OptimizerSettings {
  std::string kind = "adam";
  double lr = 1e-3;
  double momentum = 0.9;  // sgd only
  double weight_decay = 0;
  bool nesterov = false;  // sgd only
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam, adamw (eps also rmsprop)
  double alpha = 0.99;                             // rmsprop
  bool operator==(const OptimizerSettings&) const = default;
};

// Epoch-based settings; the factory converts them to optimiser steps, because the trainer
// steps a scheduler after every optimiser step.
struct ScheduleSettings {
  std::string kind = "none";
  int64_t step_size = 10;               // step: epochs between decays
  std::vector<int64_t> milestones;      // multistep: epochs at which lr decays
  double gamma = 0.1;                   // step, multistep, exponential (per epoch)
  int64_t warmup_epochs = 0;            // cosine: linear warm-up from 0
  double eta_min = 0;                   // cosine: final lr
  double max_lr = 0;                    // onecycle: peak lr; 0: the optimiser's lr
  double pct_start = 0.3;               // onecycle: fraction of training spent rising
  double factor = 0.1;                  // plateau: lr multiplier
  int64_t patience = 5;                 // plateau: epochs without improvement of the validation loss
  double min_lr = 0;                    // plateau: floor
  bool operator==(const ScheduleSettings&) const = default;
};

struct TrainingSettings {
  DatasetSettings dataset;
  int64_t batch_size = 64;
  int64_t epochs = 10;
  OptimizerSettings optimizer;
  ScheduleSettings schedule;
  std::string loss = "cross_entropy";  // used when the graph has no Loss node
  std::string device = "cpu";          // cpu, cuda, cuda:<index>
  uint64_t seed = 0;
  std::string checkpoint_dir;  // empty: no automatic checkpoints
  double clip_grad_norm = 0;   // 0: off
  int64_t early_stopping_patience = 0;  // epochs; 0: off
  // GPU options (ignored on the CPU): "bf16" autocasts matrix products and convolutions to
  // bfloat16 with float32 master weights; TF32 tensor-core maths for float32 products; CUDA
  // graphs replay the captured training step (engine/run/trainer.h).
  std::string precision = "float32";  // float32, bf16
  bool tf32 = true;
  bool cuda_graphs = false;
  bool operator==(const TrainingSettings&) const = default;
};

// Every member is written, so a file shows all the settings that were in force.
nlohmann::json to_json(const TrainingSettings& s);
// Reads `f` (missing members keep their defaults, unknown ones are ignored) and validates.
TrainingSettings training_settings_from_json(const io::JsonField& f);

// Throws nl::Error "<prefix>.<field>: …" for the first invalid value (unknown kind, value
// out of range, missing path for a file kind). `prefix` is the path of `s` ("training").
void validate(const TrainingSettings& s, const std::string& prefix = "training");
void validate(const DatasetSettings& s, const std::string& prefix = "training.dataset");
void validate(const OptimizerSettings& s, const std::string& prefix = "training.optimizer");
void validate(const ScheduleSettings& s, const std::string& prefix = "training.schedule");

}  // namespace nl::project
