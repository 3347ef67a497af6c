// ONNX export → import: every example project and a model using every exported layer type
// pass the ONNX checker, come back with the same layers, attributes and bitwise weights,
// and compute the same outputs; unmapped layers give errors naming the node.
#include <QtTest/QtTest>

#include <filesystem>

#include <onnx/onnx_pb.h>

#include "engine/project/project.h"
#include "importers/onnx/onnx_export.h"
#include "importers/onnx/onnx_import.h"
#include "onnx_testing.h"

using namespace nl;
using namespace nl::graph;
using namespace onnx_testing;

namespace {

// Export, check, import; then compare structure, weights and outputs.
void check_round_trip(const ModelGraph& g, const std::map<std::string, Tensor>& weights, const QString& what) {
  std::string bytes = importers::export_onnx(g, weights);
  QVERIFY2(bytes.size() > 100, qPrintable(what));
  project::Project back = importers::import_onnx_bytes(bytes, what.toStdString(), "");
  QString diff = structure_diff(g, back.graph);
  QVERIFY2(diff.isEmpty(), qPrintable(what + ": " + diff));
  QVERIFY2(back.graph.consistency_error().empty(), back.graph.consistency_error().c_str());
  for (const auto& [k, t] : back.weights) {
    QVERIFY2(weights.count(k), qPrintable(what + ": unexpected weight " + QString::fromStdString(k)));
    if (k.find("num_batches_tracked") != std::string::npos) continue;  // ONNX has no slot for it
    QVERIFY2(same_bytes(t, weights.at(k)), qPrintable(what + ": weight differs: " + QString::fromStdString(k)));
  }
  // The imported project holds exactly the tensors its layers need.
  project::check_weights(back.graph, back.weights, "imported");

  auto original = build(g, weights), imported = build(back.graph, back.weights);
  auto inputs = random_inputs(g, 3, 10, 7);
  auto a = original->run(inputs), b = imported->run(inputs);
  QCOMPARE(a.size(), b.size());
  for (const auto& [name, t] : a) {
    QVERIFY2(b.count(name), qPrintable(what + ": output missing: " + QString::fromStdString(name)));
    QVERIFY2(max_rel_diff(b.at(name), t) <= 1e-6,
             qPrintable(what + ": output " + QString::fromStdString(name) + " differs by " +
                        QString::number(max_rel_diff(b.at(name), t))));
  }
}

}  // namespace

class TestOnnxRoundTrip : public QObject {
  Q_OBJECT
 private slots:
  void every_layer_round_trips() {
    ModelGraph g = every_layer_graph();
    QVERIFY(!analyze(g).has_errors());
    check_round_trip(g, random_weights(g, 11), "every-layer model");
  }

  // ONNX ops without a layer import as generic nodes, run, and export back as the same ops:
  // import → export → import gives the same graph, weights and outputs.
  void generic_ops_round_trip() {
    project::Project p = importers::import_onnx_bytes(generic_ops_model(), "generic_ops.onnx", "");
    int generic = 0;
    for (const auto& [id, n] : p.graph.nodes()) generic += n.type == "OnnxOp";
    QVERIFY2(generic >= 14, qPrintable(QString("only %1 generic nodes").arg(generic)));
    QVERIFY(!analyze(p.graph).has_errors());
    // The Conv with asymmetric pads keeps its weight as a trainable parameter of the node.
    QVERIFY(p.weights.count("conv.in1") && p.weights.count("conv.in2") && p.weights.count("scaled.in1"));
    check_round_trip(p.graph, p.weights, "generic ops");
  }

  void every_example_project_exports_and_round_trips() {
    int exported = 0;
    for (const auto& entry : std::filesystem::directory_iterator(NETLOOM_EXAMPLES_DIR)) {
      if (entry.path().extension() != ".netloom") continue;
      project::Project p = project::load_project(entry.path().string());
      QString name = QString::fromStdString(entry.path().filename().string());
      check_round_trip(p.graph, random_weights(p.graph, 5), name);
      ++exported;
    }
    QVERIFY(exported >= 4);  // sequence_lstm included
  }

  // LSTM and GRU go out as ONNX LSTM/GRU nodes and come back as the same layers with the
  // same weights (Note [Recurrent export]).
  void recurrent_layers_round_trip() {
    ModelGraph g = recurrent_graph();
    QVERIFY(!analyze(g).has_errors());
    check_round_trip(g, random_weights(g, 17), "recurrent layers");
  }

  // MultiheadAttention and TransformerEncoderLayer go out as their MatMul/Softmax
  // decomposition (Note [Attention export]) and come back as the same layers, at the opset
  // with LayerNormalization and at one before it.
  void attention_layers_round_trip() {
    ModelGraph g = attention_graph();
    QVERIFY(!analyze(g).has_errors());
    check_round_trip(g, random_weights(g, 31), "attention layers");
    importers::OnnxExportOptions o;
    o.opset = 13;
    auto w = random_weights(g, 37);
    project::Project back = importers::import_onnx_bytes(importers::export_onnx(g, w, o), "attention13", "");
    QVERIFY2(structure_diff(g, back.graph).isEmpty(), qPrintable(structure_diff(g, back.graph)));
  }

  // An ONNX LSTM that is not a Netloom export (no layer tags) runs as a generic op and
  // computes what the LSTM layer computes on the same weights.
  void foreign_lstm_runs_as_a_generic_op() {
    ModelGraph g = recurrent_graph();
    auto w = random_weights(g, 19);
    onnx::ModelProto m;
    QVERIFY(m.ParseFromString(importers::export_onnx(g, w)));
    for (auto& n : *m.mutable_graph()->mutable_node()) n.clear_doc_string();
    project::Project p = importers::import_onnx_bytes(m.SerializeAsString(), "foreign.onnx", "");
    QVERIFY(p.graph.nodes_of_type("LSTM").empty());
    int generic = 0;
    for (const auto& [id, n] : p.graph.nodes())
      generic += n.type == "OnnxOp" && (std::get<std::string>(n.attrs.at("op_type")) == "LSTM" ||
                                        std::get<std::string>(n.attrs.at("op_type")) == "GRU");
    QCOMPARE(generic, 5);
    auto inputs = random_inputs(g, 3, 10, 23);
    auto a = build(g, w)->run(inputs), b = build(p.graph, p.weights)->run(inputs);
    for (const auto& [name, t] : a)
      QVERIFY2(max_rel_diff(b.at(name), t) <= 1e-5,
               qPrintable(QString::fromStdString(name) + " differs by " + QString::number(max_rel_diff(b.at(name), t))));
  }

  void every_opset_passes_the_checker_and_round_trips() {
    ModelGraph g = every_layer_graph();
    auto w = random_weights(g, 2);
    for (int opset = importers::kOnnxMinExportOpset; opset <= importers::kOnnxMaxExportOpset; ++opset) {
      importers::OnnxExportOptions o;
      o.opset = opset;
      try {
        // Before opset 17 LayerNorm goes out as its ReduceMean pattern and must come back.
        project::Project back = importers::import_onnx_bytes(importers::export_onnx(g, w, o), "m", "");
        QVERIFY2(structure_diff(g, back.graph).isEmpty(),
                 qPrintable(QString("opset %1: %2").arg(opset).arg(structure_diff(g, back.graph))));
      } catch (const Error& e) {
        QFAIL(qPrintable(QString("opset %1: %2").arg(opset).arg(e.what())));
      }
    }
    importers::OnnxExportOptions bad;
    bad.opset = 12;
    QVERIFY_THROWS_EXCEPTION(Error, importers::export_onnx(g, w, bad));
  }

  void unmapped_layer_and_missing_weight_are_named() {
    ModelGraph g;
    // Every registry layer now exports; a generic node of a domain the exporter does not write
    // is refused by name.
    NodeId x = add(g, "Input", "x", {{"shape", V{-1, 5, 8}}}, {});
    NodeId vendor = add(g, "OnnxOp", "vendor7", {{"op_type", std::string("Relu")}, {"domain", std::string("com.acme")}},
                        {p(x)});
    add(g, "Output", "y", {}, {p(vendor)});
    try {
      importers::export_onnx(g, {});
      QFAIL("a vendor-domain op exported");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("'vendor7'") && QString(e.what()).contains("com.acme"), e.what());
    }
    ModelGraph h;
    NodeId in = add(h, "Input", "x", {{"shape", V{-1, 4}}}, {});
    NodeId fc = add(h, "Linear", "head", {{"out_features", int64_t{2}}}, {p(in)});
    add(h, "Output", "y", {}, {p(fc)});
    try {
      importers::export_onnx(h, {});
      QFAIL("exported without weights");
    } catch (const Error& e) {
      QVERIFY2(QString(e.what()).contains("head.weight"), e.what());
    }
  }

  void non_unit_adaptive_pool_and_general_flatten_compute_the_same() {
    // These export as AveragePool and Reshape, so they come back as those layers: the
    // numbers must still agree.
    ModelGraph g;
    NodeId x = add(g, "Input", "x", {{"shape", V{-1, 2, 6, 6}}}, {});
    NodeId aap = add(g, "AdaptiveAvgPool2d", "aap", {{"output_size", V{3, 2}}}, {p(x)});
    NodeId fl = add(g, "Flatten", "flat", {{"start_dim", int64_t{2}}}, {p(aap)});
    add(g, "Output", "y", {}, {p(fl)});
    project::Project back = importers::import_onnx_bytes(importers::export_onnx(g, {}), "pool", "");
    QCOMPARE(back.graph.node(back.graph.find_by_name("aap")->id).type, std::string("AvgPool2d"));
    auto inputs = random_inputs(g, 2, 1, 3);
    Tensor a = build(g, {})->run(inputs).at("y"), b = build(back.graph, {})->run(inputs).at("y");
    QVERIFY(max_rel_diff(b, a) <= 1e-6);
  }

  void command_line_exports_and_imports() {
    QTemporaryDir dir;
    QString onnx = dir.filePath("cnn.onnx"), proj = dir.filePath("cnn.netloom");
    auto run = [](const QStringList& args, QString* err = nullptr) {
      QProcess p;
      p.start(NETLOOM_BINARY, args);
      p.waitForFinished(120000);
      if (err) *err = p.readAllStandardError();
      return p.exitCode();
    };
    QString example = QString(NETLOOM_EXAMPLES_DIR) + "/shapes_cnn.netloom", err;
    QCOMPARE(run({"export", example, "--output", onnx, "--opset", "13"}, &err), 0);
    QCOMPARE(run({"import", onnx, "--output", proj}, &err), 0);
    project::Project original = project::load_project(example.toStdString());
    project::Project back = project::load_project(proj.toStdString());  // weights checked on load
    QVERIFY2(structure_diff(original.graph, back.graph).isEmpty(), qPrintable(structure_diff(original.graph, back.graph)));
    QVERIFY(!back.weights.empty());
    QVERIFY(run({"export", example, "--output", onnx, "--opset", "9"}, &err) != 0);
    QVERIFY2(err.contains("--opset"), qPrintable(err));
    QVERIFY(run({"import", dir.filePath("absent.onnx"), "--output", proj}, &err) != 0);
    QVERIFY2(err.contains("absent.onnx"), qPrintable(err));
  }
};

QTEST_APPLESS_MAIN(TestOnnxRoundTrip)
#include "test_onnx_roundtrip.moc"
