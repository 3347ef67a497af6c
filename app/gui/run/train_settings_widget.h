// The Train settings panel: a form over a project's training settings (dataset with its
// built-in synthetic sets and file paths, validation split, batch size, epochs, optimiser and
// its settings, learning-rate schedule, loss, device, seed, checkpoint folder, clipping,
// early stopping). Edits go to the project's settings at once; a run in progress keeps the
// settings it started with.
#pragma once
#include <QWidget>

#include "engine/project/training_settings.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QSpinBox;

namespace nl::app {

class TrainSettingsWidget : public QWidget {
  Q_OBJECT

 public:
  explicit TrainSettingsWidget(QWidget* parent = nullptr);

  // Fills the form (no settingsChanged while it does).
  void setSettings(const project::TrainingSettings& s);
  const project::TrainingSettings& settings() const { return settings_; }
  // The devices offered: "cpu", and CUDA devices when this build has CUDA and one answers.
  static QStringList availableDevices();
  // How the Device list shows a setting: "cuda:0 · NVIDIA H200, 140 GiB", or that it is not
  // available on this machine.
  static QString deviceLabel(const QString& setting);

  QComboBox* datasetCombo() const { return dataset_; }
  QSpinBox* epochsSpin() const { return epochs_; }
  QSpinBox* batchSizeSpin() const { return batch_; }
  QLineEdit* learningRateEdit() const { return lr_; }
  QComboBox* optimizerCombo() const { return optimizer_; }
  QPushButton* previewButton() const { return preview_button_; }
  class SampleGridView* previewView() const { return preview_; }
  QLabel* previewLabel() const { return preview_text_; }

  // Relative dataset paths start here (the project's folder).
  void setBaseDir(const QString& dir) { base_dir_ = dir; }
  // Loads the dataset on a worker thread and shows its first samples with their labels;
  // previewReady follows (also when the dataset cannot be read: the label says why).
  void preview();

 signals:
  void settingsChanged(const nl::project::TrainingSettings& settings);
  void previewReady();

 private:
  void readForm();      // form → settings_, validated; emits settingsChanged
  void updateVisibility();

  project::TrainingSettings settings_;
  bool filling_ = false;
  QFormLayout* form_ = nullptr;
  QComboBox *dataset_, *optimizer_, *schedule_, *loss_, *device_, *precision_;
  QLineEdit *path_, *lr_, *checkpoint_dir_;
  QPushButton *browse_path_, *browse_checkpoints_;
  QSpinBox *samples_, *classes_, *image_size_, *channels_, *batch_, *epochs_, *seed_, *step_size_, *warmup_,
      *patience_, *early_stop_;
  QDoubleSpinBox *noise_, *split_, *momentum_, *weight_decay_, *beta1_, *beta2_, *gamma_, *clip_;
  QCheckBox *normalize_, *nesterov_, *tf32_, *cuda_graphs_;
  QLabel* error_;
  QPushButton* preview_button_;
  QLabel* preview_text_;
  class SampleGridView* preview_;
  QString base_dir_;
  int preview_generation_ = 0;
};

}  // namespace nl::app
