// Tests of embedding, gather and index_select: forward against loop references written
// here, gradients (finite differences and exact scatter sums, with repeated indices), and
// range/shape/dtype errors.
#include <vector>

#include "testing.h"

using namespace nl;
using nl::testing::error_of;
using nl::testing::param;

namespace {

Tensor to_tensor(const std::vector<double>& v, const Shape& shape) {
  return tensor(std::vector<float>(v.begin(), v.end()), shape);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Row-major coordinates of flat position i in `shape`.
std::vector<int64_t> coords(int64_t i, const Shape& shape) {
  std::vector<int64_t> c(shape.size());
  for (int d = shape.size() - 1; d >= 0; --d) {
    c[d] = i % shape[d];
    i /= shape[d];
  }
  return c;
}

int64_t flat(const std::vector<int64_t>& c, const Shape& shape) {
  int64_t at = 0;
  for (int d = 0; d < shape.size(); ++d) at = at * shape[d] + c[d];
  return at;
}

// torch.gather by definition: out[c] = x[c with c[dim] replaced by index[c]].
std::vector<double> gather_ref(const Tensor& x, int dim, const Tensor& index) {
  auto xv = x.to_vector<double>();
  auto iv = index.to_vector<int64_t>();
  std::vector<double> out(iv.size());
  for (size_t i = 0; i < iv.size(); ++i) {
    auto c = coords(i, index.shape());
    c[dim] = iv[i];
    out[i] = xv[flat(c, x.shape())];
  }
  return out;
}

// The gradient of sum(gather(x) * g) with respect to x: g scattered and summed.
std::vector<double> scatter_ref(const Shape& x_shape, int dim, const Tensor& index, const Tensor& g) {
  auto iv = index.to_vector<int64_t>();
  auto gv = g.to_vector<double>();
  std::vector<double> out(x_shape.numel(), 0);
  for (size_t i = 0; i < iv.size(); ++i) {
    auto c = coords(i, index.shape());
    c[dim] = iv[i];
    out[flat(c, x_shape)] += gv[i];
  }
  return out;
}

// Int64 tensor of values in [0, limit) from a fixed pseudo-random sequence (repeats included).
Tensor indices(const Shape& shape, int64_t limit, uint64_t seed) {
  std::vector<int64_t> v(shape.numel());
  uint64_t s = seed;
  for (auto& e : v) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    e = static_cast<int64_t>((s >> 33) % limit);
  }
  return tensor(v, shape);
}

}  // namespace

class IndexingTest : public QObject {
  Q_OBJECT

 private slots:
  void embeddingLooksUpRows() {
    Tensor w = param({5, 3}, -1, 1, 1).detach();
    Tensor idx = tensor(std::vector<int64_t>{4, 0, 4, 2}, {2, 2});
    Tensor out = embedding(w, idx);
    QVERIFY2(out.shape() == Shape({2, 2, 3}), out.shape().str().c_str());
    auto wv = w.to_vector<double>();
    std::vector<double> expected;
    for (int64_t r : {4, 0, 4, 2})
      for (int k = 0; k < 3; ++k) expected.push_back(wv[r * 3 + k]);
    NL_EXPECT_CLOSE(out, to_tensor(expected, {2, 2, 3}), 0, 0);
  }

  void embeddingGradientSumsRepeatedRows() {
    Tensor idx = tensor(std::vector<int64_t>{1, 3, 1, 1, 0}, {5});
    NL_GRADCHECK([&](const std::vector<Tensor>& in) { return embedding(in[0], idx); }, {param({4, 3}, -1, 1, 2)});
  }

  void embeddingLargeGradientParallel() {
    // Wide enough that threads split the columns of the gradient.
    Tensor w = param({10, 128}, -1, 1, 3);
    Tensor idx = indices({400}, 10, 4);
    Tensor g = param({400, 128}, -1, 1, 5).detach();
    sum(mul(embedding(w, idx), g)).backward();
    auto iv = idx.to_vector<int64_t>();
    auto gv = g.to_vector<double>();
    std::vector<double> expected(10 * 128, 0);
    for (size_t i = 0; i < iv.size(); ++i)
      for (int k = 0; k < 128; ++k) expected[iv[i] * 128 + k] += gv[i * 128 + k];
    NL_EXPECT_CLOSE(w.grad(), to_tensor(expected, {10, 128}), 1e-5, 1e-4);
  }

  void gatherAlongEveryDim() {
    Tensor x = param({3, 4, 5}, -1, 1, 6).detach();
    // Index smaller than x in the other dimensions, as torch.gather allows.
    const Shape index_shapes[] = {{6, 2, 3}, {2, 7, 4}, {3, 3, 8}};
    for (int dim = 0; dim < 3; ++dim) {
      Tensor idx = indices(index_shapes[dim], x.size(dim), 7 + dim);
      NL_EXPECT_CLOSE(gather(x, dim, idx), to_tensor(gather_ref(x, dim, idx), idx.shape()), 0, 0);
    }
    Tensor idx = indices({3, 4, 2}, 5, 10);
    NL_EXPECT_CLOSE(gather(x, -1, idx), to_tensor(gather_ref(x, 2, idx), idx.shape()), 0, 0);
  }

  void gatherGradients() {
    Tensor idx = indices({2, 5, 3}, 4, 11);
    NL_GRADCHECK([&](const std::vector<Tensor>& in) { return gather(in[0], 1, idx); }, {param({2, 4, 3}, -1, 1, 12)});
    Tensor idx0 = indices({6, 2}, 3, 13);
    NL_GRADCHECK([&](const std::vector<Tensor>& in) { return gather(in[0], 0, idx0); }, {param({3, 4}, -1, 1, 14)});
  }

  void gatherGradientsOfTransposedInput() {
    // x is a [4, 3] transposed view of a [3, 4] leaf.
    Tensor idx = indices({4, 5}, 3, 15);
    NL_GRADCHECK([&](const std::vector<Tensor>& in) { return gather(in[0].t(), 1, idx); }, {param({3, 4}, -1, 1, 16)});
  }

  void scatterAddLargeBothSplits() {
    // Many outer positions (dim = last) and many inner positions (dim = 0) take the two
    // parallel strategies of scatter_add; both must sum repeated indices exactly.
    struct Case {
      Shape x_shape, index_shape;
      int dim;
    };
    for (const Case& c : {Case{{512, 16}, {512, 80}, 1}, Case{{8, 4096}, {12, 4096}, 0}}) {
      Tensor x = param(c.x_shape, -1, 1, 17);
      Tensor idx = indices(c.index_shape, c.x_shape[c.dim], 18);
      Tensor g = param(c.index_shape, -1, 1, 19).detach();
      NL_EXPECT_CLOSE(gather(x.detach(), c.dim, idx), to_tensor(gather_ref(x, c.dim, idx), c.index_shape), 0, 0);
      sum(mul(gather(x, c.dim, idx), g)).backward();
      NL_EXPECT_CLOSE(x.grad(), to_tensor(scatter_ref(c.x_shape, c.dim, idx, g), c.x_shape), 1e-5, 1e-5);
    }
  }

  void indexSelectAlongEveryDim() {
    Tensor x = param({3, 4, 5}, -1, 1, 20).detach();
    std::vector<int64_t> picks{2, 0, 2};
    Tensor idx = tensor(picks, {3});
    for (int dim = 0; dim < 3; ++dim) {
      // index_select is gather with the index broadcast over the other dimensions.
      Shape out_shape = x.shape();
      out_shape[dim] = 3;
      std::vector<int64_t> full_index(out_shape.numel());
      for (size_t i = 0; i < full_index.size(); ++i) full_index[i] = picks[coords(i, out_shape)[dim]];
      Tensor expected = to_tensor(gather_ref(x, dim, tensor(full_index, out_shape)), out_shape);
      NL_EXPECT_CLOSE(index_select(x, dim, idx), expected, 0, 0);
    }
    NL_EXPECT_CLOSE(index_select(x, -1, idx), index_select(x, 2, idx), 0, 0);
  }

  void indexSelectGradients() {
    Tensor idx = tensor(std::vector<int64_t>{1, 1, 0, 3}, {4});
    for (int dim : {0, 1, 2})
      NL_GRADCHECK([&](const std::vector<Tensor>& in) { return index_select(in[0], dim, idx); },
                   {param({4, 4, 4}, -1, 1, 21 + dim)});
    NL_GRADCHECK([&](const std::vector<Tensor>& in) { return index_select(in[0].t(), 1, idx); },
                 {param({5, 3}, -1, 1, 25)});
  }

  void embeddingRejectsBadArguments() {
    Tensor w = zeros({5, 3});
    std::string e = error_of([&] { embedding(w, tensor(std::vector<int64_t>{0, 5, 1}, {3})); });
    QVERIFY2(contains(e, "embedding") && contains(e, "index 5") && contains(e, "position 1") && contains(e, "size 5"),
             e.c_str());
    e = error_of([&] { embedding(w, tensor(std::vector<int64_t>{-1}, {1})); });
    QVERIFY2(contains(e, "index -1"), e.c_str());
    e = error_of([&] { embedding(w, zeros({2})); });
    QVERIFY2(contains(e, "int64") && contains(e, "float32"), e.c_str());
    e = error_of([&] { embedding(zeros({5}), tensor(std::vector<int64_t>{0}, {1})); });
    QVERIFY2(contains(e, "weight") && contains(e, "[5]"), e.c_str());
  }

  void gatherRejectsBadArguments() {
    Tensor x = zeros({3, 4});
    std::string e = error_of([&] { gather(x, 1, tensor(std::vector<int64_t>{0, 4}, {1, 2})); });
    QVERIFY2(contains(e, "gather") && contains(e, "index 4") && contains(e, "position 1"), e.c_str());
    e = error_of([&] { gather(x, 1, tensor(std::vector<int64_t>{0, 1}, {2})); });
    QVERIFY2(contains(e, "dimensions"), e.c_str());
    e = error_of([&] { gather(x, 1, zeros({4, 2}).to(DType::Int64)); });
    QVERIFY2(contains(e, "larger") && contains(e, "[4, 2]"), e.c_str());
    e = error_of([&] { gather(x, 2, zeros({3, 4}).to(DType::Int64)); });
    QVERIFY2(contains(e, "dimension 2"), e.c_str());
    e = error_of([&] { gather(x, 0, zeros({3, 4})); });
    QVERIFY2(contains(e, "int64"), e.c_str());
  }

  void indexSelectRejectsBadArguments() {
    Tensor x = zeros({3, 4});
    std::string e = error_of([&] { index_select(x, 1, tensor(std::vector<int64_t>{0, 9}, {2})); });
    QVERIFY2(contains(e, "index_select") && contains(e, "index 9") && contains(e, "dimension 1 of size 4"), e.c_str());
    e = error_of([&] { index_select(x, 0, tensor(std::vector<int64_t>{0, 1}, {1, 2})); });
    QVERIFY2(contains(e, "1-D"), e.c_str());
    e = error_of([&] { index_select(x, 0, zeros({2})); });
    QVERIFY2(contains(e, "int64"), e.c_str());
  }
};

QTEST_APPLESS_MAIN(IndexingTest)
#include "test_indexing.moc"
