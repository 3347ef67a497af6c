// Losses. Cross-entropy is fused with log-softmax (one pass forward, one backward).
#pragma once
#include "engine/core/tensor.h"

namespace nl {

enum class Reduction { None, Mean, Sum };

// logits [N, C] or [N, C, d1, ...]; target Int64 [N] or [N, d1, ...] of class indices.
// Mean divides by the number of targets that are not ignore_index (as PyTorch).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, Reduction reduction = Reduction::Mean,
                     int64_t ignore_index = -100, double label_smoothing = 0.0);

}  // namespace nl
