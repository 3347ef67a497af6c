// Imported ONNX models on a device other than the CPU: every ONNX backend node case
// (../shared/onnx-backend-tests/node) that runs on the CPU must run on cuda:0 (the emulated
// device of emulated_device.h where no GPU answers) with the model and its inputs moved
// there, and give the CPU's outputs. This covers the generic ONNX op table (shape
// arithmetic, integer ops, casts, gathers), whose helpers must not read device memory on the
// host nor mix host constants into device kernels.
#include <QtTest/QtTest>

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <algorithm>
#include <fstream>
#include <optional>

#include "engine/core/generator.h"
#include "engine/graph/model_graph.h"
#include "engine/io/npy.h"
#include "engine/optim/adam.h"
#include "engine/ops/ops.h"
#include "engine/project/project.h"
#include "engine/run/graph_executor.h"
#include "importers/onnx/onnx_import.h"
#include "tests/emulated_device/emulated_device.h"
#include "tests/importers/onnx_backend_case.h"
#include "tests/importers/onnx_testing.h"

using namespace nl;
namespace fs = std::filesystem;

namespace {

const fs::path kNodeTests = fs::path(NETLOOM_SHARED_DIR) / "onnx-backend-tests" / "node";

struct Case {
  std::string op;  // the first node's
  std::map<std::string, Tensor> inputs;
  std::vector<std::string> input_order;
};

// The case's test_data_set_0 inputs, or nothing when its data is not tensors Netloom reads.
std::optional<Case> read_case(const fs::path& dir) {
  onnx::ModelProto m;
  std::ifstream f(dir / "model.onnx", std::ios::binary);
  if (!m.ParseFromIstream(&f)) return std::nullopt;
  for (const auto* values : {&m.graph().input(), &m.graph().output()})
    for (const auto& v : *values)
      if (!v.type().has_tensor_type()) return std::nullopt;
  Case c;
  c.op = m.graph().node_size() ? m.graph().node(0).op_type() : "";
  try {
    onnx_testing::BackendCaseData data = onnx_testing::read_backend_case(m, dir / "test_data_set_0");
    c.inputs = std::move(data.inputs);
    c.input_order = std::move(data.input_order);
  } catch (const Error&) {
    return std::nullopt;
  }
  return c;
}

// Runs the imported model on `device` (eval mode), outputs brought back to the CPU; throws
// what the run throws, and when an output is not on `device` (except the host shape values
// of Shape and Size: Note [Devices of generic ops] in engine/graph/onnx_ops/onnx_op.h).
std::map<std::string, Tensor> run_on(const project::Project& p, std::map<std::string, Tensor> feeds, Device device,
                                     bool host_outputs = false) {
  run::GraphExecutor executor;
  auto model = executor.build(p.graph);
  if (!p.weights.empty()) model->load_weights(p.weights);
  model->eval();
  model->to(device);
  const auto& names = model->input_names();
  std::map<std::string, Tensor> on_device;
  for (const auto& [name, t] : feeds)
    if (std::find(names.begin(), names.end(), name) != names.end()) on_device[name] = t.to(device);
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : model->run(on_device)) {
    if (t.device() != device && !(host_outputs && t.device().is_cpu()))
      throw Error("output '" + name + "' came back on " + t.device().str() + ", not " + device.str());
    out[name] = t.to(Device::cpu());
  }
  return out;
}

// Empty when equal: integers and bools exactly, floats within 1e-5 (the same kernels run on
// both sides of the emulation; a real GPU's differ in rounding, hence 1e-3 there).
std::string compare(const std::map<std::string, Tensor>& device, const std::map<std::string, Tensor>& cpu,
                    double tolerance) {
  for (const auto& [name, want] : cpu) {
    auto it = device.find(name);
    if (it == device.end()) return "output '" + name + "' missing";
    const Tensor& have = it->second;
    if (have.shape() != want.shape() || have.dtype() != want.dtype())
      return "output '" + name + "' is " + have.str() + " on the device, " + want.str() + " on the CPU";
    if (!is_floating(want.dtype())) {
      if (have.to_vector<int64_t>() != want.to_vector<int64_t>()) return "output '" + name + "' differs";
      continue;
    }
    std::vector<double> a = have.to_vector<double>(), b = want.to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]))) continue;  // infinities too
      if (!(std::fabs(a[i] - b[i]) <= tolerance * (1 + std::fabs(b[i]))))
        return "output '" + name + "' element " + std::to_string(i) + ": " + std::to_string(a[i]) +
               " on the device, " + std::to_string(b[i]) + " on the CPU";
    }
  }
  return {};
}

}  // namespace

class OnnxOnDevice : public QObject {
  Q_OBJECT
  std::unique_ptr<testing::EmulatedDevice> device_;

 private slots:
  void initTestCase() { device_ = std::make_unique<testing::EmulatedDevice>(); }
  void cleanupTestCase() { device_.reset(); }

  // PyTorch-exported architectures (tests/data/torch_models: CNN, ResNet, MobileNetV2,
  // Transformer, LSTM + GRU, with their generic shape ops): PyTorch's output on the device,
  // and five fine-tuning steps there that follow the CPU's losses.
  void torch_models_run_and_fine_tune_on_the_device() {
    const fs::path models = fs::path(NETLOOM_TEST_DATA_DIR) / "torch_models";
    if (!fs::is_directory(models)) QSKIP("tests/data/torch_models is missing");
    const double tolerance = device_->is_emulated() ? 1e-4 : 1e-3;
    int seen = 0;
    for (const auto& entry : fs::directory_iterator(models)) {
      const std::string name = entry.path().filename().string();
      if (!fs::exists(entry.path() / "model.onnx")) continue;
      ++seen;
      project::Project p = importers::import_onnx((entry.path() / "model.onnx").string());
      Tensor x = load_npy((entry.path() / "input.npy").string());
      Tensor want = load_npy((entry.path() / "output.npy").string());
      std::map<std::string, Tensor> out;
      try {
        run::GraphExecutor names;
        out = run_on(p, {{names.build(p.graph)->input_names().at(0), x}}, device_->device());
      } catch (const Error& e) {
        QFAIL(qPrintable(QString::fromStdString(name + ": " + e.what())));
      }
      QVERIFY2(!out.empty(), name.c_str());
      const Tensor& y = out.begin()->second;
      const double d = amax(abs(sub(y, want))).item() / std::max(1.0, amax(abs(want)).item());
      QVERIFY2(d <= tolerance, qPrintable(QString("%1 differs from PyTorch by %2 on the device").arg(name.c_str()).arg(d)));

      // Fine-tuning: the same five Adam steps on both devices.
      auto losses_on = [&](Device device) {
        run::GraphExecutor executor;
        auto model = executor.build(p.graph);
        model->load_weights(p.weights);
        model->train();
        model->to(device);
        const std::string& input = model->input_names().at(0);
        const int64_t classes = want.size(-1);
        Tensor labels = tensor(std::vector<int64_t>(static_cast<size_t>(x.size(0)), classes - 1), {x.size(0)}).to(device);
        Tensor xd = x.to(device);
        optim::Adam opt(model->parameters(), {.lr = 1e-3});
        std::vector<double> losses;
        for (int step = 0; step < 5; ++step) {
          opt.zero_grad();
          manual_seed(step);  // dropout draws the same masks on both
          Tensor logits = model->run({{input, xd}}).begin()->second;
          if (logits.dim() > 2) logits = logits.reshape({-1, classes});
          Tensor target = logits.size(0) == labels.size(0) ? labels
                                                             : zeros({logits.size(0)}, {.dtype = DType::Int64, .device = device});
          Tensor loss = cross_entropy(logits, target);
          loss.backward();
          opt.step();
          losses.push_back(loss.item());
        }
        return losses;
      };
      std::vector<double> cpu, dev;
      try {
        cpu = losses_on(Device::cpu());
        dev = losses_on(device_->device());
      } catch (const Error& e) {
        QFAIL(qPrintable(QString::fromStdString(name + " fine-tuning: " + e.what())));
      }
      for (size_t i = 0; i < cpu.size(); ++i)
        QVERIFY2(std::fabs(dev[i] - cpu[i]) <= 10 * tolerance * (1 + std::fabs(cpu[i])),
                 qPrintable(QString("%1 step %2: loss %3 on the device, %4 on the CPU")
                                .arg(name.c_str()).arg(i + 1).arg(dev[i]).arg(cpu[i])));
    }
    QVERIFY(seen >= 5);
  }

  // Host values meeting Netloom layers on the device (Note [Host values in a model on a
  // device], engine/run/graph_executor.cpp): a generic ConstantOfShape with a constant shape
  // has no device input, so its ones are made on the host; they feed a Netloom Add beside a
  // Linear on the device, and the graph trains there as on the CPU.
  void host_values_join_netloom_layers_on_the_device() {
    using namespace nl::graph;
    ModelGraph g;
    using V = std::vector<int64_t>;
    NodeId x = onnx_testing::add(g, "Input", "x", {{"shape", V{-1, 4}}}, {});
    NodeId fc = onnx_testing::add(g, "Linear", "fc", {{"out_features", int64_t{3}}}, {{x, 0}});
    NodeId ones = onnx_testing::add(g, "OnnxOp", "ones",
                       {{"op_type", std::string("ConstantOfShape")}, {"opset", int64_t{17}}, {"num_outputs", int64_t{1}},
                        {"inputs", std::string("const")}, {"in0.value", V{1, 3}}, {"in0.shape", V{2}},
                        {"value", std::vector<double>{1.0}}},
                       {});
    NodeId shifted = onnx_testing::add(g, "Add", "shifted", {}, {{fc, 0}, {ones, 0}});
    onnx_testing::add(g, "Output", "y", {}, {{shifted, 0}});
    auto losses = [&](Device device) {
      run::GraphExecutor executor;
      manual_seed(5);
      auto model = executor.build(g);
      model->to(device);
      Tensor xs = randn({8, 4}).to(device);
      optim::Adam opt(model->parameters(), {.lr = 1e-2});
      std::vector<double> out;
      for (int step = 0; step < 3; ++step) {
        opt.zero_grad();
        Tensor y = model->run({{"x", xs}}).at("y");
        if (y.device() != device) throw Error("y came back on " + y.device().str());
        Tensor loss = sum(square(y));
        loss.backward();
        opt.step();
        out.push_back(loss.item());
      }
      return out;
    };
    std::vector<double> cpu = losses(Device::cpu()), dev;
    try {
      dev = losses(device_->device());
    } catch (const Error& e) {
      QFAIL(e.what());
    }
    for (size_t i = 0; i < cpu.size(); ++i) QVERIFY(std::fabs(dev[i] - cpu[i]) <= 1e-4 * (1 + std::fabs(cpu[i])));
  }

  void every_backend_case_that_runs_on_the_cpu_runs_on_the_device() {
    if (!fs::is_directory(kNodeTests)) QSKIP(qPrintable("no ONNX backend tests at " + QString(kNodeTests.c_str())));
    const double tolerance = device_->is_emulated() ? 1e-5 : 1e-3;
    int compared = 0;
    std::vector<std::string> failures;
    std::vector<fs::path> dirs;
    for (const auto& entry : fs::directory_iterator(kNodeTests))
      if (fs::exists(entry.path() / "model.onnx")) dirs.push_back(entry.path());
    std::sort(dirs.begin(), dirs.end());
    for (const fs::path& dir : dirs) {
      std::optional<Case> c = read_case(dir);
      if (!c) continue;
      // As the importer test does: plain import, else with the inputs after the first frozen
      // as constants (weights a layer needs constant). The first that runs on the CPU counts.
      std::vector<std::pair<importers::OnnxImportOptions, std::map<std::string, Tensor>>> attempts = {{{}, c->inputs}};
      if (c->input_order.size() >= 2) {
        importers::OnnxImportOptions o;
        std::map<std::string, Tensor> feeds = c->inputs;
        for (size_t i = 1; i < c->input_order.size(); ++i) {
          o.frozen_inputs[c->input_order[i]] = c->inputs[c->input_order[i]];
          feeds.erase(c->input_order[i]);
        }
        attempts.emplace_back(o, feeds);
      }
      for (const auto& [options, feeds] : attempts) {
        project::Project p;
        std::map<std::string, Tensor> on_cpu;
        try {
          p = importers::import_onnx((dir / "model.onnx").string(), options);
          on_cpu = run_on(p, feeds, Device::cpu());
        } catch (const Error&) {
          continue;  // not runnable on the CPU either: the importer test reports it
        }
        // Random ops (Dropout in training mode, RandomNormal…) draw from the same generator
        // on both devices; reseed so they draw the same numbers.
        std::string why;
        try {
          manual_seed(0);
          on_cpu = run_on(p, feeds, Device::cpu());
          manual_seed(0);
          const bool shape_values = c->op == "Shape" || c->op == "Size";
          why = compare(run_on(p, feeds, device_->device(), shape_values), on_cpu, tolerance);
        } catch (const Error& e) {
          why = e.what();
          std::replace(why.begin(), why.end(), '\n', ' ');
        }
        ++compared;
        if (!why.empty()) failures.push_back(dir.filename().string() + ": " + why);
        break;
      }
    }
    qInfo("%d ONNX backend cases ran on the CPU and on %s; %zu differ or fail there", compared,
          device_->is_emulated() ? "the emulated cuda:0" : "cuda:0", failures.size());
    for (const auto& f : failures) qWarning("%s", f.c_str());
    QVERIFY(compared > 500);
    QVERIFY2(failures.empty(), qPrintable(QString::fromStdString(failures.empty() ? "" : failures.front()) +
                                          QString(" (%1 failing)").arg(failures.size())));
  }
};

QTEST_GUILESS_MAIN(OnnxOnDevice)
#include "test_onnx_on_device.moc"
