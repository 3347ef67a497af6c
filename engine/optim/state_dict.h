// The saved state of an optimiser or LR scheduler: named tensors (moment buffers) plus
// named scalars (step counters, hyper-parameters, plateau bookkeeping), so a checkpoint can
// hold them and a resumed run continues bit for bit.
//
//   nl::optim::StateDict s = adam.state_dict();      // "state.0.exp_avg", "state.0.step", …
//   nl::save_safetensors("opt.safetensors", s.to_tensors("optimizer."));
//   adam2.load_state_dict(nl::optim::StateDict::from_tensors(
//       nl::load_safetensors("opt.safetensors"), "optimizer."));
//
// Names follow PyTorch's state_dict where one exists: "state.<param index>.<buffer>" with
// parameters numbered across groups in order, and "param_groups.<group>.<hyper-parameter>".
#pragma once
#include <map>
#include <string>

#include "engine/core/tensor.h"

namespace nl::optim {

struct StateDict {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, double> scalars;  // doubles hold step counters exactly up to 2^53

  // Scalar `key`, or an nl::Error naming `owner` and the key when it is missing.
  double scalar(const std::string& key, const char* owner) const;
  // Tensor `key`, or an nl::Error naming `owner` and the key when it is missing.
  const Tensor& tensor(const std::string& key, const char* owner) const;

  // One flat tensor map for a checkpoint file: tensors as they are, scalars as 0-d float64
  // tensors (optimiser buffers are float32, so the two never collide), every name prefixed.
  std::map<std::string, Tensor> to_tensors(const std::string& prefix = "") const;
  // The inverse of to_tensors: entries whose names start with `prefix` (others are ignored).
  static StateDict from_tensors(const std::map<std::string, Tensor>& flat, const std::string& prefix = "");
};

}  // namespace nl::optim
