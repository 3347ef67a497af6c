// Tensor shapes with symbolic dimensions, as shape inference sees them: the batch dimension
// of a graph input is "N" until a run fixes it; a dimension computed from a symbolic one
// (Flatten merging N with 8) stays symbolic.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/core/dtype.h"

namespace nl::graph {

struct Dim {
  int64_t size = -1;   // >= 0 when known
  std::string symbol;  // "N" for the batch; empty for an unnamed unknown

  static Dim known(int64_t n) { return Dim{n, {}}; }
  static Dim symbolic(std::string name = {}) { return Dim{-1, std::move(name)}; }
  bool is_known() const { return size >= 0; }
  bool operator==(const Dim&) const = default;
};

using SymShape = std::vector<Dim>;

struct TensorInfo {
  DType dtype = DType::Float32;
  SymShape shape;
  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  bool operator==(const TensorInfo&) const = default;
};

// "N×32×14×14"; "?" for an unnamed unknown dimension; "scalar" for rank 0.
std::string shape_to_string(const SymShape& shape);
// Builds a shape from ints where -1 means the symbolic batch "N".
SymShape shape_from_ints(const std::vector<int64_t>& dims, const std::string& batch_symbol = "N");
// Product of the known dimensions with every symbolic one taken as 1: per-sample sizes.
int64_t numel_per_sample(const SymShape& shape);
// True when a concrete shape fits the symbolic one (same rank, known dims equal).
bool shape_matches(const SymShape& symbolic, const std::vector<int64_t>& concrete);

}  // namespace nl::graph
