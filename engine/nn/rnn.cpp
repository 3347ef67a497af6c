// LSTM and GRU (see rnn.h), unrolled over time from the linear and elementwise ops, so
// backpropagation through time is autograd's. The input projection of all steps is one
// matrix product; only the hidden-state product runs per step.
#include "engine/nn/rnn.h"

#include <cmath>

#include "engine/core/error.h"
#include "engine/nn/init.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/indexing.h"
#include "engine/ops/matmul.h"
#include "engine/ops/movement.h"
#include "engine/ops/random.h"

namespace nl::nn {

RecurrentBase::RecurrentBase(int64_t in, int64_t hidden, const RnnOptions& opts, int64_t gates)
    : input_size(in), hidden_size(hidden), options(opts) {
  NL_CHECK(in > 0 && hidden > 0 && opts.num_layers > 0, "recurrent layer: sizes and num_layers must be positive");
  NL_CHECK(opts.dropout >= 0 && opts.dropout <= 1, "recurrent layer: dropout must be in [0, 1], got ", opts.dropout);
  double bound = 1.0 / std::sqrt((double)hidden);
  int64_t directions = opts.bidirectional ? 2 : 1;
  // Registration order matches PyTorch's _flat_weights: per layer and direction w_ih, w_hh,
  // b_ih, b_hh; entry l * directions + d of the vectors below.
  for (int64_t l = 0; l < opts.num_layers; ++l) {
    for (int64_t d = 0; d < directions; ++d) {
      std::string suffix = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      size_t k = w_ih_.size();
      w_ih_.push_back(empty({gates * hidden, l == 0 ? in : hidden * directions}));
      w_hh_.push_back(empty({gates * hidden, hidden}));
      b_ih_.push_back(opts.bias ? empty({gates * hidden}) : Tensor());
      b_hh_.push_back(opts.bias ? empty({gates * hidden}) : Tensor());
      for (Tensor* t : {&w_ih_[k], &w_hh_[k], &b_ih_[k], &b_hh_[k]})
        if (t->defined()) init::uniform_(*t, -bound, bound, opts.gen);
      register_parameter("weight_ih" + suffix, w_ih_[k]);
      register_parameter("weight_hh" + suffix, w_hh_[k]);
      if (opts.bias) {
        register_parameter("bias_ih" + suffix, b_ih_[k]);
        register_parameter("bias_hh" + suffix, b_hh_[k]);
      }
    }
  }
}

namespace {
Tensor reversed_in_time(const Tensor& x) {
  std::vector<int64_t> order(x.size(0));
  for (size_t i = 0; i < order.size(); ++i) order[i] = (int64_t)(order.size() - 1 - i);
  return index_select(x, 0, tensor(order, {(int64_t)order.size()}).to(x.device()));
}
}  // namespace

RnnResult RecurrentBase::run(const Tensor& x_in, const Tensor& h0, const Tensor& c0) {
  NL_CHECK(x_in.dim() == 3 && x_in.size(2) == input_size, type_name(), ": expected input ",
           options.batch_first ? "[N, T, " : "[T, N, ", input_size, "], got ", x_in.shape().str());
  Tensor x = options.batch_first ? x_in.transpose(0, 1) : x_in;  // [T, N, in]
  int64_t n = x.size(1), layers = options.num_layers, directions = options.bidirectional ? 2 : 1;
  Shape state_shape{layers * directions, n, hidden_size};
  auto check_state = [&](const Tensor& s, const char* what) {
    NL_CHECK(!s.defined() || s.shape() == state_shape, type_name(), ": ", what, " must be ", state_shape.str(),
             ", got ", s.shape().str());
  };
  check_state(h0, "h0");
  check_state(c0, "c0");
  NL_CHECK(!c0.defined() || has_cell_, type_name(), ": has no cell state (c0)");
  TensorOptions like{.dtype = x.dtype(), .device = x.device()};
  std::vector<Tensor> h_n, c_n;
  for (int64_t l = 0; l < layers; ++l) {
    std::vector<Tensor> outputs;  // per direction, [T, N, H]
    for (int64_t d = 0; d < directions; ++d) {
      int64_t k = l * directions + d;  // also the state's row, as in PyTorch's h_n
      Tensor h = h0.defined() ? h0.select(0, k) : zeros({n, hidden_size}, like);
      Tensor c = has_cell_ ? (c0.defined() ? c0.select(0, k) : zeros({n, hidden_size}, like)) : Tensor();
      // The reverse direction reads the sequence backwards; its outputs are put back in time order.
      outputs.push_back(d == 0 ? run_layer(k, x, h, c) : reversed_in_time(run_layer(k, reversed_in_time(x), h, c)));
      h_n.push_back(h);
      if (has_cell_) c_n.push_back(c);
    }
    x = directions == 1 ? outputs[0] : cat(outputs, 2);
    if (l + 1 < layers && options.dropout > 0) x = dropout(x, options.dropout, is_training(), options.gen);
  }
  RnnResult result;
  result.output = options.batch_first ? x.transpose(0, 1) : x;
  result.h_n = stack(h_n, 0);
  if (has_cell_) result.c_n = stack(c_n, 0);
  return result;
}

LSTM::LSTM(int64_t in, int64_t hidden, const RnnOptions& opts) : RecurrentBase(in, hidden, opts, 4) { has_cell_ = true; }

Tensor LSTM::run_layer(int64_t k, const Tensor& x, Tensor& h, Tensor& c) {
  Tensor projected = linear(x, w_ih_[k], b_ih_[k]);  // [T, N, 4H]: the input's share of every gate
  std::vector<Tensor> outputs;
  for (int64_t t = 0; t < x.size(0); ++t) {
    auto gates = chunk(projected.select(0, t) + linear(h, w_hh_[k], b_hh_[k]), 4, 1);
    Tensor i = sigmoid(gates[0]), f = sigmoid(gates[1]), g = nl::tanh(gates[2]), o = sigmoid(gates[3]);
    c = f * c + i * g;
    h = o * nl::tanh(c);
    outputs.push_back(h);
  }
  return stack(outputs, 0);
}

GRU::GRU(int64_t in, int64_t hidden, const RnnOptions& opts) : RecurrentBase(in, hidden, opts, 3) {}

Tensor GRU::run_layer(int64_t k, const Tensor& x, Tensor& h, Tensor&) {
  Tensor projected = linear(x, w_ih_[k], b_ih_[k]);  // [T, N, 3H]
  std::vector<Tensor> outputs;
  for (int64_t t = 0; t < x.size(0); ++t) {
    auto xi = chunk(projected.select(0, t), 3, 1);
    // The hidden projection keeps its bias inside r * (...), as PyTorch's GRU does.
    auto hh = chunk(linear(h, w_hh_[k], b_hh_[k]), 3, 1);
    Tensor r = sigmoid(xi[0] + hh[0]), z = sigmoid(xi[1] + hh[1]);
    Tensor candidate = nl::tanh(xi[2] + r * hh[2]);
    h = (1.0 - z) * candidate + z * h;
    outputs.push_back(h);
  }
  return stack(outputs, 0);
}

}  // namespace nl::nn
