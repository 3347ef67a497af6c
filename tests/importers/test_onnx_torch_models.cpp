// Real architectures exported by PyTorch's own exporter (tests/importers/make_torch_models.py,
// random weights): a small CNN with the x.view(x.size(0), -1) flatten of older code, a
// narrow ResNet of torchvision BasicBlocks, torchvision's MobileNetV2 at width 0.25, a tiny
// Transformer encoder (tanh GELU) and a stacked bidirectional LSTM + GRU. Each imports,
// matches PyTorch's output within 1e-4 on the saved batch, runs at another batch size, and
// looks like a drawn model (convolutions, norms and dense layers come back as layers),
// fine-tunes, and survives import → export → import with the same layers, names and weights.
#include <QtTest/QtTest>

#include <filesystem>

#include "engine/io/npy.h"
#include "engine/optim/adam.h"
#include "importers/onnx/onnx_export.h"
#include "importers/onnx/onnx_import.h"
#include "onnx_testing.h"

using namespace nl;
using namespace nl::graph;
using namespace onnx_testing;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = fs::path(NETLOOM_TEST_DATA_DIR) / "torch_models";

std::map<std::string, int> count_types(const ModelGraph& g) {
  std::map<std::string, int> c;
  for (const auto& [id, n] : g.nodes())
    c[n.type == "OnnxOp" ? "OnnxOp:" + std::get<std::string>(n.attrs.at("op_type")) : n.type]++;
  return c;
}

std::string describe(const std::map<std::string, int>& c) {
  std::string s;
  for (const auto& [t, k] : c) s += (s.empty() ? "" : ", ") + t + "×" + std::to_string(k);
  return s;
}

struct Imported {
  project::Project project;
  std::map<std::string, int> types;
};

// Imports `name`, runs the saved input and compares with PyTorch's output.
Imported check_model(const std::string& name) {
  fs::path dir = kModels / name;
  Imported r{importers::import_onnx((dir / "model.onnx").string()), {}};
  r.types = count_types(r.project.graph);
  qInfo("%s: %zu nodes: %s", name.c_str(), r.project.graph.size(), describe(r.types).c_str());
  Tensor x = load_npy((dir / "input.npy").string()), want = load_npy((dir / "output.npy").string());
  auto model = build(r.project.graph, r.project.weights);
  const std::string& input = model->input_names().at(0);
  auto out = model->run({{input, x}});
  double d = max_rel_diff(out.at("y"), want);
  if (!(d <= 1e-4)) qWarning("%s: differs from PyTorch by %g", name.c_str(), d);
  [&] { QVERIFY2(d <= 1e-4, qPrintable(QString::fromStdString(name) + " differs from PyTorch by " + QString::number(d))); }();
  // The batch is symbolic: one sample runs too, and gives the first row.
  auto one = model->run({{input, x.narrow(0, 0, 1).contiguous()}});
  double d1 = max_rel_diff(one.at("y"), want.narrow(0, 0, 1).contiguous());
  [&] { QVERIFY2(d1 <= 1e-4, qPrintable(QString::fromStdString(name) + " at batch 1 differs by " + QString::number(d1))); }();
  return r;
}

}  // namespace

class TestOnnxTorchModels : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    if (!fs::is_directory(kModels)) QSKIP("tests/data/torch_models is missing (make_torch_models.py writes it)");
  }

  void small_cnn() {
    Imported m = check_model("small_cnn");
    if (QTest::currentTestFailed()) return;
    // The Shape → Gather → Unsqueeze → Concat chain folds into one Reshape layer.
    QCOMPARE(m.types["Conv2d"], 3);
    QCOMPARE(m.types["BatchNorm2d"] + m.types["Conv2d"] >= 3, true);
    QCOMPARE(m.types["Linear"], 2);
    QCOMPARE(m.types["Reshape"], 1);
    QCOMPARE(m.types["ReLU6"], 1);
    QCOMPARE(m.types["GELU"], 1);
    for (const auto& [t, k] : m.types)
      QVERIFY2(t.rfind("OnnxOp", 0) != 0 || t == "OnnxOp:Conv", qPrintable(QString::fromStdString(describe(m.types))));
  }

  void tiny_resnet() {
    Imported m = check_model("tiny_resnet");
    if (QTest::currentTestFailed()) return;
    QCOMPARE(m.types["Conv2d"], 1 + 4 * 2 + 3);  // stem, two per block, three downsamples
    QCOMPARE(m.types["Add"], 4);
    QCOMPARE(m.types["Linear"], 1);
    QCOMPARE(m.types["MaxPool2d"], 1);
    QVERIFY2(m.types.count("OnnxOp") == 0, describe(m.types).c_str());
  }

  void mobilenet_v2() {
    Imported m = check_model("mobilenet_v2_w025");
    if (QTest::currentTestFailed()) return;
    QCOMPARE(m.types["ReLU6"], 35);
    QCOMPARE(m.types["Conv2d"], 52);
    QCOMPARE(m.types["Linear"], 1);
  }

  void tiny_transformer() {
    Imported m = check_model("tiny_transformer");
    if (QTest::currentTestFailed()) return;
    QCOMPARE(m.types["Embedding"], 1);
    QCOMPARE(m.types["LayerNorm"], 5);  // two per encoder layer and the final one
    QVERIFY(m.types["Linear"] >= 6);
  }

  void sequence_lstm() {
    Imported m = check_model("sequence_lstm_torch");
    if (QTest::currentTestFailed()) return;
    QCOMPARE(m.types["OnnxOp:LSTM"], 2);
    QCOMPARE(m.types["OnnxOp:GRU"], 1);
    QCOMPARE(m.types["Linear"], 1);
  }

  // Imported models are trainable: fine-tuning the imported CNN and Transformer (generic
  // OnnxOp nodes included) on a fixed batch drives the loss down, and the weights move.
  void imported_models_fine_tune() {
    for (const char* name : {"small_cnn", "tiny_transformer"}) {
      fs::path dir = kModels / name;
      project::Project p = importers::import_onnx((dir / "model.onnx").string());
      run::GraphExecutor executor;
      auto model = executor.build(p.graph);
      model->load_weights(p.weights);
      model->train();
      Tensor x = load_npy((dir / "input.npy").string());
      Tensor want = load_npy((dir / "output.npy").string());
      int64_t classes = want.size(1);
      Tensor labels = tensor(std::vector<int64_t>{1 % classes, 2 % classes, 0}, {3});
      const std::string& input = model->input_names().at(0);
      auto params = model->parameters();
      QVERIFY(!params.empty());
      Tensor before = params.front().detach().clone();
      optim::Adam opt(params, {.lr = 1e-2});
      double first = 0, last = 0;
      for (int step = 0; step < 25; ++step) {
        opt.zero_grad();
        Tensor y = model->run({{input, x}}).at("y");
        // small_cnn ends in a softmax: its log is what cross-entropy takes; the Transformer gives logits.
        Tensor logits = std::string(name) == "small_cnn" ? log(add(y, 1e-6)) : y;
        Tensor loss = cross_entropy(logits, labels);
        loss.backward();
        opt.step();
        (step == 0 ? first : last) = loss.item();
      }
      QVERIFY2(last < 0.5 * first, qPrintable(QString("%1: loss %2 → %3").arg(name).arg(first).arg(last)));
      QVERIFY2(max_rel_diff(params.front().detach(), before) > 0, name);
    }
  }

  // What came in goes out again: each model exports (the checker and strict shape inference
  // accept it) and re-imports computing the same outputs.
  void every_model_exports_again() {
    for (const char* name : {"small_cnn", "tiny_resnet", "mobilenet_v2_w025", "tiny_transformer", "sequence_lstm_torch"}) {
      fs::path dir = kModels / name;
      project::Project p = importers::import_onnx((dir / "model.onnx").string());
      std::string bytes;
      try {
        // At the opset the generic nodes came from (within what the exporter writes), so
        // they come back unchanged.
        importers::OnnxExportOptions o;
        for (const auto& [id, n] : p.graph.nodes())
          if (n.type == "OnnxOp")
            o.opset = std::clamp<int>(static_cast<int>(std::get<int64_t>(n.attrs.at("opset"))),
                                      importers::kOnnxMinExportOpset, importers::kOnnxMaxExportOpset);
        bytes = importers::export_onnx(p.graph, p.weights, o);
      } catch (const Error& e) {
        QFAIL(qPrintable(QString(name) + ": " + e.what()));
      }
      project::Project back = importers::import_onnx_bytes(bytes, name, "");
      // The same layers under the same names, with the same weights.
      QString diff = structure_diff(p.graph, back.graph);
      QVERIFY2(diff.isEmpty(), qPrintable(QString(name) + ": " + diff));
      for (const auto& [k, t] : p.weights)
        QVERIFY2(back.weights.count(k) && same_bytes(back.weights.at(k), t), qPrintable(QString(name) + ": " + k.c_str()));
      Tensor x = load_npy((dir / "input.npy").string()), want = load_npy((dir / "output.npy").string());
      auto model = build(back.graph, back.weights);
      auto out = model->run({{model->input_names().at(0), x}});
      QVERIFY2(max_rel_diff(out.at("y"), want) <= 1e-4, name);
    }
  }
};

QTEST_APPLESS_MAIN(TestOnnxTorchModels)
#include "test_onnx_torch_models.moc"
