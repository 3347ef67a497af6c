// The executor: every layer type runs with the shapes inference promised, weights of
// unchanged nodes survive a rebuild, any batch size runs, and a graph trains.
#include <QtTest/QtTest>

#include <functional>
#include <set>

#include "engine/data/dataloader.h"
#include "engine/data/synthetic.h"
#include "engine/graph/graph_analysis.h"
#include "engine/ops/ops.h"
#include "engine/optim/optim.h"
#include "engine/project/project.h"
#include "engine/run/graph_executor.h"
#include "engine/autograd/node.h"
#include "tests/tensor_compare.h"
#include <filesystem>

using namespace nl;
using namespace nl::graph;

namespace {

struct LayerCase {
  std::string type;
  AttrMap attrs;
  std::vector<int64_t> input;  // -1 = batch
  std::string dtype = "float32";
};

// One case per layer type (Input, Output and Loss appear in every graph).
std::vector<LayerCase> layer_cases() {
  using V = std::vector<int64_t>;
  return {
      {"Linear", {{"out_features", int64_t{7}}}, {-1, 5}},
      {"Embedding", {{"num_embeddings", int64_t{20}}, {"embedding_dim", int64_t{6}}}, {-1, 9}, "int64"},
      {"MatMul", {}, {-1, 4, 4}},
      {"Conv1d", {{"out_channels", int64_t{4}}}, {-1, 3, 12}},
      {"Conv2d", {{"out_channels", int64_t{4}}, {"stride", V{2, 2}}}, {-1, 3, 9, 9}},
      {"ConvTranspose2d", {{"out_channels", int64_t{2}}, {"stride", V{2, 2}}}, {-1, 3, 5, 5}},
      {"MaxPool2d", {{"kernel_size", V{2, 2}}}, {-1, 2, 8, 8}},
      {"AvgPool2d", {{"kernel_size", V{2, 2}}}, {-1, 2, 8, 8}},
      {"AdaptiveAvgPool2d", {{"output_size", V{3, 3}}}, {-1, 2, 7, 7}},
      {"GlobalAvgPool2d", {}, {-1, 2, 7, 7}},
      {"BatchNorm1d", {}, {-1, 6}},
      {"BatchNorm2d", {}, {-1, 3, 4, 4}},
      {"LayerNorm", {}, {-1, 5, 8}},
      {"GroupNorm", {{"num_groups", int64_t{2}}}, {-1, 4, 3, 3}},
      {"Dropout", {}, {-1, 10}},
      {"ReLU", {}, {-1, 10}},
      {"ReLU6", {}, {-1, 10}},
      {"LeakyReLU", {}, {-1, 10}},
      {"GELU", {}, {-1, 10}},
      {"SiLU", {}, {-1, 10}},
      {"Sigmoid", {}, {-1, 10}},
      {"Tanh", {}, {-1, 10}},
      {"Softmax", {}, {-1, 10}},
      {"LSTM", {{"hidden_size", int64_t{8}}, {"return_sequences", false}}, {-1, 6, 4}},
      {"GRU", {{"hidden_size", int64_t{8}}, {"num_layers", int64_t{2}}}, {-1, 6, 4}},
      {"MultiheadAttention", {{"num_heads", int64_t{2}}}, {-1, 5, 8}},
      {"TransformerEncoderLayer", {{"nhead", int64_t{2}}, {"dim_feedforward", int64_t{16}}}, {-1, 5, 8}},
      {"Flatten", {}, {-1, 2, 3, 4}},
      {"Reshape", {{"shape", V{0, 4, -1}}}, {-1, 12}},
      {"Permute", {{"dims", V{0, 2, 1}}}, {-1, 3, 5}},
      {"Slice", {{"dim", int64_t{1}}, {"start", int64_t{1}}, {"end", int64_t{4}}}, {-1, 6}},
      {"Split", {{"num_outputs", int64_t{3}}}, {-1, 6}},
      {"Concat", {}, {-1, 3}},
      {"Add", {}, {-1, 3}},
      {"Mul", {}, {-1, 3}},
      {"Identity", {}, {-1, 3}},
      // A generic ONNX op (tests/importers covers the op table itself).
      {"OnnxOp", {{"op_type", std::string("Max")}}, {-1, 3}},
  };
}

// Input → layer (every input port fed by the graph input) → one Output per layer output.
ModelGraph single_layer_graph(const LayerCase& c) {
  ModelGraph g;
  NodeId x = g.add_node("Input", "x", {{"shape", c.input}, {"dtype", c.dtype}}).value;
  auto layer = g.add_node(c.type, "layer", c.attrs);
  if (!layer) qFatal("%s: %s", c.type.c_str(), layer.error.c_str());
  const LayerSchema& s = g.registry().get(c.type);
  int inputs = 0;
  for (const auto& p : s.inputs) inputs += p.variadic ? 2 : (p.optional ? 0 : 1);
  for (int i = 0; i < inputs; ++i)
    if (auto r = g.connect({{x, 0}, {layer.value, i}}); !r) qFatal("%s: %s", c.type.c_str(), r.error.c_str());
  int outputs = s.output_count(g.resolved_attributes(layer.value));
  for (int o = 0; o < outputs; ++o) {
    NodeId out = g.add_node("Output", "y" + std::to_string(o)).value;
    g.connect({{layer.value, o}, {out, 0}});
  }
  return g;
}

bool equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.to_vector<float>() == b.to_vector<float>();
}

Tensor sample_input(const LayerCase& c, int64_t batch) {
  std::vector<int64_t> dims = c.input;
  for (auto& d : dims)
    if (d < 0) d = batch;
  if (c.dtype == "int64") return floor(uniform(Shape(dims), 0, 20)).to(DType::Int64);
  return randn(Shape(dims));
}

// Every step's actual outputs match the analysis.
void expect_shapes_match(const ModelGraph& g, run::GraphModel& model, const std::map<std::string, Tensor>& inputs,
                         const std::string& what) {
  GraphAnalysis a = analyze(g);
  auto values = model.run_all_steps(inputs);
  const auto& plan = model.plan();
  for (size_t s = 0; s < plan.size(); ++s) {
    const auto& step = plan[s];
    for (size_t o = 0; o < values[s].size(); ++o) {
      const TensorInfo* info = a.output(step.node, static_cast<int>(o));
      QVERIFY2(info, (what + ": no inferred output for " + step.name).c_str());
      std::vector<int64_t> actual = values[s][o].shape().vec();
      QVERIFY2(shape_matches(info->shape, actual) && info->dtype == values[s][o].dtype(),
               (what + ": " + step.name + " inferred " + shape_to_string(info->shape) + ", ran " +
                values[s][o].shape().str())
                   .c_str());
    }
  }
}

}  // namespace

// The names of the autograd nodes behind `t` (each once).
std::set<std::string> node_names(const Tensor& t) {
  std::set<std::string> names;
  std::set<const nl::Node*> seen;  // autograd nodes, not graph nodes
  std::vector<std::shared_ptr<nl::Node>> stack = {t.grad_fn()};
  while (!stack.empty()) {
    auto n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n.get()).second) continue;
    names.insert(n->name());
    for (const nl::Edge& e : n->edges) stack.push_back(e.fn);
  }
  return names;
}

class TestExecutor : public QObject {
  Q_OBJECT
 private slots:
  // Note [BatchNorm → ReLU in the executor]: the CIFAR ResNet example's BN → ReLU pairs run
  // fused in forward passes, with the outputs and gradients of the unfused run.
  void batchNormThenReluRunsFusedWithTheUnfusedResults() {
    project::Project p = project::load_project(std::string(NETLOOM_EXAMPLES_DIR) + "/cifar_resnet.netloom");
    run::GraphExecutor executor;
    auto model = executor.build(p.graph);
    model->train(true);
    manual_seed(1);
    Tensor x = randn({4, 3, 32, 32});
    const std::string input = model->input_names().at(0);
    std::map<std::string, Tensor> fused_out = model->run({{input, x}});
    QCOMPARE(fused_out.size(), size_t(1));
    const Tensor fused = fused_out.begin()->second;
    QVERIFY(node_names(fused).count("batch_norm_relu") == 1);

    // run_all_steps does not fuse: every node's own output.
    auto values = model->run_all_steps({{input, x}});
    Tensor unfused;
    for (const auto& step : model->plan())
      if (step.type == "Output") unfused = values[step.inputs[0].first].at(step.inputs[0].second);
    QVERIFY(unfused.defined());
    QVERIFY(node_names(unfused).count("batch_norm_relu") == 0);
    std::string diff = nl::testing::compare(fused, unfused, 1e-5, 1e-5);
    QVERIFY2(diff.empty(), diff.c_str());

    auto grads = [&](const Tensor& out) {
      for (auto& [name, t] : model->named_parameters()) t.zero_grad();
      sum(mul(out, full_like(out, 0.5))).backward();
      std::map<std::string, Tensor> g;
      for (auto& [name, t] : model->named_parameters()) g[name] = t.grad();
      return g;
    };
    auto gf = grads(fused), gu = grads(unfused);
    for (auto& [name, g] : gf) {
      std::string d = nl::testing::compare(g, gu.at(name), 1e-4, 1e-5);
      QVERIFY2(d.empty(), (name + ": " + d).c_str());
    }
  }

  void everyLayerTypeRunsWithItsInferredShapes() {
    manual_seed(3);
    std::set<std::string> covered{"Input", "Output", "Loss"};
    for (const auto& c : layer_cases()) {
      covered.insert(c.type);
      ModelGraph g = single_layer_graph(c);
      GraphAnalysis a = analyze(g);
      QVERIFY2(!a.has_errors(), (c.type + ": " + (a.messages.empty() ? "" : a.messages[0].text)).c_str());
      run::GraphExecutor executor;
      auto model = executor.build(g);
      model->eval();
      for (int64_t batch : {1, 4}) expect_shapes_match(g, *model, {{"x", sample_input(c, batch)}}, c.type);
    }
    for (const auto& type : LayerRegistry::builtin().types())
      QVERIFY2(covered.count(type), ("no executor case for layer type " + type).c_str());
  }

  // Every example project: inference agrees with what runs, at two batch sizes.
  void exampleProjectsRunWithTheirInferredShapes() {
    int examples = 0;
    for (const auto& entry : std::filesystem::directory_iterator(NETLOOM_EXAMPLES_DIR)) {
      if (entry.path().extension() != ".netloom") continue;
      ++examples;
      project::Project p = project::load_project(entry.path().string());
      GraphAnalysis a = analyze(p.graph);
      QVERIFY2(a.messages.empty(), (entry.path().string() + ": " + (a.messages.empty() ? "" : a.messages[0].text)).c_str());
      run::GraphExecutor executor;
      auto model = executor.build(p.graph);
      model->eval();
      const graph::Node& in = p.graph.node(p.graph.nodes_of_type("Input").front());
      auto dims = std::get<std::vector<int64_t>>(p.graph.attribute(in.id, "shape"));
      for (int64_t batch : {2, 5}) {
        LayerCase c{"", {}, dims};
        expect_shapes_match(p.graph, *model, {{in.name, sample_input(c, batch)}}, entry.path().filename().string());
      }
    }
    QVERIFY2(examples >= 4, "expected the four example projects");
  }

  void unchangedNodesKeepTheirWeightsAcrossRebuilds() {
    ModelGraph g;
    NodeId x = g.add_node("Input", "x", {{"shape", std::vector<int64_t>{-1, 4}}}).value;
    NodeId fc1 = g.add_node("Linear", "fc1", {{"out_features", int64_t{8}}}).value;
    NodeId fc2 = g.add_node("Linear", "fc2", {{"out_features", int64_t{3}}}).value;
    NodeId y = g.add_node("Output", "y").value;
    g.connect({{x, 0}, {fc1, 0}});
    g.connect({{fc1, 0}, {fc2, 0}});
    g.connect({{fc2, 0}, {y, 0}});
    run::GraphExecutor executor;
    auto first = executor.build(g);
    Tensor w1 = first->state_dict().at("fc1.weight").clone();
    Tensor w2 = first->state_dict().at("fc2.weight").clone();

    QVERIFY(g.set_attribute(fc2, "out_features", int64_t{5}));
    auto second = executor.build(g);
    auto sd = second->state_dict();
    QVERIFY(equal(sd.at("fc1.weight"), w1));               // untouched: same values
    QCOMPARE(sd.at("fc2.weight").shape(), Shape({5, 8}));   // changed: rebuilt
    QVERIFY(second->forward(randn({2, 4})).shape() == Shape({2, 5}));

    // A node inserted upstream changes fc1's input, so fc1 is rebuilt; fc2 keeps its weights.
    Tensor w2b = sd.at("fc2.weight").clone();
    NodeId act = g.add_node("Tanh", "act").value;
    g.disconnect({{fc1, 0}, {fc2, 0}});
    g.connect({{fc1, 0}, {act, 0}});
    g.connect({{act, 0}, {fc2, 0}});
    auto third = executor.build(g);
    QVERIFY(equal(third->state_dict().at("fc2.weight"), w2b));
    QVERIFY(equal(third->state_dict().at("fc1.weight"), w1));
    (void)w2;
  }

  void anyBatchSizeRunsAndBadInputsAreNamed() {
    ModelGraph g;
    NodeId x = g.add_node("Input", "image", {{"shape", std::vector<int64_t>{-1, 1, 8, 8}}}).value;
    NodeId c = g.add_node("Conv2d", "conv", {{"out_channels", int64_t{2}}}).value;
    NodeId y = g.add_node("Output", "y").value;
    g.connect({{x, 0}, {c, 0}});
    g.connect({{c, 0}, {y, 0}});
    run::GraphExecutor executor;
    auto model = executor.build(g);
    for (int64_t n : {1, 3, 17}) QCOMPARE(model->run({{"image", randn({n, 1, 8, 8})}}).at("y").shape(), Shape({n, 2, 8, 8}));
    try {
      model->run({{"image", randn({2, 1, 9, 8})}});
      QFAIL("a wrong-shaped input ran");
    } catch (const Error& e) {
      QVERIFY2(std::string(e.what()).find("image") != std::string::npos, e.what());
    }
    try {
      model->run({{"picture", randn({2, 1, 8, 8})}});
      QFAIL("an unknown input name ran");
    } catch (const Error& e) {
      QVERIFY2(std::string(e.what()).find("picture") != std::string::npos, e.what());
    }
  }

  void invalidGraphsDoNotBuild() {
    ModelGraph g;
    g.add_node("Input", "x", {{"shape", std::vector<int64_t>{-1, 4}}});
    NodeId fc = g.add_node("Linear", "fc").value;
    NodeId y = g.add_node("Output", "y").value;
    g.connect({{fc, 0}, {y, 0}});
    run::GraphExecutor executor;
    try {
      executor.build(g);
      QFAIL("built a graph with an unconnected input");
    } catch (const run::GraphBuildError& e) {
      QCOMPARE(e.errors().size(), size_t{1});
      QCOMPARE(e.errors()[0].node, fc);
      QVERIFY2(std::string(e.what()).find("fc") != std::string::npos, e.what());
    }
  }

  void aGraphTrainsWithTheTrainerAndItsLossNode() {
    manual_seed(11);
    ModelGraph g;
    NodeId x = g.add_node("Input", "x", {{"shape", std::vector<int64_t>{-1, 2}}}).value;
    NodeId h = g.add_node("Linear", "h", {{"out_features", int64_t{32}}}).value;
    NodeId a = g.add_node("Tanh", "a").value;
    NodeId o = g.add_node("Linear", "o", {{"out_features", int64_t{2}}}).value;
    NodeId y = g.add_node("Output", "y").value;
    NodeId loss = g.add_node("Loss", "loss", {{"loss", std::string("cross_entropy")}}).value;
    g.connect({{x, 0}, {h, 0}});
    g.connect({{h, 0}, {a, 0}});
    g.connect({{a, 0}, {o, 0}});
    g.connect({{o, 0}, {y, 0}});
    g.connect({{o, 0}, {loss, 0}});
    run::GraphExecutor executor;
    auto model = executor.build(g);
    QVERIFY(model->has_loss_node());
    data::BlobsOptions blobs;
    blobs.centers = 2;
    auto dataset = data::make_blobs(blobs);
    data::DataLoader loader(dataset, {.batch_size = 32, .shuffle = true, .seed = 1});
    auto opt = std::make_shared<optim::Adam>(model->parameters(), optim::AdamOptions{.lr = 0.01});
    run::TrainerOptions options;
    options.loss = model->loss_function(run::cross_entropy_loss());
    options.epochs = 5;
    run::Trainer trainer(model, opt, options);
    run::RunResult r = trainer.fit(loader);
    QCOMPARE(int(r.status), int(run::RunStatus::Completed));
    QVERIFY2(r.last_epoch.train_accuracy > 0.9, std::to_string(r.last_epoch.train_accuracy).c_str());
  }
};

QTEST_APPLESS_MAIN(TestExecutor)
#include "test_executor.moc"
