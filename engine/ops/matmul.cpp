// matmul (torch.matmul semantics) and linear, over the backend's batched GEMM kernel.
#include "engine/ops/matmul.h"

#include "engine/core/autocast.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/op_utils.h"
#include "engine/ops/reduce.h"

namespace nl {
namespace {

// Batched product of a [Ba, M, K] and b [Bb, K, N] with Ba, Bb in {1, B}.
Tensor bmm(const Tensor& a, const Tensor& b) {
  const int64_t B = std::max(a.shape()[0], b.shape()[0]);
  const int64_t M = a.shape()[1], N = b.shape()[2];
  Tensor out = Tensor::empty(Shape{B, M, N}, a.dtype(), a.device());
  backend_for(a.device()).matmul(detail::broadcast_view(a, Shape{B, M, a.shape()[2]}),
                                 detail::broadcast_view(b, Shape{B, b.shape()[1], N}), out, false);
  if (needs_grad({&a, &b})) {
    bool need_a = a.requires_grad(), need_b = b.requires_grad();
    record("matmul", out, {&a, &b}, [a, b, need_a, need_b](const Tensor& g) {
      // Transposed views go to GEMM as transposed operands; batch broadcasting is undone by
      // the engine summing over the batch.
      Tensor ga = need_a ? bmm(g, b.transpose(1, 2)) : Tensor();
      Tensor gb = need_b ? bmm(a.transpose(1, 2), g) : Tensor();
      return std::vector<Tensor>{ga, gb};
    });
  }
  return out;
}

void check_matmul_args(const Tensor& a, const Tensor& b) {
  detail::check_defined("matmul", a, "first input");
  detail::check_defined("matmul", b, "second input");
  detail::check_same_device("matmul", a, b);
  NL_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both inputs need at least one dimension, got ", a.shape().str(),
           " and ", b.shape().str());
  if (a.device().is_cuda()) {
    // cuBLAS runs every floating type (half types with float accumulation).
    NL_CHECK(a.dtype() == b.dtype() && is_floating(a.dtype()), "matmul: inputs on ", a.device().str(),
             " must share one floating dtype (float32, float64, float16 or bfloat16), got ", dtype_name(a.dtype()),
             " and ", dtype_name(b.dtype()));
  } else {
    NL_CHECK(a.dtype() == DType::Float32 && b.dtype() == DType::Float32, "matmul: inputs must be float32, got ",
             dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  }
  int64_t ka = a.shape()[a.dim() - 1];
  int64_t kb = b.dim() == 1 ? b.shape()[0] : b.shape()[b.dim() - 2];
  NL_CHECK(ka == kb, "matmul: inner dimensions differ: ", a.shape().str(), " @ ", b.shape().str(), " (", ka, " vs ",
           kb, ")");
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  check_matmul_args(a, b);
  // Note [Autocast] (engine/core/autocast.h): bf16 operands, float32 result; the casts are
  // differentiable, so the gradients reach a and b as float32.
  if (a.dtype() == DType::Float32 && autocast_enabled(a.device()))
    return matmul(a.to(DType::BFloat16), b.to(DType::BFloat16)).to(DType::Float32);
  if (a.dim() == 1 && b.dim() == 1) return bmm(a.view({1, 1, -1}), b.view({1, -1, 1})).reshape(Shape{});
  if (a.dim() == 1) {
    Tensor r = matmul(a.unsqueeze(0), b);
    return r.squeeze(-2);
  }
  if (b.dim() == 1) {
    Tensor r = matmul(a, b.unsqueeze(1));
    return r.squeeze(-1);
  }
  const int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1], N = b.shape()[b.dim() - 1];
  if (b.dim() == 2) {
    // [..., M, K] @ [K, N]: fold all batch dims into M for one large GEMM.
    Shape out_shape(a.shape().begin(), a.shape().end() - 1);
    out_shape.push_back(N);
    int64_t rows = a.numel() / std::max<int64_t>(K, 1);  // not -1: with K = 0 it cannot be inferred
    if (K == 0) rows = Shape(a.shape().begin(), a.shape().end() - 1).numel();
    return bmm(a.reshape({1, rows, K}), b.unsqueeze(0)).reshape(out_shape);
  }
  // Broadcast the batch dims, then flatten them.
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  Shape ea = batch, eb = batch, out_shape = batch;
  ea.push_back(M), ea.push_back(K);
  eb.push_back(K), eb.push_back(N);
  out_shape.push_back(M), out_shape.push_back(N);
  int64_t B = batch.numel();
  Tensor a3 = ba == batch ? a.reshape({B, M, K}) : (ba.numel() == 1 ? a.reshape({1, M, K}) : a.expand(ea).reshape({B, M, K}));
  Tensor b3 = bb == batch ? b.reshape({B, K, N}) : (bb.numel() == 1 ? b.reshape({1, K, N}) : b.expand(eb).reshape({B, K, N}));
  return bmm(a3, b3).reshape(out_shape);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  detail::check_defined("linear", x, "input");
  detail::check_defined("linear", weight, "weight");
  NL_CHECK(weight.dim() == 2, "linear: weight must be [out_features, in_features], got ", weight.shape().str());
  NL_CHECK(x.dim() >= 1 && x.shape()[x.dim() - 1] == weight.shape()[1], "linear: input ", x.shape().str(),
           " does not end in in_features = ", weight.shape()[1]);
  NL_CHECK(!bias.defined() || (bias.dim() == 1 && bias.shape()[0] == weight.shape()[0]), "linear: bias ",
           bias.shape().str(), " does not match out_features = ", weight.shape()[0]);
  Tensor y = matmul(x, weight.t());
  return bias.defined() ? add(y, bias) : y;
}

}  // namespace nl
