// The optimiser base class: parameter groups with their hyper-parameters, per-parameter
// state, step/zero_grad, and state save/restore. SGD, Adam, AdamW and RMSprop derive from
// it and supply one update rule each (engine/optim/update_kernels.h).
//
//   nl::optim::Adam opt(model_params, {.lr = 1e-3, .weight_decay = 1e-4});
//   for (...) {
//     opt.zero_grad();
//     loss(batch).backward();
//     opt.step();
//   }
//   nl::optim::StateDict saved = opt.state_dict();   // resume later with load_state_dict
//
// Note [Parameter groups]: as in PyTorch, the parameters are split into groups that each
// carry their own hyper-parameters (e.g. no weight decay on biases). ParamGroup holds the
// union of the fields of all optimisers; each optimiser reads the ones it documents and
// validates them whenever a group is added and before every step, so a group edited
// through param_groups() is checked too. Parameters are numbered across groups in order;
// that number names their state in state_dict ("state.<index>.<buffer>").
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/core/tensor.h"
#include "engine/optim/state_dict.h"
#include "engine/optim/update_kernels.h"

namespace nl::optim {

struct ParamGroup {
  std::vector<Tensor> params;  // contiguous float32 leaf tensors
  double lr = 1e-3;
  double weight_decay = 0;
  double momentum = 0;    // SGD, RMSprop
  double dampening = 0;   // SGD
  bool nesterov = false;  // SGD
  double beta1 = 0.9;     // Adam, AdamW: decay of the first-moment average
  double beta2 = 0.999;   // Adam, AdamW: decay of the second-moment average
  double eps = 1e-8;      // Adam, AdamW, RMSprop: added to the denominator
  bool amsgrad = false;   // Adam, AdamW
  double alpha = 0.99;    // RMSprop: decay of the squared-gradient average
  bool centered = false;  // RMSprop
  bool maximize = false;  // all: ascend instead of descend
};

// What an optimiser keeps for one parameter.
struct ParamState {
  int64_t step = 0;                        // updates applied to this parameter
  std::map<std::string, Tensor> buffers;   // "exp_avg", "momentum_buffer", …
};

// The buffer `name` of `state`, created as zeros shaped like `param` when missing (how
// optimisers initialise their state on a parameter's first step).
Tensor& zeros_buffer(ParamState& state, const std::string& name, const Tensor& param);

// The fixed facts about one optimiser type that the base class needs.
struct OptimizerSpec {
  const char* name;                                 // "Adam": the start of every error message
  std::vector<std::string> hyper_parameters;        // ParamGroup fields it reads (saved in state_dict)
  std::vector<std::string> buffers;                 // state buffers it may keep
  std::vector<std::string> required_buffers;        // buffers every stepped parameter has
  std::string cycled_momentum;                      // field OneCycleLR cycles: "momentum" or "beta1"
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  const char* name() const { return spec_.name; }

  // Updates every parameter that has a gradient (others are left alone, their state too).
  // All checks run before the first update, so a step that throws changes nothing.
  void step();
  // Drops every gradient (set_to_none) or fills it with zeros.
  void zero_grad(bool set_to_none = true);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  size_t num_params() const;

  double lr(size_t group = 0) const;
  void set_lr(double lr);  // every group
  void set_lr(size_t group, double lr);

  // The momentum-like coefficient that OneCycleLR cycles: `momentum` for SGD and RMSprop,
  // beta1 for Adam and AdamW (as PyTorch's OneCycleLR does).
  const std::string& cycled_momentum_field() const { return spec_.cycled_momentum; }
  double cycled_momentum(size_t group) const;
  void set_cycled_momentum(size_t group, double value);

  // State of one parameter, or null before its first update.
  const ParamState* state_of(const Tensor& param) const;

  // Hyper-parameters of every group ("param_groups.<g>.<field>", plus "param_groups.<g>.params",
  // the group's parameter count) and copies of every parameter's state.
  StateDict state_dict() const;
  // Replaces hyper-parameters and state with `state`, which must come from an optimiser of
  // the same type over parameters of the same shapes. Checks everything first: on error
  // (naming the entry) nothing changes.
  void load_state_dict(const StateDict& state);

  // Empty when every step() from now on queues the same device work with the same
  // arguments (each parameter has its state, and nothing the update reads changes per
  // step), so one captured step can be replayed (CUDA graphs); otherwise the reason.
  virtual std::string replay_blocker() const;
  // Counts a replayed step in the state of every parameter that has a gradient, as step()
  // does, so state dicts and checkpoints stay right.
  void count_replayed_step();
  // Every parameter's step count, in order (0 before its first step), and back: a step
  // whose capture failed counted steps that never ran.
  std::vector<int64_t> step_counts() const;
  void set_step_counts(const std::vector<int64_t>& counts);
  // Called before a step is captured and after any step run outside the graph while one
  // exists: optimisers whose update depends on the step count (Adam) put the counts on the
  // device here, where the captured update reads and advances them.
  virtual void prepare_replay() {}

  // Forces the portable tensor-op update on the CPU too (tests compare it with the fused loop).
  void set_update_kernel(UpdateKernel kernel) { kernel_ = kernel; }
  UpdateKernel update_kernel() const { return kernel_; }

 protected:
  explicit Optimizer(OptimizerSpec spec) : spec_(std::move(spec)) {}

  // Checks the group (hyper-parameters and parameters) and appends it.
  void add_group(ParamGroup group);
  // Throws nl::Error naming the optimiser, group and field when a hyper-parameter is invalid.
  virtual void check_hyper_parameters(const ParamGroup& group, size_t index) const = 0;
  // Applies one update; `state.step` already counts it. Runs under NoGradGuard with `grad`
  // contiguous and matching `param` in shape, dtype and device.
  virtual void update(const ParamGroup& group, Tensor& param, const Tensor& grad, ParamState& state) = 0;
  // Applies one update to every parameter of `group` that has a gradient (entry i of each
  // vector belongs to params[i]; each state's step already counts it). The default calls
  // update() for each; optimisers with whole-group kernels (one launch on a GPU) override it.
  virtual void update_group(const ParamGroup& group, std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                            const std::vector<ParamState*>& states);

 private:
  void check_groups(const std::vector<ParamGroup>& groups) const;

  OptimizerSpec spec_;
  std::vector<ParamGroup> groups_;
  // Keyed by the parameter's impl (shared, so a freed parameter's address cannot be reused
  // by a new tensor that would then inherit its state).
  std::unordered_map<std::shared_ptr<TensorImpl>, ParamState> state_;
  UpdateKernel kernel_ = UpdateKernel::Auto;
};

}  // namespace nl::optim
