// Tensor: a strided view (shape, strides, storage offset, dtype) onto a shared Storage,
// plus the autograd fields of define-by-run training.
//
// Worked example:
//   nl::Tensor w = nl::randn({3, 2}, {.requires_grad = true});
//   nl::Tensor x = nl::ones({4, 3});
//   nl::Tensor loss = nl::sum(nl::relu(nl::matmul(x, w)));
//   loss.backward();             // w.grad() now holds d loss / d w
//
// Note [Views]: reshape (when strides allow), transpose, permute, narrow/slice, expand,
// squeeze and unsqueeze return tensors sharing the same Storage with new shape/strides/offset.
// Kernels accept any strides; contiguous() copies only when the layout is not row-major.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/device.h"
#include "engine/core/dtype.h"
#include "engine/core/shape.h"
#include "engine/core/storage.h"

namespace nl {

struct Node;
class Generator;

struct TensorImpl {
  ~TensorImpl();  // releases long autograd chains iteratively (see engine/autograd/engine.cpp)
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;

  // Autograd (see engine/autograd/node.h). A leaf that requires grad gets its gradient in
  // `grad`; a non-leaf has `grad_fn`, the node that produced it.
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;
  std::weak_ptr<Node> grad_accumulator;  // weak: the accumulator holds this impl
  std::shared_ptr<TensorImpl> grad;
};

struct TensorOptions {
  DType dtype = DType::Float32;
  Device device = Device::cpu();
  bool requires_grad = false;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Uninitialised memory of the given shape, contiguous.
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int dim() const { return impl_->shape.size(); }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t numel() const { return impl_->shape.numel(); }
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  size_t element_size() const { return dtype_size(impl_->dtype); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }
  std::string str() const;  // "Tensor[2, 3] float32 cpu"

  // Pointer to the first element (storage base + offset). CPU tensors only.
  void* raw_data() const;
  template <class T>
  T* data() const { return static_cast<T*>(raw_data()); }
  // Value of a one-element tensor, converted to double (copies from the device if needed).
  double item() const;
  // All elements, row-major, converted to T (copies to the host if needed).
  template <class T>
  std::vector<T> to_vector() const;

  // Conversions and copies (differentiable for float → float and across devices).
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor contiguous() const;
  Tensor clone() const;
  // A contiguous copy in page-locked host memory when a CUDA device answers (copies from it
  // to the GPU run asynchronously), else a plain contiguous CPU tensor. CPU tensors only.
  Tensor pin_memory() const;

  // Views (Note [Views]); all differentiable.
  Tensor view(const Shape& shape) const;  // throws when strides don't allow it
  Tensor reshape(const Shape& shape) const;  // view when possible, else copy; one -1 allowed
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a size
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;

  // Autograd.
  bool requires_grad() const { return impl_->requires_grad; }
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl_->grad_fn; }
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  void zero_grad() { impl_->grad.reset(); }
  Tensor detach() const;  // shares storage, cut from the graph
  // Runs reverse-mode autograd from this tensor. `gradient` defaults to 1 for a scalar.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- Factories --------------------------------------------------------------------------
Tensor empty(const Shape& shape, const TensorOptions& opts = {});
Tensor zeros(const Shape& shape, const TensorOptions& opts = {});
Tensor ones(const Shape& shape, const TensorOptions& opts = {});
Tensor full(const Shape& shape, double value, const TensorOptions& opts = {});
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor scalar_tensor(double value, const TensorOptions& opts = {});
// start, start+step, ... < end. Float32 unless opts say otherwise.
Tensor arange(double start, double end, double step = 1, const TensorOptions& opts = {});
Tensor arange(int64_t end, const TensorOptions& opts = {.dtype = DType::Int64});
// Uniform [low, high) and standard normal, from `gen` or the default generator.
Tensor rand(const Shape& shape, const TensorOptions& opts = {}, Generator* gen = nullptr);
Tensor randn(const Shape& shape, const TensorOptions& opts = {}, Generator* gen = nullptr);
Tensor uniform(const Shape& shape, double low, double high, const TensorOptions& opts = {}, Generator* gen = nullptr);
// Copies `nbytes` of row-major data of `dtype` into a new CPU tensor.
Tensor from_buffer(const void* data, size_t nbytes, const Shape& shape, DType dtype);
Tensor tensor(const std::vector<float>& values, const Shape& shape, bool requires_grad = false);
Tensor tensor(const std::vector<int64_t>& values, const Shape& shape);
// Literal lists are float32: tensor({1, 2, 3}, {3}).
Tensor tensor(std::initializer_list<float> values, const Shape& shape, bool requires_grad = false);

}  // namespace nl
