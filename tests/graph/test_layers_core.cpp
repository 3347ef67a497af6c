// Tests of the core layer schemas (Input/Output/Loss, dense, convolution, pooling,
// normalisation): shape inference on symbolic shapes agrees with what the built layers
// compute, parameter and FLOP counts, loss values, and the messages for wrong inputs.
#include <QtTest/QtTest>

#include "engine/nn/losses.h"
#include "layer_testing.h"
#include "testing.h"

using namespace nl;
using namespace nl::graph;
using namespace nl::testing;

namespace {

namespace F = nl::nn::functional;

AttrValue pair(int64_t a, int64_t b) { return std::vector<int64_t>{a, b}; }
AttrValue text(const char* s) { return std::string(s); }

TensorInfo info(const std::vector<int64_t>& dims, DType dtype = DType::Float32) {
  return TensorInfo{dtype, shape_from_ints(dims)};
}

QString shape_of(const LayerCheck& r, size_t output = 0) {
  if (output >= r.outputs.size()) return "<no output>";
  return QString::fromStdString(shape_to_string(r.outputs[output].shape));
}

// The inference message for these inputs must contain `part`.
void expect_error(const std::string& type, const AttrMap& attrs, const std::vector<TensorInfo>& inputs,
                  const std::string& part) {
  std::string message = inference_error(type, attrs, inputs);
  QVERIFY2(contains(message, part),
           (type + ": expected an error containing '" + part + "', got '" + message + "'").c_str());
}

// The input port that inference blames (-2 when it succeeds).
int failing_port(const std::string& type, const AttrMap& attrs, const std::vector<TensorInfo>& inputs) {
  const LayerSchema& schema = LayerRegistry::builtin().get(type);
  std::vector<const TensorInfo*> ptrs;
  for (const auto& i : inputs) ptrs.push_back(&i);
  LayerContext ctx(schema, attrs, ptrs);
  try {
    schema.infer(ctx);
  } catch (const LayerError& e) {
    return e.input_port;
  }
  return -2;
}

// A float target of values in [0, 1), as binary labels' probabilities are.
LayerInput probability_input(const std::vector<int64_t>& dims, int64_t batch = 3) {
  std::vector<int64_t> concrete = dims;
  for (auto& d : concrete)
    if (d < 0) d = batch;
  Generator gen(5);
  return {info(dims), uniform(Shape(concrete), 0, 1, {}, &gen)};
}

const std::vector<std::pair<std::string, std::string>> kCoreLayers = {
    {"Input", "Input/Output"},
    {"Output", "Input/Output"},
    {"Loss", "Loss"},
    {"Linear", "Dense"},
    {"Embedding", "Dense"},
    {"MatMul", "Dense"},
    {"Conv1d", "Convolution"},
    {"Conv2d", "Convolution"},
    {"ConvTranspose2d", "Convolution"},
    {"MaxPool2d", "Pooling"},
    {"AvgPool2d", "Pooling"},
    {"AdaptiveAvgPool2d", "Pooling"},
    {"GlobalAvgPool2d", "Pooling"},
    {"BatchNorm1d", "Normalization"},
    {"BatchNorm2d", "Normalization"},
    {"LayerNorm", "Normalization"},
    {"GroupNorm", "Normalization"},
    {"Dropout", "Regularization"},
};

}  // namespace

class TestLayersCore : public QObject {
  Q_OBJECT

 private slots:
  void registry_lists_core_layers() {
    const LayerRegistry& r = LayerRegistry::builtin();
    auto categories = r.categories();
    for (const auto& [type, category] : kCoreLayers) {
      const LayerSchema* s = r.find(type);
      QVERIFY2(s, ("missing layer " + type).c_str());
      QCOMPARE(QString::fromStdString(s->category), QString::fromStdString(category));
      QVERIFY2(!s->help.empty(), type.c_str());
      QVERIFY(std::find(categories.begin(), categories.end(), category) != categories.end());
      for (const auto& port : s->inputs) QVERIFY2(!port.name.empty(), type.c_str());
      for (const auto& a : s->attrs) {
        std::string why = a.check(a.default_value);
        QVERIFY2(why.empty(), (type + ": " + why).c_str());
      }
    }
    // The checks above can fail: a wrong value is refused.
    const AttrSpec* kernel = r.get("Conv2d").find_attr("kernel_size");
    QVERIFY(kernel);
    QVERIFY(!kernel->check(std::vector<int64_t>{3}).empty());
    QVERIFY(!kernel->check(std::vector<int64_t>{0, 3}).empty());
    QVERIFY(r.get("Loss").training_only);
    QVERIFY(!r.get("Linear").training_only);
    QCOMPARE(r.get("Output").outputs.size(), size_t(0));
    QCOMPARE(r.get("Embedding").inputs.at(0).type, PortType::Index);
    QVERIFY(r.get("Loss").inputs.at(1).optional);
  }

  // ---- Input / Output ----

  void input_infers_declared_shape() {
    const LayerSchema& s = LayerRegistry::builtin().get("Input");
    LayerContext ctx(s, {}, {});
    s.infer(ctx);
    QCOMPARE(ctx.outputs.size(), size_t(1));
    QCOMPARE(QString::fromStdString(shape_to_string(ctx.outputs[0].shape)), QString("N×2"));
    QCOMPARE(ctx.outputs[0].shape[0].symbol, std::string("N"));

    LayerContext tokens(s, {{"shape", std::vector<int64_t>{-1, -1}}, {"dtype", text("int64")}}, {});
    s.infer(tokens);
    QCOMPARE(tokens.outputs[0].dtype, DType::Int64);
    QCOMPARE(QString::fromStdString(shape_to_string(tokens.outputs[0].shape)), QString("N×?"));
  }

  void input_checks_what_it_is_fed() {
    const LayerSchema& s = LayerRegistry::builtin().get("Input");
    LayerContext ctx(s, {{"shape", std::vector<int64_t>{-1, 3, 4}}}, {});
    s.infer(ctx);
    Runnable run = s.build(ctx);
    QVERIFY(!run.module);
    Tensor good = zeros({5, 3, 4});
    auto out = run.forward({good});
    QCOMPARE(out.size(), size_t(1));
    QVERIFY(out[0].same(good));

    std::string wrong_shape = error_of([&] { run.forward({zeros({5, 4, 3})}); });
    QVERIFY2(contains(wrong_shape, "N×3×4") && contains(wrong_shape, "5×4×3"), wrong_shape.c_str());
    std::string wrong_rank = error_of([&] { run.forward({zeros({5, 12})}); });
    QVERIFY2(contains(wrong_rank, "5×12"), wrong_rank.c_str());
    std::string wrong_dtype = error_of([&] { run.forward({zeros({5, 3, 4}, {.dtype = DType::Int64})}); });
    QVERIFY2(contains(wrong_dtype, "int64"), wrong_dtype.c_str());
    QVERIFY(!error_of([&] { run.forward({}); }).empty());
  }

  void output_has_no_outputs() {
    LayerCheck r = check_layer("Output", {}, {float_input({-1, 10})});
    QCOMPARE(r.outputs.size(), size_t(0));
    QCOMPARE(r.values.size(), size_t(0));
    expect_error("Output", {}, {}, "not connected");
  }

  // ---- Loss ----

  void loss_classification_values() {
    LayerInput logits = float_input({-1, 5}), classes = index_input({-1}, 5);
    LayerCheck ce = check_layer("Loss", {}, {logits, classes});
    QCOMPARE(shape_of(ce), QString("scalar"));
    NL_EXPECT_CLOSE(ce.values.at(0), F::cross_entropy(logits.value, classes.value), 1e-5, 1e-6);

    LayerCheck smoothed =
        check_layer("Loss", {{"label_smoothing", 0.2}, {"reduction", text("sum")}, {"ignore_index", int64_t{1}}},
                    {logits, classes});
    NL_EXPECT_CLOSE(smoothed.values.at(0), F::cross_entropy(logits.value, classes.value, Reduction::Sum, 1, 0.2), 1e-5,
                    1e-6);

    // Per-position classes: N×C×T logits, N×T targets.
    LayerInput seq = float_input({-1, 4, 6}), seq_classes = index_input({-1, 6}, 4);
    LayerCheck nll = check_layer("Loss", {{"loss", text("nll")}}, {seq, seq_classes});
    NL_EXPECT_CLOSE(nll.values.at(0), F::nll_loss(seq.value, seq_classes.value), 1e-5, 1e-6);
  }

  void loss_regression_values() {
    LayerInput pred = float_input({-1, 4}, 3, 7), target = float_input({-1, 4}, 3, 8);
    struct Case {
      AttrMap attrs;
      Tensor expected;
    };
    std::vector<Case> cases = {
        {{{"loss", text("mse")}}, F::mse_loss(pred.value, target.value)},
        {{{"loss", text("l1")}, {"reduction", text("sum")}}, F::l1_loss(pred.value, target.value, Reduction::Sum)},
        {{{"loss", text("smooth_l1")}, {"beta", 0.5}},
         F::smooth_l1_loss(pred.value, target.value, Reduction::Mean, 0.5)},
        {{{"loss", text("huber")}, {"delta", 0.3}}, F::huber_loss(pred.value, target.value, Reduction::Mean, 0.3)},
    };
    for (const auto& c : cases) {
      LayerCheck r = check_layer("Loss", c.attrs, {pred, target});
      NL_EXPECT_CLOSE(r.values.at(0), c.expected, 1e-5, 1e-6);
    }
    LayerInput labels = probability_input({-1, 4});
    LayerCheck bce = check_layer("Loss", {{"loss", text("bce_with_logits")}}, {pred, labels});
    NL_EXPECT_CLOSE(bce.values.at(0), F::binary_cross_entropy_with_logits(pred.value, labels.value), 1e-5, 1e-6);
    // Different losses give different numbers (the choice is not ignored).
    QVERIFY(std::fabs(bce.values.at(0).item() - cases[0].expected.item()) > 1e-4);
  }

  void loss_checks_the_target() {
    TensorInfo logits = info({-1, 10});
    expect_error("Loss", {}, {logits, info({-1})}, "target must be int64 class indices for cross_entropy");
    QCOMPARE(failing_port("Loss", {}, {logits, info({-1})}), 1);
    expect_error("Loss", {}, {logits, info({-1, 10}, DType::Int64)},
                 "does not fit the prediction N×10: cross_entropy expects a target of shape N");
    expect_error("Loss", {}, {info({8, 10}), info({4}, DType::Int64)}, "does not fit");
    expect_error("Loss", {}, {info({-1})}, "rank 2 or more");
    expect_error("Loss", {{"loss", text("mse")}}, {logits, info({-1}, DType::Int64)}, "must be a float tensor for mse");
    expect_error("Loss", {{"loss", text("l1")}}, {logits, info({-1, 9})},
                 "does not fit the prediction N×10: l1 expects a target of shape N×10");
    expect_error("Loss", {{"loss", text("huber")}, {"delta", 0.0}}, {logits, logits}, "delta must be greater than 0");
    expect_error("Loss", {}, {info({-1, 10}, DType::Int64)}, "prediction must be float32");
    // Unconnected target: only the prediction is checked; the output is still a scalar.
    QCOMPARE(QString::fromStdString(inference_error("Loss", {}, {logits})), QString());
    QCOMPARE(QString::fromStdString(inference_error("Loss", {{"loss", text("mse")}}, {info({-1, 3})})), QString());
    // A matching symbolic batch is fine; regression keeps targets as floats.
    QCOMPARE(QString::fromStdString(inference_error("Loss", {{"loss", text("mse")}}, {logits, logits})), QString());

    const LayerSchema& s = LayerRegistry::builtin().get("Loss");
    LayerContext ctx(s, {}, {&logits});
    s.infer(ctx);
    Runnable run = s.build(ctx);
    QVERIFY(contains(error_of([&] { run.forward({zeros({2, 10})}); }), "target"));
  }

  // ---- Dense ----

  void linear_shapes_and_cost() {
    LayerCheck r = check_layer("Linear", {}, {float_input({-1, 20})});
    QCOMPARE(shape_of(r), QString("N×64"));
    QCOMPARE(r.cost.params, int64_t(20 * 64 + 64));
    QCOMPARE(r.cost.flops, int64_t(2 * 20 * 64));

    // Applied to the last dimension of a sequence: 5 rows per sample.
    LayerCheck seq = check_layer("Linear", {{"out_features", int64_t{7}}, {"bias", false}}, {float_input({-1, 5, 20})});
    QCOMPARE(shape_of(seq), QString("N×5×7"));
    QCOMPARE(seq.cost.params, int64_t(140));
    QCOMPARE(seq.cost.flops, int64_t(2 * 20 * 7 * 5));
  }

  void linear_errors() {
    expect_error("Linear", {}, {info({})}, "feature dimension");
    expect_error("Linear", {}, {TensorInfo{DType::Float32, {Dim::symbolic("N"), Dim::symbolic()}}}, "must be known");
    expect_error("Linear", {}, {info({-1, 4}, DType::Int64)}, "expects a float32 input, got int64");
    expect_error("Linear", {}, {}, "not connected");
  }

  void embedding_shapes() {
    LayerCheck r = check_layer("Embedding", {}, {index_input({-1, 7}, 1000)});
    QCOMPARE(shape_of(r), QString("N×7×64"));
    QCOMPARE(r.cost.params, int64_t(64000));

    AttrMap small{{"num_embeddings", int64_t{10}}, {"embedding_dim", int64_t{4}}, {"padding_idx", int64_t{0}}};
    LayerInput ids{info({-1, 3}, DType::Int64), tensor(std::vector<int64_t>{0, 1, 2, 3, 0, 9}, {2, 3})};
    LayerCheck padded = check_layer("Embedding", small, {ids});
    QCOMPARE(shape_of(padded), QString("N×3×4"));
    // Row padding_idx starts at zero.
    auto first = padded.values.at(0).select(0, 0).select(0, 0).to_vector<double>();
    for (double v : first) QCOMPARE(v, 0.0);
  }

  void embedding_errors() {
    expect_error("Embedding", {}, {info({-1, 7})}, "expects int64 indices");
    expect_error("Embedding", {{"num_embeddings", int64_t{10}}, {"padding_idx", int64_t{10}}},
                 {info({-1, 7}, DType::Int64)}, "padding_idx 10 is outside the table of 10 rows");
  }

  void matmul_broadcasts() {
    LayerCheck batched = check_layer("MatMul", {}, {float_input({-1, 3, 4}), float_input({-1, 4, 5}, 3, 2)});
    QCOMPARE(shape_of(batched), QString("N×3×5"));
    QCOMPARE(batched.cost.flops, int64_t(2 * 4 * 15));
    QCOMPARE(shape_of(check_layer("MatMul", {}, {float_input({-1, 3, 4}), float_input({4, 5})})), QString("N×3×5"));
    QCOMPARE(shape_of(check_layer("MatMul", {}, {float_input({-1, 3, 4}), float_input({4})})), QString("N×3"));
    QCOMPARE(shape_of(check_layer("MatMul", {}, {float_input({4}), float_input({-1, 4, 2})})), QString("N×2"));
    QCOMPARE(shape_of(check_layer("MatMul", {}, {float_input({4}), float_input({4})})), QString("scalar"));
    QCOMPARE(shape_of(check_layer("MatMul", {}, {float_input({2, 1, 3, 4}), float_input({5, 4, 6})})),
             QString("2×5×3×6"));
  }

  void matmul_errors() {
    expect_error("MatMul", {}, {info({-1, 3, 4}), info({5, 6})}, "inner dimensions differ: N×3×4 @ 5×6 (4 vs 5)");
    QCOMPARE(failing_port("MatMul", {}, {info({-1, 3, 4}), info({5, 6})}), 1);
    expect_error("MatMul", {}, {info({2, 3, 4}), info({5, 4, 6})}, "batch dimensions do not broadcast");
    expect_error("MatMul", {}, {info({}), info({4})}, "at least one dimension");
  }

  // ---- Convolution ----

  void conv2d_shapes_and_cost() {
    LayerCheck r = check_layer("Conv2d", {}, {float_input({-1, 3, 8, 8})});
    QCOMPARE(shape_of(r), QString("N×32×8×8"));
    QCOMPARE(r.cost.params, int64_t(32 * 3 * 9 + 32));
    QCOMPARE(r.cost.flops, int64_t(2 * 3 * 9 * 32 * 64));

    LayerCheck strided = check_layer("Conv2d", {{"stride", pair(2, 2)}}, {float_input({-1, 3, 9, 9})});
    QCOMPARE(shape_of(strided), QString("N×32×5×5"));
    QCOMPARE(strided.cost.flops, int64_t(2 * 3 * 9 * 32 * 25));

    AttrMap grouped{{"out_channels", int64_t{6}},
                    {"groups", int64_t{2}},
                    {"dilation", pair(2, 2)},
                    {"padding", pair(0, 0)},
                    {"bias", false}};
    LayerCheck g = check_layer("Conv2d", grouped, {float_input({-1, 4, 10, 10})});
    QCOMPARE(shape_of(g), QString("N×6×6×6"));
    QCOMPARE(g.cost.params, int64_t(6 * 2 * 9));
    QCOMPARE(g.cost.flops, int64_t(2 * 2 * 9 * 6 * 36));

    // "same" keeps the size even with an even kernel; "valid" ignores padding.
    LayerCheck same = check_layer("Conv2d", {{"padding_type", text("same")}, {"kernel_size", pair(4, 2)}},
                                  {float_input({-1, 3, 7, 6})});
    QCOMPARE(shape_of(same), QString("N×32×7×6"));
    LayerCheck valid = check_layer("Conv2d", {{"padding_type", text("valid")}}, {float_input({-1, 3, 7, 7})});
    QCOMPARE(shape_of(valid), QString("N×32×5×5"));
  }

  void conv2d_symbolic_spatial_dims() {
    // Unknown H and W: the batch stays N, computed sizes are unnamed, "same" keeps them.
    TensorInfo x{DType::Float32, {Dim::symbolic("N"), Dim::known(3), Dim::symbolic(), Dim::symbolic()}};
    const LayerSchema& s = LayerRegistry::builtin().get("Conv2d");
    LayerContext ctx(s, {{"stride", pair(2, 2)}}, {&x});
    s.infer(ctx);
    QCOMPARE(QString::fromStdString(shape_to_string(ctx.outputs.at(0).shape)), QString("N×32×?×?"));
    QCOMPARE(ctx.outputs[0].shape[0].symbol, std::string("N"));
  }

  void conv2d_errors() {
    expect_error("Conv2d", {}, {info({-1, 10})}, "expects a rank-4 input (N×C×H×W), got N×10");
    expect_error("Conv2d", {{"groups", int64_t{2}}}, {info({-1, 3, 8, 8})},
                 "in_channels 3 is not divisible by groups 2");
    expect_error("Conv2d", {{"groups", int64_t{3}}}, {info({-1, 3, 8, 8})},
                 "out_channels 32 is not divisible by groups 3");
    expect_error("Conv2d", {{"kernel_size", pair(5, 5)}, {"padding", pair(0, 0)}}, {info({-1, 1, 3, 3})},
                 "kernel 5×5 is larger than the padded input 3×3");
    QCOMPARE(failing_port("Conv2d", {{"kernel_size", pair(5, 5)}, {"padding", pair(0, 0)}}, {info({-1, 1, 3, 3})}), 0);
    expect_error("Conv2d", {{"padding_type", text("same")}, {"stride", pair(2, 2)}}, {info({-1, 3, 8, 8})},
                 "needs stride 1");
    TensorInfo unknown_channels{DType::Float32, {Dim::symbolic("N"), Dim::symbolic(), Dim::known(8), Dim::known(8)}};
    expect_error("Conv2d", {}, {unknown_channels}, "must be known");
  }

  void conv1d_shapes() {
    LayerCheck r = check_layer("Conv1d", {}, {float_input({-1, 4, 10})});
    QCOMPARE(shape_of(r), QString("N×32×10"));
    QCOMPARE(r.cost.params, int64_t(32 * 4 * 3 + 32));
    QCOMPARE(r.cost.flops, int64_t(2 * 4 * 3 * 32 * 10));
    LayerCheck strided =
        check_layer("Conv1d", {{"stride", int64_t{2}}, {"padding", int64_t{0}}, {"out_channels", int64_t{8}}},
                    {float_input({-1, 4, 10})});
    QCOMPARE(shape_of(strided), QString("N×8×4"));
    LayerCheck same = check_layer(
        "Conv1d",
        {{"padding_type", text("same")}, {"kernel_size", int64_t{4}}, {"dilation", int64_t{2}}, {"groups", int64_t{4}}},
        {float_input({-1, 4, 9})});
    QCOMPARE(shape_of(same), QString("N×32×9"));
    expect_error("Conv1d", {}, {info({-1, 3, 8, 8})}, "expects a rank-3 input (N×C×L)");
    expect_error("Conv1d", {{"kernel_size", int64_t{7}}, {"padding", int64_t{1}}}, {info({-1, 3, 4})},
                 "kernel 7 is larger than the padded input 6");
  }

  void conv_transpose2d_shapes() {
    LayerCheck r = check_layer("ConvTranspose2d", {}, {float_input({-1, 8, 5, 5})});
    QCOMPARE(shape_of(r), QString("N×32×10×10"));
    QCOMPARE(r.cost.params, int64_t(8 * 32 * 4 + 32));
    QCOMPARE(r.cost.flops, int64_t(2 * 8 * 32 * 4 * 25));
    AttrMap a{{"out_channels", int64_t{4}},
              {"kernel_size", pair(3, 3)},
              {"padding", pair(1, 1)},
              {"output_padding", pair(1, 0)},
              {"groups", int64_t{2}}};
    LayerCheck up = check_layer("ConvTranspose2d", a, {float_input({-1, 6, 5, 4})});
    QCOMPARE(shape_of(up), QString("N×4×10×7"));
    QCOMPARE(up.cost.params, int64_t(6 * 2 * 9 + 4));
  }

  void conv_transpose2d_errors() {
    expect_error("ConvTranspose2d", {{"output_padding", pair(2, 0)}}, {info({-1, 8, 5, 5})},
                 "output_padding 2×0 must be smaller than the stride or the dilation");
    expect_error("ConvTranspose2d", {{"kernel_size", pair(1, 1)}, {"stride", pair(1, 1)}, {"padding", pair(1, 1)}},
                 {info({-1, 8, 1, 1})}, "padding 1×1 leaves no output for input N×8×1×1");
    expect_error("ConvTranspose2d", {}, {info({-1, 8, 5})}, "rank-4");
    expect_error("ConvTranspose2d", {{"groups", int64_t{3}}}, {info({-1, 8, 5, 5})}, "in_channels 8 is not divisible");
  }

  // ---- Pooling ----

  void pool_shapes() {
    LayerCheck r = check_layer("MaxPool2d", {}, {float_input({-1, 3, 8, 8})});
    QCOMPARE(shape_of(r), QString("N×3×4×4"));
    QCOMPARE(r.cost.flops, int64_t(4 * 3 * 16));
    QCOMPARE(r.cost.params, int64_t(0));
    AttrMap ceil{{"kernel_size", pair(3, 3)}, {"padding", pair(1, 1)}, {"ceil_mode", true}};
    QCOMPARE(shape_of(check_layer("MaxPool2d", ceil, {float_input({-1, 3, 8, 8})})), QString("N×3×5×5"));
    QCOMPARE(shape_of(check_layer("MaxPool2d", {{"ceil_mode", true}}, {float_input({-1, 3, 7, 7})})),
             QString("N×3×4×4"));
    AttrMap dilated{{"dilation", pair(2, 2)}, {"stride", pair(1, 1)}};
    QCOMPARE(shape_of(check_layer("MaxPool2d", dilated, {float_input({-1, 3, 8, 8})})), QString("N×3×6×6"));

    QCOMPARE(shape_of(check_layer("AvgPool2d", {}, {float_input({-1, 2, 6, 9})})), QString("N×2×3×4"));
    AttrMap avg{
        {"kernel_size", pair(3, 3)}, {"stride", pair(1, 1)}, {"padding", pair(1, 1)}, {"count_include_pad", false}};
    QCOMPARE(shape_of(check_layer("AvgPool2d", avg, {float_input({-1, 2, 6, 6})})), QString("N×2×6×6"));
  }

  void pool_errors() {
    expect_error("MaxPool2d", {{"kernel_size", pair(5, 5)}}, {info({-1, 3, 3, 3})},
                 "kernel 5×5 is larger than the padded input 3×3");
    expect_error("AvgPool2d", {{"padding", pair(2, 2)}}, {info({-1, 3, 8, 8})},
                 "padding 2×2 must be at most half the kernel 2×2");
    expect_error("MaxPool2d", {}, {info({-1, 3, 8})}, "expects a rank-4 input (N×C×H×W), got N×3×8");
  }

  void adaptive_and_global_pool() {
    QCOMPARE(shape_of(check_layer("AdaptiveAvgPool2d", {}, {float_input({-1, 5, 7, 7})})), QString("N×5×1×1"));
    LayerCheck odd = check_layer("AdaptiveAvgPool2d", {{"output_size", pair(3, 2)}}, {float_input({-1, 5, 7, 5})});
    QCOMPARE(shape_of(odd), QString("N×5×3×2"));
    expect_error("AdaptiveAvgPool2d", {}, {info({-1, 5})}, "rank-4");

    LayerInput x = float_input({-1, 4, 3, 5});
    LayerCheck g = check_layer("GlobalAvgPool2d", {}, {x});
    QCOMPARE(shape_of(g), QString("N×4"));
    NL_EXPECT_CLOSE(g.values.at(0), mean(x.value, {2, 3}), 1e-5, 1e-6);
    QCOMPARE(g.cost.flops, int64_t(4 * 3 * 5));
    expect_error("GlobalAvgPool2d", {}, {info({-1, 4})}, "expects a rank-4 input (N×C×H×W), got N×4");
  }

  // ---- Normalisation ----

  void batch_norm() {
    LayerCheck flat = check_layer("BatchNorm1d", {}, {float_input({-1, 6})});
    QCOMPARE(shape_of(flat), QString("N×6"));
    QCOMPARE(flat.cost.params, int64_t(12));
    QCOMPARE(shape_of(check_layer("BatchNorm1d", {{"momentum", 0.3}}, {float_input({-1, 6, 5})})), QString("N×6×5"));
    LayerCheck image =
        check_layer("BatchNorm2d", {{"affine", false}, {"track_running_stats", false}}, {float_input({-1, 4, 5, 5})});
    QCOMPARE(shape_of(image), QString("N×4×5×5"));
    QCOMPARE(image.cost.params, int64_t(0));
    QVERIFY(image.cost.flops > 0);
    expect_error("BatchNorm1d", {}, {info({-1, 4, 5, 5})}, "use BatchNorm2d");
    expect_error("BatchNorm2d", {}, {info({-1, 4})}, "expects a rank-4 input (N×C×H×W), got N×4");
  }

  void layer_norm() {
    LayerCheck last = check_layer("LayerNorm", {}, {float_input({-1, 5, 16})});
    QCOMPARE(shape_of(last), QString("N×5×16"));
    QCOMPARE(last.cost.params, int64_t(32));
    LayerCheck two = check_layer("LayerNorm", {{"normalized_dims", int64_t{2}}}, {float_input({-1, 5, 16})});
    QCOMPARE(two.cost.params, int64_t(160));
    LayerCheck plain = check_layer("LayerNorm", {{"elementwise_affine", false}}, {float_input({-1, 8})});
    QCOMPARE(plain.cost.params, int64_t(0));
    expect_error("LayerNorm", {{"normalized_dims", int64_t{3}}}, {info({-1, 8})},
                 "normalizes over the last 3 dimensions, but the input N×8 has only 2");
    expect_error("LayerNorm", {{"normalized_dims", int64_t{2}}}, {info({-1, 8})}, "must be known");
  }

  void group_norm() {
    LayerCheck r = check_layer("GroupNorm", {{"num_groups", int64_t{2}}}, {float_input({-1, 6, 4, 4})});
    QCOMPARE(shape_of(r), QString("N×6×4×4"));
    QCOMPARE(r.cost.params, int64_t(12));
    QCOMPARE(shape_of(check_layer("GroupNorm", {{"affine", false}}, {float_input({-1, 3, 5})})), QString("N×3×5"));
    expect_error("GroupNorm", {{"num_groups", int64_t{4}}}, {info({-1, 6, 4, 4})},
                 "num_channels 6 is not divisible by num_groups 4");
    expect_error("GroupNorm", {}, {info({-1})}, "rank 2 or more");
  }

  void dropout() {
    LayerCheck r = check_layer("Dropout", {{"p", 0.3}}, {float_input({-1, 10})});
    QCOMPARE(shape_of(r), QString("N×10"));
    LayerInput x = float_input({-1, 2, 3});
    LayerCheck none = check_layer("Dropout", {{"p", 0.0}}, {x});
    NL_EXPECT_CLOSE(none.values.at(0), x.value, 0, 0);
    // Training mode with p = 0.9: most elements are zeroed.
    LayerCheck heavy = check_layer("Dropout", {{"p", 0.9}}, {float_input({-1, 100})});
    int zeros_seen = 0;
    for (double v : heavy.values.at(0).to_vector<double>()) zeros_seen += v == 0.0;
    QVERIFY2(zeros_seen > 150, std::to_string(zeros_seen).c_str());
    expect_error("Dropout", {}, {info({-1, 10}, DType::Int64)}, "expects a float32 input");
  }
};

QTEST_APPLESS_MAIN(TestLayersCore)
#include "test_layers_core.moc"
