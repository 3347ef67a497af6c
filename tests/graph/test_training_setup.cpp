// Training setup factories: every dataset kind loads with the right shapes and classes,
// every optimiser and schedule kind is built and steps, bad settings name their field, and
// the synthetic sequences set is balanced and a pure function of its seed.
#include <QtTest/QtTest>

#include <png.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/core/error.h"
#include "engine/data/synthetic_sequences.h"
#include "engine/io/npy.h"
#include "engine/ops/ops.h"
#include "engine/run/training_setup.h"

using namespace nl;
using namespace nl::run;
using project::DatasetSettings;
using project::OptimizerSettings;
using project::ScheduleSettings;
namespace fs = std::filesystem;

namespace {

// An unsigned-byte IDX file: magic, big-endian dimensions, then value(i) for each element.
void write_idx(const std::string& path, const std::vector<uint32_t>& dims, int (*value)(size_t)) {
  std::ofstream out(path, std::ios::binary);
  const char magic[4] = {0, 0, 0x08, static_cast<char>(dims.size())};
  out.write(magic, 4);
  size_t count = 1;
  for (uint32_t d : dims) {
    const char be[4] = {char(d >> 24), char(d >> 16), char(d >> 8), char(d)};
    out.write(be, 4);
    count *= d;
  }
  for (size_t i = 0; i < count; ++i) out.put(static_cast<char>(value(i)));
}

// A CIFAR-10 batch of `records` images, labels cycling through the ten classes.
void write_cifar_batch(const std::string& path, int records) {
  std::ofstream out(path, std::ios::binary);
  for (int r = 0; r < records; ++r) {
    out.put(static_cast<char>(r % 10));
    for (int k = 0; k < 3072; ++k) out.put(static_cast<char>((r * 13 + k) % 256));
  }
}

void write_png_file(const std::string& path, int size, int channels, int shade) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = image.height = size;
  image.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  std::vector<uint8_t> px(size * size * channels);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>((i * 5 + shade) % 256);
  QVERIFY(png_image_write_to_file(&image, path.c_str(), 0, px.data(), 0, nullptr));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

std::vector<int64_t> class_counts(const data::Dataset& d) {
  std::vector<int64_t> counts(d.num_classes());
  for (int64_t i = 0; i < d.size(); ++i) counts.at(static_cast<size_t>(d.get(i).target.item()))++;
  return counts;
}

// Loads `s` and checks what every kind must satisfy.
PreparedData load_checked(const DatasetSettings& s, const std::string& base, const std::vector<int64_t>& shape,
                          int64_t classes, int64_t total) {
  PreparedData d = load_dataset(s, base, 3);
  if (d.sample_shape != shape) qWarning("kind %s: sample shape differs", s.kind.c_str());
  [&] {
    QCOMPARE(d.sample_shape, shape);
    QCOMPARE(d.num_classes, classes);
    QCOMPARE(d.train->size() + (d.validation ? d.validation->size() : 0), total);
    QCOMPARE(d.train->input_shape().vec(), shape);
    QVERIFY(d.validation && d.validation->size() > 0);
  }();
  return d;
}

// The mean of the first input channel over the training part.
double first_channel_mean(const data::Dataset& d) {
  double sum = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    Tensor x = d.get(i).input;
    int64_t inner = x.numel() / x.size(0);
    for (int64_t j = 0; j < inner; ++j, ++n) sum += x.data<float>()[j];
  }
  return sum / n;
}

Tensor trainable() {
  Tensor p = ones({4});
  p.requires_grad_();
  return p;
}

}  // namespace

class TestTrainingSetup : public QObject {
  Q_OBJECT
 private slots:
  void synthetic_kinds() {
    DatasetSettings s;
    s.samples = 300;
    load_checked(s, "", {2}, 3, 300);  // spirals
    s.kind = "blobs";
    s.num_classes = 4;
    load_checked(s, "", {2}, 4, 300);
    s.kind = "shapes";
    s.num_classes = 3;
    s.samples = 120;
    PreparedData shapes = load_checked(s, "", {1, 28, 28}, 3, 120);
    QVERIFY(std::fabs(first_channel_mean(*shapes.train)) < 1e-3);  // normalised by its own statistics
    s.image_size = 32;
    s.channels = 3;
    s.normalize = false;
    shapes = load_checked(s, "", {3, 32, 32}, 3, 120);
    QVERIFY(first_channel_mean(*shapes.train) > 0.05);  // raw pixels in [0, 1]
    s.kind = "sequences";
    s.num_classes = 4;
    s.sequence_length = 20;
    s.sequence_features = 2;
    load_checked(s, "", {20, 2}, 4, 120);
    s.validation_split = 0;
    PreparedData all = load_dataset(s, "", 1);
    QVERIFY(!all.validation);
    QCOMPARE(all.train->size(), int64_t{120});
  }

  void file_kinds() {
    QTemporaryDir dir;
    const std::string base = dir.path().toStdString();
    DatasetSettings s;
    s.validation_split = 0.25;

    fs::create_directories(base + "/mnist");
    write_idx(base + "/mnist/train-images-idx3-ubyte", {20, 28, 28}, [](size_t i) { return int(i % 251); });
    write_idx(base + "/mnist/train-labels-idx1-ubyte", {20}, [](size_t i) { return int(i % 10); });
    s.kind = "mnist";
    s.path = "mnist";  // relative to the project folder
    load_checked(s, base, {1, 28, 28}, 10, 20);
    s.kind = "fashion_mnist";
    PreparedData fashion = load_checked(s, base, {1, 28, 28}, 10, 20);
    QCOMPARE(fashion.class_names.at(9), std::string("Ankle boot"));

    fs::create_directories(base + "/cifar");
    for (int b = 1; b <= 5; ++b) write_cifar_batch(base + "/cifar/data_batch_" + std::to_string(b) + ".bin", 4);
    s.kind = "cifar10";
    s.path = base + "/cifar";  // absolute works too
    load_checked(s, base, {3, 32, 32}, 10, 20);

    s.kind = "csv";
    s.path = "datasets/iris.csv";
    PreparedData iris = load_checked(s, NETLOOM_SHARED_DIR, {4}, 3, 150);
    QVERIFY(std::fabs(first_channel_mean(*iris.train)) < 1e-4);

    for (const char* cls : {"cat", "dog"}) {
      fs::create_directories(base + "/pets/" + cls);
      for (int i = 0; i < 4; ++i)
        write_png_file(base + "/pets/" + cls + "/" + std::to_string(i) + ".png", 10, 3, i + (cls[0] == 'd') * 50);
    }
    s.kind = "image_folder";
    s.path = "pets";
    s.image_size = 16;
    PreparedData pets = load_checked(s, base, {3, 16, 16}, 2, 8);
    QCOMPARE(pets.class_names, (std::vector<std::string>{"cat", "dog"}));

    fs::create_directories(base + "/arrays");
    Generator gen(4);
    save_npy(base + "/arrays/x.npy", randn({12, 5}, {}, &gen));
    Tensor labels = Tensor::empty({12}, DType::Int64);
    for (int64_t i = 0; i < 12; ++i) labels.data<int64_t>()[i] = i % 3;
    save_npy(base + "/arrays/y.npy", labels);
    s.kind = "npy";
    s.path = "arrays";
    s.features_file = "x.npy";
    s.labels_file = "y.npy";
    load_checked(s, base, {5}, 3, 12);
  }

  void sequences_are_balanced_and_seeded() {
    data::SequencesOptions o{.samples = 403, .length = 24, .features = 3, .classes = 5, .seed = 11};
    auto a = data::make_sequences(o), b = data::make_sequences(o);
    QCOMPARE(a->input_shape().vec(), (std::vector<int64_t>{24, 3}));
    std::vector<int64_t> counts = class_counts(*a);
    QCOMPARE(*std::max_element(counts.begin(), counts.end()) - *std::min_element(counts.begin(), counts.end()),
             int64_t{1});
    const auto bytes = [](const Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); };
    QVERIFY(std::memcmp(a->inputs().raw_data(), b->inputs().raw_data(), bytes(a->inputs())) == 0);
    o.seed = 12;
    auto c = data::make_sequences(o);
    QVERIFY(std::memcmp(a->inputs().raw_data(), c->inputs().raw_data(), bytes(a->inputs())) != 0);
    // The same seed splits the same way through the settings too.
    DatasetSettings s{.kind = "sequences", .samples = 100, .num_classes = 4};
    PreparedData x = load_dataset(s, "", 9), y = load_dataset(s, "", 9);
    auto* sx = dynamic_cast<data::Subset*>(x.validation.get());
    auto* sy = dynamic_cast<data::Subset*>(y.validation.get());
    QVERIFY(sx && sy && sx->indices() == sy->indices());
    QVERIFY_THROWS_EXCEPTION(Error, data::make_sequences({.length = 8, .classes = 4}));
  }

  void every_optimizer_steps() {
    for (const std::string& kind : project::optimizer_kinds()) {
      Tensor p = trainable();
      auto opt = make_optimizer({.kind = kind, .lr = 0.1, .nesterov = kind == "sgd"}, {p});
      p.set_grad(full({4}, 0.5));
      opt->step();
      QVERIFY2(p.to_vector<float>()[0] < 1.0f, kind.c_str());
    }
  }

  void every_schedule_steps() {
    const int64_t spe = 5, epochs = 4;
    auto lr_after = [&](const ScheduleSettings& s, int64_t steps) {
      Tensor p = trainable();
      auto opt = make_optimizer({.kind = "sgd", .lr = 1.0}, {p});
      auto sched = make_scheduler(s, *opt, spe, epochs);
      for (int64_t i = 0; i < steps; ++i) {
        p.set_grad(full({4}, 0.0));
        opt->step();
        if (sched) sched->step();
      }
      return opt->lr();
    };
    QCOMPARE(lr_after({.kind = "none"}, 7), 1.0);
    QCOMPARE(lr_after({.kind = "step", .step_size = 2, .gamma = 0.5}, 2 * spe - 1), 1.0);
    QCOMPARE(lr_after({.kind = "step", .step_size = 2, .gamma = 0.5}, 2 * spe), 0.5);
    QCOMPARE(lr_after({.kind = "multistep", .milestones = {1, 3}, .gamma = 0.1}, 3 * spe), 0.1 * 0.1);
    QCOMPARE(lr_after({.kind = "exponential", .gamma = 0.5}, 2 * spe), 0.25);
    QCOMPARE(lr_after({.kind = "cosine", .warmup_epochs = 1}, 0), 0.0);
    QCOMPARE(lr_after({.kind = "cosine", .warmup_epochs = 1}, spe), 1.0);
    QVERIFY(lr_after({.kind = "cosine"}, epochs * spe) < 1e-12);
    QVERIFY(std::fabs(lr_after({.kind = "onecycle", .max_lr = 2.0, .pct_start = 0.25}, 4) - 2.0) < 1e-9);

    QCOMPARE(lr_after({.kind = "plateau"}, 3 * spe), 1.0);  // steps alone never change it

    Tensor p = trainable();
    auto opt = make_optimizer({.kind = "adam", .lr = 1.0}, {p});
    auto sched = make_scheduler({.kind = "plateau", .factor = 0.5, .patience = 1}, *opt, spe, epochs);
    auto* plateau = dynamic_cast<PlateauSchedule*>(sched.get());
    QVERIFY(plateau);
    for (double loss : {1.0, 1.0}) plateau->record(loss);  // best, then one epoch without improvement
    QCOMPARE(opt->lr(), 1.0);
    plateau->record(1.0);  // the second: more than `patience`
    QCOMPARE(opt->lr(), 0.5);
  }

  void bad_settings_name_their_field() {
    DatasetSettings s{.kind = "mnsit"};
    QCOMPARE(error_of([&] { load_dataset(s, "", 0); }),
             std::string("training.dataset.kind: unknown dataset 'mnsit' (known: spirals, blobs, shapes, sequences, "
                         "mnist, fashion_mnist, cifar10, csv, image_folder, npy)"));
    s = {.kind = "mnist"};
    QCOMPARE(error_of([&] { load_dataset(s, "", 0); }), std::string("training.dataset.path: a mnist dataset needs a path"));
    QTemporaryDir dir;
    const std::string base = dir.path().toStdString();
    s.path = "nowhere";
    QCOMPARE(error_of([&] { load_dataset(s, base, 0); }),
             "training.dataset.path: " + base + "/nowhere does not exist");
    fs::create_directories(base + "/empty");
    s.path = "empty";
    QCOMPARE(error_of([&] { load_dataset(s, base, 0); }),
             "training.dataset.path: " + base + "/empty: no train-images-idx3-ubyte[.gz]");
    s = {.kind = "shapes", .num_classes = 9};
    QVERIFY(error_of([&] { load_dataset(s, "", 0); }).rfind("training.dataset: make_shapes", 0) == 0);
    s = {.kind = "spirals", .validation_split = 1.0};
    QCOMPARE(error_of([&] { load_dataset(s, "", 0); }),
             std::string("training.dataset.validation_split: must lie in [0, 1), got 1"));

    QCOMPARE(error_of([&] { make_optimizer({.kind = "adagrad"}, {trainable()}); }),
             std::string("training.optimizer.kind: unknown optimizer 'adagrad' (known: sgd, adam, adamw, rmsprop)"));
    QCOMPARE(error_of([&] { make_optimizer({.kind = "sgd", .momentum = 0, .nesterov = true}, {trainable()}); }),
             std::string("training.optimizer.nesterov: needs momentum > 0"));
    Tensor p = trainable();
    auto opt = make_optimizer({}, {p});
    QCOMPARE(error_of([&] { make_scheduler({.kind = "cosinus"}, *opt, 5, 2); }),
             std::string("training.schedule.kind: unknown schedule 'cosinus' (known: none, step, multistep, "
                         "exponential, cosine, onecycle, plateau)"));
    QCOMPARE(error_of([&] { make_scheduler({.kind = "cosine", .warmup_epochs = 2}, *opt, 5, 2); }),
             std::string("training.schedule.warmup_epochs: 2 leaves no epochs to decay over (training has 2)"));
    QCOMPARE(error_of([&] { make_scheduler({.kind = "multistep", .milestones = {0}}, *opt, 5, 2); }),
             std::string("training.schedule.milestones[0]: must be an epoch >= 1, got 0"));
  }
};

QTEST_APPLESS_MAIN(TestTrainingSetup)
#include "test_training_setup.moc"
