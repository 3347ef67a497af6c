// The CUDA backend: one instance per device, implementing every Backend kernel on that
// device's compute stream. Kernel families live in their own files beside this one
// (copy_fill.cu, elementwise.cu, reduce.cu, softmax_loss.cu, norm.cu, pool.cu,
// indexing.cu, random.cu; cuBLAS in cublas_matmul.cpp, cuDNN in cudnn_conv.cpp and
// cudnn_batch_norm.cpp). Only this header and cuda_runtime.h (cuda_api.h) are shared
// with the rest of the engine; no CUDA type leaks into engine/core or engine/ops.
#pragma once
#include "engine/backends/backend.h"

namespace nl::cuda {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : index_(index) {}
  int index() const { return index_; }
  Device device() const override { return Device::cuda(index_); }
  std::string description() const override;
  Allocator* allocator() override;
  void synchronize() override;
  DeviceMemoryStats memory_stats() override;
  void empty_cache() override;
  optim::FusedUpdateKernels* fused_updates() override;  // cuda_fused_updates.cpp
  std::string graph_capture_blocker() const override { return {}; }
  std::unique_ptr<CapturedGraph> capture_graph(const std::function<void()>& work) override;  // cuda_graph.cpp
  bool is_capturing() const override;

  void copy(const Tensor& src, Tensor& dst) override;
  void copy_to_host(const Tensor& t, void* host) override;
  void copy_from_host(const void* host, Tensor& t) override;
  void fill(Tensor& dst, double value) override;
  void arange(Tensor& dst, double start, double step) override;
  void uniform(Tensor& dst, double low, double high, Generator& gen) override;
  void normal(Tensor& dst, double mean, double std, Generator& gen) override;

  void unary(UnaryOp op, const Tensor& x, Tensor& out, float alpha, float beta) override;
  void unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& y, Tensor& out,
                      float alpha, float beta) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, Tensor& out) override;

  void reduce(ReduceOp op, const Tensor& x, const std::vector<bool>& reduce, Tensor& out) override;
  void matmul(const Tensor& a, const Tensor& b, Tensor& out, bool accumulate) override;

  void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& out, const Conv2dParams& p) override;
  void conv2d_backward_input(const Tensor& grad_out, const Tensor& w, Tensor& grad_x,
                             const Conv2dParams& p) override;
  void conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, Tensor& grad_w,
                              const Conv2dParams& p) override;

  void max_pool2d(const Tensor& x, Tensor& out, Tensor& indices, const Pool2dParams& p) override;
  void max_pool2d_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_x) override;
  void avg_pool2d(const Tensor& x, Tensor& out, const Pool2dParams& p) override;
  void avg_pool2d_backward(const Tensor& grad_out, Tensor& grad_x, const Pool2dParams& p) override;

  void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& running_mean,
                  Tensor& running_var, bool training, double momentum, double eps, Tensor& out, Tensor& save_mean,
                  Tensor& save_invstd) override;
  void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& save_mean,
                           const Tensor& save_invstd, bool training, double eps, Tensor& grad_x, Tensor& grad_weight,
                           Tensor& grad_bias) override;
  void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_numel, double eps,
                  Tensor& out, Tensor& mean, Tensor& rstd) override;
  void layer_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight, const Tensor& mean,
                           const Tensor& rstd, int64_t normalized_numel, Tensor& grad_x, Tensor& grad_weight,
                           Tensor& grad_bias) override;

  void softmax(const Tensor& x, int dim, bool log, Tensor& out) override;
  void softmax_backward(const Tensor& grad_out, const Tensor& y, int dim, bool log, Tensor& grad_x) override;
  void cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index, double label_smoothing,
                     Tensor& losses, Tensor& lse) override;
  void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& lse, const Tensor& scale,
                              int64_t ignore_index, double label_smoothing, Tensor& grad_logits) override;

  void embedding(const Tensor& weight, const Tensor& indices, Tensor& out) override;
  void embedding_backward(const Tensor& grad_out, const Tensor& indices, Tensor& grad_weight) override;
  void gather(const Tensor& x, int dim, const Tensor& index, Tensor& out) override;
  void scatter_add(const Tensor& grad_out, int dim, const Tensor& index, Tensor& grad_x) override;

  void dropout_mask(Tensor& mask, double p, Generator& gen) override;

 private:
  int index_;
};

}  // namespace nl::cuda
