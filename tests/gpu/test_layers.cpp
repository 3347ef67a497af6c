// GPU parity of the nn layers that no other file of tests/gpu covers (activations, Softmax,
// Conv1d, ConvTranspose2d, GroupNorm, MultiheadAttention, the Transformer encoder, LSTM,
// GRU, Add, Concat). Each layer is built twice with the same weights, one copy moved to cuda:0, and run on the same inputs
// in training and in evaluation mode: outputs (every one: RNN states, attention weights),
// input gradients and parameter gradients must match the CPU's.
#include <array>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "engine/autograd/node.h"
#include "engine/core/generator.h"
#include "engine/core/math_settings.h"
#include "engine/nn/nn.h"
#include "engine/ops/op_utils.h"
#include "engine/ops/ops.h"
#include "tests/gpu/gpu_testing.h"

namespace nl {
namespace {

using gpu_test::expect_close;

using gpu_test::check_parity;
using gpu_test::compare;
using gpu_test::Failure;
using gpu_test::random_input;
using gpu_test::Tolerance;

using gpu_test::Tf32Scope;

const Device kCuda = Device::cuda(0);

// Elementwise layers: check_parity's default tolerances.
const Tolerance kElementwise{};
// float32 matmul / conv with TF32 off: only summation order differs (test_matmul_conv.cpp).
const Tolerance kTight{1e-4, 1e-4, 2e-4, 2e-4};
// Layers of many matmuls, reductions and steps (attention, encoders, RNNs over time,
// GroupNorm's composed statistics): parameter gradients sum over batch and time.
const Tolerance kDeep{1e-4, 1e-4, 1e-3, 1e-3};
// TF32 on (the GPU's default): inputs carry a 10-bit mantissa (test_matmul_conv.cpp).
const Tolerance kTf32{1e-2, 2e-2, 1e-2, 5e-2};

// A double as a case name shows it: 0.25, 1e-05.
std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

enum class Mode { Train, Eval };
const char* mode_name(Mode m) { return m == Mode::Train ? "train" : "eval"; }

using MakeFn = std::function<std::shared_ptr<nn::Module>()>;
// Runs the layer on its inputs (on one device) and returns every output to compare.
using LayerFn = std::function<std::vector<Tensor>(nn::Module&, const std::vector<Tensor>&)>;

std::vector<Tensor> forward_all(nn::Module& m, const std::vector<Tensor>& in) { return {m.forward(in)}; }

// The layer of make() twice: the CPU copy's parameters are drawn afresh from U(-0.5, 0.5)
// (so zero biases and unit norm weights show in the output too) and loaded into the second
// copy, which then moves to cuda:0. Both run `run` in `mode` on the same inputs (those that
// require grad are leaves on each device); every output, the gradient of every input that
// requires grad and of every parameter, for the loss sum_i sum(output_i * w_i) with fixed
// random w_i, must agree.
void check_layer(const std::string& name, const MakeFn& make, const std::vector<Tensor>& inputs, const LayerFn& run,
                 Mode mode, Tolerance tol) {
  const std::string what = name + " (" + mode_name(mode) + ")";
  auto cpu = make();
  {
    NoGradGuard no_grad;
    Generator gen(0x5EED);
    for (auto& [pname, p] : cpu->named_parameters()) {
      Tensor t = p;
      nn::init::uniform_(t, -0.5, 0.5, &gen);
    }
  }
  auto gpu = make();
  gpu->load_state_dict(cpu->state_dict());
  gpu->to(kCuda);
  for (const auto& [tname, t] : gpu->state_dict())
    NL_GPU_CHECK(t.device() == kCuda, what, ": ", tname, " stayed on ", t.device().str(), " after to(cuda:0)");
  cpu->train(mode == Mode::Train);
  gpu->train(mode == Mode::Train);

  std::vector<Tensor> xc, xg;
  for (const Tensor& t : inputs) {
    Tensor c = t.detach().clone(), g = t.detach().to(kCuda);
    if (t.requires_grad()) {
      c.requires_grad_(true);
      g.requires_grad_(true);
    }
    xc.push_back(c);
    xg.push_back(g);
  }
  const std::vector<Tensor> yc = run(*cpu, xc);
  std::vector<Tensor> yg;
  try {
    yg = run(*gpu, xg);
  } catch (const std::exception& e) {
    throw Failure(what + ": the CUDA run threw: " + e.what());
  }
  NL_GPU_CHECK(yg.size() == yc.size(), what, ": ", yg.size(), " outputs on CUDA, ", yc.size(), " on the CPU");

  Tensor loss_c, loss_g;
  for (size_t i = 0; i < yc.size(); ++i) {
    const std::string out = what + " output " + std::to_string(i);
    NL_GPU_CHECK(yg[i].device() == kCuda, out, " is on ", yg[i].device().str());
    NL_GPU_CHECK(yg[i].dtype() == yc[i].dtype(), out, " is ", dtype_name(yg[i].dtype()), " on CUDA, ",
                 dtype_name(yc[i].dtype()), " on the CPU");
    expect_close(out, yg[i], yc[i], tol.rtol, tol.atol);
    if (!is_floating(yc[i].dtype()) || !yc[i].requires_grad()) continue;
    Tensor w = random_input(yc[i].shape(), 0xBEEF + i, false);
    Tensor lc = sum(mul(yc[i], w)), lg = sum(mul(yg[i], w.to(kCuda)));
    loss_c = loss_c.defined() ? add(loss_c, lc) : lc;
    loss_g = loss_g.defined() ? add(loss_g, lg) : lg;
  }
  NL_GPU_CHECK(loss_c.defined(), what, ": no output requires grad");
  loss_c.backward();
  loss_g.backward();

  for (size_t i = 0; i < xc.size(); ++i) {
    if (!xc[i].requires_grad()) continue;
    const std::string in = what + " gradient of input " + std::to_string(i);
    NL_GPU_CHECK(xc[i].grad().defined(), in, ": none on the CPU (an unused input?)");
    NL_GPU_CHECK(xg[i].grad().defined(), in, ": none on CUDA");
    NL_GPU_CHECK(xg[i].grad().device() == kCuda, in, " is on ", xg[i].grad().device().str());
    expect_close(in, xg[i].grad(), xc[i].grad(), tol.grad_rtol, tol.grad_atol);
  }
  const auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
  NL_GPU_CHECK(pc.size() == pg.size(), what, ": parameter counts differ");
  for (size_t i = 0; i < pc.size(); ++i) {
    const std::string param = what + " gradient of " + pc[i].first;
    const Tensor gc = pc[i].second.grad(), gg = pg[i].second.grad();
    NL_GPU_CHECK(gc.defined(), param, ": none on the CPU (an unused parameter?)");
    NL_GPU_CHECK(gg.defined(), param, ": none on CUDA");
    NL_GPU_CHECK(gg.device() == kCuda, param, " is on ", gg.device().str());
    expect_close(param, gg, gc, tol.grad_rtol, tol.grad_atol);
  }
}

// A bool mask from 0/1 values.
Tensor bool_mask(const std::vector<float>& v, const Shape& shape) { return gt(tensor(v, shape), 0.5); }

// [L, L], true above the diagonal: each query sees itself and the keys before it.
Tensor causal_mask(int64_t l) {
  std::vector<float> v(l * l);
  for (int64_t i = 0; i < l; ++i)
    for (int64_t j = 0; j < l; ++j) v[i * l + j] = j > i ? 1 : 0;
  return bool_mask(v, {l, l});
}

// [N, S], true on the last `n % 3` keys of sample n: some samples padded, none wholly.
Tensor padding_mask(int64_t n, int64_t s) {
  std::vector<float> v(n * s);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < s; ++j) v[i * s + j] = j >= s - i % 3 ? 1 : 0;
  return bool_mask(v, {n, s});
}

// ---- activations ----

NL_GPU_TEST(activation_layers) {
  struct Case {
    const char* name;
    MakeFn make;
  };
  const std::vector<Case> cases = {
      {"LeakyReLU()", [] { return std::make_shared<nn::LeakyReLU>(); }},
      {"LeakyReLU(0.2)", [] { return std::make_shared<nn::LeakyReLU>(0.2); }},
      {"GELU(none)", [] { return std::make_shared<nn::GELU>(); }},
      {"GELU(tanh)", [] { return std::make_shared<nn::GELU>(GeluApproximation::Tanh); }},
      {"SiLU", [] { return std::make_shared<nn::SiLU>(); }},
      {"Sigmoid", [] { return std::make_shared<nn::Sigmoid>(); }},
  };
  uint64_t seed = 1;
  for (const Case& c : cases)
    for (const Shape& shape : {Shape{4, 8, 6, 6}, Shape{7, 33}}) {
      // Both modes: these layers have none, and must not care.
      for (Mode mode : {Mode::Train, Mode::Eval})
        check_layer(std::string(c.name) + " " + shape.str(), c.make, {random_input(shape, seed, true, -5, 5)},
                    forward_all, mode, kElementwise);
      ++seed;
    }
}

NL_GPU_TEST(softmax_layer) {
  struct Case {
    int64_t dim;
    Shape shape;
  };
  uint64_t seed = 20;
  for (const Case& c : std::vector<Case>{{1, {4, 10, 7}}, {-1, {4, 10, 7}}, {0, {4, 10, 7}}, {1, {6, 12}},
                                         {-1, {3, 2000}}, {1, {2, 5, 3, 3}}}) {
    check_layer("Softmax(" + std::to_string(c.dim) + ") " + c.shape.str(),
                [d = c.dim] { return std::make_shared<nn::Softmax>(d); },
                {random_input(c.shape, seed++, true, -4, 4)}, forward_all, Mode::Train, kElementwise);
  }
}

// ---- convolutions ----

NL_GPU_TEST(conv1d_layer) {
  Tf32Scope tf32(false);
  struct Case {
    const char* name;
    int64_t in, out, k;
    nn::Conv1dOptions opts;
    Shape x;
  };
  const std::vector<Case> cases = {
      {"k3", 4, 6, 3, {}, {2, 4, 17}},
      {"k3 stride 2 padding 1", 4, 6, 3, {.stride = 2, .padding = 1}, {2, 4, 16}},
      {"k3 dilation 2 padding 2", 3, 5, 3, {.padding = 2, .dilation = 2}, {3, 3, 12}},
      {"k5 groups 2", 4, 6, 5, {.padding = 1, .groups = 2}, {2, 4, 11}},
      {"depthwise k3", 6, 6, 3, {.padding = 1, .groups = 6}, {2, 6, 9}},
      {"same padding k3", 4, 4, 3, {.same_padding = true}, {2, 4, 10}},
      {"same padding k4 dilation 2 (uneven)", 4, 5, 4, {.same_padding = true, .dilation = 2}, {2, 4, 13}},
      {"no bias", 4, 6, 3, {.bias = false}, {2, 4, 9}},
      {"pointwise", 16, 8, 1, {}, {3, 16, 20}},
      {"larger", 32, 64, 5, {.padding = 2}, {8, 32, 64}},
  };
  uint64_t seed = 40;
  for (const Case& c : cases) {
    check_layer(std::string("Conv1d ") + c.name,
                [&c] { return std::make_shared<nn::Conv1d>(c.in, c.out, c.k, c.opts); },
                {random_input(c.x, seed++)}, forward_all, Mode::Train, kTight);
  }
  // Weights only: an input that wants no gradient.
  check_layer("Conv1d weight gradients only", [] { return std::make_shared<nn::Conv1d>(4, 6, 3); },
              {random_input({2, 4, 10}, seed, false)}, forward_all, Mode::Eval, kTight);
}

NL_GPU_TEST(conv_transpose2d_layer) {
  Tf32Scope tf32(false);
  struct Case {
    const char* name;
    int64_t in, out;
    std::array<int64_t, 2> k;
    nn::ConvTranspose2dOptions opts;
    Shape x;
  };
  const std::vector<Case> cases = {
      {"k2 stride 2 (upsample)", 4, 6, {2, 2}, {.stride = {2, 2}}, {2, 4, 4, 4}},
      {"k3 stride 2 padding 1 output_padding 1", 4, 6, {3, 3},
       {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}}, {2, 4, 5, 5}},
      {"k3 stride 1", 3, 5, {3, 3}, {}, {2, 3, 6, 6}},
      {"k3 dilation 2 groups 2", 4, 6, {3, 3}, {.dilation = {2, 2}, .groups = 2}, {2, 4, 5, 6}},
      {"k3x2 stride 2x1 padding 1x0 no bias", 3, 4, {3, 2}, {.stride = {2, 1}, .padding = {1, 0}, .bias = false},
       {1, 3, 4, 5}},
      {"k4 stride 2 padding 1 (DCGAN)", 16, 8, {4, 4}, {.stride = {2, 2}, .padding = {1, 1}}, {4, 16, 8, 8}},
  };
  uint64_t seed = 60;
  for (const Case& c : cases) {
    check_layer(std::string("ConvTranspose2d ") + c.name,
                [&c] { return std::make_shared<nn::ConvTranspose2d>(c.in, c.out, c.k, c.opts); },
                {random_input(c.x, seed++)}, forward_all, Mode::Train, kTight);
  }
}

// ---- GroupNorm ----

NL_GPU_TEST(group_norm_layer) {
  struct Case {
    int64_t groups, channels;
    Shape x;
    bool affine;
    double eps;
  };
  const std::vector<Case> cases = {
      {2, 6, {4, 6, 5, 5}, true, 1e-5},   // groups of 3 channels
      {1, 4, {3, 4, 7}, true, 1e-5},      // one group: LayerNorm over [C, L]
      {6, 6, {2, 6, 4, 4}, true, 1e-5},   // a group per channel: InstanceNorm
      {3, 12, {5, 12}, true, 1e-5},       // no spatial dims
      {4, 8, {2, 8, 3, 3}, false, 1e-5},  // no affine parameters
      {2, 4, {3, 4, 6}, true, 0.1},       // a large eps
      {8, 32, {8, 32, 16, 16}, true, 1e-5},
  };
  uint64_t seed = 80;
  for (const Case& c : cases) {
    const std::string name = "GroupNorm(" + std::to_string(c.groups) + ", " + std::to_string(c.channels) +
                             (c.affine ? "" : ", affine=false") + ") eps " + num(c.eps) + " " + c.x.str();
    for (Mode mode : {Mode::Train, Mode::Eval})
      check_layer(name, [&c] { return std::make_shared<nn::GroupNorm>(c.groups, c.channels, c.eps, c.affine); },
                  {random_input(c.x, seed, true, -2, 3)}, forward_all, mode, kDeep);
    ++seed;
  }
}

// ---- attention and the Transformer encoder ----

// attend() on inputs {query, key, value} or {x} (self-attention), then the masks the flags
// name, in that order; both outputs (the result and the head-averaged weights) compared.
LayerFn attention_run(bool self, bool attn_mask, bool key_padding_mask) {
  return [=](nn::Module& m, const std::vector<Tensor>& in) {
    size_t next = self ? 1 : 3;
    nn::AttentionMasks masks;
    if (attn_mask) masks.attn_mask = in[next++];
    if (key_padding_mask) masks.key_padding_mask = in[next++];
    auto& mha = static_cast<nn::MultiheadAttention&>(m);
    nn::AttentionResult r = self ? mha.attend(in[0], in[0], in[0], masks) : mha.attend(in[0], in[1], in[2], masks);
    return std::vector<Tensor>{r.output, r.weights};
  };
}

NL_GPU_TEST(multihead_attention_layer) {
  Tf32Scope tf32(false);
  const int64_t e = 16, l = 5, s = 7, n = 3;
  struct Case {
    const char* name;
    int64_t heads;
    bool bias, batch_first, self, attn_mask, kpm;
    bool float_mask = false;
  };
  const std::vector<Case> cases = {
      {"self, 4 heads", 4, true, false, true, false, false},
      {"self, 1 head, batch_first", 1, true, true, true, false, false},
      {"cross L 5 S 7, 2 heads", 2, true, false, false, false, false},
      {"cross, no bias, batch_first", 4, false, true, false, false, false},
      {"self, causal bool mask", 4, true, false, true, true, false},
      {"cross, float attn_mask and key padding", 4, true, false, false, true, true, true},
      {"self, causal and key padding, batch_first", 2, true, true, true, true, true},
  };
  uint64_t seed = 100;
  for (const Case& c : cases) {
    const int64_t kv_len = c.self ? l : s;
    auto seq = [&](int64_t len, uint64_t sd) {
      return random_input(c.batch_first ? Shape{n, len, e} : Shape{len, n, e}, sd);
    };
    std::vector<Tensor> in = {seq(l, seed)};
    if (!c.self) {
      in.push_back(seq(s, seed + 1));
      in.push_back(seq(s, seed + 2));
    }
    if (c.attn_mask) in.push_back(c.float_mask ? random_input({l, kv_len}, seed + 3, false, -2, 0) : causal_mask(l));
    if (c.kpm) in.push_back(padding_mask(n, kv_len));
    seed += 4;
    // Training with dropout 0, and evaluation with a dropout that must then do nothing.
    for (Mode mode : {Mode::Train, Mode::Eval}) {
      const double p = mode == Mode::Train ? 0.0 : 0.25;
      check_layer(std::string("MultiheadAttention ") + c.name + " dropout " + num(p),
                  [&c, p, e] {
                    return std::make_shared<nn::MultiheadAttention>(
                        e, c.heads, nn::AttentionOptions{.dropout = p, .bias = c.bias, .batch_first = c.batch_first});
                  },
                  in, attention_run(c.self, c.attn_mask, c.kpm), mode, kDeep);
    }
  }
  // The module's own forward: {x} and {query, key, value}.
  const MakeFn make = [e] { return std::make_shared<nn::MultiheadAttention>(e, 4); };
  check_layer("MultiheadAttention forward({x})", make, {random_input({l, n, e}, 130)}, forward_all, Mode::Train, kDeep);
  check_layer("MultiheadAttention forward({q, k, v})", make,
              {random_input({l, n, e}, 131), random_input({s, n, e}, 132), random_input({s, n, e}, 133)}, forward_all,
              Mode::Train, kDeep);
}

// encode() on {src} and the masks the flags name.
LayerFn encoder_run(bool causal, bool key_padding) {
  return [=](nn::Module& m, const std::vector<Tensor>& in) {
    nn::AttentionMasks masks;
    size_t next = 1;
    if (causal) masks.attn_mask = in[next++];
    if (key_padding) masks.key_padding_mask = in[next++];
    if (auto* layer = dynamic_cast<nn::TransformerEncoderLayer*>(&m)) return std::vector<Tensor>{layer->encode(in[0], masks)};
    return std::vector<Tensor>{static_cast<nn::TransformerEncoder&>(m).encode(in[0], masks)};
  };
}

struct EncoderCase {
  const char* name;
  nn::FeedForwardActivation activation;
  bool norm_first, batch_first, causal, kpm;
};

std::vector<Tensor> encoder_inputs(const EncoderCase& c, int64_t l, int64_t n, int64_t d, uint64_t seed) {
  std::vector<Tensor> in = {random_input(c.batch_first ? Shape{n, l, d} : Shape{l, n, d}, seed, true, -2, 2)};
  if (c.causal) in.push_back(causal_mask(l));
  if (c.kpm) in.push_back(padding_mask(n, l));
  return in;
}

NL_GPU_TEST(transformer_encoder_layer) {
  Tf32Scope tf32(false);
  const int64_t d = 16, heads = 4, l = 6, n = 3;
  using Act = nn::FeedForwardActivation;
  const std::vector<EncoderCase> cases = {
      {"ReLU post-norm", Act::ReLU, false, false, false, false},
      {"GELU post-norm", Act::GELU, false, false, false, false},
      {"ReLU pre-norm", Act::ReLU, true, false, false, false},
      {"GELU pre-norm batch_first", Act::GELU, true, true, false, false},
      {"causal mask and key padding", Act::ReLU, false, false, true, true},
      {"pre-norm batch_first key padding", Act::GELU, true, true, false, true},
  };
  uint64_t seed = 150;
  for (const EncoderCase& c : cases) {
    const std::vector<Tensor> in = encoder_inputs(c, l, n, d, seed++);
    for (Mode mode : {Mode::Train, Mode::Eval}) {
      const double p = mode == Mode::Train ? 0.0 : 0.1;
      check_layer(std::string("TransformerEncoderLayer ") + c.name + " dropout " + num(p),
                  [&c, p, d, heads] {
                    return std::make_shared<nn::TransformerEncoderLayer>(
                        d, heads,
                        nn::EncoderLayerOptions{.dim_feedforward = 32, .dropout = p, .activation = c.activation,
                                                .batch_first = c.batch_first, .norm_first = c.norm_first});
                  },
                  in, encoder_run(c.causal, c.kpm), mode, kDeep);
    }
  }
}

NL_GPU_TEST(transformer_encoder) {
  Tf32Scope tf32(false);
  const int64_t d = 16, heads = 2, l = 5, n = 2;
  using Act = nn::FeedForwardActivation;
  struct Case {
    EncoderCase enc;
    int64_t layers;
    bool final_norm;
  };
  const std::vector<Case> cases = {
      {{"2 layers, final norm", Act::ReLU, false, false, false, false}, 2, true},
      {{"3 layers, pre-norm, GELU, batch_first, masks", Act::GELU, true, true, true, true}, 3, true},
      {{"2 layers, no final norm, key padding", Act::GELU, false, false, false, true}, 2, false},
  };
  uint64_t seed = 170;
  for (const Case& c : cases) {
    const std::vector<Tensor> in = encoder_inputs(c.enc, l, n, d, seed++);
    for (Mode mode : {Mode::Train, Mode::Eval}) {
      const double p = mode == Mode::Train ? 0.0 : 0.1;
      check_layer(std::string("TransformerEncoder ") + c.enc.name + " dropout " + num(p),
                  [&c, p, d, heads] {
                    return std::make_shared<nn::TransformerEncoder>(
                        d, heads, c.layers,
                        nn::EncoderLayerOptions{.dim_feedforward = 24, .dropout = p, .activation = c.enc.activation,
                                                .batch_first = c.enc.batch_first, .norm_first = c.enc.norm_first},
                        c.final_norm);
                  },
                  in, encoder_run(c.enc.causal, c.enc.kpm), mode, kDeep);
    }
  }
}

// ---- LSTM and GRU ----

// run() on {x} or {x, h0} or {x, h0, c0}; every output compared: the sequence, h_n, c_n.
std::vector<Tensor> rnn_run(nn::Module& m, const std::vector<Tensor>& in) {
  nn::RnnResult r = static_cast<nn::RecurrentBase&>(m).run(in[0], in.size() > 1 ? in[1] : Tensor(),
                                                            in.size() > 2 ? in[2] : Tensor());
  std::vector<Tensor> out = {r.output, r.h_n};
  if (r.c_n.defined()) out.push_back(r.c_n);
  return out;
}

struct RnnCase {
  const char* name;
  int64_t layers;
  bool bidirectional, batch_first, bias, initial_state;
};

const std::vector<RnnCase>& rnn_cases() {
  static const std::vector<RnnCase> cases = {
      {"1 layer", 1, false, false, true, false},
      {"2 layers", 2, false, false, true, false},
      {"bidirectional", 1, true, false, true, false},
      {"2 layers bidirectional", 2, true, false, true, false},
      {"2 layers bidirectional batch_first, h0 (c0)", 2, true, true, true, true},
      {"3 layers no bias, h0 (c0)", 3, false, false, false, true},
  };
  return cases;
}

template <class Rnn>
void check_recurrent(const std::string& type, bool lstm, uint64_t seed) {
  Tf32Scope tf32(false);
  const int64_t in_size = 5, hidden = 12, t = 6, n = 3;
  for (const RnnCase& c : rnn_cases()) {
    const int64_t dirs = c.bidirectional ? 2 : 1;
    std::vector<Tensor> in = {random_input(c.batch_first ? Shape{n, t, in_size} : Shape{t, n, in_size}, seed, true, -2, 2)};
    if (c.initial_state) {
      in.push_back(random_input({c.layers * dirs, n, hidden}, seed + 1));
      if (lstm) in.push_back(random_input({c.layers * dirs, n, hidden}, seed + 2));
    }
    seed += 3;
    // Training with dropout 0 between layers, and evaluation with a dropout that must then do nothing.
    for (Mode mode : {Mode::Train, Mode::Eval}) {
      const double p = mode == Mode::Train || c.layers == 1 ? 0.0 : 0.3;
      check_layer(type + " " + c.name + " dropout " + num(p),
                  [&c, p, in_size, hidden] {
                    return std::make_shared<Rnn>(in_size, hidden,
                                                 nn::RnnOptions{.num_layers = c.layers, .bias = c.bias,
                                                                .batch_first = c.batch_first,
                                                                .bidirectional = c.bidirectional, .dropout = p});
                  },
                  in, rnn_run, mode, kDeep);
    }
  }
  // forward(x): the sequence output only, a longer sequence and batch.
  check_layer(type + " forward, T 20 N 8", [] { return std::make_shared<Rnn>(8, 16); },
              {random_input({20, 8, 8}, seed)}, forward_all, Mode::Train, kDeep);
}

NL_GPU_TEST(lstm_layer) { check_recurrent<nn::LSTM>("LSTM", true, 200); }

NL_GPU_TEST(gru_layer) { check_recurrent<nn::GRU>("GRU", false, 300); }

// ---- Add and Concat ----

NL_GPU_TEST(add_and_concat_layers) {
  const MakeFn add = [] { return std::make_shared<nn::Add>(); };
  check_layer("Add two", add, {random_input({4, 8, 5, 5}, 400), random_input({4, 8, 5, 5}, 401)}, forward_all,
              Mode::Train, kElementwise);
  // Broadcast inputs get gradients summed back to their shapes.
  check_layer("Add three, broadcasting", add,
              {random_input({4, 8, 5, 5}, 402), random_input({8, 1, 1}, 403), random_input({1, 5}, 404)}, forward_all,
              Mode::Train, kElementwise);
  check_layer("Add, one input without grad", add, {random_input({6, 10}, 405, false), random_input({6, 10}, 406)},
              forward_all, Mode::Eval, kElementwise);

  struct Case {
    int64_t dim;
    std::vector<Shape> shapes;
  };
  const std::vector<Case> cases = {
      {1, {{2, 3, 4, 4}, {2, 5, 4, 4}}},        // skip connection on channels
      {-1, {{3, 4, 2}, {3, 4, 5}, {3, 4, 1}}},  // three inputs, last dim
      {0, {{2, 6}, {5, 6}}},
      {1, {{2, 3, 4, 4}, {2, 0, 4, 4}, {2, 2, 4, 4}}},  // an empty input
  };
  uint64_t seed = 410;
  for (const Case& c : cases) {
    std::vector<Tensor> in;
    std::string name = "Concat(" + std::to_string(c.dim) + ")";
    for (const Shape& s : c.shapes) {
      in.push_back(random_input(s, seed++));
      name += " " + s.str();
    }
    check_layer(name, [d = c.dim] { return std::make_shared<nn::Concat>(d); }, in, forward_all, Mode::Train,
                kElementwise);
  }
  check_layer("Concat, one input without grad", [] { return std::make_shared<nn::Concat>(1); },
              {random_input({2, 3, 4}, 420), random_input({2, 2, 4}, 421, false)}, forward_all, Mode::Train,
              kElementwise);
}

// ---- matmul layers with TF32 on ----

// The GPU's default: the matmul- and conv-based layers again with TF32 tensor cores.
NL_GPU_TEST(matmul_layers_tf32_on) {
  Tf32Scope tf32(true);
  check_layer("MultiheadAttention TF32", [] { return std::make_shared<nn::MultiheadAttention>(32, 4); },
              {random_input({8, 4, 32}, 500)}, attention_run(true, false, false), Mode::Train, kTf32);
  // GELU, not ReLU: TF32 rounding could flip a ReLU's mask near 0 and move a gradient by a
  // whole term, beyond any fair tolerance.
  check_layer("TransformerEncoderLayer GELU TF32",
              [] {
                return std::make_shared<nn::TransformerEncoderLayer>(
                    32, 4, nn::EncoderLayerOptions{.dim_feedforward = 64, .dropout = 0.1,
                                                   .activation = nn::FeedForwardActivation::GELU});
              },
              {random_input({8, 4, 32}, 501)}, encoder_run(false, false), Mode::Eval, kTf32);
  check_layer("LSTM 2 layers bidirectional TF32",
              [] { return std::make_shared<nn::LSTM>(8, 16, nn::RnnOptions{.num_layers = 2, .bidirectional = true}); },
              {random_input({10, 4, 8}, 502)}, rnn_run, Mode::Train, kTf32);
  check_layer("GRU 2 layers TF32", [] { return std::make_shared<nn::GRU>(8, 16, nn::RnnOptions{.num_layers = 2}); },
              {random_input({10, 4, 8}, 503)}, rnn_run, Mode::Train, kTf32);
  check_layer("Conv1d TF32", [] { return std::make_shared<nn::Conv1d>(16, 32, 5, nn::Conv1dOptions{.padding = 2}); },
              {random_input({4, 16, 40}, 504)}, forward_all, Mode::Train, kTf32);
  check_layer("ConvTranspose2d TF32",
              [] {
                return std::make_shared<nn::ConvTranspose2d>(
                    16, 8, 4, nn::ConvTranspose2dOptions{.stride = {2, 2}, .padding = {1, 1}});
              },
              {random_input({4, 16, 8, 8}, 505)}, forward_all, Mode::Train, kTf32);
}

}  // namespace
}  // namespace nl
