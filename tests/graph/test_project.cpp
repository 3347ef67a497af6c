// Project files: save → load gives the same graph, settings and weights (bitwise); version 1
// files migrate; newer and malformed files give their own errors; a save killed at any
// instant leaves the old or the new project, never a mix, and no pile of temporaries.
#include <QtTest/QtTest>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/core/error.h"
#include "engine/graph/graph_json.h"
#include "engine/io/json_fields.h"
#include "engine/io/safetensors.h"
#include "engine/project/project.h"
#include "mini_registry.h"

using namespace nl;
using namespace nl::project;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const graph::LayerRegistry& reg() { return testing::mini_registry(); }

Tensor filled(const Shape& shape, float value) {
  Tensor t = Tensor::empty(shape);
  std::fill_n(t.data<float>(), t.numel(), value);
  return t;
}

Tensor random_tensor(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(gen.next_normal());
  return t;
}

// mini_mlp's parameters: fc1 [16, 2] + bias, fc2 [3, 16] without bias.
std::map<std::string, Tensor> mlp_weights(uint64_t seed) {
  return {{"fc1.weight", random_tensor({16, 2}, seed)},
          {"fc1.bias", random_tensor({16}, seed + 1)},
          {"fc2.weight", random_tensor({3, 16}, seed + 2)}};
}

Project trained_project() {
  Project p{testing::mini_mlp(), {}, "Spirals", "An MLP on \"spirals\" — ünïcode too", mlp_weights(1)};
  TrainingSettings& t = p.training;
  t.dataset.kind = "csv";
  t.dataset.path = "data/iris.csv";
  t.dataset.label_column_name = "species";
  t.dataset.validation_split = 0.1;
  t.dataset.normalize = false;
  t.batch_size = 16;
  t.epochs = 3;
  t.optimizer = {.kind = "sgd", .lr = 0.1, .momentum = 0.5, .weight_decay = 1e-4, .nesterov = true};
  t.schedule.kind = "multistep";
  t.schedule.milestones = {1, 2};
  t.loss = "cross_entropy";
  t.device = "cuda:0";
  t.seed = 18446744073709551615ull;  // the whole uint64 range survives JSON
  t.checkpoint_dir = "ckpt";
  t.clip_grad_norm = 1.0;
  t.early_stopping_patience = 4;
  return p;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw_data(), b.raw_data(), a.numel() * a.element_size()) == 0;
}

bool same_weights(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a)
    if (!b.count(name) || !same_bits(t, b.at(name))) return false;
  return true;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string load_error(const std::string& path) {
  try {
    load_project(path, reg());
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

int count_temporaries(const std::string& dir) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos) ++n;
  return n;
}

}  // namespace

class TestProject : public QObject {
  Q_OBJECT
 private slots:
  void save_load_round_trip() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("model.netloom").toStdString();
    Project p = trained_project();
    save_project(p, path);
    Project back = load_project(path, reg());
    QVERIFY(back.graph == p.graph);
    for (const auto& [id, n] : p.graph.nodes()) QVERIFY(back.graph.node(id).ui == n.ui);
    QVERIFY(back.training == p.training);
    QCOMPARE(back.name, p.name);
    QCOMPARE(back.description, p.description);
    QVERIFY(same_weights(back.weights, p.weights));

    json doc = io::parse_json_file(path);
    QCOMPARE(doc["format"].get<std::string>(), std::string("netloom-project"));
    QCOMPARE(doc["version"].get<int>(), 2);
    QCOMPARE(doc["weights"].get<std::string>(), std::string("model.safetensors"));
    QVERIFY(fs::exists(dir.filePath("model.safetensors").toStdString()));

    // Saving again alternates the weights file and removes the old one (Note [Atomic project saves]).
    p.weights = mlp_weights(5);
    save_project(p, path);
    QCOMPARE(io::parse_json_file(path)["weights"].get<std::string>(), std::string("model.alt.safetensors"));
    QVERIFY(!fs::exists(dir.filePath("model.safetensors").toStdString()));
    QVERIFY(same_weights(load_project(path, reg()).weights, p.weights));
    save_project(p, path);
    QCOMPARE(io::parse_json_file(path)["weights"].get<std::string>(), std::string("model.safetensors"));

    // Untrained: "weights" is null and no weights file stays behind.
    p.weights.clear();
    save_project(p, path);
    QVERIFY(io::parse_json_file(path)["weights"].is_null());
    QVERIFY(load_project(path, reg()).weights.empty());
    QCOMPARE(static_cast<int>(std::distance(fs::directory_iterator(dir.path().toStdString()), fs::directory_iterator())), 1);
  }

  void version_1_migrates() {
    Project p = load_project(NETLOOM_TEST_DATA_DIR "/projects/v1_mlp.netloom", reg());
    QCOMPARE(p.name, std::string("Spirals MLP (v1)"));
    QCOMPARE(p.graph.size(), size_t(5));
    QCOMPARE(p.graph.edges().size(), size_t(4));
    const graph::Node& fc2 = p.graph.node(5);
    QCOMPARE(fc2.name, std::string("fc2"));
    QVERIFY(fc2.attrs.at("bias") == graph::AttrValue(false));
    QVERIFY(fc2.attrs.at("out_features") == graph::AttrValue(int64_t{3}));
    QCOMPARE(p.graph.node(2).ui.y, 100.5);
    QVERIFY(p.graph.edge_into({6, 0}) == (graph::Edge{{5, 0}, {6, 0}}));
    const TrainingSettings& t = p.training;
    QCOMPARE(t.dataset.kind, std::string("spirals"));
    QCOMPARE(t.dataset.validation_split, 0.25);
    QCOMPARE(t.optimizer.kind, std::string("sgd"));
    QCOMPARE(t.optimizer.lr, 0.05);
    QCOMPARE(t.optimizer.momentum, 0.8);
    QCOMPARE(t.optimizer.weight_decay, 0.0001);
    QCOMPARE(t.schedule.kind, std::string("cosine"));
    QCOMPARE(t.batch_size, int64_t{32});
    QCOMPARE(t.epochs, int64_t{40});
    QCOMPARE(t.seed, uint64_t{7});
    QVERIFY(p.weights.empty());

    // Saved again, it is a version 2 file that reads back the same.
    QTemporaryDir dir;
    std::string path = dir.filePath("v2.netloom").toStdString();
    save_project(p, path);
    QCOMPARE(io::parse_json_file(path)["version"].get<int>(), 2);
    Project again = load_project(path, reg());
    QVERIFY(again.graph == p.graph);
    QVERIFY(again.training == p.training);
  }

  void newer_version_is_refused() {
    QTemporaryDir dir;
    std::string path = dir.filePath("future.netloom").toStdString();
    json doc = project_to_json(trained_project(), "");
    doc["version"] = 3;
    write_text(path, doc.dump(2));
    QCOMPARE(load_error(path),
             "file " + path + " was written by a newer Netloom (format version 3; this build reads up to 2)");
  }

  void malformed_files_give_their_own_errors() {
    QTemporaryDir dir;
    const std::string base = dir.path().toStdString() + "/";
    const std::string good_path = base + "good.netloom";
    save_project(trained_project(), good_path);
    const json good = io::parse_json_file(good_path);
    const std::string weights_path = base + "good.safetensors";

    // Each case: a document (or raw text) and the exact error.
    struct Case {
      std::string name;
      std::function<void(json&)> edit;
      std::string raw;  // used instead of the edited document when set
      std::string expected;
    };
    const std::vector<Case> cases = {
        {"not_json", nullptr, "{\n  \"format\": \"netloom-project\",\n  \"version\": ,\n}",
         "not valid JSON: line 3, column 14: "},
        {"array", nullptr, "[1, 2]", "not a Netloom project (expected a JSON object, got [1,2])"},
        {"wrong_format", [](json& d) { d["format"] = "netloom-snippet"; }, "",
         R"(format: not a Netloom project (expected "netloom-project", got "netloom-snippet"))"},
        {"no_version", [](json& d) { d.erase("version"); }, "", "missing field 'version'"},
        {"version_string", [](json& d) { d["version"] = "2"; }, "", R"(version: expected an integer, got "2")"},
        {"no_graph", [](json& d) { d.erase("graph"); }, "", "missing field 'graph'"},
        {"unknown_layer", [](json& d) { d["graph"]["nodes"][1]["type"] = "Lienar"; }, "",
         "graph.nodes[1].type: unknown layer type 'Lienar'"},
        {"bad_attribute", [](json& d) { d["graph"]["nodes"][1]["attrs"]["out_features"] = "16"; }, "",
         R"(graph.nodes[1].attrs.out_features: expected an int, got "16")"},
        {"edge_to_missing_node", [](json& d) { d["graph"]["edges"][0]["to"] = {42, 0}; }, "",
         "graph.edges[0]: no node with id 42"},
        {"epochs_not_int", [](json& d) { d["training"]["epochs"] = 1.5; }, "",
         "training.epochs: expected an integer, got 1.5"},
        {"unknown_optimizer", [](json& d) { d["training"]["optimizer"]["kind"] = "adamm"; }, "",
         "training.optimizer.kind: unknown optimizer 'adamm' (known: sgd, adam, adamw, rmsprop)"},
        {"bad_lr", [](json& d) { d["training"]["optimizer"]["lr"] = -1.0; }, "",
         "training.optimizer.lr: must be a number > 0, got -1"},
        {"weights_not_string", [](json& d) { d["weights"] = 5; }, "", "weights: expected a string, got 5"},
        {"weights_file_missing", [](json& d) { d["weights"] = "gone.safetensors"; }, "",
         "weights: the weights file 'gone.safetensors' does not exist (looked for " + base + "gone.safetensors)"},
    };
    for (const Case& c : cases) {
      const std::string path = base + c.name + ".netloom";
      json doc = good;
      if (c.edit) c.edit(doc);
      write_text(path, c.raw.empty() ? doc.dump(2) : c.raw);
      // Every message starts with the file; not-JSON messages go on with nlohmann's reason.
      const std::string expected = path + ": " + c.expected;
      const std::string got = load_error(path);
      if (c.name == "not_json")
        QVERIFY2(got.rfind(expected, 0) == 0, got.c_str());
      else
        QVERIFY2(got == expected, ("got: " + got + "\nexpected: " + expected).c_str());
    }

    // Weights that do not fit the graph: wrong shape, missing, extra, wrong dtype.
    const auto good_weights = load_safetensors(weights_path);
    struct WeightCase {
      std::function<void(std::map<std::string, Tensor>&)> edit;
      std::string expected;
    };
    const std::vector<WeightCase> weight_cases = {
        {[](auto& w) { w["fc1.weight"] = filled({16, 3}, 0); },
         "tensor 'fc1.weight' has shape [16, 3] but weight of node 'fc1' (Linear) is [16, 2]"},
        {[](auto& w) { w.erase("fc2.weight"); }, "tensor 'fc2.weight' is missing: it holds weight of node 'fc2' (Linear)"},
        {[](auto& w) { w["ghost.weight"] = filled({1}, 0); }, "tensor 'ghost.weight' belongs to no node of the graph"},
        {[](auto& w) { w["fc2.bias"] = filled({3}, 0); }, "tensor 'fc2.bias' is not a parameter of node 'fc2'"},
        {[](auto& w) { w["fc1.bias"] = w["fc1.bias"].to(DType::Float64); },
         "tensor 'fc1.bias' is float64 but bias of node 'fc1' (Linear) is float32"},
    };
    for (const WeightCase& c : weight_cases) {
      auto w = good_weights;
      c.edit(w);
      save_safetensors(weights_path, w);
      const std::string got = load_error(good_path), expected = weights_path + ": " + c.expected;
      QVERIFY2(got == expected, ("got: " + got + "\nexpected: " + expected).c_str());
    }
    save_safetensors(weights_path, good_weights);
    QCOMPARE(load_error(good_path), std::string());
  }

  void unknown_members_are_ignored() {
    QTemporaryDir dir;
    std::string path = dir.filePath("extra.netloom").toStdString();
    json doc = project_to_json(trained_project(), "");
    doc["future_setting"] = {1, 2};
    doc["training"]["optimizer"]["lookahead"] = true;
    doc["graph"]["nodes"][0]["comment"] = "hi";
    write_text(path, doc.dump());
    QVERIFY(load_project(path, reg()).graph == testing::mini_mlp());
  }

  // A child process saves two versions of a large project in turn while the parent kills it
  // at random moments; every time, the project on disk must load as one version or the other.
  void kill_during_save_leaves_old_or_new() {
    QTemporaryDir dir;
    const std::string path = dir.filePath("big.netloom").toStdString();
    // Input [N, 1500] → fc1 (4000) → … : 24 MB of weights.
    auto big = [](const std::string& name, float value) {
      graph::ModelGraph g = testing::mini_mlp();
      g.set_attribute(g.find_by_name("x")->id, "shape", std::vector<int64_t>{-1, 1500});
      g.set_attribute(g.find_by_name("fc1")->id, "out_features", int64_t{4000});
      Project p{g, {}, name, "", {}};
      p.weights = {{"fc1.weight", filled({4000, 1500}, value)},
                   {"fc1.bias", filled({4000}, value)},
                   {"fc2.weight", filled({3, 4000}, value)}};
      return p;
    };
    const Project versions[2] = {big("A", 1.0f), big("B", 2.0f)};
    QElapsedTimer timer;
    timer.start();
    save_project(versions[0], path);
    const qint64 save_ms = std::max<qint64>(timer.elapsed(), 5);

    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> delay_us(0, static_cast<int>(save_ms * 2500));
    int seen[2] = {0, 0}, mid_write = 0;
    const int kRounds = 40;
    for (int round = 0; round < kRounds; ++round) {
      pid_t child = fork();
      QVERIFY(child >= 0);
      if (child == 0) {
        // Only file writing happens here (no OpenMP regions, no Qt), so fork is safe.
        for (int i = round % 2;; ++i) save_project(versions[i % 2], path);
      }
      usleep(delay_us(rng));
      ::kill(child, SIGKILL);
      int status = 0;
      waitpid(child, &status, 0);

      Project loaded = load_project(path, reg());  // never an error
      int which = loaded.name == "A" ? 0 : 1;
      QVERIFY(loaded.name == "A" || loaded.name == "B");
      QVERIFY2(same_weights(loaded.weights, versions[which].weights), "weights from the other version");
      QVERIFY(loaded.graph == versions[which].graph);
      ++seen[which];
      const int temporaries = count_temporaries(dir.path().toStdString());
      QVERIFY2(temporaries <= 1, "temporaries pile up");
      mid_write += temporaries;  // the kill landed while a file was being written
    }
    qInfo("save takes %lld ms; of %d kills, %d hit a file being written; the project was A %d times, B %d times",
          save_ms, kRounds, mid_write, seen[0], seen[1]);
    // The next save cleans up whatever the last kill left.
    save_project(versions[0], path);
    QCOMPARE(count_temporaries(dir.path().toStdString()), 0);
  }
};

QTEST_APPLESS_MAIN(TestProject)
#include "test_project.moc"
