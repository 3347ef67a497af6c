// Building a project's training run (see training_run.h).
#include "engine/run/training_run.h"

#include <algorithm>

#include "engine/backends/backend.h"
#include "engine/core/error.h"
#include "engine/core/generator.h"
#include "engine/core/math_settings.h"
#include "engine/graph/layer_registry.h"

namespace nl::run {

Device device_from_setting(const std::string& text) {
  Device d = Device::cpu();
  if (text == "cuda") {
    d = Device::cuda(0);
  } else if (text.rfind("cuda:", 0) == 0) {
    const std::string index = text.substr(5);
    NL_CHECK(!index.empty() && index.size() < 4 && index.find_first_not_of("0123456789") == std::string::npos,
             "training.device: '", text, "' is not a device (cpu, cuda or cuda:N)");
    d = Device::cuda(std::stoi(index));
  } else {
    NL_CHECK(text == "cpu", "training.device: '", text, "' is not a device (cpu, cuda or cuda:N)");
  }
  NL_CHECK(backend_available(d), "training.device: ", d.str(), " is not available: ", device_unavailable_reason(d),
           ". Choose cpu in Train Settings (or --device cpu).");
  return d;
}

std::vector<std::string> available_devices() {
  std::vector<std::string> out = {"cpu"};
  for (int i = 0; i < 16; ++i)
    if (backend_available(Device::cuda(i))) out.push_back(Device::cuda(i).str());
  return out;
}

LossFn loss_named(const std::string& kind) {
  const graph::LayerSchema& schema = graph::LayerRegistry::builtin().get("Loss");
  graph::AttrMap attrs{{"loss", kind}};
  if (const graph::AttrSpec* spec = schema.find_attr("loss"); spec && !spec->check(kind).empty())
    throw Error("training.loss: " + spec->check(kind));
  graph::TensorInfo prediction{DType::Float32, graph::shape_from_ints({-1, 1})};
  graph::LayerContext ctx(schema, attrs, {&prediction, nullptr});
  auto forward = schema.build(ctx).forward;
  return [forward](const Tensor& out, const Tensor& target) { return forward({out, target}).at(0); };
}

void check_input_matches(const project::Project& p, const PreparedData& data) {
  auto inputs = p.graph.nodes_of_type("Input");
  if (inputs.empty()) return;
  const graph::Node& in = p.graph.node(inputs.front());
  auto shape = std::get<std::vector<int64_t>>(p.graph.attribute(in.id, "shape"));
  std::vector<int64_t> expected(shape.begin() + (shape.empty() ? 0 : 1), shape.end());
  bool ok = expected.size() == data.sample_shape.size();
  for (size_t i = 0; ok && i < expected.size(); ++i) ok = expected[i] < 0 || expected[i] == data.sample_shape[i];
  if (!ok) {
    std::string want, got;
    for (auto d : expected) want += (want.empty() ? "" : "\u00d7") + (d < 0 ? std::string("?") : std::to_string(d));
    for (auto d : data.sample_shape) got += (got.empty() ? "" : "\u00d7") + std::to_string(d);
    throw Error("the dataset's samples are " + got + " but the model's Input '" + in.name + "' expects " + want +
                " per sample");
  }
}

std::unique_ptr<TrainingRun> prepare_training_run(const project::Project& p, GraphExecutor& executor,
                                                  const TrainingRunOptions& o) {
  const project::TrainingSettings& s = p.training;
  project::validate(s);
  auto run = std::make_unique<TrainingRun>();
  executor.build(p.graph);  // a graph that cannot run is reported before the data is loaded
  // Seed everything a run draws from, so the same settings give the same run.
  manual_seed(s.seed);
  run->data = load_dataset(s.dataset, o.base_dir, s.seed);
  check_input_matches(p, run->data);
  executor.reset();  // initial weights drawn after seeding
  run->model = executor.build(p.graph);
  if (o.continue_from_weights && !p.weights.empty()) {
    run->untrained = run->model->load_weights(p.weights);
    run->continued_from_weights = true;
  }
  run->model->to(o.device);

  data::DataLoaderOptions train_options;
  train_options.batch_size = s.batch_size;
  train_options.shuffle = true;
  train_options.seed = s.seed;
  train_options.pin_memory = o.device.is_cuda();
  run->train_loader = std::make_unique<data::DataLoader>(run->data.train, train_options);
  if (run->data.validation && run->data.validation->size() > 0) {
    data::DataLoaderOptions val_options;
    val_options.batch_size = s.batch_size;
    val_options.pin_memory = o.device.is_cuda();
    run->val_loader = std::make_unique<data::DataLoader>(run->data.validation, val_options);
  }

  run->optimizer = make_optimizer(s.optimizer, run->model->parameters());
  run->scheduler = make_scheduler(s.schedule, *run->optimizer, run->train_loader->num_batches(), s.epochs);
  TrainerOptions t;
  t.loss = run->model->loss_function(loss_named(s.loss));
  t.epochs = s.epochs;
  t.classification = run->data.num_classes > 0;
  t.top_k = static_cast<int>(std::min<int64_t>(5, std::max<int64_t>(1, run->data.num_classes)));
  t.clip_grad_norm = s.clip_grad_norm;
  t.early_stopping_patience = s.early_stopping_patience;
  t.checkpoint_dir = o.checkpoint_dir.empty() ? s.checkpoint_dir : o.checkpoint_dir;
  t.layer_statistics_every = o.layer_statistics_every;
  t.validation_samples = o.validation_samples;
  t.device = o.device;
  t.metrics_every = 0;  // the device's default
  t.cuda_graphs = s.cuda_graphs;
  t.bf16_autocast = s.precision == "bf16";
  set_allow_tf32(s.tf32);  // a process-wide switch, as torch.backends.cuda.matmul.allow_tf32
  run->trainer = std::make_unique<Trainer>(run->model, run->optimizer, t, run->scheduler);
  return run;
}

}  // namespace nl::run
