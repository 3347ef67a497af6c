// Layer schemas of the activation, sequence and shape/merge groups: shape inference on
// symbolic batches against what the built layers compute, costs, values and error messages.
#include <QtTest/QtTest>

#include "engine/nn/rnn.h"
#include "layer_testing.h"
#include "testing.h"

using namespace nl;
using namespace nl::graph;
using nl::testing::check_layer;
using nl::testing::float_input;
using nl::testing::inference_error;

namespace {

using Ints = std::vector<int64_t>;

std::string shape_of(const nl::testing::LayerCheck& c, size_t output = 0) {
  return output < c.outputs.size() ? shape_to_string(c.outputs[output].shape) : "(no output)";
}

TensorInfo info(const Ints& dims) { return TensorInfo{DType::Float32, shape_from_ints(dims)}; }

// QVERIFY that `message` contains `part`, showing both when it does not.
#define EXPECT_MESSAGE(message, part)                                                      \
  do {                                                                                     \
    std::string m_ = (message);                                                            \
    QVERIFY2(m_.find(part) != std::string::npos, ("message was: \"" + m_ + "\"").c_str()); \
  } while (0)

// Infers a node whose optional inputs may be unconnected (nullptr).
std::vector<TensorInfo> infer_with(const std::string& type, const AttrMap& attrs,
                                   std::vector<const TensorInfo*> inputs) {
  const LayerSchema& schema = LayerRegistry::builtin().get(type);
  LayerContext ctx(schema, attrs, std::move(inputs));
  schema.infer(ctx);
  return ctx.outputs;
}

const std::vector<std::pair<std::string, std::string>> kLayers = {
    {"ReLU", "Activation"},
    {"ReLU6", "Activation"},
    {"LeakyReLU", "Activation"},
    {"GELU", "Activation"},
    {"SiLU", "Activation"},
    {"Sigmoid", "Activation"},
    {"Tanh", "Activation"},
    {"Softmax", "Activation"},
    {"LSTM", "Recurrent"},
    {"GRU", "Recurrent"},
    {"MultiheadAttention", "Attention"},
    {"TransformerEncoderLayer", "Attention"},
    {"Flatten", "Shape"},
    {"Reshape", "Shape"},
    {"Permute", "Shape"},
    {"Slice", "Shape"},
    {"Split", "Shape"},
    {"Identity", "Shape"},
    {"Concat", "Merge"},
    {"Add", "Merge"},
    {"Mul", "Merge"},
};

}  // namespace

class TestLayersMore : public QObject {
  Q_OBJECT

 private slots:
  void schemasAreComplete() {
    for (const auto& [type, category] : kLayers) {
      const LayerSchema* s = LayerRegistry::builtin().find(type);
      QVERIFY2(s, type.c_str());
      QCOMPARE(s->category, category);
      QVERIFY2(!s->help.empty() && s->cost, type.c_str());
      QVERIFY2(!s->inputs.empty() && !s->outputs.empty(), type.c_str());
      for (const auto& p : s->inputs) QVERIFY2(!p.name.empty(), type.c_str());
      for (const auto& p : s->outputs) QVERIFY2(!p.name.empty(), type.c_str());
      for (const auto& a : s->attrs) QVERIFY2(a.check(a.default_value).empty(), (type + "." + a.name).c_str());
    }
    QVERIFY(LayerRegistry::builtin().get("Add").inputs[0].variadic);
    QVERIFY(LayerRegistry::builtin().get("Concat").inputs[0].variadic);
    const auto& mha = LayerRegistry::builtin().get("MultiheadAttention");
    QCOMPARE(mha.inputs.size(), size_t(3));
    QVERIFY(!mha.inputs[0].optional && mha.inputs[1].optional && mha.inputs[2].optional);
  }

  // ---- Activations ----------------------------------------------------------------------

  void activationsKeepTheShape() {
    for (const char* type : {"ReLU", "ReLU6", "LeakyReLU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softmax"}) {
      for (const Ints& dims : {Ints{-1, 8}, Ints{-1, 3, 4, 5}}) {
        auto c = check_layer(type, {}, {float_input(dims)});
        QCOMPARE(shape_of(c), shape_to_string(shape_from_ints(dims)));
        QCOMPARE(c.cost.params, int64_t(0));
        QVERIFY2(c.cost.flops >= numel_per_sample(shape_from_ints(dims)), type);
      }
      TensorInfo indices{DType::Int64, shape_from_ints({-1, 8})};
      EXPECT_MESSAGE(inference_error(type, {}, {indices}), "expects a float tensor, got int64");
    }
  }

  void activationValues() {
    auto in = float_input({-1, 4, 5});
    Tensor x = in.value * 5.0;  // reach past 6 and below 0
    in.value = x;
    NL_EXPECT_CLOSE(check_layer("ReLU6", {}, {in}).values[0], clamp(x, 0.0, 6.0), 0, 0);
    QVERIFY(amax(check_layer("ReLU6", {}, {in}).values[0]).item() <= 6.0);
    QVERIFY(amax(x).item() > 6.0 && amin(x).item() < 0);  // the clamp was exercised
    NL_EXPECT_CLOSE(check_layer("LeakyReLU", {{"negative_slope", 0.2}}, {in}).values[0], leaky_relu(x, 0.2), 1e-6,
                    1e-6);
    NL_EXPECT_CLOSE(check_layer("GELU", {{"approximate", std::string("tanh")}}, {in}).values[0],
                    gelu(x, GeluApproximation::Tanh), 1e-6, 1e-6);
    NL_EXPECT_CLOSE(check_layer("Softmax", {{"dim", int64_t{1}}}, {in}).values[0], softmax(x, 1), 1e-6, 1e-6);
    Tensor rows = sum(check_layer("Softmax", {}, {in}).values[0], {-1});
    NL_EXPECT_CLOSE(rows, ones(rows.shape()), 1e-5, 1e-5);
  }

  void softmaxDim() {
    EXPECT_MESSAGE(inference_error("Softmax", {{"dim", int64_t{2}}}, {info({-1, 10})}),
                   "Softmax: dim 2 is out of range for input N×10 (rank 2)");
    QCOMPARE(inference_error("Softmax", {{"dim", int64_t{-2}}}, {info({-1, 10})}), std::string());
    const LayerSchema& s = LayerRegistry::builtin().get("Softmax");
    TensorInfo x = info({-1, 10});
    LayerContext ctx(s, {{"dim", int64_t{0}}}, {&x});
    s.infer(ctx);
    QCOMPARE(ctx.warnings().size(), size_t(1));  // probabilities across the batch
  }

  // ---- Recurrent --------------------------------------------------------------------------

  void recurrentShapes() {
    for (const char* type : {"LSTM", "GRU"}) {
      auto seq = check_layer(type, {}, {float_input({-1, 5, 6})});
      QCOMPARE(shape_of(seq), std::string("N×5×64"));
      auto last =
          check_layer(type, {{"hidden_size", int64_t{16}}, {"return_sequences", false}}, {float_input({-1, 5, 6})});
      QCOMPARE(shape_of(last), std::string("N×16"));
      auto stacked =
          check_layer(type, {{"hidden_size", int64_t{16}}, {"num_layers", int64_t{2}}}, {float_input({-1, 5, 6})});
      QCOMPARE(shape_of(stacked), std::string("N×5×16"));
      auto bi = check_layer(type,
                            {{"hidden_size", int64_t{8}},
                             {"num_layers", int64_t{2}},
                             {"bidirectional", true},
                             {"return_sequences", false}},
                            {float_input({-1, 5, 6})});
      QCOMPARE(shape_of(bi), std::string("N×16"));
      auto time_first =
          check_layer(type, {{"hidden_size", int64_t{8}}, {"batch_first", false}}, {float_input({7, -1, 6})});
      QCOMPARE(shape_of(time_first), std::string("7×N×8"));
      auto time_first_last =
          check_layer(type, {{"hidden_size", int64_t{8}}, {"batch_first", false}, {"return_sequences", false}},
                      {float_input({7, -1, 6})});
      QCOMPARE(shape_of(time_first_last), std::string("N×8"));
      auto no_bias = check_layer(type, {{"hidden_size", int64_t{8}}, {"bias", false}}, {float_input({-1, 5, 6})});
      QVERIFY(no_bias.cost.params <
              check_layer(type, {{"hidden_size", int64_t{8}}}, {float_input({-1, 5, 6})}).cost.params);

      EXPECT_MESSAGE(inference_error(type, {}, {info({-1, 6})}), "rank-3");
      TensorInfo unknown_features{DType::Float32, {Dim::symbolic("N"), Dim::known(5), Dim::symbolic()}};
      EXPECT_MESSAGE(inference_error(type, {}, {unknown_features}), "must be known");
    }
  }

  void lstmCostAndLastStep() {
    // Per time step and layer: 4 gates of (F + H)·H multiply-adds.
    auto c = check_layer("LSTM", {{"hidden_size", int64_t{16}}}, {float_input({-1, 5, 6})});
    QCOMPARE(c.cost.flops, int64_t(5 * 2 * 4 * (6 + 16) * 16));
    QCOMPARE(c.cost.params, int64_t(4 * 16 * (6 + 16 + 2)));

    // return_sequences off gives the last step of the full sequence.
    const LayerSchema& s = LayerRegistry::builtin().get("LSTM");
    auto in = float_input({-1, 5, 6});
    LayerContext ctx(s, {{"hidden_size", int64_t{8}}, {"return_sequences", false}}, {&in.info});
    s.infer(ctx);
    Runnable r = s.build(ctx);
    Tensor last = r.forward({in.value})[0];
    auto rnn = std::dynamic_pointer_cast<nn::RecurrentBase>(r.module);
    QVERIFY(rnn);
    NL_EXPECT_CLOSE(last, rnn->run(in.value).output.select(1, -1), 1e-6, 1e-6);
  }

  // ---- Attention --------------------------------------------------------------------------

  void multiheadAttention() {
    auto self = check_layer("MultiheadAttention", {}, {float_input({-1, 10, 32})});
    QCOMPARE(shape_of(self), std::string("N×10×32"));
    QCOMPARE(self.cost.params, int64_t(4 * 32 * 32 + 4 * 32));
    // Projections of 10 queries and 10 keys/values, then QKᵀ and AV.
    QCOMPARE(self.cost.flops, int64_t(2 * 32 * 32 * 40 + 2 * 2 * 10 * 10 * 32));
    auto cross =
        check_layer("MultiheadAttention", {{"num_heads", int64_t{8}}},
                    {float_input({-1, 10, 32}), float_input({-1, 7, 32}, 3, 2), float_input({-1, 7, 32}, 3, 3)});
    QCOMPARE(shape_of(cross), std::string("N×10×32"));
    auto seq_first =
        check_layer("MultiheadAttention", {{"batch_first", false}, {"bias", false}}, {float_input({10, -1, 16})});
    QCOMPARE(shape_of(seq_first), std::string("10×N×16"));
    QCOMPARE(seq_first.cost.params, int64_t(4 * 16 * 16));

    // Unconnected key and value mean self-attention.
    const LayerSchema& s = LayerRegistry::builtin().get("MultiheadAttention");
    auto q = float_input({-1, 6, 16});
    LayerContext ctx(s, {}, {&q.info, nullptr, nullptr});
    s.infer(ctx);
    Runnable r = s.build(ctx);
    NL_EXPECT_CLOSE(r.forward({q.value})[0], r.forward({q.value, q.value, q.value})[0], 1e-6, 1e-6);
    NL_EXPECT_CLOSE(r.forward({q.value, Tensor(), Tensor()})[0], r.forward({q.value})[0], 0, 0);
    // A value without a key attends over the query's positions: lengths must agree.
    TensorInfo query = info({-1, 6, 16}), value = info({-1, 6, 16}), short_value = info({-1, 5, 16});
    QCOMPARE(shape_to_string(infer_with("MultiheadAttention", {}, {&query, nullptr, &value})[0].shape),
             std::string("N×6×16"));
    bool failed = false;
    try {
      infer_with("MultiheadAttention", {}, {&query, nullptr, &short_value});
    } catch (const LayerError& e) {
      failed = true;
      EXPECT_MESSAGE(e.message, "value N×5×16 and query N×6×16 differ in length");
      QCOMPARE(e.input_port, 2);
    }
    QVERIFY(failed);
  }

  void attentionErrors() {
    EXPECT_MESSAGE(inference_error("MultiheadAttention", {}, {info({-1, 10, 30})}),
                   "MultiheadAttention: embed_dim 30 is not divisible by num_heads 4");
    EXPECT_MESSAGE(inference_error("MultiheadAttention", {}, {info({-1, 10, 32}), info({-1, 7, 16})}),
                   "key N×7×16 has 16 features but the query has 32");
    EXPECT_MESSAGE(inference_error("MultiheadAttention", {}, {info({5, 10, 32}), info({4, 7, 32})}),
                   "differ in batch size");
    EXPECT_MESSAGE(inference_error("MultiheadAttention", {}, {info({-1, 32})}), "rank-3");
    EXPECT_MESSAGE(inference_error("TransformerEncoderLayer", {}, {info({-1, 10, 30})}),
                   "TransformerEncoderLayer: embed_dim 30 is not divisible by nhead 4");
    EXPECT_MESSAGE(inference_error("TransformerEncoderLayer", {}, {info({-1, 30})}), "rank-3");
  }

  void transformerEncoderLayer() {
    auto post = check_layer("TransformerEncoderLayer", {{"dim_feedforward", int64_t{64}}}, {float_input({-1, 10, 32})});
    QCOMPARE(shape_of(post), std::string("N×10×32"));
    auto pre = check_layer("TransformerEncoderLayer",
                           {{"nhead", int64_t{8}},
                            {"dim_feedforward", int64_t{48}},
                            {"norm_first", true},
                            {"activation", std::string("gelu")},
                            {"dropout", 0.0}},
                           {float_input({-1, 7, 16})});
    QCOMPARE(shape_of(pre), std::string("N×7×16"));
    auto seq_first = check_layer("TransformerEncoderLayer", {{"batch_first", false}, {"dim_feedforward", int64_t{32}}},
                                 {float_input({5, -1, 16})});
    QCOMPARE(shape_of(seq_first), std::string("5×N×16"));
    QVERIFY(post.cost.flops > 0);
  }

  // ---- Shape --------------------------------------------------------------------------------

  void flatten() {
    QCOMPARE(shape_of(check_layer("Flatten", {}, {float_input({-1, 4, 5, 6})})), std::string("N×120"));
    QCOMPARE(shape_of(check_layer("Flatten", {{"start_dim", int64_t{2}}}, {float_input({-1, 4, 5, 6})})),
             std::string("N×4×30"));
    QCOMPARE(shape_of(check_layer("Flatten", {{"start_dim", int64_t{0}}, {"end_dim", int64_t{1}}},
                                  {float_input({-1, 4, 5, 6})})),
             std::string("?×5×6"));  // merged with the batch: no longer "N"
    QCOMPARE(
        shape_of(check_layer("Flatten", {{"start_dim", int64_t{0}}, {"end_dim", int64_t{0}}}, {float_input({-1, 4})})),
        std::string("N×4"));
    EXPECT_MESSAGE(inference_error("Flatten", {{"start_dim", int64_t{4}}}, {info({-1, 4, 5})}),
                   "Flatten: start_dim 4 is out of range for input N×4×5 (rank 3)");
    EXPECT_MESSAGE(inference_error("Flatten", {{"start_dim", int64_t{2}}, {"end_dim", int64_t{1}}}, {info({-1, 4, 5})}),
                   "comes after end_dim");
  }

  void reshape() {
    auto flat = check_layer("Reshape", {}, {float_input({-1, 8, 4})});
    QCOMPARE(shape_of(flat), std::string("N×32"));
    QCOMPARE(flat.outputs[0].shape[0].symbol, std::string("N"));
    QCOMPARE(shape_of(check_layer("Reshape", {{"shape", Ints{0, 4, -1}}}, {float_input({-1, 8, 4})})),
             std::string("N×4×8"));
    QCOMPARE(shape_of(check_layer("Reshape", {{"shape", Ints{0, 2, 16}}}, {float_input({-1, 8, 4})})),
             std::string("N×2×16"));
    // -1 standing for the batch: the per-sample sizes match, so it is N.
    QCOMPARE(shape_of(check_layer("Reshape", {{"shape", Ints{-1, 32}}}, {float_input({-1, 8, 4})})),
             std::string("N×32"));
    // Mixing the batch into other sizes: unknown, and the run decides (3·32/16 = 6 rows).
    auto mixed = check_layer("Reshape", {{"shape", Ints{-1, 16}}}, {float_input({-1, 8, 4})});
    QCOMPARE(shape_of(mixed), std::string("?×16"));
    QCOMPARE(mixed.values[0].size(0), int64_t(6));
    auto in = float_input({-1, 8, 4});
    NL_EXPECT_CLOSE(check_layer("Reshape", {{"shape", Ints{0, 4, -1}}}, {in}).values[0], in.value.reshape({3, 4, 8}), 0,
                    0);

    EXPECT_MESSAGE(inference_error("Reshape", {{"shape", Ints{0, -1, -1}}}, {info({-1, 8, 4})}), "more than one -1");
    EXPECT_MESSAGE(inference_error("Reshape", {{"shape", Ints{0, 5, -1}}}, {info({-1, 8, 4})}),
                   "Reshape: shape [0, 5, -1] does not fit the input N×8×4: 32 elements do not divide by 5");
    EXPECT_MESSAGE(inference_error("Reshape", {{"shape", Ints{0, 30}}}, {info({-1, 8, 4})}),
                   "Reshape: shape [0, 30] does not fit the input N×8×4 (32 vs 30 elements)");
    EXPECT_MESSAGE(inference_error("Reshape", {{"shape", Ints{0, 0, 0, 0}}}, {info({-1, 8, 4})}),
                   "has 0 (copy the input's size) at position 3, but the input N×8×4 has only 3 dimensions");
  }

  void permute() {
    auto in = float_input({-1, 3, 5});
    auto c = check_layer("Permute", {}, {in});
    QCOMPARE(shape_of(c), std::string("N×5×3"));
    NL_EXPECT_CLOSE(c.values[0], in.value.transpose(1, 2), 0, 0);
    QCOMPARE(shape_of(check_layer("Permute", {{"dims", Ints{0, 3, 1, 2}}}, {float_input({-1, 2, 3, 4})})),
             std::string("N×4×2×3"));
    QCOMPARE(shape_of(check_layer("Permute", {{"dims", Ints{1, 0, -1}}}, {float_input({-1, 2, 3})})),
             std::string("2×N×3"));
    EXPECT_MESSAGE(inference_error("Permute", {{"dims", Ints{0, 2}}}, {info({-1, 3, 5})}),
                   "Permute: dims [0, 2] is not a permutation of 3 axes");
    EXPECT_MESSAGE(inference_error("Permute", {{"dims", Ints{0, 1, 1}}}, {info({-1, 3, 5})}), "not a permutation");
    EXPECT_MESSAGE(inference_error("Permute", {{"dims", Ints{0, 1, 3}}}, {info({-1, 3, 5})}), "not a permutation");
  }

  void slice() {
    auto in = float_input({-1, 10, 4});
    QCOMPARE(shape_of(check_layer("Slice", {}, {in})), std::string("N×10×4"));
    auto tail = check_layer("Slice", {{"start", int64_t{-3}}}, {in});
    QCOMPARE(shape_of(tail), std::string("N×3×4"));
    NL_EXPECT_CLOSE(tail.values[0], in.value.slice(1, 7, 10), 0, 0);
    auto strided = check_layer("Slice", {{"start", int64_t{1}}, {"end", int64_t{8}}, {"step", int64_t{2}}}, {in});
    QCOMPARE(shape_of(strided), std::string("N×4×4"));  // 1, 3, 5, 7
    NL_EXPECT_CLOSE(strided.values[0].select(1, 3), in.value.select(1, 7), 0, 0);
    QCOMPARE(shape_of(check_layer("Slice", {{"dim", int64_t{-1}}, {"end", int64_t{-1}}}, {in})), std::string("N×10×3"));
    QCOMPARE(shape_of(check_layer("Slice", {{"dim", int64_t{0}}, {"start", int64_t{1}}}, {in})), std::string("?×10×4"));
    EXPECT_MESSAGE(inference_error("Slice", {{"dim", int64_t{3}}}, {info({-1, 10, 4})}),
                   "Slice: dim 3 is out of range");
    EXPECT_MESSAGE(inference_error("Slice", {{"start", int64_t{20}}}, {info({-1, 10, 4})}), "select nothing");
  }

  void split() {
    const LayerSchema& s = LayerRegistry::builtin().get("Split");
    QCOMPARE(s.output_count({{"num_outputs", int64_t{3}}}), 3);
    auto in = float_input({-1, 6, 2});
    auto halves = check_layer("Split", {}, {in});
    QCOMPARE(halves.outputs.size(), size_t(2));
    QCOMPARE(shape_of(halves, 0), std::string("N×3×2"));
    QCOMPARE(shape_of(halves, 1), std::string("N×3×2"));
    NL_EXPECT_CLOSE(halves.values[1], in.value.slice(1, 3, 6), 0, 0);

    auto sized = check_layer("Split", {{"num_outputs", int64_t{3}}, {"sizes", Ints{1, 2, 3}}}, {in});
    QCOMPARE(sized.outputs.size(), size_t(3));
    QCOMPARE(shape_of(sized, 2), std::string("N×3×2"));
    NL_EXPECT_CLOSE(sized.values[0], in.value.slice(1, 0, 1), 0, 0);
    NL_EXPECT_CLOSE(sized.values[1], in.value.slice(1, 1, 3), 0, 0);
    NL_EXPECT_CLOSE(sized.values[2], in.value.slice(1, 3, 6), 0, 0);

    auto uneven = check_layer("Split", {{"num_outputs", int64_t{3}}, {"dim", int64_t{-1}}}, {float_input({-1, 10})});
    QCOMPARE(shape_of(uneven, 0), std::string("N×4"));
    QCOMPARE(shape_of(uneven, 2), std::string("N×2"));

    EXPECT_MESSAGE(inference_error("Split", {{"sizes", Ints{2, 3}}}, {info({-1, 6})}),
                   "Split: sizes [2, 3] add up to 5 but dimension 1 of N×6 has size 6");
    EXPECT_MESSAGE(inference_error("Split", {{"num_outputs", int64_t{3}}, {"sizes", Ints{3, 3}}}, {info({-1, 6})}),
                   "has 2 entries but num_outputs is 3");
    EXPECT_MESSAGE(inference_error("Split", {{"num_outputs", int64_t{4}}}, {info({-1, 2})}), "too small");
    EXPECT_MESSAGE(inference_error("Split", {{"dim", int64_t{0}}}, {info({-1, 6})}), "must be known");
  }

  void identity() {
    auto in = float_input({-1, 3, 5});
    auto c = check_layer("Identity", {}, {in});
    QCOMPARE(shape_of(c), std::string("N×3×5"));
    NL_EXPECT_CLOSE(c.values[0], in.value, 0, 0);
    QCOMPARE(shape_of(check_layer("Identity", {}, {float_input({-1})})), std::string("N"));
    EXPECT_MESSAGE(inference_error("Identity", {}, {}), "not connected");
  }

  // ---- Merge --------------------------------------------------------------------------------

  void concat() {
    auto c = check_layer("Concat", {},
                         {float_input({-1, 16, 8, 8}), float_input({-1, 32, 8, 8}, 3, 2), float_input({-1, 8, 8, 8})});
    QCOMPARE(shape_of(c), std::string("N×56×8×8"));
    QCOMPARE(c.cost.flops, int64_t(0));
    auto a = float_input({-1, 2}), b = float_input({-1, 3}, 3, 5);
    auto last = check_layer("Concat", {{"dim", int64_t{-1}}}, {a, b});
    QCOMPARE(shape_of(last), std::string("N×5"));
    NL_EXPECT_CLOSE(last.values[0].slice(1, 2, 5), b.value, 0, 0);
    QCOMPARE(shape_of(check_layer("Concat", {{"dim", int64_t{0}}}, {a, float_input({4, 2})})), std::string("?×2"));

    EXPECT_MESSAGE(inference_error("Concat", {}, {info({-1, 8, 14}), info({-1, 8, 7})}),
                   "Concat: inputs differ in dimension 2 (14 vs 7)");
    EXPECT_MESSAGE(inference_error("Concat", {}, {info({-1, 8, 14}), info({-1, 8})}),
                   "Concat: input 1 N×8 has rank 2 but input 0 N×8×14 has rank 3");
    EXPECT_MESSAGE(inference_error("Concat", {}, {info({-1, 8})}), "needs at least two inputs");
    EXPECT_MESSAGE(inference_error("Concat", {{"dim", int64_t{2}}}, {info({-1, 8}), info({-1, 8})}), "out of range");
    TensorInfo indices{DType::Int64, shape_from_ints({-1, 8})};
    EXPECT_MESSAGE(inference_error("Concat", {}, {info({-1, 8}), indices}),
                   "Concat: input 1 is int64 but input 0 is float32");
  }

  void add() {
    auto a = float_input({-1, 32}, 3, 1), b = float_input({-1, 32}, 3, 2), c = float_input({-1, 32}, 3, 3);
    auto three = check_layer("Add", {}, {a, b, c});
    QCOMPARE(shape_of(three), std::string("N×32"));
    QCOMPARE(three.cost.flops, int64_t(2 * 32));
    NL_EXPECT_CLOSE(three.values[0], a.value + b.value + c.value, 1e-6, 1e-6);
    auto broadcast = check_layer("Add", {}, {float_input({-1, 4, 5}), float_input({1, 5}), float_input({4, 1})});
    QCOMPARE(shape_of(broadcast), std::string("N×4×5"));
    QCOMPARE(shape_of(check_layer("Add", {}, {float_input({1, 5}), float_input({-1, 1, 1})})), std::string("N×1×5"));

    // Port 2 is the one at fault, and the message names its shape against the others'.
    const LayerSchema& s = LayerRegistry::builtin().get("Add");
    TensorInfo x = info({-1, 32}), y = info({-1, 64});
    LayerContext ctx(s, {}, {&x, &x, &y});
    try {
      s.infer(ctx);
      QFAIL("Add accepted N×64 + N×32");
    } catch (const LayerError& e) {
      QCOMPARE(e.message, std::string("Add: input 2 has shape N×64 that does not broadcast with N×32"));
      QCOMPARE(e.input_port, 2);
    }
    EXPECT_MESSAGE(inference_error("Add", {}, {info({-1, 32})}), "needs at least two inputs");
  }

  void mul() {
    auto a = float_input({-1, 8}), b = float_input({8}, 3, 4);
    auto c = check_layer("Mul", {}, {a, b});
    QCOMPARE(shape_of(c), std::string("N×8"));
    QCOMPARE(c.cost.flops, int64_t(8));
    NL_EXPECT_CLOSE(c.values[0], a.value * b.value, 1e-6, 1e-6);
    QCOMPARE(shape_of(check_layer("Mul", {}, {float_input({-1, 3, 1}), float_input({-1, 1, 4})})),
             std::string("N×3×4"));
    EXPECT_MESSAGE(inference_error("Mul", {}, {info({-1, 8}), info({-1, 3})}),
                   "Mul: input 'b' has shape N×3 that does not broadcast with N×8");
    EXPECT_MESSAGE(inference_error("Mul", {}, {info({-1, 8})}), "'b' is not connected");
  }
};

QTEST_APPLESS_MAIN(TestLayersMore)
#include "test_layers_more.moc"
