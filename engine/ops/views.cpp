// Views (reshape, transpose, permute, narrow/slice/select, expand, squeeze, unsqueeze) and
// conversions (dtype, device, contiguous, clone), each recording its backward rule.
// See Note [Views] in engine/core/tensor.h.
#include <cstring>
#include <numeric>

#include "engine/ops/elementwise.h"
#include "engine/ops/op_utils.h"

namespace nl {

using detail::raw_view;

namespace {

// Strides for viewing a tensor with `shape`/`strides` as `target`, or an empty optional when
// the memory layout does not allow it (then reshape copies). Same rule as PyTorch's
// computeStride: walk chunks of dims that are contiguous with each other.
bool view_strides(const Shape& shape, const Shape& strides, const Shape& target, Shape& out) {
  out.resize(target.size());
  if (shape.numel() == 0 || shape.size() == 0) {
    out = contiguous_strides(target);
    return true;
  }
  int view_d = target.size() - 1;
  int64_t chunk_base_stride = strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int tensor_d = shape.size() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= shape[tensor_d];
    if (tensor_d == 0 || (shape[tensor_d - 1] != 1 && strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || target[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= target[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Shape infer_shape(const Shape& requested, int64_t numel, const char* op, const Shape& from) {
  Shape s = requested;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      NL_CHECK(infer < 0, op, ": only one dimension can be -1 in ", requested.str());
      infer = i;
    } else {
      NL_CHECK(s[i] >= 0, op, ": invalid size ", s[i], " in ", requested.str());
      known *= s[i];
    }
  }
  if (infer >= 0) {
    NL_CHECK(known != 0 && numel % known == 0, op, ": shape ", requested.str(), " is invalid for input of shape ",
             from.str());
    s[infer] = numel / known;
  }
  NL_CHECK(s.numel() == numel, op, ": shape ", requested.str(), " is invalid for input of shape ", from.str(), " (",
           numel, " elements)");
  return s;
}

}  // namespace

Tensor Tensor::view(const Shape& requested) const {
  Shape target = infer_shape(requested, numel(), "view", shape());
  Shape st;
  NL_CHECK(view_strides(shape(), strides(), target, st), "view: shape ", target.str(),
           " is not compatible with the input's strides; use reshape (which copies)");
  Tensor out = raw_view(*this, target, st, offset());
  if (needs_grad({this})) {
    Shape in_shape = shape();
    record("ViewBackward", out, {this}, [in_shape](const Tensor& g) { return std::vector<Tensor>{g.reshape(in_shape)}; });
  }
  return out;
}

Tensor Tensor::reshape(const Shape& requested) const {
  Shape target = infer_shape(requested, numel(), "reshape", shape());
  Shape st;
  if (view_strides(shape(), strides(), target, st)) return view(target);
  return contiguous().view(target);
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  int s = wrap_dim(start_dim, dim(), "flatten"), e = wrap_dim(end_dim, dim(), "flatten");
  NL_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape target;
  for (int i = 0; i < s; ++i) target.push_back(shape()[i]);
  int64_t m = 1;
  for (int i = s; i <= e; ++i) m *= shape()[i];
  target.push_back(m);
  for (int i = e + 1; i < dim(); ++i) target.push_back(shape()[i]);
  return reshape(target);
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  if (dim() == 0) return *this;
  int a = wrap_dim(d0, dim(), "transpose"), b = wrap_dim(d1, dim(), "transpose");
  Shape sh = shape(), st = strides();
  std::swap(sh[a], sh[b]);
  std::swap(st[a], st[b]);
  Tensor out = raw_view(*this, sh, st, offset());
  if (needs_grad({this}))
    record("TransposeBackward", out, {this}, [a, b](const Tensor& g) { return std::vector<Tensor>{g.transpose(a, b)}; });
  return out;
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  NL_CHECK(static_cast<int>(dims.size()) == dim(), "permute: ", dims.size(), " dims given for a tensor of rank ", dim());
  Shape sh, st;
  std::vector<int64_t> inverse(dims.size());
  std::vector<bool> used(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int d = wrap_dim(dims[i], dim(), "permute");
    NL_CHECK(!used[d], "permute: dimension ", d, " repeated");
    used[d] = true;
    inverse[d] = static_cast<int64_t>(i);
    sh.push_back(shape()[d]);
    st.push_back(strides()[d]);
  }
  Tensor out = raw_view(*this, sh, st, offset());
  if (needs_grad({this}))
    record("PermuteBackward", out, {this}, [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; });
  return out;
}

Tensor Tensor::slice(int64_t dim_, int64_t start, int64_t end, int64_t step) const {
  int d = wrap_dim(dim_, dim(), "slice");
  NL_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape sh = shape(), st = strides();
  sh[d] = (end - start + step - 1) / step;
  st[d] = strides()[d] * step;
  Tensor out = raw_view(*this, sh, st, offset() + start * strides()[d]);
  if (needs_grad({this})) {
    Shape in_shape = shape();
    record("SliceBackward", out, {this}, [in_shape, d, start, end, step](const Tensor& g) {
      Tensor z = zeros(in_shape, {.dtype = g.dtype(), .device = g.device()});
      Tensor part = z.slice(d, start, end, step);
      copy_(part, g);
      return std::vector<Tensor>{z};
    });
  }
  return out;
}

Tensor Tensor::narrow(int64_t dim_, int64_t start, int64_t length) const {
  int d = wrap_dim(dim_, dim(), "narrow");
  int64_t n = shape()[d];
  if (start < 0) start += n;
  NL_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: range [", start, ", ", start + length,
           ") is outside dimension ", d, " of size ", n);
  return slice(d, start, start + length, 1);
}

Tensor Tensor::select(int64_t dim_, int64_t index) const {
  int d = wrap_dim(dim_, dim(), "select");
  int64_t n = shape()[d];
  NL_CHECK(index >= -n && index < n, "select: index ", index, " out of range for dimension ", d, " of size ", n);
  if (index < 0) index += n;
  return narrow(d, index, 1).squeeze(d);
}

Tensor Tensor::expand(const Shape& target_in) const {
  NL_CHECK(target_in.size() >= dim(), "expand: target ", target_in.str(), " has fewer dims than ", shape().str());
  Shape target = target_in;
  int lead = target.size() - dim();
  for (int i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      NL_CHECK(i >= lead, "expand: -1 is not allowed for a new leading dimension");
      target[i] = shape()[i - lead];
    }
    if (i >= lead) {
      int64_t s = shape()[i - lead];
      NL_CHECK(s == target[i] || s == 1, "expand: dimension ", i, " of size ", s, " cannot expand to ", target[i],
               " (", shape().str(), " → ", target_in.str(), ")");
    }
  }
  Tensor out = detail::broadcast_view(*this, target);
  if (out.same(*this)) return *this;
  if (needs_grad({this}))  // the engine sums the gradient back to this tensor's shape
    record("ExpandBackward", out, {this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::squeeze() const {
  Shape sh;
  for (int64_t s : shape())
    if (s != 1) sh.push_back(s);
  return sh == shape() ? *this : reshape(sh);
}

Tensor Tensor::squeeze(int64_t dim_) const {
  if (dim() == 0) return *this;
  int d = wrap_dim(dim_, dim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape sh = shape(), st = strides();
  sh.erase(d);
  st.erase(d);
  Tensor out = raw_view(*this, sh, st, offset());
  if (needs_grad({this}))
    record("SqueezeBackward", out, {this}, [d](const Tensor& g) { return std::vector<Tensor>{g.unsqueeze(d)}; });
  return out;
}

Tensor Tensor::unsqueeze(int64_t dim_) const {
  int d = wrap_dim(dim_, dim() + 1, "unsqueeze");
  Shape sh = shape(), st = strides();
  int64_t s = d < dim() ? strides()[d] * shape()[d] : 1;
  sh.insert(d, 1);
  st.insert(d, s);
  Tensor out = raw_view(*this, sh, st, offset());
  if (needs_grad({this}))
    record("UnsqueezeBackward", out, {this}, [d](const Tensor& g) { return std::vector<Tensor>{g.squeeze(d)}; });
  return out;
}

// ---- Conversions ----------------------------------------------------------------------

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype(), device());
  if (numel() > 0) backend_for(device()).copy(*this, out);
  if (needs_grad({this}))
    record("CloneBackward", out, {this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::pin_memory() const {
  NL_CHECK(device().is_cpu(), "pin_memory: the tensor is on ", device().str(), "; only CPU tensors can be pinned");
  Allocator* pinned = pinned_host_allocator();
  if (pinned == cpu_allocator()) return contiguous();
  Tensor src = contiguous();
  auto impl = std::make_shared<TensorImpl>();
  const size_t nbytes = static_cast<size_t>(numel()) * element_size();
  impl->storage = std::make_shared<Storage>(nbytes, pinned);
  impl->shape = shape();
  impl->strides = src.strides();
  impl->dtype = dtype();
  if (nbytes) std::memcpy(impl->storage->data(), src.raw_data(), nbytes);
  return Tensor(std::move(impl));
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = Tensor::empty(shape(), target, device());
  if (numel() > 0) backend_for(device()).copy(*this, out);
  if (is_floating(target) && needs_grad({this})) {
    DType src = dtype();
    record("ToDTypeBackward", out, {this}, [src](const Tensor& g) { return std::vector<Tensor>{g.to(src)}; });
  }
  return out;
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor src = contiguous();
  Tensor out = Tensor::empty(shape(), dtype(), target);
  if (numel() > 0) {
    if (device().is_cpu()) {
      backend_for(target).copy_from_host(src.raw_data(), out);
    } else if (target.is_cpu()) {
      backend_for(device()).copy_to_host(src, out.raw_data());
    } else {  // device to device through the host
      Tensor host = src.to(Device::cpu());
      backend_for(target).copy_from_host(host.raw_data(), out);
    }
  }
  if (needs_grad({this})) {
    Device from = device();
    record("ToDeviceBackward", out, {this}, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
  }
  return out;
}

}  // namespace nl
