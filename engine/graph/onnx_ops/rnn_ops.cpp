// Generic ONNX ops, recurrent family: LSTM and GRU as ONNX defines them (gate order i,o,f,c
// and z,r,h; forward, reverse or bidirectional; optional initial states; GRU with or without
// linear_before_reset), for recurrent nodes that are not a Netloom export of an LSTM or GRU
// layer. Built from engine ops, so gradients flow.
#include "engine/core/error.h"
#include "engine/graph/onnx_ops/onnx_op.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/movement.h"

namespace nl::graph::onnx_ops {

namespace {

bool has(const std::vector<Tensor>& in, size_t k) { return k < in.size() && in[k].defined(); }

void check_supported(const OpAttrs& a, size_t gates) {
  if (a.i("layout", 0) != 0) a.fail("layout = 1 (batch-major) is not supported");
  if (a.has("activations")) a.fail("custom activations are not supported");
  if (a.has("clip")) a.fail("clip is not supported");
  if (gates == 4 && a.i("input_forget", 0)) a.fail("input_forget = 1 is not supported");
}

// One direction over the whole sequence; returns the outputs [T, N, H] and leaves the final
// states in h (and c).
Tensor run_direction(const Tensor& x, const Tensor& w, const Tensor& r, const Tensor& b, Tensor& h, Tensor& c,
                     bool reverse, bool lstm, bool linear_before_reset) {
  int64_t steps = x.size(0), hs = r.size(1);
  int64_t gates = lstm ? 4 : 3;
  Tensor wb, rb;
  if (b.defined()) {
    wb = b.narrow(0, 0, gates * hs);
    rb = b.narrow(0, gates * hs, gates * hs);
  }
  Tensor projected = matmul(x, w.t());  // [T, N, G·H]
  if (wb.defined()) projected = add(projected, wb);
  std::vector<Tensor> out(static_cast<size_t>(steps));
  for (int64_t s = 0; s < steps; ++s) {
    int64_t t = reverse ? steps - 1 - s : s;
    Tensor xi = projected.select(0, t);
    if (lstm) {
      Tensor g = add(xi, matmul(h, r.t()));
      if (rb.defined()) g = add(g, rb);
      Tensor i = sigmoid(g.narrow(1, 0, hs)), o = sigmoid(g.narrow(1, hs, hs));
      Tensor f = sigmoid(g.narrow(1, 2 * hs, hs)), cand = tanh(g.narrow(1, 3 * hs, hs));
      c = add(mul(f, c), mul(i, cand));
      h = mul(o, tanh(c));
    } else {
      Tensor rz_r = r.narrow(0, 0, 2 * hs), rh = r.narrow(0, 2 * hs, hs);
      Tensor hr = matmul(h, rz_r.t());
      if (rb.defined()) hr = add(hr, rb.narrow(0, 0, 2 * hs));
      Tensor z = sigmoid(add(xi.narrow(1, 0, hs), hr.narrow(1, 0, hs)));
      Tensor rg = sigmoid(add(xi.narrow(1, hs, hs), hr.narrow(1, hs, hs)));
      Tensor hh;
      if (linear_before_reset) {
        hh = matmul(h, rh.t());
        if (rb.defined()) hh = add(hh, rb.narrow(0, 2 * hs, hs));
        hh = mul(rg, hh);
      } else {
        hh = matmul(mul(rg, h), rh.t());
        if (rb.defined()) hh = add(hh, rb.narrow(0, 2 * hs, hs));
      }
      Tensor cand = tanh(add(xi.narrow(1, 2 * hs, hs), hh));
      h = add(mul(rsub(z, 1.0), cand), mul(z, h));
    }
    out[static_cast<size_t>(t)] = h;
  }
  return stack(out, 0);
}

OpImpl recurrent(bool lstm) {
  size_t gates = lstm ? 4 : 3;
  return OpImpl{
      [gates, lstm](const InferArgs& a) {
        check_supported(a, gates);
        const TensorInfo& x = a.input(0);
        const TensorInfo& w = a.input(1);
        if (x.rank() != 3 || w.rank() != 3) a.fail("X and W must be 3-d");
        if (a.has_input(4)) a.fail("sequence_lens is not supported");
        if (lstm && a.has_input(7)) a.fail("peepholes (P) are not supported");
        int64_t h = a.i("hidden_size", 0);
        if (h <= 0) a.fail("hidden_size is required");
        std::string dir = a.s("direction", "forward");
        Dim d = Dim::known(dir == "bidirectional" ? 2 : 1);
        std::vector<TensorInfo> out = {TensorInfo{x.dtype, {x.shape[0], d, x.shape[1], Dim::known(h)}},
                                       TensorInfo{x.dtype, {d, x.shape[1], Dim::known(h)}}};
        if (lstm) out.push_back(out[1]);
        return out;
      },
      [lstm](const RunArgs& a, const std::vector<Tensor>& in) {
        const Tensor &x = in.at(0), &w = in.at(1), &r = in.at(2);
        std::string dir = a.s("direction", "forward");
        if (dir != "forward" && dir != "reverse" && dir != "bidirectional") a.fail("direction '" + dir + "' is unknown");
        int64_t directions = dir == "bidirectional" ? 2 : 1, n = x.size(1), h = a.i("hidden_size", r.size(2));
        bool lbr = a.i("linear_before_reset", 0) != 0;
        std::vector<Tensor> ys, hs, cs;
        for (int64_t d = 0; d < directions; ++d) {
          Tensor hd = has(in, 5) ? in[5].select(0, d) : zeros({n, h}, {.device = x.device()});
          Tensor cd = lstm && has(in, 6) ? in[6].select(0, d) : zeros({n, h}, {.device = x.device()});
          Tensor b = has(in, 3) ? in[3].select(0, d) : Tensor();
          bool reverse = dir == "reverse" || d == 1;
          ys.push_back(run_direction(x, w.select(0, d), r.select(0, d), b, hd, cd, reverse, lstm, lbr));
          hs.push_back(hd);
          cs.push_back(cd);
        }
        std::vector<Tensor> out = {stack(ys, 1), stack(hs, 0)};
        if (lstm) out.push_back(stack(cs, 0));
        return out;
      }};
}

}  // namespace

void register_rnn_ops(OpTable& t) {
  t["LSTM"] = recurrent(true);
  t["GRU"] = recurrent(false);
}

}  // namespace nl::graph::onnx_ops
