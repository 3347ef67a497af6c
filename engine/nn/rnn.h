// Recurrent layers LSTM and GRU with torch.nn's parameter names (weight_ih_l0,
// weight_hh_l0, bias_ih_l0, bias_hh_l0, ... per layer), gate order (LSTM: input, forget,
// cell, output; GRU: reset, update, new) and init U(-1/sqrt(hidden), 1/sqrt(hidden)).
// Stacked layers with optional dropout between them (training only); bidirectional adds a
// reverse-time pass per layer (parameters suffixed "_reverse"), its outputs concatenated.
#pragma once
#include "engine/core/generator.h"
#include "engine/nn/module.h"

namespace nl::nn {

struct RnnOptions {
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = false;  // input [N, T, in] instead of [T, N, in]
  bool bidirectional = false;
  double dropout = 0;        // on the outputs of every layer but the last, in training
  Generator* gen = nullptr;  // for the initial weights and the dropout masks
};

// Every step's top-layer output ([T, N, D H], or [N, T, D H] when batch_first; D = 2 when
// bidirectional, else 1) and the final hidden (and, for LSTM, cell) state of each layer and
// direction, [num_layers D, N, H], forward before reverse.
struct RnnResult {
  Tensor output, h_n, c_n;
};

// The weights and stacking shared by LSTM and GRU; `gates` is 4 for LSTM, 3 for GRU.
class RecurrentBase : public Module {
 public:
  using Module::forward;
  Tensor forward(const Tensor& x) override { return run(x).output; }
  // h0, c0: [num_layers D, N, H] or undefined for zeros (c0 is LSTM only).
  RnnResult run(const Tensor& x, const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());

  int64_t input_size, hidden_size;
  RnnOptions options;

 protected:
  RecurrentBase(int64_t input_size, int64_t hidden_size, const RnnOptions& opts, int64_t gates);
  // One layer and direction (entry k = layer D + direction of the weights) over a whole
  // sequence x [T, N, in] in the order given; `h` and `c` carry the state in and out.
  virtual Tensor run_layer(int64_t k, const Tensor& x, Tensor& h, Tensor& c) = 0;
  bool has_cell_ = false;

  std::vector<Tensor> w_ih_, w_hh_, b_ih_, b_hh_;  // per layer and direction; biases undefined without bias
};

class LSTM : public RecurrentBase {
 public:
  LSTM(int64_t input_size, int64_t hidden_size, const RnnOptions& opts = {});
  std::string type_name() const override { return "LSTM"; }

 protected:
  Tensor run_layer(int64_t k, const Tensor& x, Tensor& h, Tensor& c) override;
};

class GRU : public RecurrentBase {
 public:
  GRU(int64_t input_size, int64_t hidden_size, const RnnOptions& opts = {});
  std::string type_name() const override { return "GRU"; }

 protected:
  Tensor run_layer(int64_t k, const Tensor& x, Tensor& h, Tensor& c) override;
};

}  // namespace nl::nn
