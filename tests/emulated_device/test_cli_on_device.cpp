// The command line on a GPU (the emulated cuda:0 of emulated_device.h where no GPU answers),
// run in-process as `netloom …` runs it: `netloom train --device cuda --precision bf16`
// trains the shapes example there and saves a project whose weights load on the CPU,
// `netloom run --device cuda` gives the CPU's outputs for them, and `--cuda-graphs` replays
// captured steps.
#include <QtTest/QtTest>

#include <filesystem>

#include "app/cli/cli.h"
#include "engine/io/npy.h"
#include "engine/ops/ops.h"
#include "engine/project/project.h"
#include "tests/emulated_device/emulated_device.h"

using namespace nl;
namespace fs = std::filesystem;

class TestCliOnDevice : public QObject {
  Q_OBJECT
  std::unique_ptr<testing::EmulatedDevice> device_;
  QTemporaryDir dir_;

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    device_ = std::make_unique<testing::EmulatedDevice>();
  }
  void cleanupTestCase() { device_.reset(); }

  void trainAndRunOnTheDevice() {
    const fs::path root = dir_.path().toStdString();
    project::Project p = project::load_project(NETLOOM_EXAMPLES_DIR "/shapes_cnn.netloom");
    p.training.dataset.samples = 300;
    project::save_project(p, (root / "shapes.netloom").string());

    const long calls = testing::EmulatedDevice::kernel_calls();
    const long half = testing::EmulatedDevice::reduced_precision_calls();
    QCOMPARE(app::run_cli({"train", (root / "shapes.netloom").string(), "--epochs", "1", "--device", "cuda",
                           "--precision", "bf16", "--plain", "--out", (root / "run").string()}),
             0);
    if (device_->is_emulated()) {
      QVERIFY(testing::EmulatedDevice::kernel_calls() > calls + 1000);
      QVERIFY(testing::EmulatedDevice::reduced_precision_calls() > half);  // bf16 reached the device
    }
    const fs::path trained = root / "run" / "shapes.netloom";
    QVERIFY(fs::exists(trained));
    QVERIFY(fs::exists(root / "run" / "metrics.csv"));
    QVERIFY(fs::exists(root / "run" / "checkpoints" / "last.safetensors"));
    project::Project t = project::load_project(trained.string());
    QVERIFY(!t.weights.empty());
    for (const auto& [name, w] : t.weights) QVERIFY2(w.device().is_cpu(), name.c_str());

    // Inference from the command line: the same outputs on both devices.
    manual_seed(3);
    save_npy((root / "x.npy").string(), rand({4, 1, 28, 28}));
    for (const char* d : {"cpu", "cuda"})
      QCOMPARE(app::run_cli({"run", trained.string(), "--input", (root / "x.npy").string(), "--device", d, "--output",
                             (root / ("out-" + std::string(d))).string()}),
               0);
    int compared = 0;
    for (const auto& e : fs::directory_iterator(root / "out-cpu")) {
      Tensor a = load_npy(e.path().string());
      Tensor b = load_npy((root / "out-cuda" / e.path().filename()).string());
      QCOMPARE(b.shape(), a.shape());
      QVERIFY(amax(abs(sub(a, b))).item() <= (device_->is_emulated() ? 1e-6 : 1e-3));
      ++compared;
    }
    QVERIFY(compared > 0);
  }

  // --cuda-graphs: SGD steps are captured once and replayed (the shapes example trains with
  // Adam, which needs fused kernels for its device step counts: offered here as on a GPU).
  void trainWithCudaGraphs() {
    if (!device_->is_emulated()) QSKIP("tests/gpu/test_cuda_graphs.cpp covers a real GPU");
    const fs::path root = dir_.path().toStdString();
    project::Project p = project::load_project(NETLOOM_EXAMPLES_DIR "/shapes_cnn.netloom");
    p.training.dataset.samples = 400;
    // Its dropout draws random numbers every step, which a graph cannot replay (the run would
    // say "CUDA graphs off" and train eagerly): a rate of 0 draws none.
    const graph::Node* dropout = p.graph.find_by_name("dropout");
    QVERIFY(dropout);
    QVERIFY(p.graph.set_attribute(dropout->id, "p", 0.0));
    project::save_project(p, (root / "graphs.netloom").string());
    testing::EmulatedDevice::set_fused_updates(true);
    const long captured = testing::EmulatedDevice::graphs_captured();
    const long replays = testing::EmulatedDevice::graph_replays();
    const int status = app::run_cli({"train", (root / "graphs.netloom").string(), "--epochs", "2", "--device", "cuda",
                                     "--cuda-graphs", "--plain", "--out", (root / "graphs-run").string()});
    testing::EmulatedDevice::set_fused_updates(false);
    QCOMPARE(status, 0);
    QCOMPARE(testing::EmulatedDevice::graphs_captured(), captured + 1);
    QVERIFY(testing::EmulatedDevice::graph_replays() > replays + 5);
    QVERIFY(fs::exists(root / "graphs-run" / "graphs.netloom"));
  }
};

QTEST_GUILESS_MAIN(TestCliOnDevice)
#include "test_cli_on_device.moc"
