// cat, stack, split and chunk. Splits are views; cat copies each input into its slice.
#include "engine/ops/movement.h"

#include "engine/ops/elementwise.h"
#include "engine/ops/op_utils.h"

namespace nl {

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  NL_CHECK(!tensors.empty(), "cat: needs at least one tensor");
  const Tensor& first = tensors[0];
  for (size_t i = 0; i < tensors.size(); ++i) detail::check_defined("cat", tensors[i], "an input");
  int d = wrap_dim(dim, first.dim(), "cat");
  NL_CHECK(first.dim() > 0, "cat: zero-dimensional tensors cannot be concatenated");
  DType dt = first.dtype();
  for (const Tensor& t : tensors) dt = detail::promote(dt, t.dtype());
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    detail::check_same_device("cat", first, t);
    NL_CHECK(t.dim() == first.dim(), "cat: input ", i, " has rank ", t.dim(), " but input 0 has rank ", first.dim());
    for (int k = 0; k < t.dim(); ++k)
      NL_CHECK(k == d || t.shape()[k] == first.shape()[k], "cat: input ", i, " has shape ", t.shape().str(),
               ", which differs from input 0 ", first.shape().str(), " outside dimension ", d);
    out_shape[d] += t.shape()[d];
  }
  Tensor out = Tensor::empty(out_shape, dt, first.device());
  std::vector<int64_t> offsets;
  int64_t off = 0;
  for (const Tensor& t : tensors) {
    offsets.push_back(off);
    if (t.numel() > 0) {
      Shape st = out.strides();
      Tensor dst = detail::raw_view(out, t.shape(), st, off * out.strides()[d]);
      backend_for(out.device()).copy(t, dst);
    }
    off += t.shape()[d];
  }
  bool any = false;
  for (const Tensor& t : tensors) any = any || t.requires_grad();
  if (grad_enabled() && any && is_floating(dt)) {
    std::vector<int64_t> sizes;
    for (const Tensor& t : tensors) sizes.push_back(t.shape()[d]);
    record("cat", out, tensors, [d, offsets, sizes](const Tensor& g) {
      std::vector<Tensor> gs;
      for (size_t i = 0; i < sizes.size(); ++i) gs.push_back(g.narrow(d, offsets[i], sizes[i]).to(g.dtype()));
      return gs;
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  NL_CHECK(!tensors.empty(), "stack: needs at least one tensor");
  int d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    NL_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: input ", i, " has shape ", tensors[i].shape().str(),
             " but input 0 has ", tensors[0].shape().str());
    parts.push_back(tensors[i].unsqueeze(d));
  }
  return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  int d = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    NL_CHECK(s >= 0, "split: negative size ", s);
    total += s;
  }
  NL_CHECK(total == x.shape()[d], "split: sizes add up to ", total, " but dimension ", d, " has size ", x.shape()[d]);
  std::vector<Tensor> out;
  int64_t off = 0;
  for (int64_t s : sizes) {
    out.push_back(x.narrow(d, off, s));
    off += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t dim) {
  NL_CHECK(size > 0, "split: split size must be positive, got ", size);
  int d = wrap_dim(dim, x.dim(), "split");
  std::vector<int64_t> sizes;
  for (int64_t off = 0; off < x.shape()[d]; off += size) sizes.push_back(std::min(size, x.shape()[d] - off));
  if (sizes.empty()) sizes.push_back(0);
  return split(x, sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  NL_CHECK(chunks > 0, "chunk: number of chunks must be positive, got ", chunks);
  int d = wrap_dim(dim, x.dim(), "chunk");
  int64_t size = (x.shape()[d] + chunks - 1) / chunks;
  return split(x, std::max<int64_t>(size, 1), d);
}

}  // namespace nl
