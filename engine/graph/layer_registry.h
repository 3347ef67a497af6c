// The layer registry: one LayerSchema per layer type. builtin() holds every layer Netloom
// ships (registered by engine/graph/layers/*.cpp); tests and importers may build their own.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "engine/graph/layer_schema.h"

namespace nl::graph {

class LayerRegistry {
 public:
  // Throws nl::Error on a duplicate type or an inconsistent schema (bad default, variadic
  // port not last, missing infer/build).
  void add(LayerSchema schema);
  const LayerSchema* find(const std::string& type) const;
  const LayerSchema& get(const std::string& type) const;  // throws naming the type
  std::vector<std::string> types() const;                 // sorted
  std::vector<std::string> categories() const;            // in first-registered order
  size_t size() const { return schemas_.size(); }

  // Every layer Netloom ships.
  static const LayerRegistry& builtin();

 private:
  std::map<std::string, LayerSchema> schemas_;
  std::vector<std::string> categories_;
};

// Registration functions, one per file in engine/graph/layers/.
void register_io_layers(LayerRegistry& r);          // Input, Output, Loss
void register_dense_layers(LayerRegistry& r);       // Linear, Embedding, MatMul
void register_conv_layers(LayerRegistry& r);        // Conv1d, Conv2d, ConvTranspose2d
void register_pool_layers(LayerRegistry& r);        // MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, GlobalAvgPool2d
void register_norm_layers(LayerRegistry& r);        // BatchNorm1d/2d, LayerNorm, GroupNorm, Dropout
void register_activation_layers(LayerRegistry& r);  // ReLU, ReLU6, LeakyReLU, GELU, SiLU, Sigmoid, Tanh, Softmax
void register_sequence_layers(LayerRegistry& r);    // LSTM, GRU, MultiheadAttention, TransformerEncoderLayer
void register_shape_layers(LayerRegistry& r);       // Flatten, Reshape, Permute, Slice, Split, Concat, Add, Mul, Identity
void register_onnx_op_layer(LayerRegistry& r);      // OnnxOp (generic ONNX operators)

}  // namespace nl::graph
