// Multi-head scaled dot-product attention, the Transformer encoder layer and stack (see
// attention.h), composed from matmul, softmax and elementwise ops.
#include "engine/nn/attention.h"

#include <cmath>
#include <limits>

#include "engine/core/error.h"
#include "engine/nn/init.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/random.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"

namespace nl::nn {

MultiheadAttention::MultiheadAttention(int64_t e, int64_t heads, const AttentionOptions& opts)
    : embed_dim(e), num_heads(heads), options(opts) {
  NL_CHECK(e > 0 && heads > 0 && e % heads == 0, "MultiheadAttention: embed_dim ", e,
           " must be a positive multiple of num_heads ", heads);
  in_proj_weight = empty({3 * e, e});
  init::xavier_uniform_(in_proj_weight, 1.0, opts.gen);
  register_parameter("in_proj_weight", in_proj_weight);
  if (opts.bias) {
    in_proj_bias = zeros({3 * e});
    register_parameter("in_proj_bias", in_proj_bias);
  }
  out_proj = register_module("out_proj", std::make_shared<Linear>(e, e, opts.bias, opts.gen));
  if (opts.bias) init::zeros_(out_proj->bias);  // as PyTorch's _reset_parameters
}

Tensor MultiheadAttention::forward(const std::vector<Tensor>& qkv) {
  NL_CHECK(qkv.size() == 1 || qkv.size() == 3, "MultiheadAttention: takes {x} or {query, key, value}, got ",
           qkv.size(), " inputs");
  return qkv.size() == 1 ? forward(qkv[0]) : attend(qkv[0], qkv[1], qkv[2]).output;
}

AttentionResult MultiheadAttention::attend(const Tensor& query, const Tensor& key, const Tensor& value,
                                           const AttentionMasks& masks) {
  for (const Tensor* t : {&query, &key, &value})
    NL_CHECK(t->dim() == 3 && t->size(2) == embed_dim, "MultiheadAttention: expected inputs ",
             options.batch_first ? "[N, L, " : "[L, N, ", embed_dim, "], got ", t->shape().str());
  // Work batch-first: [N, L, E].
  Tensor q = options.batch_first ? query : query.transpose(0, 1);
  Tensor k = options.batch_first ? key : key.transpose(0, 1);
  Tensor v = options.batch_first ? value : value.transpose(0, 1);
  int64_t n = q.size(0), l = q.size(1), s = k.size(1), d = embed_dim / num_heads;
  NL_CHECK(k.size(0) == n && v.size(0) == n && v.size(1) == s, "MultiheadAttention: query ", query.shape().str(),
           ", key ", key.shape().str(), " and value ", value.shape().str(), " disagree on batch or length");
  auto project = [&](const Tensor& x, int64_t which) {
    Tensor w = in_proj_weight.narrow(0, which * embed_dim, embed_dim);
    Tensor b = in_proj_bias.defined() ? in_proj_bias.narrow(0, which * embed_dim, embed_dim) : Tensor();
    return linear(x, w, b).reshape({n, x.size(1), num_heads, d}).transpose(1, 2);  // [N, heads, len, d]
  };
  Tensor scores = matmul(project(q, 0), project(k, 1).transpose(2, 3)) / std::sqrt((double)d);  // [N, h, L, S]
  double neg_inf = -std::numeric_limits<double>::infinity();
  if (masks.attn_mask.defined()) {
    NL_CHECK(masks.attn_mask.shape() == Shape({l, s}), "MultiheadAttention: attn_mask must be [", l, ", ", s,
             "], got ", masks.attn_mask.shape().str());
    scores = masks.attn_mask.dtype() == DType::Bool ? where(masks.attn_mask, full_like(scores, neg_inf), scores)
                                                    : scores + masks.attn_mask;
  }
  if (masks.key_padding_mask.defined()) {
    NL_CHECK(masks.key_padding_mask.shape() == Shape({n, s}) && masks.key_padding_mask.dtype() == DType::Bool,
             "MultiheadAttention: key_padding_mask must be bool [", n, ", ", s, "], got ",
             masks.key_padding_mask.shape().str());
    scores = where(masks.key_padding_mask.reshape({n, 1, 1, s}), full_like(scores, neg_inf), scores);
  }
  Tensor weights = softmax(scores, -1);
  Tensor dropped = dropout(weights, options.dropout, is_training(), options.gen);
  Tensor context = matmul(dropped, project(v, 2)).transpose(1, 2).reshape({n, l, embed_dim});
  Tensor out = out_proj->forward(context);
  return {options.batch_first ? out : out.transpose(0, 1), mean(weights, {1})};
}

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead, const EncoderLayerOptions& opts)
    : options(opts) {
  // Registration order gives PyTorch's state_dict order.
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                               d_model, nhead, AttentionOptions{.dropout = opts.dropout, .batch_first = opts.batch_first, .gen = opts.gen}));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, opts.dim_feedforward, true, opts.gen));
  dropout = register_module("dropout", std::make_shared<Dropout>(opts.dropout, opts.gen));
  linear2 = register_module("linear2", std::make_shared<Linear>(opts.dim_feedforward, d_model, true, opts.gen));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(std::vector<int64_t>{d_model}, opts.layer_norm_eps));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(std::vector<int64_t>{d_model}, opts.layer_norm_eps));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(opts.dropout, opts.gen));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(opts.dropout, opts.gen));
}

Tensor TransformerEncoderLayer::self_attention_block(const Tensor& x, const AttentionMasks& masks) {
  return dropout1->forward(self_attn->attend(x, x, x, masks).output);
}

Tensor TransformerEncoderLayer::feed_forward_block(const Tensor& x) {
  Tensor hidden = linear1->forward(x);
  hidden = options.activation == FeedForwardActivation::ReLU ? relu(hidden) : gelu(hidden);
  return dropout2->forward(linear2->forward(dropout->forward(hidden)));
}

Tensor TransformerEncoderLayer::encode(const Tensor& src, const AttentionMasks& masks) {
  Tensor x = src;
  if (options.norm_first) {
    x = x + self_attention_block(norm1->forward(x), masks);
    return x + feed_forward_block(norm2->forward(x));
  }
  x = norm1->forward(x + self_attention_block(x, masks));
  return norm2->forward(x + feed_forward_block(x));
}

TransformerEncoder::TransformerEncoder(int64_t d_model, int64_t nhead, int64_t num_layers,
                                       const EncoderLayerOptions& opts, bool final_norm) {
  NL_CHECK(num_layers > 0, "TransformerEncoder: num_layers must be positive, got ", num_layers);
  layers = register_module("layers", std::make_shared<Sequential>());
  for (int64_t i = 0; i < num_layers; ++i) layers->push_back(std::make_shared<TransformerEncoderLayer>(d_model, nhead, opts));
  if (final_norm)
    norm = register_module("norm", std::make_shared<LayerNorm>(std::vector<int64_t>{d_model}, opts.layer_norm_eps));
}

Tensor TransformerEncoder::encode(const Tensor& src, const AttentionMasks& masks) {
  Tensor x = src;
  for (size_t i = 0; i < layers->size(); ++i) x = std::static_pointer_cast<TransformerEncoderLayer>((*layers)[i])->encode(x, masks);
  return norm ? norm->forward(x) : x;
}

}  // namespace nl::nn
