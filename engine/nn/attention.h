// Multi-head attention, the Transformer encoder layer and the encoder stack, with torch.nn's
// parameter names (layers.0.self_attn.in_proj_weight, ...out_proj.weight, linear1, norm1, ...)
// and init.
#pragma once
#include <memory>

#include "engine/core/generator.h"
#include "engine/nn/dropout.h"
#include "engine/nn/linear.h"
#include "engine/nn/module.h"
#include "engine/nn/norm.h"

namespace nl::nn {

struct AttentionOptions {
  double dropout = 0;        // on the attention weights, in training
  bool bias = true;          // in_proj_bias and out_proj.bias
  bool batch_first = false;  // [N, L, E] instead of [L, N, E]
  Generator* gen = nullptr;  // initial weights and dropout masks
};

// What to hide from each query. attn_mask: [L, S]; bool (true = may not attend) or float
// (added to the scores). key_padding_mask: bool [N, S], true = padding key.
struct AttentionMasks {
  Tensor attn_mask;
  Tensor key_padding_mask;
};

struct AttentionResult {
  Tensor output;   // like the query
  Tensor weights;  // [N, L, S], averaged over heads
};

class MultiheadAttention : public Module {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, const AttentionOptions& opts = {});

  AttentionResult attend(const Tensor& query, const Tensor& key, const Tensor& value, const AttentionMasks& masks = {});
  Tensor forward(const Tensor& x) override { return attend(x, x, x).output; }  // self-attention
  Tensor forward(const std::vector<Tensor>& qkv) override;  // {x} or {query, key, value}
  std::string type_name() const override { return "MultiheadAttention"; }

  int64_t embed_dim, num_heads;
  AttentionOptions options;
  Tensor in_proj_weight;  // [3E, E]: the query, key and value projections stacked
  Tensor in_proj_bias;    // [3E] or undefined
  std::shared_ptr<Linear> out_proj;
};

enum class FeedForwardActivation { ReLU, GELU };

struct EncoderLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  FeedForwardActivation activation = FeedForwardActivation::ReLU;
  double layer_norm_eps = 1e-5;
  bool batch_first = false;
  bool norm_first = false;  // pre-norm: x + sa(norm1(x)) instead of norm1(x + sa(x))
  Generator* gen = nullptr;
};

class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, const EncoderLayerOptions& opts = {});

  using Module::forward;
  Tensor forward(const Tensor& src) override { return encode(src); }
  Tensor encode(const Tensor& src, const AttentionMasks& masks = {});
  std::string type_name() const override { return "TransformerEncoderLayer"; }

  EncoderLayerOptions options;
  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;
  std::shared_ptr<LayerNorm> norm1, norm2;

 private:
  Tensor self_attention_block(const Tensor& x, const AttentionMasks& masks);
  Tensor feed_forward_block(const Tensor& x);
};

// num_layers encoder layers (each initialised on its own, where PyTorch deep-copies one
// layer so all start equal; load a state_dict to match it) and an optional final LayerNorm.
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(int64_t d_model, int64_t nhead, int64_t num_layers, const EncoderLayerOptions& opts = {},
                     bool final_norm = false);

  using Module::forward;
  Tensor forward(const Tensor& src) override { return encode(src); }
  Tensor encode(const Tensor& src, const AttentionMasks& masks = {});
  std::string type_name() const override { return "TransformerEncoder"; }

  std::shared_ptr<Sequential> layers;  // "layers.0", "layers.1", ...
  std::shared_ptr<LayerNorm> norm;     // null without final_norm
};

}  // namespace nl::nn
