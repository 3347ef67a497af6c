// The Train settings form (see train_settings_widget.h).
#include "app/gui/run/train_settings_widget.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QFutureWatcher>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "app/gui/run/run_views.h"
#include "engine/backends/backend.h"
#include "engine/run/training_run.h"
#include "engine/run/training_setup.h"

namespace nl::app {

namespace {

bool isFileKind(const std::string& k) {
  return k == "mnist" || k == "fashion_mnist" || k == "cifar10" || k == "csv" || k == "image_folder" || k == "npy";
}
bool isSynthetic(const std::string& k) { return !isFileKind(k); }

QComboBox* kindCombo(const std::vector<std::string>& kinds, const QString& name) {
  auto* c = new QComboBox;
  c->setObjectName(name);
  for (const std::string& k : kinds) c->addItem(QString::fromStdString(k));
  return c;
}

QSpinBox* spin(int lo, int hi, const QString& name) {
  auto* s = new QSpinBox;
  s->setRange(lo, hi);
  s->setObjectName(name);
  s->setKeyboardTracking(false);
  return s;
}

QDoubleSpinBox* dspin(double lo, double hi, int decimals, double step, const QString& name) {
  auto* s = new QDoubleSpinBox;
  s->setRange(lo, hi);
  s->setDecimals(decimals);
  s->setSingleStep(step);
  s->setObjectName(name);
  s->setKeyboardTracking(false);
  return s;
}

}  // namespace

TrainSettingsWidget::TrainSettingsWidget(QWidget* parent) : QWidget(parent) {
  form_ = new QFormLayout;
  form_->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  auto section = [this](const QString& title) {
    auto* l = new QLabel("<b>" + title + "</b>");
    form_->addRow(l);
  };

  section(tr("Data"));
  dataset_ = kindCombo(project::dataset_kinds(), "datasetCombo");
  form_->addRow(tr("Dataset"), dataset_);
  path_ = new QLineEdit;
  path_->setObjectName("datasetPath");
  path_->setPlaceholderText(tr("file or folder, relative to the project"));
  browse_path_ = new QPushButton(tr("Browse…"));
  auto* path_row = new QHBoxLayout;
  path_row->addWidget(path_, 1);
  path_row->addWidget(browse_path_);
  form_->addRow(tr("Path"), path_row);
  samples_ = spin(2, 10'000'000, "samplesSpin");
  form_->addRow(tr("Samples"), samples_);
  classes_ = spin(2, 1000, "classesSpin");
  form_->addRow(tr("Classes"), classes_);
  noise_ = dspin(-1, 10, 3, 0.01, "noiseSpin");
  noise_->setSpecialValueText(tr("default"));
  form_->addRow(tr("Noise"), noise_);
  image_size_ = spin(0, 256, "imageSizeSpin");
  form_->addRow(tr("Image size"), image_size_);
  channels_ = spin(0, 3, "channelsSpin");
  channels_->setSpecialValueText(tr("auto"));
  form_->addRow(tr("Channels"), channels_);
  split_ = dspin(0, 0.9, 2, 0.05, "validationSplitSpin");
  form_->addRow(tr("Validation split"), split_);
  normalize_ = new QCheckBox(tr("Standardise inputs"));
  form_->addRow(QString(), normalize_);

  section(tr("Loop"));
  epochs_ = spin(1, 1'000'000, "epochsSpin");
  form_->addRow(tr("Epochs"), epochs_);
  batch_ = spin(1, 1 << 20, "batchSizeSpin");
  form_->addRow(tr("Batch size"), batch_);
  seed_ = spin(0, INT32_MAX, "seedSpin");
  form_->addRow(tr("Seed"), seed_);
  loss_ = kindCombo(project::loss_kinds(), "lossCombo");
  loss_->setToolTip(tr("Used when the graph has no Loss node"));
  form_->addRow(tr("Loss"), loss_);
  device_ = new QComboBox;
  device_->setObjectName("deviceCombo");
  // Each item shows what the device is ("cuda:0 · NVIDIA H200, 140 GiB"); its data is the
  // setting the project saves ("cuda:0").
  for (const QString& d : availableDevices()) device_->addItem(deviceLabel(d), d);
  device_->setToolTip(tr("Where training runs. GPUs are listed when a CUDA device answers"));
  form_->addRow(tr("Device"), device_);
  // GPU options, shown when a CUDA device is chosen.
  precision_ = kindCombo({"float32", "bf16"}, "precisionCombo");
  precision_->setToolTip(tr("bf16: matrix products and convolutions in bfloat16 on the GPU, "
                            "weights and gradients stay float32"));
  form_->addRow(tr("Precision"), precision_);
  tf32_ = new QCheckBox(tr("TF32 tensor cores"));
  tf32_->setObjectName("tf32Check");
  tf32_->setToolTip(tr("Float32 matrix products with TF32 inputs: much faster, about 3 decimal digits"));
  form_->addRow(QString(), tf32_);
  cuda_graphs_ = new QCheckBox(tr("CUDA graphs"));
  cuda_graphs_->setObjectName("cudaGraphsCheck");
  cuda_graphs_->setToolTip(tr("Replay the captured training step: fewer launches, faster small models"));
  form_->addRow(QString(), cuda_graphs_);

  section(tr("Optimiser"));
  optimizer_ = kindCombo(project::optimizer_kinds(), "optimizerCombo");
  form_->addRow(tr("Optimiser"), optimizer_);
  lr_ = new QLineEdit;
  lr_->setObjectName("learningRateEdit");
  form_->addRow(tr("Learning rate"), lr_);
  momentum_ = dspin(0, 0.999, 3, 0.01, "momentumSpin");
  form_->addRow(tr("Momentum"), momentum_);
  nesterov_ = new QCheckBox(tr("Nesterov"));
  form_->addRow(QString(), nesterov_);
  beta1_ = dspin(0, 0.9999, 4, 0.001, "beta1Spin");
  form_->addRow(tr("β₁"), beta1_);
  beta2_ = dspin(0, 0.99999, 5, 0.0001, "beta2Spin");
  form_->addRow(tr("β₂"), beta2_);
  weight_decay_ = dspin(0, 1, 6, 0.0001, "weightDecaySpin");
  form_->addRow(tr("Weight decay"), weight_decay_);
  clip_ = dspin(0, 1e6, 3, 0.5, "clipSpin");
  clip_->setSpecialValueText(tr("off"));
  form_->addRow(tr("Clip grad norm"), clip_);

  section(tr("Schedule"));
  schedule_ = kindCombo(project::schedule_kinds(), "scheduleCombo");
  form_->addRow(tr("LR schedule"), schedule_);
  step_size_ = spin(1, 100000, "stepSizeSpin");
  form_->addRow(tr("Step (epochs)"), step_size_);
  gamma_ = dspin(0.001, 1, 3, 0.05, "gammaSpin");
  form_->addRow(tr("Gamma"), gamma_);
  warmup_ = spin(0, 100000, "warmupSpin");
  form_->addRow(tr("Warm-up epochs"), warmup_);
  patience_ = spin(1, 100000, "plateauPatienceSpin");
  form_->addRow(tr("Plateau patience"), patience_);

  section(tr("Run"));
  early_stop_ = spin(0, 100000, "earlyStoppingSpin");
  early_stop_->setSpecialValueText(tr("off"));
  form_->addRow(tr("Early stopping"), early_stop_);
  checkpoint_dir_ = new QLineEdit;
  checkpoint_dir_->setObjectName("checkpointDirEdit");
  checkpoint_dir_->setPlaceholderText(tr("none: only “Save checkpoint now”"));
  browse_checkpoints_ = new QPushButton(tr("Browse…"));
  auto* ck_row = new QHBoxLayout;
  ck_row->addWidget(checkpoint_dir_, 1);
  ck_row->addWidget(browse_checkpoints_);
  form_->addRow(tr("Checkpoints"), ck_row);

  error_ = new QLabel;
  error_->setObjectName("settingsError");
  error_->setWordWrap(true);
  error_->setStyleSheet("color: #c0392b");
  error_->hide();

  preview_button_ = new QPushButton(tr("Preview Data"));
  preview_button_->setObjectName("previewDataButton");
  preview_text_ = new QLabel;
  preview_text_->setObjectName("previewLabel");
  preview_text_->setWordWrap(true);
  preview_ = new SampleGridView;
  preview_->setMinimumHeight(220);
  preview_->hide();
  connect(preview_button_, &QPushButton::clicked, this, &TrainSettingsWidget::preview);

  auto* outer = new QVBoxLayout(this);
  outer->addLayout(form_);
  outer->addWidget(error_);
  outer->addWidget(preview_button_);
  outer->addWidget(preview_text_);
  outer->addWidget(preview_, 1);
  outer->addStretch(0);

  for (QComboBox* c : {dataset_, optimizer_, schedule_, loss_, device_, precision_})
    connect(c, &QComboBox::currentIndexChanged, this, [this] { readForm(); });
  for (QSpinBox* s : {samples_, classes_, image_size_, channels_, batch_, epochs_, seed_, step_size_, warmup_, patience_,
                      early_stop_})
    connect(s, &QSpinBox::valueChanged, this, [this] { readForm(); });
  for (QDoubleSpinBox* s : {noise_, split_, momentum_, weight_decay_, beta1_, beta2_, gamma_, clip_})
    connect(s, &QDoubleSpinBox::valueChanged, this, [this] { readForm(); });
  for (QCheckBox* c : {normalize_, nesterov_, tf32_, cuda_graphs_}) connect(c, &QCheckBox::toggled, this, [this] { readForm(); });
  for (QLineEdit* e : {path_, lr_, checkpoint_dir_}) connect(e, &QLineEdit::editingFinished, this, [this] { readForm(); });
  connect(browse_path_, &QPushButton::clicked, this, [this] {
    const std::string k = dataset_->currentText().toStdString();
    QString p = k == "csv" ? QFileDialog::getOpenFileName(this, tr("Dataset file"), path_->text(),
                                                          tr("CSV files (*.csv);;All files (*)"))
                           : QFileDialog::getExistingDirectory(this, tr("Dataset folder"), path_->text());
    if (p.isEmpty()) return;
    path_->setText(p);
    readForm();
  });
  connect(browse_checkpoints_, &QPushButton::clicked, this, [this] {
    QString p = QFileDialog::getExistingDirectory(this, tr("Checkpoint folder"), checkpoint_dir_->text());
    if (p.isEmpty()) return;
    checkpoint_dir_->setText(p);
    readForm();
  });
  setSettings(settings_);
}

QStringList TrainSettingsWidget::availableDevices() {
  // The CUDA backend registers itself only when a device answers (engine/backends).
  QStringList out;
  for (const std::string& d : run::available_devices()) out << QString::fromStdString(d);
  return out;
}

QString TrainSettingsWidget::deviceLabel(const QString& setting) {
  if (setting == "cpu") return setting;
  try {
    const Device d = run::device_from_setting(setting.toStdString());
    return setting + QString::fromUtf8(" · ") + QString::fromStdString(backend_for(d).description());
  } catch (const std::exception&) {
    return tr("%1 (not available here)").arg(setting);
  }
}

namespace {

struct PreviewResult {
  run::ValidationReport report;
  std::vector<std::string> class_names;
  QString text;
};

// The first samples of the training part (scatter: a few hundred; images: sixteen).
PreviewResult loadPreview(project::TrainingSettings s, const std::string& base_dir) {
  PreviewResult out;
  try {
    run::PreparedData data = run::load_dataset(s.dataset, base_dir, s.seed);
    const bool points = data.sample_shape.size() == 1 && data.sample_shape[0] == 2;
    const int64_t n = std::min<int64_t>(data.train->size(), points ? 400 : 16);
    for (int64_t i = 0; i < n; ++i) {
      data::Example e = data.train->get(i);
      run::ValidationReport::Sample sample;
      Tensor x = e.input.to(DType::Float32).contiguous();
      sample.shape.assign(x.shape().begin(), x.shape().end());
      sample.values = x.to_vector<float>();
      sample.label = sample.predicted = data.num_classes > 0 ? static_cast<int64_t>(e.target.item()) : 0;
      out.report.samples.push_back(std::move(sample));
    }
    out.class_names = data.class_names;
    QString shape;
    for (int64_t d : data.sample_shape) shape += (shape.isEmpty() ? "" : "×") + QString::number(d);
    out.text = QObject::tr("%1 training and %2 validation samples of %3, %4 classes")
                   .arg(data.train->size())
                   .arg(data.validation ? data.validation->size() : 0)
                   .arg(shape)
                   .arg(data.num_classes);
  } catch (const std::exception& e) {
    out.text = QString::fromUtf8(e.what());
  }
  return out;
}

}  // namespace

void TrainSettingsWidget::preview() {
  const int generation = ++preview_generation_;
  preview_text_->setText(tr("Loading…"));
  auto* watcher = new QFutureWatcher<PreviewResult>(this);
  connect(watcher, &QFutureWatcher<PreviewResult>::finished, this, [this, watcher, generation] {
    watcher->deleteLater();
    if (generation != preview_generation_) return;  // a newer preview is on its way
    PreviewResult r = watcher->result();
    preview_text_->setText(r.text);
    if (r.report.samples.empty()) {
      preview_->hide();
    } else {
      preview_->setReport(r.report, r.class_names, tr("Training samples with their labels"));
      preview_->show();
    }
    emit previewReady();
  });
  watcher->setFuture(QtConcurrent::run(loadPreview, settings_, base_dir_.toStdString()));
}

void TrainSettingsWidget::setSettings(const project::TrainingSettings& s) {
  filling_ = true;
  settings_ = s;
  auto select = [](QComboBox* c, const std::string& v) {
    int i = c->findText(QString::fromStdString(v));
    if (i < 0) {
      c->addItem(QString::fromStdString(v));
      i = c->count() - 1;
    }
    c->setCurrentIndex(i);
  };
  select(dataset_, s.dataset.kind);
  path_->setText(QString::fromStdString(s.dataset.path));
  samples_->setValue(static_cast<int>(s.dataset.samples));
  classes_->setValue(static_cast<int>(s.dataset.num_classes));
  noise_->setValue(s.dataset.noise < 0 ? -1 : s.dataset.noise);
  image_size_->setValue(static_cast<int>(s.dataset.image_size));
  channels_->setValue(static_cast<int>(s.dataset.channels));
  split_->setValue(s.dataset.validation_split);
  normalize_->setChecked(s.dataset.normalize);
  epochs_->setValue(static_cast<int>(std::min<int64_t>(s.epochs, epochs_->maximum())));
  batch_->setValue(static_cast<int>(s.batch_size));
  seed_->setValue(static_cast<int>(std::min<uint64_t>(s.seed, INT32_MAX)));
  select(loss_, s.loss);
  {
    // A project saved on a machine with another GPU keeps its setting, marked unavailable.
    const QString d = QString::fromStdString(s.device);
    int i = device_->findData(d);
    if (i < 0) {
      device_->addItem(deviceLabel(d), d);
      i = device_->count() - 1;
    }
    device_->setCurrentIndex(i);
  }
  select(precision_, s.precision);
  tf32_->setChecked(s.tf32);
  cuda_graphs_->setChecked(s.cuda_graphs);
  select(optimizer_, s.optimizer.kind);
  lr_->setText(QString::number(s.optimizer.lr, 'g', 6));
  momentum_->setValue(s.optimizer.momentum);
  nesterov_->setChecked(s.optimizer.nesterov);
  beta1_->setValue(s.optimizer.beta1);
  beta2_->setValue(s.optimizer.beta2);
  weight_decay_->setValue(s.optimizer.weight_decay);
  clip_->setValue(s.clip_grad_norm);
  select(schedule_, s.schedule.kind);
  step_size_->setValue(static_cast<int>(s.schedule.step_size));
  gamma_->setValue(s.schedule.gamma);
  warmup_->setValue(static_cast<int>(s.schedule.warmup_epochs));
  patience_->setValue(static_cast<int>(s.schedule.patience));
  early_stop_->setValue(static_cast<int>(s.early_stopping_patience));
  checkpoint_dir_->setText(QString::fromStdString(s.checkpoint_dir));
  error_->hide();
  updateVisibility();
  filling_ = false;
}

void TrainSettingsWidget::updateVisibility() {
  const std::string k = dataset_->currentText().toStdString();
  const std::string opt = optimizer_->currentText().toStdString();
  const std::string sched = schedule_->currentText().toStdString();
  auto show = [this](QWidget* w, bool on) { form_->setRowVisible(w, on); };
  path_->setEnabled(isFileKind(k));
  browse_path_->setEnabled(isFileKind(k));
  show(samples_, isSynthetic(k));
  show(classes_, isSynthetic(k));
  show(noise_, isSynthetic(k));
  show(image_size_, k == "shapes" || k == "image_folder");
  show(channels_, k == "shapes" || k == "image_folder");
  show(momentum_, opt == "sgd");
  show(nesterov_, opt == "sgd");
  show(beta1_, opt == "adam" || opt == "adamw");
  show(beta2_, opt == "adam" || opt == "adamw");
  show(step_size_, sched == "step");
  show(gamma_, sched == "step" || sched == "multistep" || sched == "exponential");
  show(warmup_, sched == "cosine");
  show(patience_, sched == "plateau");
  const bool gpu = device_->currentData().toString().startsWith("cuda");
  show(precision_, gpu);
  show(tf32_, gpu);
  show(cuda_graphs_, gpu);
}

void TrainSettingsWidget::readForm() {
  if (filling_) return;
  project::TrainingSettings s = settings_;
  s.dataset.kind = dataset_->currentText().toStdString();
  s.dataset.path = path_->text().trimmed().toStdString();
  s.dataset.samples = samples_->value();
  s.dataset.num_classes = classes_->value();
  s.dataset.noise = noise_->value() < 0 ? -1 : noise_->value();
  s.dataset.image_size = image_size_->value();
  s.dataset.channels = channels_->value();
  s.dataset.validation_split = split_->value();
  s.dataset.normalize = normalize_->isChecked();
  s.epochs = epochs_->value();
  s.batch_size = batch_->value();
  s.seed = static_cast<uint64_t>(seed_->value());
  s.loss = loss_->currentText().toStdString();
  s.device = device_->currentData().toString().toStdString();
  s.precision = precision_->currentText().toStdString();
  s.tf32 = tf32_->isChecked();
  s.cuda_graphs = cuda_graphs_->isChecked();
  s.optimizer.kind = optimizer_->currentText().toStdString();
  bool ok = false;
  const double lr = lr_->text().trimmed().toDouble(&ok);
  s.optimizer.momentum = momentum_->value();
  s.optimizer.nesterov = nesterov_->isChecked();
  s.optimizer.beta1 = beta1_->value();
  s.optimizer.beta2 = beta2_->value();
  s.optimizer.weight_decay = weight_decay_->value();
  s.clip_grad_norm = clip_->value();
  s.schedule.kind = schedule_->currentText().toStdString();
  s.schedule.step_size = step_size_->value();
  s.schedule.gamma = gamma_->value();
  s.schedule.warmup_epochs = warmup_->value();
  s.schedule.patience = patience_->value();
  s.early_stopping_patience = early_stop_->value();
  s.checkpoint_dir = checkpoint_dir_->text().trimmed().toStdString();
  updateVisibility();
  QString problem;
  if (!ok || !(lr > 0)) problem = tr("training.optimizer.lr: '%1' is not a positive number").arg(lr_->text());
  else s.optimizer.lr = lr;
  if (problem.isEmpty()) {
    try {
      // A file dataset without a path yet is work in progress, not an error to shout about.
      project::TrainingSettings check = s;
      if (isFileKind(check.dataset.kind) && check.dataset.path.empty()) check.dataset.path.assign(1, '.');
      project::validate(check);
    } catch (const std::exception& e) {
      problem = QString::fromUtf8(e.what());
    }
  }
  error_->setText(problem);
  error_->setVisible(!problem.isEmpty());
  if (!problem.isEmpty()) return;  // the project keeps its last valid settings
  if (s == settings_) return;
  settings_ = s;
  emit settingsChanged(settings_);
}

}  // namespace nl::app
