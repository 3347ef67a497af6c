// embedding, gather and index_select. embedding and gather call their kernels and scatter
// the gradient back (embedding_backward, scatter_add); index_select is embedding on x with
// the selected dimension moved to the front, so it needs no gradient code of its own.
#include "engine/ops/indexing.h"

#include <vector>

#include "engine/ops/op_utils.h"

namespace nl {
namespace {

void check_index_tensor(const char* op, const Tensor& index, const Tensor& x) {
  detail::check_defined(op, index, "index");
  NL_CHECK(index.dtype() == DType::Int64, op, ": index must be int64, got ", dtype_name(index.dtype()));
  NL_CHECK(index.device() == x.device(), op, ": index is on ", index.device().str(), " but the input is on ",
           x.device().str());
}

}  // namespace

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  detail::check_defined("embedding", weight, "weight");
  NL_CHECK(weight.dtype() == DType::Float32, "embedding: weight must be float32, got ", dtype_name(weight.dtype()));
  NL_CHECK(weight.dim() == 2, "embedding: weight must be [num_embeddings, dim], got shape ", weight.shape().str());
  check_index_tensor("embedding", indices, weight);
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.size(1));

  const bool grad = needs_grad({&weight});
  const Device device = weight.device();
  NoGradGuard no_grad;
  Tensor w = weight.contiguous();
  Tensor idx = indices.contiguous();
  Tensor out = Tensor::empty(out_shape, DType::Float32, device);
  backend_for(device).embedding(w, idx, out);

  if (grad) {
    record("embedding", out, {&weight}, [idx, table_shape = w.shape(), device](const Tensor& g) {
      Tensor gw = zeros(table_shape, {.device = device});
      backend_for(device).embedding_backward(g.contiguous(), idx, gw);
      return std::vector<Tensor>{gw};
    });
  }
  return out;
}

Tensor gather(const Tensor& x_in, int64_t dim_in, const Tensor& index) {
  detail::check_defined("gather", x_in, "input");
  NL_CHECK(x_in.dtype() == DType::Float32, "gather: input must be float32, got ", dtype_name(x_in.dtype()));
  NL_CHECK(x_in.dim() >= 1, "gather: input must have at least one dimension");
  check_index_tensor("gather", index, x_in);
  const int dim = wrap_dim(dim_in, x_in.dim(), "gather");
  NL_CHECK(index.dim() == x_in.dim(), "gather: index has ", index.dim(), " dimensions but the input has ",
           x_in.dim(), " (index shape ", index.shape().str(), ", input shape ", x_in.shape().str(), ")");
  for (int d = 0; d < x_in.dim(); ++d)
    NL_CHECK(d == dim || index.size(d) <= x_in.size(d), "gather: index shape ", index.shape().str(),
             " is larger than input shape ", x_in.shape().str(), " in dimension ", d, " (only dimension ", dim,
             " may differ)");

  const bool grad = needs_grad({&x_in});
  const Device device = x_in.device();
  NoGradGuard no_grad;
  Tensor x = x_in.contiguous();
  Tensor idx = index.contiguous();
  Tensor out = Tensor::empty(idx.shape(), DType::Float32, device);
  backend_for(device).gather(x, dim, idx, out);

  if (grad) {
    record("gather", out, {&x_in}, [idx, dim, x_shape = x.shape(), device](const Tensor& g) {
      Tensor gx = zeros(x_shape, {.device = device});
      backend_for(device).scatter_add(g.contiguous(), dim, idx, gx);
      return std::vector<Tensor>{gx};
    });
  }
  return out;
}

Tensor index_select(const Tensor& x, int64_t dim_in, const Tensor& index) {
  detail::check_defined("index_select", x, "input");
  NL_CHECK(x.dtype() == DType::Float32, "index_select: input must be float32, got ", dtype_name(x.dtype()));
  NL_CHECK(x.dim() >= 1, "index_select: input must have at least one dimension");
  check_index_tensor("index_select", index, x);
  NL_CHECK(index.dim() <= 1, "index_select: index must be 1-D, got shape ", index.shape().str());
  const int dim = wrap_dim(dim_in, x.dim(), "index_select");
  const int64_t size = x.size(dim);
  // Checked here so the message names this op and the dimension, not the embedding inside.
  const std::vector<int64_t> picks = index.to_vector<int64_t>();
  for (size_t i = 0; i < picks.size(); ++i)
    NL_CHECK(picks[i] >= 0 && picks[i] < size, "index_select: index ", picks[i], " at position ", i,
             " is out of range for dimension ", dim, " of size ", size, " (input shape ", x.shape().str(), ")");

  // Rows of a [size, rest] table, where `rest` is every other dimension (in transposed order).
  Tensor moved = dim == 0 ? x : x.transpose(0, dim);
  Shape picked_shape = moved.shape();
  int64_t rest = 1;
  for (int d = 1; d < moved.dim(); ++d) rest *= moved.size(d);
  picked_shape[0] = static_cast<int64_t>(picks.size());
  Tensor table = moved.reshape({size, rest});
  Tensor picked = embedding(table, index.reshape({picked_shape[0]})).reshape(picked_shape);
  return dim == 0 ? picked : picked.transpose(0, dim);
}

}  // namespace nl
