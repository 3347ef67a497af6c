// Exported models run in ONNX Runtime (npm onnxruntime-node, CPU) give Netloom's outputs
// within 1e-4: every example project and the every-layer model. Skips with the install
// command when node or onnxruntime-node is missing.
#include <QtTest/QtTest>

#include <QProcess>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/project/project.h"
#include "importers/onnx/onnx_export.h"
#include "importers/onnx/onnx_import.h"
#include "onnx_testing.h"

using namespace nl;
using namespace nl::graph;
using namespace onnx_testing;
namespace fs = std::filesystem;

namespace {

const fs::path kOrtDir = fs::path(NETLOOM_TEST_DATA_DIR).parent_path() / "importers" / "ort";

nlohmann::json to_json(const Tensor& t) {
  nlohmann::json j;
  j["dims"] = std::vector<int64_t>(t.shape().begin(), t.shape().end());
  if (t.dtype() == DType::Int64) {
    j["dtype"] = "int64";
    j["data"] = t.to_vector<int64_t>();
  } else {
    j["dtype"] = "float32";
    j["data"] = t.to_vector<float>();
  }
  return j;
}

}  // namespace

class TestOnnxRuntime : public QObject {
  Q_OBJECT
  fs::path tmp_;

  // Exports `g`, runs it in ONNX Runtime and in Netloom on the same random inputs, compares.
  void check(const ModelGraph& g, const std::map<std::string, Tensor>& weights, const std::string& what, int opset) {
    importers::OnnxExportOptions o;
    o.opset = opset;
    fs::path model = tmp_ / (what + ".onnx"), in = tmp_ / (what + ".in.json"), out = tmp_ / (what + ".out.json");
    importers::save_onnx(g, weights, model.string(), o);
    auto inputs = random_inputs(g, 2, 10, 21);
    nlohmann::json feeds;
    for (const auto& [name, t] : inputs) feeds[name] = to_json(t);
    std::ofstream(in) << feeds.dump();
    QProcess node;
    node.setWorkingDirectory(QString::fromStdString(kOrtDir.string()));
    node.start("node", {"run_onnx.js", QString::fromStdString(model.string()), QString::fromStdString(in.string()),
                        QString::fromStdString(out.string())});
    QVERIFY(node.waitForFinished(120000));
    QVERIFY2(node.exitCode() == 0, qPrintable(QString::fromStdString(what) + ": ONNX Runtime failed: " +
                                              node.readAllStandardError()));
    nlohmann::json got = nlohmann::json::parse(std::ifstream(out));
    auto expected = build(g, weights)->run(inputs);
    QCOMPARE(got.size(), expected.size());
    for (const auto& [name, t] : expected) {
      QVERIFY2(got.contains(name), qPrintable(QString::fromStdString(what + ": no output " + name)));
      std::vector<float> data = got[name]["data"].get<std::vector<float>>();
      std::vector<int64_t> dims = got[name]["dims"].get<std::vector<int64_t>>();
      Shape shape;
      for (int64_t d : dims) shape.push_back(d);
      QVERIFY2(static_cast<int64_t>(data.size()) == shape.numel(), what.c_str());
      double d = max_rel_diff(tensor(data, shape), t);
      QVERIFY2(d <= 1e-4, qPrintable(QString("%1 (opset %2): output %3 differs from ONNX Runtime by %4")
                                         .arg(what.c_str()).arg(opset).arg(name.c_str()).arg(d)));
    }
  }

 private slots:
  void initTestCase() {
    QProcess probe;
    probe.setWorkingDirectory(QString::fromStdString(kOrtDir.string()));
    probe.start("node", {"-e", "require('onnxruntime-node')"});
    if (!probe.waitForFinished(60000) || probe.exitStatus() != QProcess::NormalExit || probe.exitCode() != 0)
      QSKIP(qPrintable("ONNX Runtime for node is not installed; run: cd " + QString(kOrtDir.c_str()) +
                       " && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install"));
    tmp_ = fs::temp_directory_path() / ("netloom_ort_" + std::to_string(QCoreApplication::applicationPid()));
    fs::create_directories(tmp_);
  }
  void cleanupTestCase() {
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }

  void every_layer_model_matches_onnx_runtime() {
    ModelGraph g = every_layer_graph();
    auto w = random_weights(g, 13);
    for (int opset : {13, 16, 17, 18}) check(g, w, "every_layer_" + std::to_string(opset), opset);
  }

  void attention_layers_match_onnx_runtime() {
    ModelGraph g = attention_graph();
    auto w = random_weights(g, 41);
    for (int opset : {13, 17}) check(g, w, "attention_" + std::to_string(opset), opset);
  }

  void recurrent_layers_match_onnx_runtime() {
    ModelGraph g = recurrent_graph();
    check(g, random_weights(g, 29), "recurrent", importers::kOnnxDefaultOpset);
  }

  // Generic OnnxOp nodes export as the ops they hold, and ONNX Runtime computes the same.
  void generic_ops_match_onnx_runtime() {
    project::Project p = importers::import_onnx_bytes(generic_ops_model(), "generic_ops.onnx", "");
    check(p.graph, p.weights, "generic_ops", 17);
  }

  void example_projects_match_onnx_runtime() {
    int checked = 0;
    for (const auto& entry : fs::directory_iterator(NETLOOM_EXAMPLES_DIR)) {
      if (entry.path().extension() != ".netloom") continue;
      project::Project p = project::load_project(entry.path().string());
      check(p.graph, random_weights(p.graph, 4), entry.path().stem().string(), importers::kOnnxDefaultOpset);
      ++checked;
    }
    QVERIFY(checked >= 4);
  }
};

QTEST_APPLESS_MAIN(TestOnnxRuntime)
#include "test_onnx_runtime.moc"
