// Tensor basics: allocation, metadata queries, element access and factories.
// Views and conversions, which record autograd, live in engine/ops/views.cpp.
#include "engine/core/tensor.h"

#include <cmath>
#include <cstring>

#include "engine/autograd/node.h"
#include "engine/backends/backend.h"
#include "engine/core/generator.h"

namespace nl {

TensorImpl::~TensorImpl() { release_node_iteratively(std::move(grad_fn)); }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape) NL_CHECK(d >= 0, "empty: negative dimension in shape ", shape.str());
  auto impl = std::make_shared<TensorImpl>();
  size_t nbytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  impl->storage = std::make_shared<Storage>(nbytes, allocator_for(device));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const { return impl_->shape[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return impl_->strides[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

std::string Tensor::str() const {
  if (!defined()) return "Tensor(undefined)";
  return "Tensor" + shape().str() + " " + dtype_name(dtype()) + " " + device().str();
}

void* Tensor::raw_data() const {
  NL_CHECK(defined(), "data: tensor is undefined");
  NL_CHECK(device().is_cpu(), "data: tensor is on ", device().str(), "; copy it to the CPU first");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(element_size());
}

double Tensor::item() const {
  NL_CHECK(defined(), "item: tensor is undefined");
  NL_CHECK(numel() == 1, "item: tensor has ", numel(), " elements ", shape().str(), ", expected one");
  return to_vector<double>()[0];
}

namespace {
template <class T>
T element_as(const void* p, DType dt) {
  switch (dt) {
    case DType::Float32: return static_cast<T>(*static_cast<const float*>(p));
    case DType::Float64: return static_cast<T>(*static_cast<const double*>(p));
    case DType::Float16: return static_cast<T>(half_to_float(*static_cast<const uint16_t*>(p)));
    case DType::BFloat16: return static_cast<T>(bfloat16_to_float(*static_cast<const uint16_t*>(p)));
    case DType::Int64: return static_cast<T>(*static_cast<const int64_t*>(p));
    case DType::Int32: return static_cast<T>(*static_cast<const int32_t*>(p));
    case DType::UInt8: return static_cast<T>(*static_cast<const uint8_t*>(p));
    case DType::Bool: return static_cast<T>(*static_cast<const uint8_t*>(p) != 0);
  }
  return T{};
}
}  // namespace

template <class T>
std::vector<T> Tensor::to_vector() const {
  NL_CHECK(defined(), "to_vector: tensor is undefined");
  Tensor host = device().is_cpu() ? contiguous() : to(Device::cpu());
  std::vector<T> out(static_cast<size_t>(host.numel()));
  const char* base = static_cast<const char*>(host.raw_data());
  size_t es = host.element_size();
  for (size_t i = 0; i < out.size(); ++i) out[i] = element_as<T>(base + i * es, host.dtype());
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

Tensor& Tensor::requires_grad_(bool on) {
  NL_CHECK(!on || is_floating(dtype()), "requires_grad_: only floating-point tensors can require gradients, not ",
           dtype_name(dtype()));
  NL_CHECK(is_leaf() || on, "requires_grad_(false): only leaf tensors can be changed; use detach()");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

// ---- Factories ----------------------------------------------------------------------------

Tensor empty(const Shape& shape, const TensorOptions& opts) {
  Tensor t = Tensor::empty(shape, opts.dtype, opts.device);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor full(const Shape& shape, double value, const TensorOptions& opts) {
  Tensor t = Tensor::empty(shape, opts.dtype, opts.device);
  if (t.numel() > 0) backend_for(opts.device).fill(t, value);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}
Tensor zeros(const Shape& shape, const TensorOptions& opts) { return full(shape, 0.0, opts); }
Tensor ones(const Shape& shape, const TensorOptions& opts) { return full(shape, 1.0, opts); }
Tensor zeros_like(const Tensor& t) { return full(t.shape(), 0.0, {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return full(t.shape(), 1.0, {.dtype = t.dtype(), .device = t.device()}); }
Tensor full_like(const Tensor& t, double v) { return full(t.shape(), v, {.dtype = t.dtype(), .device = t.device()}); }
Tensor scalar_tensor(double value, const TensorOptions& opts) { return full(Shape{}, value, opts); }

Tensor arange(double start, double end, double step, const TensorOptions& opts) {
  NL_CHECK(step != 0, "arange: step must be non-zero");
  NL_CHECK(std::isfinite(start) && std::isfinite(end), "arange: start and end must be finite");
  double count = std::ceil((end - start) / step);
  int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = Tensor::empty(Shape{n}, opts.dtype, opts.device);
  if (n > 0) backend_for(opts.device).arange(t, start, step);
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}
Tensor arange(int64_t end, const TensorOptions& opts) { return arange(0.0, static_cast<double>(end), 1.0, opts); }

Tensor uniform(const Shape& shape, double low, double high, const TensorOptions& opts, Generator* gen) {
  NL_CHECK(is_floating(opts.dtype), "uniform: dtype must be floating, not ", dtype_name(opts.dtype));
  NL_CHECK(low <= high, "uniform: low (", low, ") must not exceed high (", high, ")");
  Tensor t = Tensor::empty(shape, opts.dtype, opts.device);
  if (t.numel() > 0) backend_for(opts.device).uniform(t, low, high, gen ? *gen : default_generator());
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}
Tensor rand(const Shape& shape, const TensorOptions& opts, Generator* gen) { return uniform(shape, 0, 1, opts, gen); }

Tensor randn(const Shape& shape, const TensorOptions& opts, Generator* gen) {
  NL_CHECK(is_floating(opts.dtype), "randn: dtype must be floating, not ", dtype_name(opts.dtype));
  Tensor t = Tensor::empty(shape, opts.dtype, opts.device);
  if (t.numel() > 0) backend_for(opts.device).normal(t, 0, 1, gen ? *gen : default_generator());
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

Tensor from_buffer(const void* data, size_t nbytes, const Shape& shape, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype, Device::cpu());
  size_t need = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  NL_CHECK(nbytes == need, "from_buffer: ", nbytes, " bytes given but ", dtype_name(dtype), " × ", shape.str(),
           " needs ", need);
  if (need) std::memcpy(t.raw_data(), data, need);
  return t;
}

Tensor tensor(const std::vector<float>& values, const Shape& shape, bool requires_grad) {
  Tensor t = from_buffer(values.data(), values.size() * sizeof(float), shape, DType::Float32);
  if (requires_grad) t.requires_grad_(true);
  return t;
}
Tensor tensor(std::initializer_list<float> values, const Shape& shape, bool requires_grad) {
  return tensor(std::vector<float>(values), shape, requires_grad);
}
Tensor tensor(const std::vector<int64_t>& values, const Shape& shape) {
  return from_buffer(values.data(), values.size() * sizeof(int64_t), shape, DType::Int64);
}

}  // namespace nl
