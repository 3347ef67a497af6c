// Layer schemas of the sequence layers: recurrent (LSTM, GRU) and attention
// (MultiheadAttention, TransformerEncoderLayer). Their feature sizes come from the input
// (Note [Inferred sizes]).
#include <memory>

#include "engine/graph/layer_registry.h"
#include "engine/nn/attention.h"
#include "engine/nn/rnn.h"
#include "engine/ops/movement.h"

namespace nl::graph {

namespace {

PortSpec float_port(std::string name, bool optional = false, std::string help = {}) {
  return {std::move(name), PortType::Float, optional, false, std::move(help)};
}

// The fixed fields of a schema with one output; the caller sets infer, cost and build.
LayerSchema schema(std::string type, std::string category, std::string help, std::vector<PortSpec> inputs,
                   std::vector<AttrSpec> attrs) {
  return make_schema(std::move(type), std::move(category), std::move(help), std::move(inputs), std::move(attrs),
                     float_port("output"));
}

// A rank-3 float sequence; `what` names the expected layout for the message.
const TensorInfo& sequence_input(const LayerContext& ctx, size_t i, const std::string& type, const char* what) {
  const TensorInfo& x = ctx.input_of_rank(i, 3, what);
  if (!is_floating(x.dtype))
    ctx.fail(type + ": expects a float sequence, got " + dtype_name(x.dtype) + " " + shape_to_string(x.shape),
             static_cast<int>(i));
  return x;
}

// Lengths that are not known yet count as one step, like the symbolic batch in LayerCost.
int64_t steps(const Dim& d) { return d.is_known() ? d.size : 1; }

// ---- LSTM and GRU --------------------------------------------------------------------

// What LSTM and GRU differ in: the number of gate blocks in their weights.
struct RecurrentKind {
  const char* type;
  int64_t gates;
  const char* help;
};

nn::RnnOptions rnn_options(const LayerContext& ctx) {
  return {.num_layers = ctx.integer("num_layers"),
          .bias = ctx.boolean("bias"),
          .batch_first = ctx.boolean("batch_first"),
          .bidirectional = ctx.boolean("bidirectional"),
          .dropout = ctx.real("dropout")};
}

LayerSchema recurrent(const RecurrentKind& kind) {
  LayerSchema s =
      schema(kind.type, "Recurrent", kind.help, {float_port("input")},
             {
                 AttrSpec::integer("hidden_size", 64, 1, 1 << 16, "Size of the hidden state (features out)"),
                 AttrSpec::integer("num_layers", 1, 1, 64, "Recurrent layers stacked on each other"),
                 AttrSpec::boolean("bias", true, "Learn bias vectors"),
                 AttrSpec::boolean("batch_first", true, "Input is N×T×F (else T×N×F)"),
                 AttrSpec::real("dropout", 0.0, 0.0, 1.0, "Dropout between stacked layers, in training"),
                 AttrSpec::boolean("bidirectional", false, "Also read the sequence backwards; doubles the features"),
                 AttrSpec::boolean("return_sequences", true,
                                   "Output every time step; off: only the final state (N×H), for a classifier"),
             });
  std::string type = kind.type;
  s.infer = [type](LayerContext& ctx) {
    bool batch_first = ctx.boolean("batch_first");
    const TensorInfo& x = sequence_input(ctx, 0, type, batch_first ? "N×T×F" : "T×N×F");
    ctx.known_dim(0, 2);  // input_size: the weights cannot be built without it
    Dim features = Dim::known(ctx.integer("hidden_size") * (ctx.boolean("bidirectional") ? 2 : 1));
    const Dim& batch = x.shape[batch_first ? 0 : 1];
    if (ctx.real("dropout") > 0 && ctx.integer("num_layers") == 1)
      ctx.warn(type + ": dropout only acts between stacked layers, so it does nothing with num_layers = 1");
    TensorInfo out{x.dtype, ctx.boolean("return_sequences") ? SymShape{x.shape[0], x.shape[1], features}
                                                            : SymShape{batch, features}};
    ctx.outputs = {out};
  };
  int64_t gates = kind.gates;
  s.cost = [gates](const LayerContext& ctx) {
    const TensorInfo& x = ctx.input(0);
    int64_t h = ctx.integer("hidden_size"), layers = ctx.integer("num_layers");
    int64_t directions = ctx.boolean("bidirectional") ? 2 : 1;
    int64_t time = steps(x.shape[ctx.boolean("batch_first") ? 1 : 0]);
    LayerCost c;
    for (int64_t l = 0; l < layers; ++l) {
      int64_t in = l == 0 ? x.shape[2].size : h * directions;
      c.params += directions * gates * h * (in + h + (ctx.boolean("bias") ? 2 : 0));
      // Per step: the input and hidden products of every gate, as multiply-adds.
      c.flops += directions * time * 2 * gates * (in + h) * h;
    }
    return c;
  };
  s.build = [gates](const LayerContext& ctx) {
    int64_t in = ctx.known_dim(0, 2), h = ctx.integer("hidden_size");
    std::shared_ptr<nn::RecurrentBase> rnn;
    if (gates == 4)
      rnn = std::make_shared<nn::LSTM>(in, h, rnn_options(ctx));
    else
      rnn = std::make_shared<nn::GRU>(in, h, rnn_options(ctx));
    Runnable run;
    run.module = rnn;
    bool sequences = ctx.boolean("return_sequences");
    run.forward = [rnn, sequences](const std::vector<Tensor>& inputs) {
      nn::RnnResult r = rnn->run(inputs.at(0));
      if (sequences) return std::vector<Tensor>{r.output};
      // The top layer's final state: for the reverse direction that is after reading the
      // whole sequence backwards, which output[:, -1] would not give.
      int64_t directions = rnn->options.bidirectional ? 2 : 1, top = r.h_n.size(0) - directions;
      std::vector<Tensor> finals;
      for (int64_t d = 0; d < directions; ++d) finals.push_back(r.h_n.select(0, top + d));
      return std::vector<Tensor>{directions == 1 ? finals[0] : cat(finals, 1)};
    };
    return run;
  };
  return s;
}

// ---- Attention ------------------------------------------------------------------------

// Reads embed_dim from a sequence's last axis and checks it splits into `heads` heads.
int64_t embed_dim(const LayerContext& ctx, const std::string& type, const char* heads_attr) {
  int64_t e = ctx.known_dim(0, 2), heads = ctx.integer(heads_attr);
  if (heads < 1 || e % heads != 0)
    ctx.fail(type + ": embed_dim " + std::to_string(e) + " is not divisible by " + heads_attr + " " +
             std::to_string(heads));
  return e;
}

// Parameters of one MultiheadAttention: the stacked q/k/v projection and the output projection.
int64_t attention_params(int64_t e, bool bias) { return 4 * e * e + (bias ? 4 * e : 0); }

// Projections of L queries and S keys/values, the L×S scores and their weighted sum of values.
int64_t attention_flops(int64_t e, int64_t l, int64_t s) { return 2 * e * e * (2 * l + 2 * s) + 2 * 2 * l * s * e; }

bool dims_conflict(const Dim& a, const Dim& b) { return a.is_known() && b.is_known() && a.size != b.size; }

// Key and value, when connected, must agree with the query on batch and embed_dim, and with
// each other on length.
void check_key_value(const LayerContext& ctx, const char* layout) {
  const TensorInfo& q = ctx.input(0);
  bool batch_first = ctx.boolean("batch_first");
  int b = batch_first ? 0 : 1;
  const TensorInfo* source = &q;  // what the keys are taken from
  for (size_t i : {1, 2}) {
    if (!ctx.has_input(i)) continue;
    const char* name = i == 1 ? "key" : "value";
    const TensorInfo& t = sequence_input(ctx, i, "MultiheadAttention", layout);
    if (dims_conflict(t.shape[2], q.shape[2]))
      ctx.fail("MultiheadAttention: " + std::string(name) + " " + shape_to_string(t.shape) + " has " +
                   std::to_string(t.shape[2].size) + " features but the query has " + std::to_string(q.shape[2].size),
               static_cast<int>(i));
    if (dims_conflict(t.shape[b], q.shape[b]))
      ctx.fail("MultiheadAttention: " + std::string(name) + " " + shape_to_string(t.shape) + " and query " +
                   shape_to_string(q.shape) + " differ in batch size",
               static_cast<int>(i));
    if (i == 2 && dims_conflict(t.shape[1 - b], source->shape[1 - b]))
      ctx.fail("MultiheadAttention: value " + shape_to_string(t.shape) + " and " +
                   (source == &q ? "query " : "key ") + shape_to_string(source->shape) + " differ in length",
               2);
    source = &t;
  }
}

LayerSchema multihead_attention() {
  LayerSchema s = schema("MultiheadAttention", "Attention",
                         "Each position of the query sequence (N×L×E) gathers information from the key/value sequence, "
                         "in several heads. Leave key and value unconnected for self-attention.",
                         {float_port("query"), float_port("key", true, "Default: the query"),
                          float_port("value", true, "Default: the key")},
                         {AttrSpec::integer("num_heads", 4, 1, 1024, "Parallel attention heads; must divide embed_dim"),
                          AttrSpec::real("dropout", 0.0, 0.0, 1.0, "Dropout on the attention weights, in training"),
                          AttrSpec::boolean("bias", true, "Learn biases in the projections"),
                          AttrSpec::boolean("batch_first", true, "Inputs are N×L×E (else L×N×E)")});
  s.infer = [](LayerContext& ctx) {
    const char* layout = ctx.boolean("batch_first") ? "N×L×E" : "L×N×E";
    const TensorInfo& q = sequence_input(ctx, 0, "MultiheadAttention", layout);
    embed_dim(ctx, "MultiheadAttention", "num_heads");
    check_key_value(ctx, layout);
    ctx.outputs = {q};
  };
  s.cost = [](const LayerContext& ctx) {
    int64_t e = ctx.input(0).shape[2].size, t = ctx.boolean("batch_first") ? 1 : 0;
    const TensorInfo& keys = ctx.has_input(1) ? ctx.input(1) : ctx.input(0);
    return LayerCost{.params = attention_params(e, ctx.boolean("bias")),
                     .flops = attention_flops(e, steps(ctx.input(0).shape[t]), steps(keys.shape[t]))};
  };
  s.build = [](const LayerContext& ctx) {
    auto attn = std::make_shared<nn::MultiheadAttention>(
        embed_dim(ctx, "MultiheadAttention", "num_heads"), ctx.integer("num_heads"),
        nn::AttentionOptions{
            .dropout = ctx.real("dropout"), .bias = ctx.boolean("bias"), .batch_first = ctx.boolean("batch_first")});
    Runnable run;
    run.module = attn;
    // An unconnected optional input arrives undefined or not at all.
    run.forward = [attn](const std::vector<Tensor>& in) {
      auto given = [&](size_t i) { return i < in.size() && in[i].defined(); };
      Tensor key = given(1) ? in[1] : in[0];
      Tensor value = given(2) ? in[2] : key;
      return std::vector<Tensor>{attn->attend(in[0], key, value).output};
    };
    return run;
  };
  return s;
}

nn::EncoderLayerOptions encoder_options(const LayerContext& ctx) {
  return {.dim_feedforward = ctx.integer("dim_feedforward"),
          .dropout = ctx.real("dropout"),
          .activation =
              ctx.text("activation") == "gelu" ? nn::FeedForwardActivation::GELU : nn::FeedForwardActivation::ReLU,
          .layer_norm_eps = ctx.real("layer_norm_eps"),
          .batch_first = ctx.boolean("batch_first"),
          .norm_first = ctx.boolean("norm_first")};
}

LayerSchema transformer_encoder_layer() {
  LayerSchema s =
      schema("TransformerEncoderLayer", "Attention",
             "One Transformer encoder block on a sequence N×L×E: self-attention, then a two-layer feed-forward "
             "network, each with a residual connection and LayerNorm. The output has the input's shape.",
             {float_port("input")},
             {AttrSpec::integer("nhead", 4, 1, 1024, "Attention heads; must divide the input's features"),
              AttrSpec::integer("dim_feedforward", 2048, 1, 1 << 20, "Hidden size of the feed-forward network"),
              AttrSpec::real("dropout", 0.1, 0.0, 1.0, "Dropout in attention and feed-forward, in training"),
              AttrSpec::choice("activation", "relu", {"relu", "gelu"}, "Activation of the feed-forward network"),
              AttrSpec::real("layer_norm_eps", 1e-5, 0.0, 1.0, "Added to the variance in LayerNorm"),
              AttrSpec::boolean("batch_first", true, "Input is N×L×E (else L×N×E)"),
              AttrSpec::boolean("norm_first", false, "Pre-norm: LayerNorm before each block, not after")});
  s.infer = [](LayerContext& ctx) {
    const TensorInfo& x =
        sequence_input(ctx, 0, "TransformerEncoderLayer", ctx.boolean("batch_first") ? "N×L×E" : "L×N×E");
    embed_dim(ctx, "TransformerEncoderLayer", "nhead");
    ctx.outputs = {x};
  };
  s.cost = [](const LayerContext& ctx) {
    const TensorInfo& x = ctx.input(0);
    int64_t e = x.shape[2].size, f = ctx.integer("dim_feedforward");
    int64_t l = steps(x.shape[ctx.boolean("batch_first") ? 1 : 0]);
    LayerCost c;
    c.params = attention_params(e, true) + (e * f + f) + (f * e + e) + 2 * (2 * e);  // + linear1, linear2, 2 norms
    c.flops = attention_flops(e, l, l) + l * 2 * 2 * e * f;
    return c;
  };
  s.build = [](const LayerContext& ctx) {
    return Runnable::of(std::make_shared<nn::TransformerEncoderLayer>(
        embed_dim(ctx, "TransformerEncoderLayer", "nhead"), ctx.integer("nhead"), encoder_options(ctx)));
  };
  return s;
}

}  // namespace

void register_sequence_layers(LayerRegistry& r) {
  r.add(recurrent({"LSTM", 4,
                   "Long short-term memory: reads a sequence N×T×F step by step, keeping a memory of what came "
                   "before. Output N×T×H, or N×H (the last state) with return_sequences off."}));
  r.add(recurrent({"GRU", 3,
                   "Gated recurrent unit: a lighter LSTM that reads a sequence N×T×F step by step. Output N×T×H, "
                   "or N×H (the last state) with return_sequences off."}));
  r.add(multihead_attention());
  r.add(transformer_encoder_layer());
}

}  // namespace nl::graph
