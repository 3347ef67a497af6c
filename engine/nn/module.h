// The Module base class of nl::nn: a layer or model that owns named parameters (trained),
// named buffers (state such as BatchNorm's running statistics) and named child modules,
// and a Sequential container. Names follow PyTorch's state_dict keys exactly
// ("0.weight", "layer1.0.bn1.running_mean"), so weights move between the two unchanged.
//
//   auto model = std::make_shared<nl::nn::Sequential>();
//   model->push_back(std::make_shared<nl::nn::Linear>(4, 8));
//   model->push_back(std::make_shared<nl::nn::ReLU>());
//   nl::Tensor y = model->forward(x);
//   nl::optim::SGD opt(model->parameters(), {.lr = 0.1});
//   model->save("model.safetensors");
//
// A model with its own forward derives from Module and registers its pieces in its
// constructor, which is where their names come from:
//   conv1 = register_module("conv1", std::make_shared<nl::nn::Conv2d>(3, 16, 3));
//
// Note [Parameter identity]: a registered parameter is the same Tensor (same TensorImpl) as
// the layer's member, so optimisers holding parameters() keep seeing the live values.
// load_state_dict copies into that tensor, and to(Device) moves its storage in place,
// instead of replacing the tensor.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/device.h"
#include "engine/core/tensor.h"

namespace nl::nn {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // One-input forward. Multi-input modules (Add, Concat) override the vector form instead.
  virtual Tensor forward(const Tensor& input);
  // Several inputs; the default accepts exactly one and calls forward(input).
  virtual Tensor forward(const std::vector<Tensor>& inputs);
  // The class name, as in PyTorch ("Linear"), for messages and printing.
  virtual std::string type_name() const = 0;

  // Recursive, in registration order, children after own entries, names dotted; a tensor
  // reachable by several paths (shared module, tied weight) appears once, under its first name.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<Tensor> buffers() const;
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  std::shared_ptr<Module> child(const std::string& name) const;  // throws when absent
  // Every descendant, depth first, with dotted names ("layer1.0.conv1"); each module once.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_modules() const;
  // Calls fn on every descendant and then on this module (torch's Module.apply), e.g. to
  // re-initialise all Linear weights.
  void apply(const std::function<void(Module&)>& fn);

  // Parameters and buffers by dotted name, as torch.nn.Module.state_dict(): every path, so a
  // shared tensor appears under each of its names.
  std::map<std::string, Tensor> state_dict() const;
  // Copies values into the existing tensors. strict: every key must match both ways. Shape
  // mismatches always throw. All checks run before any copy, so a failed load changes nothing.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);
  void save(const std::string& path) const;                   // safetensors
  void load(const std::string& path, bool strict = true);     // safetensors

  // Training mode switches BatchNorm to batch statistics and turns Dropout on.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  void to(Device device);  // moves every parameter and buffer in place (Note [Parameter identity])
  int64_t num_parameters() const;
  void zero_grad();

 protected:
  // Registers and returns `t`, marking it as requiring grad; the caller keeps it as a member.
  Tensor& register_parameter(const std::string& name, Tensor& t);
  Tensor& register_buffer(const std::string& name, Tensor& t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  void add_child(const std::string& name, std::shared_ptr<Module> m);

 private:
  std::vector<std::pair<std::string, Tensor>> all_named_tensors() const;
  void collect(const std::string& prefix, bool params, std::vector<std::pair<std::string, Tensor>>& out) const;
  void check_new_name(const std::string& name) const;

  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

using ModulePtr = std::shared_ptr<Module>;

// Runs its children in order, each on the previous one's output. Children are named
// "0", "1", ... as in torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<ModulePtr> layers);
  void push_back(ModulePtr layer);
  size_t size() const { return named_children().size(); }
  ModulePtr operator[](size_t i) const { return named_children().at(i).second; }

  using Module::forward;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sequential"; }
};

}  // namespace nl::nn
