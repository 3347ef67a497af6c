// Training settings: JSON form and validation with field paths.
#include "engine/project/training_settings.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

#include "engine/core/error.h"
#include "engine/io/json_fields.h"

namespace nl::project {

using nlohmann::json;

const std::vector<std::string>& dataset_kinds() {
  static const std::vector<std::string> k = {"spirals", "blobs",   "shapes", "sequences",    "mnist",
                                             "fashion_mnist", "cifar10", "csv", "image_folder", "npy"};
  return k;
}
const std::vector<std::string>& optimizer_kinds() {
  static const std::vector<std::string> k = {"sgd", "adam", "adamw", "rmsprop"};
  return k;
}
const std::vector<std::string>& schedule_kinds() {
  static const std::vector<std::string> k = {"none", "step", "multistep", "exponential", "cosine", "onecycle", "plateau"};
  return k;
}
const std::vector<std::string>& loss_kinds() {
  static const std::vector<std::string> k = {"cross_entropy", "nll", "mse", "l1", "smooth_l1", "bce_with_logits"};
  return k;
}
const std::vector<std::string>& csv_header_kinds() {
  static const std::vector<std::string> k = {"detect", "names", "sklearn", "none"};
  return k;
}

// ---------------------------------------------------------------------------------------
// Writing

json to_json(const TrainingSettings& s) {
  const DatasetSettings& d = s.dataset;
  const OptimizerSettings& o = s.optimizer;
  const ScheduleSettings& c = s.schedule;
  json dataset = {{"kind", d.kind},
                  {"path", d.path},
                  {"samples", d.samples},
                  {"num_classes", d.num_classes},
                  {"noise", d.noise},
                  {"image_size", d.image_size},
                  {"channels", d.channels},
                  {"sequence_length", d.sequence_length},
                  {"sequence_features", d.sequence_features},
                  {"label_column", d.label_column},
                  {"label_column_name", d.label_column_name},
                  {"header", d.header},
                  {"regression", d.regression},
                  {"features_file", d.features_file},
                  {"labels_file", d.labels_file},
                  {"validation_split", d.validation_split},
                  {"normalize", d.normalize}};
  json optimizer = {{"kind", o.kind},         {"lr", o.lr},       {"momentum", o.momentum},
                    {"weight_decay", o.weight_decay}, {"nesterov", o.nesterov}, {"beta1", o.beta1},
                    {"beta2", o.beta2},       {"eps", o.eps},     {"alpha", o.alpha}};
  json schedule = {{"kind", c.kind},           {"step_size", c.step_size}, {"milestones", c.milestones},
                   {"gamma", c.gamma},         {"warmup_epochs", c.warmup_epochs},
                   {"eta_min", c.eta_min},     {"max_lr", c.max_lr},       {"pct_start", c.pct_start},
                   {"factor", c.factor},       {"patience", c.patience},   {"min_lr", c.min_lr}};
  return json{{"dataset", dataset},
              {"batch_size", s.batch_size},
              {"epochs", s.epochs},
              {"optimizer", optimizer},
              {"schedule", schedule},
              {"loss", s.loss},
              {"device", s.device},
              {"seed", s.seed},
              {"checkpoint_dir", s.checkpoint_dir},
              {"clip_grad_norm", s.clip_grad_norm},
              {"early_stopping_patience", s.early_stopping_patience},
              {"precision", s.precision},
              {"tf32", s.tf32},
              {"cuda_graphs", s.cuda_graphs}};
}

// ---------------------------------------------------------------------------------------
// Reading

namespace {

DatasetSettings dataset_from_json(const io::JsonField& f) {
  DatasetSettings d;
  f.read("kind", d.kind);
  f.read("path", d.path);
  f.read("samples", d.samples);
  f.read("num_classes", d.num_classes);
  f.read("noise", d.noise);
  f.read("image_size", d.image_size);
  f.read("channels", d.channels);
  f.read("sequence_length", d.sequence_length);
  f.read("sequence_features", d.sequence_features);
  f.read("label_column", d.label_column);
  f.read("label_column_name", d.label_column_name);
  f.read("header", d.header);
  f.read("regression", d.regression);
  f.read("features_file", d.features_file);
  f.read("labels_file", d.labels_file);
  f.read("validation_split", d.validation_split);
  f.read("normalize", d.normalize);
  return d;
}

OptimizerSettings optimizer_from_json(const io::JsonField& f) {
  OptimizerSettings o;
  f.read("kind", o.kind);
  f.read("lr", o.lr);
  f.read("momentum", o.momentum);
  f.read("weight_decay", o.weight_decay);
  f.read("nesterov", o.nesterov);
  f.read("beta1", o.beta1);
  f.read("beta2", o.beta2);
  f.read("eps", o.eps);
  f.read("alpha", o.alpha);
  return o;
}

ScheduleSettings schedule_from_json(const io::JsonField& f) {
  ScheduleSettings c;
  f.read("kind", c.kind);
  f.read("step_size", c.step_size);
  f.read("milestones", c.milestones);
  f.read("gamma", c.gamma);
  f.read("warmup_epochs", c.warmup_epochs);
  f.read("eta_min", c.eta_min);
  f.read("max_lr", c.max_lr);
  f.read("pct_start", c.pct_start);
  f.read("factor", c.factor);
  f.read("patience", c.patience);
  f.read("min_lr", c.min_lr);
  return c;
}

}  // namespace

TrainingSettings training_settings_from_json(const io::JsonField& f) {
  TrainingSettings s;
  f.expect_object();
  if (auto d = f.find("dataset")) s.dataset = dataset_from_json(*d);
  if (auto o = f.find("optimizer")) s.optimizer = optimizer_from_json(*o);
  if (auto c = f.find("schedule")) s.schedule = schedule_from_json(*c);
  f.read("batch_size", s.batch_size);
  f.read("epochs", s.epochs);
  f.read("loss", s.loss);
  f.read("device", s.device);
  f.read("seed", s.seed);
  f.read("checkpoint_dir", s.checkpoint_dir);
  f.read("clip_grad_norm", s.clip_grad_norm);
  f.read("early_stopping_patience", s.early_stopping_patience);
  f.read("precision", s.precision);
  f.read("tf32", s.tf32);
  f.read("cuda_graphs", s.cuda_graphs);
  try {
    validate(s, f.path());
  } catch (const Error& e) {
    // validate() knows the field path; add the file in front.
    if (f.file().empty()) throw;
    throw Error(f.file() + ": " + e.what());
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Validation

namespace {

std::string number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Collects the field path so each check is one line.
struct Checker {
  std::string prefix;
  void operator()(bool ok, const std::string& field, const std::string& why) const {
    if (!ok) fail(prefix.empty() ? field : prefix + "." + field, ": ", why);
  }
  void kind(const std::string& field, const std::string& value, const std::vector<std::string>& known,
            const char* what) const {
    if (std::find(known.begin(), known.end(), value) != known.end()) return;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    (*this)(false, field, std::string("unknown ") + what + " '" + value + "' (known: " + list + ")");
  }
  void positive(const std::string& field, double v) const {
    (*this)(std::isfinite(v) && v > 0, field, "must be a number > 0, got " + number(v));
  }
  void non_negative(const std::string& field, double v) const {
    (*this)(std::isfinite(v) && v >= 0, field, "must be a number >= 0, got " + number(v));
  }
  void fraction(const std::string& field, double v, bool open_end) const {
    bool ok = std::isfinite(v) && v >= 0 && (open_end ? v < 1 : v <= 1);
    (*this)(ok, field, std::string("must lie in [0, 1") + (open_end ? ")" : "]") + ", got " + number(v));
  }
};

bool is_file_kind(const std::string& kind) {
  return kind == "mnist" || kind == "fashion_mnist" || kind == "cifar10" || kind == "csv" || kind == "image_folder";
}

}  // namespace

void validate(const DatasetSettings& d, const std::string& prefix) {
  Checker c{prefix};
  c.kind("kind", d.kind, dataset_kinds(), "dataset");
  c(!is_file_kind(d.kind) || !d.path.empty(), "path", "a " + d.kind + " dataset needs a path");
  c(d.samples >= 1, "samples", "must be at least 1, got " + std::to_string(d.samples));
  c(d.num_classes >= 1, "num_classes", "must be at least 1, got " + std::to_string(d.num_classes));
  c(std::isfinite(d.noise), "noise", "must be a finite number");
  c(d.image_size >= 0, "image_size", "must be >= 0, got " + std::to_string(d.image_size));
  c(d.channels == 0 || d.channels == 1 || d.channels == 3, "channels",
    "must be 0 (automatic), 1 or 3, got " + std::to_string(d.channels));
  c(d.sequence_length >= 1, "sequence_length", "must be at least 1, got " + std::to_string(d.sequence_length));
  c(d.sequence_features >= 1, "sequence_features", "must be at least 1, got " + std::to_string(d.sequence_features));
  c.kind("header", d.header, csv_header_kinds(), "header kind");
  c(d.kind != "npy" || (!d.features_file.empty() && !d.labels_file.empty()), "features_file",
    "an npy dataset needs features_file and labels_file");
  c.fraction("validation_split", d.validation_split, true);
}

void validate(const OptimizerSettings& o, const std::string& prefix) {
  Checker c{prefix};
  c.kind("kind", o.kind, optimizer_kinds(), "optimizer");
  c.positive("lr", o.lr);
  c.fraction("momentum", o.momentum, true);
  c.non_negative("weight_decay", o.weight_decay);
  c(!o.nesterov || o.kind != "sgd" || o.momentum > 0, "nesterov", "needs momentum > 0");
  c.fraction("beta1", o.beta1, true);
  c.fraction("beta2", o.beta2, true);
  c.positive("eps", o.eps);
  c.fraction("alpha", o.alpha, false);
}

void validate(const ScheduleSettings& s, const std::string& prefix) {
  Checker c{prefix};
  c.kind("kind", s.kind, schedule_kinds(), "schedule");
  c(s.step_size >= 1, "step_size", "must be at least 1 epoch, got " + std::to_string(s.step_size));
  for (size_t i = 0; i < s.milestones.size(); ++i)
    c(s.milestones[i] >= 1, "milestones[" + std::to_string(i) + "]",
      "must be an epoch >= 1, got " + std::to_string(s.milestones[i]));
  c.non_negative("gamma", s.gamma);
  c(s.warmup_epochs >= 0, "warmup_epochs", "must be >= 0, got " + std::to_string(s.warmup_epochs));
  c.non_negative("eta_min", s.eta_min);
  c.non_negative("max_lr", s.max_lr);
  c(std::isfinite(s.pct_start) && s.pct_start > 0 && s.pct_start < 1, "pct_start",
    "must lie in (0, 1), got " + std::to_string(s.pct_start));
  c(std::isfinite(s.factor) && s.factor > 0 && s.factor < 1, "factor",
    "must lie in (0, 1), got " + std::to_string(s.factor));
  c(s.patience >= 0, "patience", "must be >= 0, got " + std::to_string(s.patience));
  c.non_negative("min_lr", s.min_lr);
}

void validate(const TrainingSettings& s, const std::string& prefix) {
  auto sub = [&](const char* field) { return prefix.empty() ? std::string(field) : prefix + "." + field; };
  validate(s.dataset, sub("dataset"));
  validate(s.optimizer, sub("optimizer"));
  validate(s.schedule, sub("schedule"));
  Checker c{prefix};
  c(s.batch_size >= 1, "batch_size", "must be at least 1, got " + std::to_string(s.batch_size));
  c(s.epochs >= 1, "epochs", "must be at least 1, got " + std::to_string(s.epochs));
  c.kind("loss", s.loss, loss_kinds(), "loss");
  bool cuda = s.device == "cuda" ||
              (s.device.rfind("cuda:", 0) == 0 && s.device.size() > 5 &&
               std::all_of(s.device.begin() + 5, s.device.end(), [](unsigned char ch) { return std::isdigit(ch); }));
  c(s.device == "cpu" || cuda, "device", "expected cpu, cuda or cuda:<index>, got '" + s.device + "'");
  c(s.precision == "float32" || s.precision == "bf16", "precision", "expected float32 or bf16, got '" + s.precision + "'");
  c.non_negative("clip_grad_norm", s.clip_grad_norm);
  c(s.early_stopping_patience >= 0, "early_stopping_patience",
    "must be >= 0, got " + std::to_string(s.early_stopping_patience));
}

}  // namespace nl::project
